//! Parsing the output of Ansible's built-in `default` stdout callback.
//!
//! The executor runs `ansible-playbook -v` with `ANSIBLE_CALLBACK_RESULT_FORMAT=json`, so
//! the default callback prints, per task and host, a result line whose tail is the task's
//! result as JSON (one line, or indented over several lines for `debug`):
//!
//! ```text
//! TASK [Add A record] ************************************************************
//! --- before: test.local A (127.0.0.1:15399)
//! +++ after: test.local A (127.0.0.1:15399)
//! @@ -0,0 +1 @@
//! +test.local 3600 IN A 192.168.1.100
//!
//! changed: [localhost] => {"changed": true, "msg": "Record added successfully", ...}
//! fatal: [localhost]: FAILED! => {"changed": false, "msg": "..."}
//! ok: [localhost] => (item=1) => {...}
//! failed: [localhost] (item=2) => {...}
//! skipping: [localhost] => {"false_condition": false, ...}
//! ...ignoring
//!
//! PLAY RECAP *********************************************************************
//! localhost : ok=1 changed=1 unreachable=0 failed=0 skipped=0 rescued=0 ignored=0
//! ```
//!
//! With `--diff` the callback prints each task's diff as a unified diff just before its
//! result line (the JSON result leaves the diff out below verbosity 3); those blocks are
//! collected into [`PlaybookOutcome::diff`]. This module does no I/O.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

/// The result of one task on one host (one loop item, for loops).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskResult {
    /// Task name as Ansible prints it (`name (item=…)` for a loop item).
    pub task: String,
    /// Inventory host.
    pub host: String,
    /// `ok`, `changed`, `failed`, `skipped` or `unreachable`.
    pub status: String,
    /// Whether the task reported a change.
    pub changed: bool,
    /// The task's `msg`, scrubbed (for failures of command-like tasks: the last stderr line).
    pub msg: Option<String>,
}

/// What a playbook run did, parsed and scrubbed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlaybookOutcome {
    /// Some task changed something (or would, in check mode).
    pub changed: bool,
    /// Some task failed (not ignored) or a host was unreachable.
    pub failed: bool,
    /// Results in the order Ansible printed them.
    pub tasks: Vec<TaskResult>,
    /// The unified diffs Ansible printed (with `--diff`), readable, scrubbed.
    pub diff: String,
    /// The last meaningful task message (the failure's, for a failed run), scrubbed.
    pub msg: String,
}

/// Counters of one host in the `PLAY RECAP`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct HostStats {
    pub ok: u64,
    pub changed: u64,
    pub unreachable: u64,
    pub failed: u64,
    pub skipped: u64,
    pub rescued: u64,
    pub ignored: u64,
}

/// Everything read from the callback's output, unscrubbed.
#[derive(Debug, Clone, Default)]
pub(crate) struct ParsedOutput {
    pub tasks: Vec<TaskResult>,
    /// Indexes into `tasks` of failures followed by `...ignoring`.
    pub ignored: Vec<usize>,
    pub diffs: Vec<String>,
    pub recap: BTreeMap<String, HostStats>,
    /// First lines of `[ERROR]: …` messages.
    pub errors: Vec<String>,
}

const GENERIC_MSGS: &[&str] = &[
    "All items completed",
    "All items skipped",
    "non-zero return code",
    "MODULE FAILURE\nSee stdout/stderr for the exact error",
    "MODULE FAILURE",
];

fn banner<'a>(line: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = line.strip_prefix(prefix)?;
    let end = rest.rfind("] ")?;
    if rest[end + 1..].trim().chars().all(|c| c == '*') {
        Some(&rest[..end])
    } else {
        None
    }
}

struct ResultLine<'a> {
    status: &'static str,
    host: &'a str,
    item: Option<&'a str>,
    /// Byte offset, within the line, of the JSON result's `{`.
    json_at: Option<usize>,
}

