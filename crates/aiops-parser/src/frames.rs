//! Action frames: choosing the action from the leading verb and the objects named,
//! then filling each slot from explicit cue words, then refusing anything left over
//! that could change the meaning.

use serde_json::{Map, Value};

use crate::Parsed;
use crate::lexicon::{self as lx, is_in};
use crate::text::Tok;
use crate::values;

pub(crate) type R<T> = Result<T, String>;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Frame {
    DnsCreate,
    DnsDelete,
    DnsLookup,
    LookupQuestion,
    Scale,
    Restart,
    ListPods,
    PodsQuestion,
    DeletePod,
    Expose,
    Run,
}

const DNS_FILL: &[&str] = &[
    "dns",
    "record",
    "records",
    "entry",
    "entries",
    "rr",
    "host",
    "hostname",
    "server",
    "machine",
    "ip",
    "ipv4",
    "address",
    "type",
    "pointing",
    "points",
    "point",
    "resolving",
    "resolves",
    "resolve",
    "that",
    "which",
    "name",
];
const CREATE_FILL: &[&str] = &["new", "named", "called"];
const LOOKUP_FILL: &[&str] = &["current", "currently", "me", "us"];
const LOOKUP_Q_FILL: &[&str] = &[
    "what",
    "what's",
    "whats",
    "which",
    "where",
    "where's",
    "is",
    "are",
    "does",
    "do",
    "did",
    "tell",
    "has",
    "have",
    "right",
    "now",
    "answer",
    "value",
    "it",
    "its",
    "resolved",
    "resolution",
    "ips",
    "addresses",
    "returns",
    "return",
    "current",
    "currently",
    "me",
    "us",
    "'s",
];
const SCALE_FILL: &[&str] = &[
    "replicas",
    "replica",
    "count",
    "instances",
    "copies",
    "number",
    "up",
    "down",
    "out",
    "total",
];
const RESTART_FILL: &[&str] = &["rolling", "of"];
const LIST_FILL: &[&str] = &[
    "pods",
    "po",
    "pod",
    "all",
    "running",
    "current",
    "k8s",
    "kubernetes",
    "me",
    "there",
];
const PODS_Q_FILL: &[&str] = &[
    "what",
    "which",
    "are",
    "is",
    "exist",
    "exists",
    "currently",
    "deployed",
    "up",
    "have",
    "we",
    "do",
    "does",
    "running",
    "there",
];
const DELETE_POD_FILL: &[&str] = &["pod", "po"];
const EXPOSE_FILL: &[&str] = &[
    "traffic",
    "publicly",
    "public",
    "externally",
    "internet",
    "available",
    "reachable",
    "accessible",
    "https",
    "tls",
    "http",
    "hostname",
    "host",
    "domain",
    "url",
    "under",
    "make",
    "with",
    "certificate",
    "cert",
    "ssl",
    "outside",
    "world",
];
const RUN_FILL: &[&str] = &[
    "ansible",
    "playbook",
    "hosts",
    "host",
    "group",
    "groups",
    "against",
    "limited",
    "limit",
    "inventory",
    "only",
];

/// Prepositions whose object carries meaning; an unknown word there is refused.
const PREPOSITIONS: &[&str] = &[
    "in", "on", "at", "to", "from", "for", "into", "onto", "within", "inside", "under", "via",
    "using", "against", "with",
];
const ARTICLES: &[&str] = &["the", "a", "an", "my", "our", "this", "that", "your"];

impl Frame {
    fn action(self) -> &'static str {
        match self {
            Frame::DnsCreate => "dns.create_a_record",
            Frame::DnsDelete => "dns.delete_record",
            Frame::DnsLookup | Frame::LookupQuestion => "dns.lookup",
            Frame::Scale => "k8s.scale_deployment",
            Frame::Restart => "k8s.restart_deployment",
            Frame::ListPods | Frame::PodsQuestion => "k8s.list_pods",
            Frame::DeletePod => "k8s.delete_pod",
            Frame::Expose => "k8s.expose_service",
            Frame::Run => "ansible.run_playbook",
        }
    }

    fn fillers(self) -> [&'static [&'static str]; 2] {
        match self {
            Frame::DnsCreate => [DNS_FILL, CREATE_FILL],
            Frame::DnsDelete => [DNS_FILL, &[]],
            Frame::DnsLookup => [DNS_FILL, LOOKUP_FILL],
            Frame::LookupQuestion => [DNS_FILL, LOOKUP_Q_FILL],
            Frame::Scale => [SCALE_FILL, &[]],
            Frame::Restart => [RESTART_FILL, &[]],
            Frame::ListPods => [LIST_FILL, &[]],
            Frame::PodsQuestion => [LIST_FILL, PODS_Q_FILL],
            Frame::DeletePod => [DELETE_POD_FILL, &[]],
            Frame::Expose => [EXPOSE_FILL, &[]],
            Frame::Run => [RUN_FILL, &[]],
        }
    }

    /// How many words outside the vocabulary a request may contain.
    fn unknown_limit(self) -> u32 {
        match self {
            Frame::LookupQuestion | Frame::PodsQuestion => 0,
            _ => 2,
        }
    }
}

