//! Action frames: choosing the action from the leading verb and the objects named,
//! then filling each slot from explicit cue words, then refusing anything left over
//! that could change the meaning.

use serde_json::{Map, Value};

use crate::lexicon::{self as lx, is_in};
use crate::slots::dns::{RecordType, ns_is_record_type};
use crate::slots::{Cx, number};
use crate::text::Tok;
use crate::values;
use crate::{Parsed, R};

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

impl Frame {
    /// Every frame, for word-level views by action ([`action_fillers`]).
    const ALL: [Frame; 11] = [
        Frame::DnsCreate,
        Frame::DnsDelete,
        Frame::DnsLookup,
        Frame::LookupQuestion,
        Frame::Scale,
        Frame::Restart,
        Frame::ListPods,
        Frame::PodsQuestion,
        Frame::DeletePod,
        Frame::Expose,
        Frame::Run,
    ];

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
            Frame::DnsCreate => [lx::DNS_FILL, lx::CREATE_FILL],
            Frame::DnsDelete => [lx::DNS_FILL, &[]],
            Frame::DnsLookup => [lx::DNS_FILL, lx::LOOKUP_FILL],
            Frame::LookupQuestion => [lx::DNS_FILL, lx::LOOKUP_Q_FILL],
            Frame::Scale => [lx::SCALE_FILL, &[]],
            Frame::Restart => [lx::RESTART_FILL, lx::STATE_WORDS],
            Frame::ListPods => [lx::LIST_FILL, &[]],
            Frame::PodsQuestion => [lx::LIST_FILL, lx::PODS_Q_FILL],
            Frame::DeletePod => [lx::DELETE_POD_FILL, lx::STATE_WORDS],
            Frame::Expose => [lx::EXPOSE_FILL, &[]],
            Frame::Run => [lx::RUN_FILL, &[]],
        }
    }

    /// How many words outside the vocabulary a request may contain.
    fn unknown_limit(self, wording: Wording) -> u32 {
        match (self, wording) {
            (Frame::LookupQuestion | Frame::PodsQuestion, _) | (_, Wording::Indirect) => 0,
            _ => 2,
        }
    }

    /// The record types the action takes (the catalog's lists).
    fn record_types(self) -> &'static [RecordType] {
        use RecordType::*;
        match self {
            Frame::DnsCreate => &[A],
            Frame::DnsDelete => &[A, Aaaa, Cname, Txt, Srv],
            Frame::DnsLookup | Frame::LookupQuestion => {
                &[A, Aaaa, Cname, Txt, Mx, Ns, Soa, Srv, Ptr, Caa]
            }
            _ => &[],
        }
    }
}

/// True if `word` is a filler of some frame of `action` (e.g. "what" in "what pods are
/// running in shop?", a `k8s.list_pods` question).
pub(crate) fn is_action_filler(action: &str, word: &str) -> bool {
    Frame::ALL
        .iter()
        .filter(|f| f.action() == action)
        .flat_map(|f| f.fillers())
        .any(|set| is_in(set, word))
}

/// How the frame was chosen.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Wording {
    /// By the action's own verb ("scale", "delete", "list").
    Direct,
    /// By a wording that does not name the action ("I want X to resolve to Y", "run 2
    /// replicas of …", "increase … to 3", "roll …"): no unknown word is tolerated.
    Indirect,
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
    let (frame, wording) = dispatch(toks, vi)?;
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
    run_frame(toks, vi, frame, wording)
}

/// "what does X resolve to?", "what's the IP of X?", "where does X point?"
pub(crate) fn lookup_question(toks: &[Tok]) -> R<Parsed> {
    run_frame(toks, 0, Frame::LookupQuestion, Wording::Direct)
}

/// "what pods are running in shop?"
pub(crate) fn pods_question(toks: &[Tok]) -> R<Parsed> {
    run_frame(toks, 0, Frame::PodsQuestion, Wording::Direct)
}

