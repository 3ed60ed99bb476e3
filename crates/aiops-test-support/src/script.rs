//! Runs the bootstrap scripts (argv, never a shell string) and reads the `KEY=VALUE` lines
//! they print.

use std::collections::HashMap;
use std::process::Command;

use crate::{HarnessError, Result, repo_root};

/// The `KEY=VALUE` lines a script printed, and which script printed them.
#[derive(Debug, Clone)]
pub struct Vars {
    script: String,
    vars: HashMap<String, String>,
}

impl Vars {
    /// Parses the upper-case `KEY=VALUE` lines of `text`; other lines are logs.
    pub fn parse(script: &str, text: &str) -> Vars {
        let vars = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .filter(|(k, _)| {
                !k.is_empty()
                    && k.chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            })
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Vars {
            script: script.to_string(),
            vars,
        }
    }

    /// The value of `key`, or an error naming the script that did not print it.
    pub fn get(&self, key: &str) -> Result<&str> {
        self.vars
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| HarnessError::MissingVar {
                script: self.script.clone(),
                key: key.to_string(),
            })
    }

    /// The value of `key`, if printed.
    pub fn opt(&self, key: &str) -> Option<&str> {
        self.vars.get(key).map(String::as_str)
    }
}

/// `vars["KEY"]`: the value, or a panic naming the script that did not print it.
impl std::ops::Index<&str> for Vars {
    type Output = String;

    fn index(&self, key: &str) -> &String {
        self.vars
            .get(key)
            .unwrap_or_else(|| panic!("{} printed no {key}= line", self.script))
    }
}

/// Runs `bash <repo>/<script> <args>` in the repository root with `env` added, and never
/// lets it install anything (`AIOPS_NO_INSTALL=1`: a missing tool fails with the command
/// that installs it). Returns the `KEY=VALUE` lines it printed; a failure carries its output.
pub fn run_script(script: &str, args: &[&str], env: &[(&str, &str)]) -> Result<Vars> {
    let root = repo_root();
    let out = Command::new("bash")
        .arg(root.join(script))
        .args(args)
        .current_dir(&root)
        .env("AIOPS_NO_INSTALL", "1")
        .envs(env.iter().copied())
        .output()
        .map_err(HarnessError::io(format!("running {script}")))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(HarnessError::Script {
            script: script.to_string(),
            args: args.iter().map(|a| a.to_string()).collect(),
            status: out.status.to_string(),
            stdout,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    Ok(Vars::parse(script, &stdout))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_upper_case_keys_are_variables() {
        let v = Vars::parse(
            "x.sh",
            "starting...\nAIOPS_DNS=127.0.0.1:53\nlower=no\nK8S_API=a=b\n=empty\n",
        );
        assert_eq!(v.get("AIOPS_DNS").ok(), Some("127.0.0.1:53"));
        assert_eq!(v.opt("K8S_API"), Some("a=b"), "split at the first =");
        assert_eq!(v.opt("lower"), None);
        assert_eq!(v["AIOPS_DNS"], "127.0.0.1:53");
        let err = v.get("MISSING").unwrap_err();
        assert_eq!(err.code(), "missing_var");
        assert_eq!(err.to_string(), "x.sh printed no MISSING= line");
    }
}