// ---- entry points --------------------------------------------------------------

/// An imperative sentence (courtesy prefixes already removed).
pub(crate) fn command(toks: &[Tok], kubectl: bool) -> R<Parsed> {
    if toks.is_empty() {
        return Err("empty request".into());
    }
    refuse_global(toks)?;
    let vi = if toks.len() > 1 && toks[0].low == "dns" && is_in(lx::V_LOOKUP_STRONG, &toks[1].low) {
        1
    } else {
        0
    };
    let frame = dispatch(toks, vi)?;
    if kubectl
        && !matches!(
            frame,
            Frame::Scale | Frame::Restart | Frame::ListPods | Frame::DeletePod
        )
    {
        return Err("this kubectl command is not a catalog action".into());
    }
    if frame != Frame::ListPods && toks.iter().any(|t| t.low == "all") {
        return Err("bulk requests ('all') are not supported".into());
    }
    run_frame(toks, vi, frame)
}

/// "what does X resolve to?", "what's the IP of X?", "where does X point?"
pub(crate) fn lookup_question(toks: &[Tok]) -> R<Parsed> {
    run_frame(toks, 0, Frame::LookupQuestion)
}

/// "what pods are running in shop?"
pub(crate) fn pods_question(toks: &[Tok]) -> R<Parsed> {
    run_frame(toks, 0, Frame::PodsQuestion)
}

fn refuse_global(toks: &[Tok]) -> R<()> {
    for (i, t) in toks.iter().enumerate() {
        let w = t.low.as_str();
        if lx::is_negation(w) {
            return Err(format!("negated request ('{}'): nothing to do", t.raw));
        }
        if is_in(lx::REFUSE_WORDS, w) {
            return Err(format!(
                "'{}' makes the request conditional, relative, scheduled, compound or bulk",
                t.raw
            ));
        }
        if w == "and" && !toks.get(i + 1).is_some_and(|n| is_in(lx::AND_OK, &n.low)) {
            return Err("more than one request in one sentence".into());
        }
        if w.contains('*') && !w.chars().any(|c| c.is_ascii_alphanumeric()) {
            return Err("wildcard requests are not supported".into());
        }
    }
    Ok(())
}

fn dispatch(toks: &[Tok], vi: usize) -> R<Frame> {
    let v = toks[vi].low.as_str();
    let has = |set: &[&str]| toks.iter().any(|t| is_in(set, &t.low));
    let pod = has(lx::POD_WORDS);
    let deploy = has(lx::DEPLOY_WORDS);
    let svc = has(lx::SERVICE_WORDS);
    let yml = toks
        .iter()
        .any(|t| t.low.ends_with(".yml") || t.low.ends_with(".yaml"));
    let playbook = has(lx::PLAYBOOK_WORDS) || yml;
    let dns = has(lx::DNS_WORDS);
    let replica = has(lx::REPLICA_WORDS);
    let ns = has(lx::NS_WORDS);
    let ip = toks
        .iter()
        .any(|t| values::ip_like(&t.low) || values::ipv6_like(&t.low));
    let k8s = pod || deploy || svc || replica || ns;
    let no = || {
        Err(format!(
            "'{}' with these objects is not a catalog action",
            toks[vi].raw
        ))
    };

    if is_in(lx::V_RUN, v) {
        return if playbook { Ok(Frame::Run) } else { no() };
    }
    if is_in(lx::V_SCALE, v) || (is_in(lx::V_SET_REPLICAS, v) && replica) {
        return Ok(Frame::Scale);
    }
    if is_in(lx::V_RESTART, v) {
        return Ok(Frame::Restart);
    }
    if is_in(lx::V_EXPOSE, v) || (v == "make" && has(&["available", "reachable", "accessible"])) {
        return Ok(Frame::Expose);
    }
    if is_in(lx::V_DELETE, v) {
        if pod {
            return Ok(Frame::DeletePod);
        }
        if dns && !k8s && !playbook && !is_in(lx::V_POD_ONLY_DELETE, v) {
            return Ok(Frame::DnsDelete);
        }
        return no();
    }
    if is_in(lx::V_LIST, v) && pod {
        return Ok(Frame::ListPods);
    }
    let lookup_verb = is_in(lx::V_LOOKUP_STRONG, v)
        || (is_in(lx::V_LOOKUP_WEAK, v) && (dns || has(&["ip", "address"])));
    if lookup_verb && !k8s && !playbook {
        return Ok(Frame::DnsLookup);
    }
    if is_in(lx::V_CREATE, v) && !k8s && !playbook && (dns || (ip && v != "make")) {
        return Ok(Frame::DnsCreate);
    }
    no()
}

