//! Kubernetes slots: namespaces, and names attached to a kind word (deployment,
//! pod, service) or found right after the verb.

use super::{Cx, dedupe};
use crate::R;
use crate::lexicon::{self as lx, is_in};

impl Cx<'_> {
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

    /// "pods of X", "pods for X", "the pod list for X": the namespace of the pods.
    pub(crate) fn pods_namespace(&mut self) -> Option<String> {
        for i in 0..self.n() {
            if !self.free(i) || !is_in(&["pods", "pod", "po"], self.low(i)) {
                continue;
            }
            let mut j = i + 1;
            if self.free(j) && self.low(j) == "list" {
                j += 1;
            }
            if self.free(j)
                && is_in(&["of", "for"], self.low(j))
                && self.name_at(j + 1, true)
                && self.boundary_after(j + 1)
            {
                self.take_range(i, j + 1);
                return Some(self.low(j + 1).to_string());
            }
        }
        None
    }

    /// "in namespace X", "namespace X", "-n X", "in the X namespace", "in X", "from X".
    pub(crate) fn namespace(&mut self) -> R<Option<String>> {
        let mut vals = Vec::new();
        for i in 0..self.n() {
            if !self.free(i) || !is_in(&["namespace", "ns"], self.low(i)) {
                continue;
            }
            let (j, _) = self.skip_naming(i + 1);
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
            while self.free(j) && is_in(lx::ARTICLES, self.low(j)) {
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
    pub(crate) fn kind_name(
        &mut self,
        kinds: &[&str],
        plurals: &[&str],
        what: &str,
    ) -> R<Option<String>> {
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
        let (j, cued) = self.skip_naming(k + 1);
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
    pub(crate) fn bare_name(&mut self, particles: &[&str]) -> Option<String> {
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

    fn deployment_by_kind(&mut self) -> R<Option<String>> {
        self.kind_name(
            &["deployment", "deploy", "deployment.apps"],
            &["deployments"],
            "deployment",
        )
    }

    /// The deployment to scale: by kind word, by "replicas of X", or right after the verb.
    pub(crate) fn deployment_to_scale(&mut self) -> R<String> {
        if let Some(n) = self.deployment_by_kind()? {
            return Ok(n);
        }
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
        self.bare_name(&["up", "down", "out"])
            .ok_or_else(|| "which deployment? (say 'deployment NAME')".into())
    }

    /// The deployment to restart: by kind word, or right after the verb when a
    /// namespace was given.
    pub(crate) fn deployment_to_restart(&mut self, ns_given: bool) -> R<String> {
        if let Some(n) = self.deployment_by_kind()? {
            return Ok(n);
        }
        // A bare name could be a host or a systemd unit; accept it only
        // together with an explicit Kubernetes namespace.
        if !ns_given {
            return Err("which deployment? (say 'deployment NAME' or give a namespace)".into());
        }
        self.bare_name(&[])
            .ok_or_else(|| "which deployment? (say 'deployment NAME')".into())
    }
}
