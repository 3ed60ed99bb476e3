//! Ansible slots: the playbook name and the host limit.

use super::{Cx, dedupe};
use crate::R;
use crate::lexicon::{self as lx, is_in};
use crate::values;

impl Cx<'_> {
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
        self.free(i) && values::playbook_name(w) && (object_word || !lx::is_structural(w))
    }

    /// "playbook X", "the X playbook", "playbook named X", "X.yml".
    pub(crate) fn playbook(&mut self) -> R<String> {
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
            let (j, cued) = self.skip_naming(k + 1);
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
        self.free(j) && values::limit_pattern(self.raw(j)) && !lx::is_structural(self.low(j))
    }

    /// "limited to X", "limit X", "--limit X", "on X", "against X", "for hosts X",
    /// "on the X group".
    pub(crate) fn limit(&mut self) -> R<Option<String>> {
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
                "for" if is_in(lx::GROUPISH, self.low(i + 1)) => Some(i + 1),
                "host" | "hosts" | "group" | "groups" => Some(i),
                _ => None,
            };
            let Some(mut j) = start else { continue };
            let article = self.low(j) == "the";
            if article {
                j += 1;
            }
            if is_in(lx::GROUPISH, self.low(j)) || self.low(j) == "inventory" {
                j += 1;
            }
            if !self.limit_at(j) {
                return Err(format!("no valid host pattern after '{}'", self.raw(i)));
            }
            let trailing = is_in(lx::GROUPISH, self.low(j + 1));
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
}