fn run_frame(toks: &[Tok], vi: usize, frame: Frame) -> R<Parsed> {
    let mut cx = Cx::new(toks, vi, frame);
    cx.take(vi);
    if vi == 1 {
        cx.take(0);
    }
    let mut params = Map::new();
    let mut defaults = 0u32;
    let mut put = |k: &str, v: Value| {
        params.insert(k.to_string(), v);
    };
    match frame {
        Frame::DnsCreate => {
            let types = cx.record_types()?;
            if let Some(t) = types.iter().find(|t| t.as_str() != "A") {
                return Err(format!(
                    "dns.create_a_record creates A records only, not {t}"
                ));
            }
            let ip = cx.ipv4()?.ok_or("no IPv4 address given")?;
            let name = cx.dns_name()?;
            let ttl = cx.ttl()?;
            put("name", Value::from(name));
            put("ip", Value::from(ip));
            match ttl {
                Some(t) => put("ttl", Value::from(t)),
                None => defaults += 1,
            }
        }
        Frame::DnsDelete | Frame::DnsLookup | Frame::LookupQuestion => {
            let types = cx.record_types()?;
            if types.len() > 1 {
                return Err("more than one record type".into());
            }
            if types.is_empty() && cx.any_free("records") {
                return Err("which record type? ('records' without a type)".into());
            }
            if let Some(i) = (0..cx.n()).find(|&i| {
                cx.free(i) && (values::ip_like(cx.low(i)) || values::ipv6_like(cx.low(i)))
            }) {
                return Err(format!("unexpected address '{}'", cx.raw(i)));
            }
            let name = cx.dns_name()?;
            put("name", Value::from(name));
            match types.first() {
                Some(t) => put("type", Value::from(t.as_str())),
                None => defaults += 1,
            }
        }
        Frame::Scale => {
            let ns = cx.namespace()?;
            let name = cx.deployment(ns.is_some())?;
            let replicas = cx.replicas()?;
            match ns {
                Some(n) => put("namespace", Value::from(n)),
                None => defaults += 1,
            }
            put("name", Value::from(name));
            put("replicas", Value::from(replicas));
        }
        Frame::Restart => {
            let ns = cx.namespace()?;
            let name = cx.deployment(ns.is_some())?;
            match ns {
                Some(n) => put("namespace", Value::from(n)),
                None => defaults += 1,
            }
            put("name", Value::from(name));
        }
        Frame::ListPods | Frame::PodsQuestion => {
            for i in 0..cx.n() {
                if cx.free(i) && is_in(&["pods", "po", "pod"], cx.low(i)) {
                    cx.take(i);
                }
            }
            match cx.namespace()? {
                Some(n) => put("namespace", Value::from(n)),
                None => defaults += 1,
            }
        }
        Frame::DeletePod => {
            let ns = cx.namespace()?;
            let name = cx
                .kind_name(&["pod", "po"], &["pods"], "pod")?
                .ok_or("which pod? (say 'pod NAME')")?;
            match ns {
                Some(n) => put("namespace", Value::from(n)),
                None => defaults += 1,
            }
            put("name", Value::from(name));
        }
        Frame::Expose => {
            let ns = cx.namespace()?;
            let service = match cx.kind_name(&["service", "svc"], &["services"], "service")? {
                Some(s) => s,
                None => cx
                    .bare_name(&[])
                    .ok_or("which service? (say 'service NAME')")?,
            };
            let hostname = cx.dns_name()?;
            let port = cx.port()?;
            match ns {
                Some(n) => put("namespace", Value::from(n)),
                None => defaults += 1,
            }
            put("service", Value::from(service));
            put("hostname", Value::from(hostname));
            match port {
                Some(p) => put("port", Value::from(p)),
                None => defaults += 1,
            }
        }
        Frame::Run => {
            let playbook = cx.playbook()?;
            let limit = cx.limit()?;
            put("playbook", Value::from(playbook));
            if let Some(l) = limit {
                put("limit", Value::from(l));
            }
        }
    }
    let unknown = cx.leftovers()?;
    Ok(Parsed {
        action: frame.action().to_string(),
        params,
        confidence: confidence(cx.inferred, unknown, defaults),
    })
}