fn refuse_global(toks: &[Tok]) -> R<()> {
    // "and" inside a number ("one hundred and five") does not join two requests.
    let numbers = number::token_phrases(toks);
    let in_number = |i: usize| numbers.iter().any(|p| p.span.contains(&i));
    for (i, t) in toks.iter().enumerate() {
        let w = t.low.as_str();
        if lx::is_negation(w) {
            return Err(format!("negated request ('{}'): nothing to do", t.raw));
        }
        // "increase X to 5": the verb itself is not relative when the target is absolute
        // (dispatch requires "to N").
        let scale_to_verb = i == 0 && is_in(lx::V_SCALE_TO, w);
        if is_in(lx::REFUSE_WORDS, w) && !scale_to_verb {
            return Err(format!(
                "'{}' makes the request conditional, relative, scheduled, compound or bulk",
                t.raw
            ));
        }
        if w == "and"
            && !toks.get(i + 1).is_some_and(|n| is_in(lx::AND_OK, &n.low))
            && !in_number(i)
        {
            return Err("more than one request in one sentence".into());
        }
        if w.contains('*') && !w.chars().any(|c| c.is_ascii_alphanumeric()) {
            return Err("wildcard requests are not supported".into());
        }
    }
    Ok(())
}

fn dispatch(toks: &[Tok], vi: usize) -> R<(Frame, Wording)> {
    use Wording::{Direct, Indirect};
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
    // "ns" is a namespace unless it names the NS record type ("NS records", "dig ns x").
    let ns = toks.iter().enumerate().any(|(i, t)| {
        is_in(lx::NS_WORDS, &t.low)
            && !(t.low == "ns"
                && ns_is_record_type(
                    i.checked_sub(1).map_or("", |p| toks[p].low.as_str()),
                    toks.get(i + 1).map_or("", |n| n.low.as_str()),
                ))
    });
    let ns_record = has(&["ns"]) && !ns;
    let ip = toks
        .iter()
        .any(|t| values::ip_like(&t.low) || values::ipv6_like(&t.low));
    let dotted = toks
        .iter()
        .any(|t| t.low.contains('.') && !values::ip_like(&t.low));
    let number = toks.iter().any(|t| number::is_number_word(&t.low));
    // "… to 5": an absolute target.
    let to_number = toks
        .windows(2)
        .any(|w| w[0].low == "to" && number::is_number_word(&w[1].low));
    let k8s = pod || deploy || svc || replica || ns;
    let resolves_to_ip = has(lx::RESOLVE_WORDS) && ip && dotted && !k8s && !playbook;
    let no = || {
        Err(format!(
            "'{}' with these objects is not a catalog action",
            toks[vi].raw
        ))
    };

    if v == "want" {
        // Stated wishes: "I want X to resolve to Y", "I need 7 pods for the X deployment".
        if resolves_to_ip {
            return Ok((Frame::DnsCreate, Indirect));
        }
        if deploy && number && (replica || pod) && !playbook && !dns {
            return Ok((Frame::Scale, Indirect));
        }
        return no();
    }
    if is_in(lx::V_RUN, v) {
        if playbook {
            return Ok((Frame::Run, Direct));
        }
        // "run 2 replicas of the auth deployment"
        if v == "run" && replica && deploy && number && !dns {
            return Ok((Frame::Scale, Indirect));
        }
        return no();
    }
    if is_in(lx::V_SCALE, v) || (is_in(lx::V_SET_REPLICAS, v) && replica) {
        return Ok((Frame::Scale, Direct));
    }
    if is_in(lx::V_SCALE_TO, v) {
        return if (replica || deploy) && to_number && !dns && !playbook {
            Ok((Frame::Scale, Indirect))
        } else {
            no()
        };
    }
    if is_in(lx::V_RESTART, v) {
        let wording = if v == "roll" { Indirect } else { Direct };
        return Ok((Frame::Restart, wording));
    }
    if is_in(lx::V_EXPOSE, v) || (v == "make" && has(&["available", "reachable", "accessible"])) {
        return Ok((Frame::Expose, Direct));
    }
    if is_in(lx::V_CREATE, v) && has(lx::ROUTE_NOUNS) && svc && !dns && !playbook {
        return Ok((Frame::Expose, Indirect));
    }
    if is_in(lx::V_DELETE, v) {
        if pod {
            return Ok((Frame::DeletePod, Direct));
        }
        if (dns || ns_record) && !k8s && !playbook && !is_in(lx::V_POD_ONLY_DELETE, v) {
            return Ok((Frame::DnsDelete, Direct));
        }
        return no();
    }
    if is_in(lx::V_LIST, v) && pod {
        return Ok((Frame::ListPods, Direct));
    }
    let lookup_verb = is_in(lx::V_LOOKUP_STRONG, v)
        || (is_in(lx::V_LOOKUP_WEAK, v) && (dns || ns_record || has(&["ip", "address"])));
    if lookup_verb && !k8s && !playbook {
        return Ok((Frame::DnsLookup, Direct));
    }
    if v == "make" && resolves_to_ip {
        // "make X resolve to Y"
        return Ok((Frame::DnsCreate, Indirect));
    }
    if is_in(lx::V_CREATE, v) && !k8s && !playbook && (dns || (ip && v != "make")) {
        return Ok((Frame::DnsCreate, Direct));
    }
    no()
}