fn result_line(line: &str) -> Option<ResultLine<'_>> {
    const PREFIXES: &[(&str, &str)] = &[
        ("ok: [", "ok"),
        ("changed: [", "changed"),
        ("skipping: [", "skipped"),
        ("fatal: [", "failed"),
        ("failed: [", "failed"),
    ];
    let (status, rest) = PREFIXES
        .iter()
        .find_map(|(p, s)| line.strip_prefix(p).map(|rest| (*s, rest)))?;
    let close = rest.find(']')?;
    let host = &rest[..close];
    let mut after = &rest[close + 1..];
    let mut status = status;
    if let Some(r) = after.strip_prefix(": FAILED!") {
        after = r;
        status = "failed";
    } else if let Some(r) = after.strip_prefix(": UNREACHABLE!") {
        after = r;
        status = "unreachable";
    }
    let base = line.len() - after.len();
    let item_start = after
        .strip_prefix(" => (item=")
        .or_else(|| after.strip_prefix(" (item="));
    if let Some(item_rest) = item_start {
        let item_base = line.len() - item_rest.len();
        return Some(match item_rest.rfind(") => {") {
            Some(i) => ResultLine {
                status,
                host,
                item: Some(&item_rest[..i]),
                json_at: Some(item_base + i + 5),
            },
            None => ResultLine {
                status,
                host,
                item: Some(item_rest.trim_end().trim_end_matches(')')),
                json_at: None,
            },
        });
    }
    let json_at = after.strip_prefix(" => {").map(|_| base + 4);
    if json_at.is_none() && !after.trim().is_empty() {
        // Not a result line after all (e.g. some other text starting with "ok: [").
        return None;
    }
    Some(ResultLine {
        status,
        host,
        item: None,
        json_at,
    })
}

fn recap_line(line: &str) -> Option<(String, HostStats)> {
    let (host, counters) = line.split_once(" : ")?;
    let host = host.trim();
    if host.is_empty() || host.contains(' ') {
        return None;
    }
    let mut stats = HostStats::default();
    let mut seen = 0;
    for part in counters.split_whitespace() {
        let (k, v) = part.split_once('=')?;
        let v: u64 = v.parse().ok()?;
        seen += 1;
        match k {
            "ok" => stats.ok = v,
            "changed" => stats.changed = v,
            "unreachable" => stats.unreachable = v,
            "failed" => stats.failed = v,
            "skipped" => stats.skipped = v,
            "rescued" => stats.rescued = v,
            "ignored" => stats.ignored = v,
            _ => {}
        }
    }
    (seen > 0).then(|| (host.to_owned(), stats))
}

fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn last_line(v: Option<&Value>) -> Option<String> {
    let s = v?.as_str()?;
    s.lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_owned)
}

fn result_msg(status: &str, json: Option<&Value>) -> Option<String> {
    let json = json?;
    let msg = json.get("msg").and_then(value_text);
    if status == "failed" || status == "unreachable" {
        let generic = msg
            .as_deref()
            .is_none_or(|m| GENERIC_MSGS.contains(&m) || m.is_empty());
        if generic {
            let detail = last_line(json.get("stderr"))
                .or_else(|| last_line(json.get("module_stderr")))
                .or_else(|| last_line(json.get("module_stdout")));
            if let Some(detail) = detail {
                return Some(match msg {
                    Some(m) if !m.is_empty() => {
                        format!("{}: {detail}", m.lines().next().unwrap_or_default())
                    }
                    _ => detail,
                });
            }
        }
    }
    msg
}

/// Parses the default callback's stdout (verbosity 1, JSON result format).
pub(crate) fn parse(stdout: &str) -> ParsedOutput {
    let mut out = ParsedOutput::default();
    let mut task = String::new();
    let mut in_recap = false;
    let mut diff: Option<String> = None;
    let mut pos = 0;
    while pos < stdout.len() {
        let end = stdout[pos..].find('\n').map_or(stdout.len(), |i| pos + i);
        let line = stdout[pos..end].trim_end_matches('\r');
        let mut next = end + 1;

        if let Some(block) = diff.as_mut() {
            if line.is_empty() || result_line(line).is_some() {
                out.diffs.push(std::mem::take(block));
                diff = None;
            } else {
                block.push_str(line);
                block.push('\n');
                pos = next;
                continue;
            }
        }

        if let Some(name) = banner(line, "TASK [").or_else(|| banner(line, "RUNNING HANDLER [")) {
            task = name.to_owned();
            in_recap = false;
        } else if banner(line, "PLAY [").is_some() {
            task.clear();
            in_recap = false;
        } else if line.starts_with("PLAY RECAP *") {
            in_recap = true;
        } else if in_recap && let Some((host, stats)) = recap_line(line) {
            out.recap.insert(host, stats);
        } else if let Some(r) = result_line(line) {
            let mut json = None;
            if let Some(at) = r.json_at {
                let start = pos + at;
                let mut stream =
                    serde_json::Deserializer::from_str(&stdout[start..]).into_iter::<Value>();
                if let Some(Ok(v)) = stream.next() {
                    let consumed = start + stream.byte_offset();
                    // Continue after the line the JSON value ends on.
                    next = stdout[consumed..]
                        .find('\n')
                        .map_or(stdout.len(), |i| consumed + i + 1);
                    json = Some(v);
                }
            }
            let changed = r.status == "changed"
                || json
                    .as_ref()
                    .and_then(|j| j.get("changed"))
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
            let task_name = match r.item {
                Some(item) => format!("{task} (item={item})"),
                None => task.clone(),
            };
            out.tasks.push(TaskResult {
                task: task_name,
                host: r.host.to_owned(),
                status: r.status.to_owned(),
                changed,
                msg: result_msg(r.status, json.as_ref()),
            });
        } else if line == "...ignoring" {
            if let Some(last) = out.tasks.len().checked_sub(1) {
                out.ignored.push(last);
            }
        } else if let Some(err) = line.strip_prefix("[ERROR]: ") {
            out.errors.push(err.trim().to_owned());
        } else if line.starts_with("--- ") {
            diff = Some(format!("{line}\n"));
        }
        pos = next;
    }
    if let Some(block) = diff {
        out.diffs.push(block);
    }
    out
}