/// Confidence rule: 0.95 when every slot came from an explicit cue; minus 0.05 for
/// each slot taken from position alone (e.g. "scale web to 3" with no "deployment"),
/// minus 0.03 for each tolerated unknown word, minus 0.02 for each parameter left
/// to its catalog default. Never below 0.80 (below that we refuse instead).
fn confidence(inferred: u32, unknown: u32, defaults: u32) -> f64 {
    let c =
        0.95 - 0.05 * f64::from(inferred) - 0.03 * f64::from(unknown) - 0.02 * f64::from(defaults);
    (c.clamp(0.80, 0.95) * 100.0).round() / 100.0
}

// ---- slot extraction -------------------------------------------------------------

struct Cx<'a> {
    t: &'a [Tok],
    used: Vec<bool>,
    vi: usize,
    frame: Frame,
    inferred: u32,
}

fn dedupe<T: PartialEq>(v: Vec<T>) -> Vec<T> {
    let mut out: Vec<T> = Vec::with_capacity(v.len());
    for x in v {
        if !out.contains(&x) {
            out.push(x);
        }
    }
    out
}

/// Words that structure a sentence and so can never be a name, even a loosely cued one.
fn is_structural(w: &str) -> bool {
    [
        lx::FILLER,
        lx::PRE_NAME,
        lx::BOUNDARY,
        lx::POD_WORDS,
        lx::DEPLOY_WORDS,
        lx::SERVICE_WORDS,
        lx::PLAYBOOK_WORDS,
        lx::DNS_WORDS,
        lx::REPLICA_WORDS,
        lx::NS_WORDS,
        lx::REFUSE_WORDS,
        lx::NEGATIONS,
        lx::STRONG_QUESTION,
        lx::AUX_QUESTION,
        lx::SUBJECTS,
        lx::CUE_WORDS,
        lx::NS_CUES,
        lx::TIME_WORDS,
    ]
    .iter()
    .any(|set| is_in(set, w))
        || is_in(
            &[
                "all",
                "ansible",
                "kubectl",
                "named",
                "called",
                "count",
                "number",
                "instances",
                "copies",
                "a-record",
            ],
            w,
        )
        || values::is_number_word(w)
}

impl<'a> Cx<'a> {
    fn new(t: &'a [Tok], vi: usize, frame: Frame) -> Self {
        Cx {
            t,
            used: vec![false; t.len()],
            vi,
            frame,
            inferred: 0,
        }
    }

    fn n(&self) -> usize {
        self.t.len()
    }