/// Every named record type must be one the action takes.
fn check_types(frame: Frame, types: &[RecordType]) -> R<()> {
    match types.iter().find(|t| !frame.record_types().contains(t)) {
        Some(t) => Err(format!(
            "{} does not take {} records",
            frame.action(),
            t.name()
        )),
        None => Ok(()),
    }
}

/// The parameters being filled, and how many were left to their catalog default.
#[derive(Default)]
struct Params {
    map: Map<String, Value>,
    defaults: u32,
}

impl Params {
    fn put(&mut self, k: &str, v: impl Into<Value>) {
        self.map.insert(k.to_string(), v.into());
    }

    /// A parameter with a catalog default: set when stated, else counted as defaulted.
    fn or_default(&mut self, k: &str, v: Option<impl Into<Value>>) {
        match v {
            Some(v) => self.put(k, v),
            None => self.defaults += 1,
        }
    }
}

fn run_frame(toks: &[Tok], vi: usize, frame: Frame, wording: Wording) -> R<Parsed> {
    let mut cx = Cx::new(toks, vi);
    if let Some(words) = cx.unclear_number() {
        return Err(format!("'{words}' is not one clear number"));
    }
    cx.take(vi);
    if vi == 1 {
        cx.take(0);
    }
    let mut p = Params::default();
    match frame {
        Frame::DnsCreate => {
            let types = cx.record_types()?;
            check_types(frame, &types)?;
            let ip = cx.ipv4()?.ok_or("no IPv4 address given")?;
            let name = cx.host_name()?;
            let ttl = cx.ttl()?;
            p.put("name", name);
            p.put("ip", ip);
            p.or_default("ttl", ttl);
        }
        Frame::DnsDelete | Frame::DnsLookup | Frame::LookupQuestion => {
            let types = cx.record_types()?;
            if types.len() > 1 {
                return Err("more than one record type".into());
            }
            check_types(frame, &types)?;
            if types.is_empty() && cx.any_free("records") {
                return Err("which record type? ('records' without a type)".into());
            }
            if let Some(i) = (0..cx.n()).find(|&i| {
                cx.free(i) && (values::ip_like(cx.low(i)) || values::ipv6_like(cx.low(i)))
            }) {
                return Err(format!("unexpected address '{}'", cx.raw(i)));
            }
            let name = cx.dns_name()?;
            let ty = types.first().copied();
            if values::has_underscore_label(&name)
                && !ty.is_some_and(RecordType::allows_underscore_labels)
            {
                return Err(format!(
                    "'{name}' (underscore label) takes a TXT, SRV or CNAME record type only"
                ));
            }
            p.put("name", name);
            p.or_default("type", ty.map(RecordType::name));
        }
        Frame::Scale => {
            let ns = cx.namespace()?;
            let name = cx.deployment_to_scale()?;
            let replicas = cx.replicas()?;
            p.or_default("namespace", ns);
            p.put("name", name);
            p.put("replicas", replicas);
        }
        Frame::Restart => {
            // "roll the pods of deployment X": the pods are the deployment's.
            cx.take_words(&["pods", "of"]);
            let ns = cx.namespace()?;
            let name = cx.deployment_to_restart(ns.is_some())?;
            p.or_default("namespace", ns);
            p.put("name", name);
        }
        Frame::ListPods | Frame::PodsQuestion => {
            let of = cx.pods_namespace();
            for i in 0..cx.n() {
                if cx.free(i) && is_in(&["pods", "po", "pod"], cx.low(i)) {
                    cx.take(i);
                    // "the pod list"
                    if cx.free(i + 1) && cx.low(i + 1) == "list" {
                        cx.take(i + 1);
                    }
                }
            }
            let ns = match (of, cx.namespace()?) {
                (Some(a), Some(b)) if a != b => {
                    return Err(format!("conflicting namespaces: {a}, {b}"));
                }
                (a, b) => a.or(b),
            };
            p.or_default("namespace", ns);
        }
        Frame::DeletePod => {
            let ns = cx.namespace()?;
            let name = cx
                .kind_name(&["pod", "po"], &["pods"], "pod")?
                .ok_or("which pod? (say 'pod NAME')")?;
            p.or_default("namespace", ns);
            p.put("name", name);
        }
        Frame::Expose => {
            let ns = cx.namespace()?;
            let service = match cx.kind_name(&["service", "svc"], &["services"], "service")? {
                Some(s) => s,
                None => cx
                    .bare_name(&[])
                    .ok_or("which service? (say 'service NAME')")?,
            };
            let hostname = cx.host_name()?;
            let port = cx.port()?;
            p.or_default("namespace", ns);
            p.put("service", service);
            p.put("hostname", hostname);
            p.or_default("port", port);
        }
        Frame::Run => {
            let playbook = cx.playbook()?;
            let limit = cx.limit()?;
            p.put("playbook", playbook);
            if let Some(l) = limit {
                p.put("limit", l);
            }
        }
    }
    let unknown = leftovers(&cx, frame, wording)?;
    Ok(Parsed {
        action: frame.action().to_string(),
        params: p.map,
        confidence: confidence(cx.inferred, unknown, p.defaults),
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

/// Everything not consumed must be harmless filler; a few unknown plain words
/// are tolerated, anything value-like, verb-like or object-like is refused.
fn leftovers(cx: &Cx, frame: Frame, wording: Wording) -> R<u32> {
    let mut unknown = 0;
    let [f1, f2] = frame.fillers();
    for i in 0..cx.n() {
        if !cx.free(i) {
            continue;
        }
        let l = cx.low(i);
        let raw = cx.raw(i);
        if is_in(f1, l) || is_in(f2, l) || is_in(lx::FILLER, l) {
            continue;
        }
        if l.starts_with('-')
            || !l
                .chars()
                .all(|c| c.is_alphabetic() || c == '\'' || c == '-')
            || number::is_number_word(l)
        {
            return Err(format!("unexpected '{raw}'"));
        }
        if lx::is_action_verb(l) {
            return Err(format!("'{raw}' asks for another action"));
        }
        let objecty = [
            lx::OTHER_KINDS,
            lx::TIME_WORDS,
            lx::CUE_WORDS,
            lx::UNSUPPORTED_TYPES,
        ];
        if lx::is_object_word(l) || objecty.iter().any(|set| is_in(set, l)) || l == "all" {
            return Err(format!("'{raw}' does not fit a {} request", frame.action()));
        }
        if cx.after_preposition(i) {
            return Err(format!("unexpected '{raw}'"));
        }
        unknown += 1;
    }
    if unknown > frame.unknown_limit(wording) {
        return Err("too many words that are not understood".into());
    }
    Ok(unknown)
}