/// Builds the outcome of a run from its parsed output and exit code, scrubbing every string
/// with `scrub`.
pub(crate) fn outcome(
    parsed: &ParsedOutput,
    exit_ok: bool,
    scrub: &dyn Fn(&str) -> String,
) -> PlaybookOutcome {
    let tasks: Vec<TaskResult> = parsed
        .tasks
        .iter()
        .map(|t| TaskResult {
            task: scrub(&t.task),
            host: scrub(&t.host),
            status: t.status.clone(),
            changed: t.changed,
            msg: t.msg.as_deref().map(scrub),
        })
        .collect();
    let recap_failed = parsed
        .recap
        .values()
        .any(|s| s.failed > 0 || s.unreachable > 0);
    let task_failed = tasks.iter().enumerate().any(|(i, t)| {
        (t.status == "failed" || t.status == "unreachable") && !parsed.ignored.contains(&i)
    });
    let failed = !exit_ok || recap_failed || (parsed.recap.is_empty() && task_failed);
    // The recap is authoritative (a failed command reports `changed: true` in its result
    // but is not counted as a change); without one, fall back to the results.
    let changed = if parsed.recap.is_empty() {
        tasks.iter().any(|t| t.changed)
    } else {
        parsed.recap.values().any(|s| s.changed > 0)
    };

    let meaningful = |t: &&TaskResult| {
        t.status != "skipped"
            && t.msg
                .as_deref()
                .is_some_and(|m| !m.trim().is_empty() && !GENERIC_MSGS.contains(&m))
    };
    let last_failure = tasks
        .iter()
        .enumerate()
        .filter(|(i, t)| {
            (t.status == "failed" || t.status == "unreachable") && !parsed.ignored.contains(i)
        })
        .map(|(_, t)| t)
        .rfind(meaningful);
    let msg = if failed {
        last_failure
            .and_then(|t| t.msg.clone())
            .or_else(|| parsed.errors.last().map(|e| scrub(e)))
            .or_else(|| tasks.iter().rfind(meaningful).and_then(|t| t.msg.clone()))
    } else {
        tasks.iter().rfind(meaningful).and_then(|t| t.msg.clone())
    }
    .unwrap_or_default();

    PlaybookOutcome {
        changed,
        failed,
        tasks,
        diff: scrub(&parsed.diffs.join("\n")),
        msg,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHECK_ADD: &str = include_str!("../tests/fixtures/check_add.txt");
    const NOOP_ADD: &str = include_str!("../tests/fixtures/noop_add.txt");
    const FAILED_KEY: &str = include_str!("../tests/fixtures/failed_key.txt");
    const MIXED: &str = include_str!("../tests/fixtures/mixed.txt");

    fn ident(s: &str) -> String {
        s.to_owned()
    }

    #[test]
    fn check_mode_add_with_diff() {
        let p = parse(CHECK_ADD);
        assert_eq!(p.tasks.len(), 1);
        let t = &p.tasks[0];
        assert_eq!(t.task, "Add A record");
        assert_eq!(t.host, "localhost");
        assert_eq!(t.status, "changed");
        assert!(t.changed);
        assert_eq!(
            t.msg.as_deref(),
            Some("Record test.local A 192.168.1.100 would be added")
        );
        assert_eq!(p.recap["localhost"].changed, 1);
        let o = outcome(&p, true, &ident);
        assert!(o.changed && !o.failed);
        assert_eq!(
            o.diff,
            "--- before: test.local A (127.0.0.1:15399)\n\
             +++ after: test.local A (127.0.0.1:15399)\n\
             @@ -0,0 +1 @@\n\
             +test.local 3600 IN A 192.168.1.100\n"
        );
        assert_eq!(o.msg, "Record test.local A 192.168.1.100 would be added");
    }

    #[test]
    fn idempotent_rerun_is_ok_not_changed() {
        let p = parse(NOOP_ADD);
        let o = outcome(&p, true, &ident);
        assert!(!o.changed && !o.failed);
        assert_eq!(o.tasks[0].status, "ok");
        assert_eq!(o.msg, "Record test.local A 192.168.1.100 already present");
        assert_eq!(o.diff, "");
    }

    #[test]
    fn failed_task_message_and_error_line() {
        let p = parse(FAILED_KEY);
        assert_eq!(p.tasks[0].status, "failed");
        assert_eq!(p.errors.len(), 1);
        let o = outcome(&p, false, &ident);
        assert!(o.failed && !o.changed);
        assert_eq!(
            o.msg,
            "the DNS server rejected the TSIG key (PeerBadSignature)"
        );
    }

    #[test]
    fn loops_skips_ignored_failures_and_multiline_json() {
        let p = parse(MIXED);
        let statuses: Vec<(&str, &str)> = p
            .tasks
            .iter()
            .map(|t| (t.task.as_str(), t.status.as_str()))
            .collect();
        assert_eq!(
            statuses,
            vec![
                ("loop task (item=1)", "ok"),
                ("loop task (item=2)", "ok"),
                ("skip me", "skipped"),
                ("ignored failure", "failed"),
                ("set fact", "ok"),
                ("shell fails", "failed"),
            ]
        );
        assert_eq!(p.tasks[0].msg.as_deref(), Some("item 1"));
        assert_eq!(p.ignored, vec![3]);
        let o = outcome(&p, false, &ident);
        assert!(o.failed);
        // The command's generic msg is completed by its last stderr line.
        assert_eq!(
            o.msg,
            "non-zero return code: ls: cannot access 'no such thing': No such file or directory"
        );
        assert!(!o.changed);
        assert_eq!(p.recap["localhost"].ignored, 1);
    }

    #[test]
    fn ignored_failure_alone_does_not_fail_the_run() {
        let text = "TASK [x] ***\nfatal: [localhost]: FAILED! => {\"changed\": false, \"msg\": \"boom\"}\n...ignoring\n\nTASK [y] ***\nok: [localhost] => {\"changed\": false, \"msg\": \"fine\"}\n\nPLAY RECAP ***\nlocalhost                  : ok=2    changed=0    unreachable=0    failed=0    skipped=0    rescued=0    ignored=1   \n";
        let p = parse(text);
        let o = outcome(&p, true, &ident);
        assert!(!o.failed);
        assert_eq!(o.msg, "fine");
    }

    #[test]
    fn unreachable_and_scrubbing() {
        let text = "TASK [ping] ***\nfatal: [web1]: UNREACHABLE! => {\"changed\": false, \"msg\": \"ssh: connect as s3cret failed\", \"unreachable\": true}\n\nPLAY RECAP ***\nweb1 : ok=0 changed=0 unreachable=1 failed=0 skipped=0 rescued=0 ignored=0\n";
        let p = parse(text);
        assert_eq!(p.tasks[0].status, "unreachable");
        let o = outcome(&p, false, &|s: &str| crate::scrub(s, &["s3cret"]));
        assert!(o.failed);
        assert_eq!(o.msg, "ssh: connect as [REDACTED] failed");
    }

    #[test]
    fn garbage_and_truncated_json_do_not_panic() {
        for text in [
            "",
            "ok: [",
            "ok: [h] => {",
            "ok: [h] => {\"msg\": \"unterminated",
            "TASK [",
            "PLAY RECAP ***\nh : ok=x",
            "--- a\n+++ b",
            "failed: [h] (item=) => {}",
        ] {
            let p = parse(text);
            let _ = outcome(&p, false, &ident);
        }
    }
}