    fn low(&self, i: usize) -> &'a str {
        self.t.get(i).map_or("", |t| t.low.as_str())
    }

    fn raw(&self, i: usize) -> &'a str {
        self.t.get(i).map_or("", |t| t.raw.as_str())
    }

    fn free(&self, i: usize) -> bool {
        self.used.get(i).is_some_and(|u| !u)
    }

    fn take(&mut self, i: usize) {
        if let Some(u) = self.used.get_mut(i) {
            *u = true;
        }
    }

    fn take_range(&mut self, from: usize, to: usize) {
        for i in from..=to {
            self.take(i);
        }
    }

    fn any_free(&self, w: &str) -> bool {
        (0..self.n()).any(|i| self.free(i) && self.low(i) == w)
    }

    /// The token after `i` ends the value (end of sentence or a cue word).
    fn boundary_after(&self, i: usize) -> bool {
        i + 1 >= self.n() || is_in(lx::BOUNDARY, self.low(i + 1))
    }

    /// A free RFC 1123 label usable as a name. `strict` also excludes every verb and
    /// vocabulary word (for names found by position only).
    fn name_at(&self, i: usize, strict: bool) -> bool {
        let w = self.low(i);
        self.free(i)
            && values::k8s_name(w)
            && !w.bytes().all(|b| b.is_ascii_digit())
            && if strict {
                !lx::is_reserved(w)
            } else {
                !is_structural(w)
            }
    }

    /// Position `b` (a name before its kind word) follows the verb or an article.
    fn pre_ok(&self, b: usize) -> bool {
        b >= 1 && (b - 1 == self.vi || is_in(lx::PRE_NAME, self.low(b - 1)))
    }

    /// Consume "the"/"in"/"from" directly before position `i`.
    fn take_cues_before(&mut self, i: usize) {
        let mut k = i;
        while k > 0
            && self.free(k - 1)
            && is_in(&["the", "in", "from", "within", "inside"], self.low(k - 1))
        {
            k -= 1;
            self.take(k);
        }
    }

    /// "in namespace X", "namespace X", "-n X", "in the X namespace", "in X", "from X".
    fn namespace(&mut self) -> R<Option<String>> {
        let mut vals = Vec::new();
        for i in 0..self.n() {
            if !self.free(i) || !is_in(&["namespace", "ns"], self.low(i)) {
                continue;
            }
            let mut j = i + 1;
            while self.free(j) && is_in(&["named", "called"], self.low(j)) {
                j += 1;
            }
            if self.name_at(j, false) && self.boundary_after(j) {
                vals.push(self.low(j).to_string());
                self.take_range(i, j);
                self.take_cues_before(i);
            } else if i >= 2
                && self.name_at(i - 1, false)
                && self.free(i - 2)
                && is_in(&["the", "in", "from", "within", "inside"], self.low(i - 2))
            {
                vals.push(self.low(i - 1).to_string());
                self.take_range(i - 1, i);
                self.take_cues_before(i - 1);
            } else {
                return Err("a namespace is mentioned but its name is missing or not a valid RFC 1123 label".into());
            }
        }
        for i in 0..self.n() {
            if !self.free(i) || !is_in(lx::NS_CUES, self.low(i)) {
                continue;
            }
            let mut j = i + 1;
            let mut article = false;
            while self.free(j) && is_in(ARTICLES, self.low(j)) {
                j += 1;
                article = true;
            }
            if self.name_at(j, true) {
                if article || !self.boundary_after(j) {
                    return Err(format!(
                        "unclear location '{} ... {}'",
                        self.raw(i),
                        self.raw(j)
                    ));
                }
                vals.push(self.low(j).to_string());
                self.take_range(i, j);
            }
        }
        let vals = dedupe(vals);
        if vals.len() > 1 {
            return Err(format!("conflicting namespaces: {}", vals.join(", ")));
        }
        Ok(vals.into_iter().next())
    }

    /// Name attached to a kind word: "KIND X", "KIND named X", "the X KIND".
    /// `Ok(None)` when the kind word is absent.
    fn kind_name(&mut self, kinds: &[&str], plurals: &[&str], what: &str) -> R<Option<String>> {
        if (0..self.n()).any(|i| self.free(i) && is_in(plurals, self.low(i))) {
            return Err(format!("more than one {what} (plural): one at a time"));
        }
        let ks: Vec<usize> = (0..self.n())
            .filter(|&i| self.free(i) && is_in(kinds, self.low(i)))
            .collect();
        let k = match ks.as_slice() {
            [] => return Ok(None),
            [k] => *k,
            _ => return Err(format!("'{what}' mentioned more than once")),
        };
        self.take(k);
        let mut j = k + 1;
        let mut cued = false;
        while self.free(j) && is_in(&["named", "called"], self.low(j)) {
            j += 1;
            cued = true;
        }
        let after = (self.name_at(j, false) && self.boundary_after(j)).then_some(j);
        if cued && after.is_none() {
            return Err(format!("{what} name missing or invalid"));
        }
        let before = (k >= 1 && self.name_at(k - 1, false) && self.pre_ok(k - 1)).then_some(k - 1);
        let idx = match (before, after) {
            (Some(b), Some(a)) if self.low(b) == self.low(a) => {
                self.take(b);
                a
            }
            (Some(_), Some(_)) => return Err(format!("two different {what} names")),
            (Some(b), None) => b,
            (None, Some(a)) => a,
            (None, None) => return Err(format!("no valid {what} name (RFC 1123 label) given")),
        };
        if Some(idx) == after {
            self.take_range(k + 1, idx);
        } else {
            self.take(idx);
        }
        Ok(Some(self.low(idx).to_string()))
    }

    /// A name right after the verb ("scale web to 3"): only when followed by a cue.
    fn bare_name(&mut self, particles: &[&str]) -> Option<String> {
        let mut j = self.vi + 1;
        while self.free(j) && (self.low(j) == "the" || is_in(particles, self.low(j))) {
            j += 1;
        }
        if self.name_at(j, true) && self.boundary_after(j) {
            self.take(j);
            self.inferred += 1;
            return Some(self.low(j).to_string());
        }
        None
    }

    fn deployment(&mut self, ns_given: bool) -> R<String> {
        if let Some(n) = self.kind_name(
            &["deployment", "deploy", "deployment.apps"],
            &["deployments"],
            "deployment",
        )? {
            return Ok(n);
        }
        if self.frame == Frame::Scale {
            for i in 0..self.n() {
                if self.free(i)
                    && is_in(&["replicas", "replica", "count"], self.low(i))
                    && is_in(&["of", "for"], self.low(i + 1))
                    && self.name_at(i + 2, true)
                    && self.boundary_after(i + 2)
                {
                    self.take_range(i + 1, i + 2);
                    return Ok(self.low(i + 2).to_string());
                }
            }
            return self
                .bare_name(&["up", "down", "out"])
                .ok_or_else(|| "which deployment? (say 'deployment NAME')".into());
        }
        // Restart: a bare name could be a host or a systemd unit; accept it only
        // together with an explicit Kubernetes namespace.
        if !ns_given {
            return Err("which deployment? (say 'deployment NAME' or give a namespace)".into());
        }
        self.bare_name(&[])
            .ok_or_else(|| "which deployment? (say 'deployment NAME')".into())
    }

    /// "to N (replicas)", "N replicas", "--replicas N", "replicas to N".
    fn replicas(&mut self) -> R<u64> {
        let mut vals = Vec::new();
        for i in 0..self.n() {
            if !self.free(i) {
                continue;
            }
            let Some(v) = values::count(self.low(i)) else {
                continue;
            };
            let prev = if i > 0 { self.low(i - 1) } else { "" };
            let prev_cue = is_in(&["to", "at", "replicas", "replica", "count", "of"], prev);
            let next_unit = is_in(
                &["replicas", "replica", "instances", "copies", "pods", "pod"],
                self.low(i + 1),
            );
            if !(prev_cue || next_unit) {
                continue;
            }
            vals.push(v);
            self.take(i);
            if i > 0 && is_in(&["to", "at"], prev) {
                self.take(i - 1);
            }
            if next_unit {
                self.take(i + 1);
            }
        }
        match dedupe(vals).as_slice() {
            [] => Err("how many replicas? (say 'to N replicas')".into()),
            [v] if *v <= values::REPLICAS_MAX => Ok(*v),
            [v] => Err(format!("{v} replicas is out of range (0..=100)")),
            _ => Err("conflicting replica counts".into()),
        }
    }

    fn record_types(&mut self) -> R<Vec<String>> {
        let mut out = Vec::new();
        for i in 0..self.n() {
            if !self.free(i) {
                continue;
            }
            let l = self.low(i);
            let prev = if i > 0 { self.low(i - 1) } else { "" };
            let next = self.low(i + 1);
            let is_a = l == "a-record"
                || (l == "a"
                    && (is_in(&["record", "records", "entry", "entries", "rr"], next)
                        || prev == "type"
                        || (self.raw(i) == "A"
                            && i > self.vi
                            && (is_in(lx::V_LOOKUP_STRONG, prev)
                                || i + 1 >= self.n()
                                || next.contains('.')))));
            if is_a {
                out.push("A".to_string());
                self.take(i);
            } else if is_in(&["aaaa", "cname", "txt"], l) {
                out.push(l.to_ascii_uppercase());
                self.take(i);
            } else if is_in(lx::UNSUPPORTED_TYPES, l) {
                return Err(format!(
                    "{} records are not supported",
                    l.to_ascii_uppercase()
                ));
            }
        }
        Ok(dedupe(out))
    }

    fn ipv4(&mut self) -> R<Option<String>> {
        let mut vals = Vec::new();
        for i in 0..self.n() {
            if !self.free(i) {
                continue;
            }
            let l = self.low(i);
            if values::ipv6_like(l) {
                return Err(
                    "an IPv6 address needs an AAAA record, which this action cannot create".into(),
                );
            }
            if values::ip_like(l) {
                let Some(a) = values::ipv4(l) else {
                    return Err(format!("'{}' is not a valid IPv4 address", self.raw(i)));
                };
                vals.push(a.to_string());
                self.take(i);
            }
        }
        let vals = dedupe(vals);
        if vals.len() > 1 {
            return Err(format!("more than one address: {}", vals.join(", ")));
        }
        Ok(vals.into_iter().next())
    }

    fn dns_name(&mut self) -> R<String> {
        let mut vals = Vec::new();
        for i in 0..self.n() {
            let l = self.low(i);
            if !self.free(i) || !l.contains('.') || values::ip_like(l) {
                continue;
            }
            match values::dns_name(l) {
                Some(v) => {
                    vals.push(v);
                    self.take(i);
                }
                None => return Err(format!("'{}' is not a valid DNS name", self.raw(i))),
            }
        }
        let vals = dedupe(vals);
        match vals.len() {
            0 => Err("no DNS name given (a name like host.example.com)".into()),
            1 => Ok(vals.into_iter().next().unwrap_or_default()),
            _ => Err(format!("more than one DNS name: {}", vals.join(", "))),
        }
    }

    /// A duration at `j`: "300", "300s", "5 minutes", "an hour". Returns (seconds, tokens).
    fn duration_at(&self, j: usize) -> Option<(u64, usize)> {
        if !self.free(j) {
            return None;
        }
        let w = self.low(j);
        if let Some(v) = values::number_with_unit(w) {
            return Some((v, 1));
        }
        let unit = if self.free(j + 1) {
            values::unit_seconds(self.low(j + 1))
        } else {
            None
        };
        if let Some(n) = values::count(w) {
            return match unit {
                Some(m) => n.checked_mul(m).map(|v| (v, 2)),
                None => Some((n, 1)),
            };
        }
        if is_in(&["a", "an"], w) {
            return unit.map(|m| (m, 2));
        }
        None
    }

    /// "ttl 300", "ttl=300", "with a ttl of 5 minutes", "a 300 second ttl".
    fn ttl(&mut self) -> R<Option<u64>> {
        let mut vals = Vec::new();
        for i in 0..self.n() {
            if !self.free(i) || self.low(i) != "ttl" {
                continue;
            }
            self.take(i);
            let mut j = i + 1;
            while self.free(j) && is_in(&["of", "to", "is", "at"], self.low(j)) {
                j += 1;
            }
            if let Some((v, used)) = self.duration_at(j) {
                self.take_range(i, j + used - 1);
                vals.push(v);
                continue;
            }
            if i >= 2
                && let Some((v, 2)) = self.duration_at(i - 2)
            {
                self.take_range(i - 2, i - 1);
                vals.push(v);
                continue;
            }
            if i >= 1
                && let Some((v, 1)) = self.duration_at(i - 1)
            {
                self.take(i - 1);
                vals.push(v);
                continue;
            }
            return Err("a TTL is mentioned without a value".into());
        }
        match dedupe(vals).as_slice() {
            [] => Ok(None),
            [v] if (1..=values::TTL_MAX).contains(v) => Ok(Some(*v)),
            [v] => Err(format!("TTL {v} is out of range (1..=2147483647 seconds)")),
            _ => Err("conflicting TTLs".into()),
        }
    }

    /// "port 3000", "on port 3000", "--port=3000".
    fn port(&mut self) -> R<Option<u64>> {
        let mut vals = Vec::new();
        for i in 0..self.n() {
            if !self.free(i) || self.low(i) != "port" {
                continue;
            }
            self.take(i);
            let mut j = i + 1;
            while self.free(j) && is_in(&["number", "of", "is"], self.low(j)) {
                j += 1;
            }
            match (self.free(j)).then(|| values::count(self.low(j))).flatten() {
                Some(p) if (1..=65_535).contains(&p) => {
                    self.take_range(i, j);
                    vals.push(p);
                }
                Some(p) => return Err(format!("port {p} is out of range (1..=65535)")),
                None => return Err("a port is mentioned without a number".into()),
            }
        }
        match dedupe(vals).as_slice() {
            [] => Ok(None),
            [p] => Ok(Some(*p)),
            _ => Err("conflicting ports".into()),
        }
    }

    fn playbook_at(&self, i: usize) -> bool {
        let w = self.low(i);
        // Object words are fine as playbook names ("the deploy playbook", "the dns playbook").
        let object_word = [
            lx::DEPLOY_WORDS,
            lx::SERVICE_WORDS,
            lx::POD_WORDS,
            lx::DNS_WORDS,
        ]
        .iter()
        .any(|set| is_in(set, w));
        self.free(i) && values::playbook_name(w) && (object_word || !is_structural(w))
    }

    /// "playbook X", "the X playbook", "playbook named X", "X.yml".
    fn playbook(&mut self) -> R<String> {
        if self.any_free("playbooks") {
            return Err("one playbook at a time".into());
        }
        let ks: Vec<usize> = (0..self.n())
            .filter(|&i| self.free(i) && self.low(i) == "playbook")
            .collect();
        if ks.len() > 1 {
            return Err("'playbook' mentioned more than once".into());
        }
        let mut vals = Vec::new();
        if let Some(&k) = ks.first() {
            self.take(k);
            let mut j = k + 1;
            let mut cued = false;
            while self.free(j) && is_in(&["named", "called"], self.low(j)) {
                j += 1;
                cued = true;
            }
            if self.playbook_at(j) && self.boundary_after(j) {
                vals.push(self.low(j).to_string());
                self.take_range(k + 1, j);
            } else if cued {
                return Err("playbook name missing or invalid".into());
            }
            if k >= 1 && self.playbook_at(k - 1) && self.pre_ok(k - 1) {
                vals.push(self.low(k - 1).to_string());
                self.take(k - 1);
            }
        }
        for i in 0..self.n() {
            let w = self.low(i);
            if self.free(i) && (w.ends_with(".yml") || w.ends_with(".yaml")) {
                if !values::playbook_name(w) {
                    return Err(format!("'{}' is not a valid playbook name", self.raw(i)));
                }
                vals.push(w.to_string());
                self.take(i);
            }
        }
        match dedupe(vals).as_slice() {
            [] => Err("which playbook? (say 'playbook NAME')".into()),
            [p] => Ok(p.clone()),
            _ => Err("two different playbook names".into()),
        }
    }

    fn limit_at(&self, j: usize) -> bool {
        self.free(j) && values::limit_pattern(self.raw(j)) && !is_structural(self.low(j))
    }

    /// "limited to X", "limit X", "--limit X", "on X", "against X", "for hosts X",
    /// "on the X group".
    fn limit(&mut self) -> R<Option<String>> {
        const GROUPISH: &[&str] = &["host", "hosts", "group", "groups"];
        let mut vals = Vec::new();
        for i in 0..self.n() {
            if !self.free(i) {
                continue;
            }
            let start = match self.low(i) {
                "limit" | "limited" | "restricted" | "restrict" => {
                    Some(if is_in(&["to", "on"], self.low(i + 1)) {
                        i + 2
                    } else {
                        i + 1
                    })
                }
                "on" | "against" | "targeting" | "target" => Some(i + 1),
                "for" if is_in(GROUPISH, self.low(i + 1)) => Some(i + 1),
                "host" | "hosts" | "group" | "groups" => Some(i),
                _ => None,
            };
            let Some(mut j) = start else { continue };
            let article = self.low(j) == "the";
            if article {
                j += 1;
            }
            if is_in(GROUPISH, self.low(j)) || self.low(j) == "inventory" {
                j += 1;
            }
            if !self.limit_at(j) {
                return Err(format!("no valid host pattern after '{}'", self.raw(i)));
            }
            let trailing = is_in(GROUPISH, self.low(j + 1));
            if article && !trailing {
                return Err(format!(
                    "unclear target '{} the {}'",
                    self.raw(i),
                    self.raw(j)
                ));
            }
            let end = if trailing { j + 1 } else { j };
            if !self.boundary_after(end) {
                return Err(format!("unclear host pattern after '{}'", self.raw(j)));
            }
            vals.push(self.raw(j).to_string());
            self.take_range(i, end);
        }
        let vals = dedupe(vals);
        if vals.len() > 1 {
            return Err("conflicting host limits".into());
        }
        Ok(vals.into_iter().next())
    }

    fn after_preposition(&self, i: usize) -> bool {
        let mut k = i;
        while k > 0 {
            k -= 1;
            let l = self.low(k);
            if is_in(ARTICLES, l) {
                continue;
            }
            return is_in(PREPOSITIONS, l);
        }
        false
    }

    /// Everything not consumed must be harmless filler; a few unknown plain words
    /// are tolerated, anything value-like, verb-like or object-like is refused.
    fn leftovers(&self) -> R<u32> {
        let mut unknown = 0;
        let [f1, f2] = self.frame.fillers();
        for i in 0..self.n() {
            if !self.free(i) {
                continue;
            }
            let l = self.low(i);
            let raw = self.raw(i);
            if is_in(f1, l) || is_in(f2, l) || is_in(lx::FILLER, l) {
                continue;
            }
            if l.starts_with('-')
                || !l
                    .chars()
                    .all(|c| c.is_alphabetic() || c == '\'' || c == '-')
                || values::is_number_word(l)
            {
                return Err(format!("unexpected '{raw}'"));
            }
            if is_in(lx::ACTION_VERBS, l) {
                return Err(format!("'{raw}' asks for another action"));
            }
            let objecty = [
                lx::POD_WORDS,
                lx::DEPLOY_WORDS,
                lx::SERVICE_WORDS,
                lx::PLAYBOOK_WORDS,
                lx::DNS_WORDS,
                lx::REPLICA_WORDS,
                lx::NS_WORDS,
                lx::OTHER_KINDS,
                lx::TIME_WORDS,
                lx::CUE_WORDS,
                lx::UNSUPPORTED_TYPES,
            ];
            if objecty.iter().any(|set| is_in(set, l)) || l == "all" {
                return Err(format!(
                    "'{raw}' does not fit a {} request",
                    self.frame.action()
                ));
            }
            if self.after_preposition(i) {
                return Err(format!("unexpected '{raw}'"));
            }
            unknown += 1;
        }
        if unknown > self.frame.unknown_limit() {
            return Err("too many words that are not understood".into());
        }
        Ok(unknown)
    }
}
