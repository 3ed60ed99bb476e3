//! The Ansible runner with real ansible-playbook: timeouts kill the process tree and remove
//! the secret file, secrets are scrubbed, bad binaries and paths are refused.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aiops_exec::{Ansible, AnsibleConfig, PlaybookRun, dns_lookup};
use secrecy::SecretString;
use serde_json::{Map, Value, json};

use common::{ansible, assert_no_entries, dir_entries, processes_matching, repo_root};

const SECRET: &str = "s3cr3t-Hunter2+/=token";

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).expect("write playbook");
}

fn secret_vars() -> BTreeMap<String, SecretString> {
    BTreeMap::from([("api_token".to_owned(), SecretString::from(SECRET))])
}

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().expect("object").clone()
}

/// A run of `playbook`, nothing else set.
fn plain_run(playbook: &str) -> PlaybookRun {
    PlaybookRun {
        playbook: playbook.into(),
        ..Default::default()
    }
}

/// A run of `playbook` with these vars and the secret vars.
fn run_with_secret(playbook: &str, vars: Map<String, Value>) -> PlaybookRun {
    PlaybookRun {
        playbook: playbook.into(),
        vars,
        secret_vars: secret_vars(),
        ..Default::default()
    }
}

/// An executor of the repository's playbooks with this binary (never started by the
/// tests that use it).
fn ansible_with_binary(bin: PathBuf) -> Ansible {
    Ansible::new(AnsibleConfig {
        playbook_bin: bin,
        playbook_dir: repo_root().join("deploy/ansible/playbooks"),
        timeout_secs: 5,
        run_root: None,
    })
}

const SLEEP_PLAYBOOK: &str = r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - name: sleep
      ansible.builtin.command:
        argv: [sleep, "{{ sleep_arg }}"]
"#;

/// A run of [`SLEEP_PLAYBOOK`] (with the secret vars) in its own playbook and temp
/// directories.
struct SleepRun {
    playbooks: tempfile::TempDir,
    tmp: tempfile::TempDir,
    ansible: Ansible,
    run: PlaybookRun,
    /// `sleep`'s unique argument, to find that very process in /proc.
    arg: String,
}

impl SleepRun {
    /// Sleeps `base` seconds (and a unique fraction), under this timeout.
    fn new(timeout_secs: u64, base: u32) -> SleepRun {
        let playbooks = tempfile::tempdir().expect("tmp");
        write(playbooks.path(), "sleep.yml", SLEEP_PLAYBOOK);
        let tmp = tempfile::tempdir().expect("tmp");
        let ansible = ansible(playbooks.path(), timeout_secs, tmp.path());
        let arg = format!("{base}.{}{}", std::process::id(), rand_suffix());
        let run = run_with_secret("sleep.yml", obj(json!({ "sleep_arg": arg })));
        SleepRun {
            playbooks,
            tmp,
            ansible,
            run,
            arg,
        }
    }

    /// Neither ansible-playbook (its argv holds the playbook's unique path) nor sleep is
    /// left, and the private run directory, with the 0600 secret vars file, is gone.
    async fn assert_nothing_left(&self) {
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            processes_matching(&self.arg).is_empty(),
            "the task's sleep survived"
        );
        let playbook_path = self.playbooks.path().canonicalize().expect("canon");
        assert!(processes_matching(&playbook_path.to_string_lossy()).is_empty());
        assert_no_entries(self.tmp.path());
    }
}

fn rand_suffix() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() % 100_000)
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_of_one_second_kills_the_run_and_removes_the_vars_file() {
    // The task sleeps 300 s: only the timeout can end the run with executor_timeout.
    let sleep = SleepRun::new(1, 300);
    let err = sleep
        .ansible
        .run(&sleep.run)
        .await
        .expect_err("must time out");
    assert_eq!(err.code(), "executor_timeout", "{err}");
    sleep.assert_nothing_left().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_kills_module_processes_in_worker_sessions() {
    // Ansible's workers call setsid(): the command a task runs is not in ansible-playbook's
    // process group. Wait until the task's `sleep` really runs, then let the timeout hit.
    let sleep = SleepRun::new(10, 600);

    let seen_sleep = Arc::new(AtomicBool::new(false));
    let seen_secret_file_0600 = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (seen_sleep, seen_file, stop) = (
            seen_sleep.clone(),
            seen_secret_file_0600.clone(),
            stop.clone(),
        );
        let (arg, tmp) = (sleep.arg.clone(), sleep.tmp.path().to_path_buf());
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                if !processes_matching(&arg).is_empty() {
                    seen_sleep.store(true, Ordering::SeqCst);
                }
                for run_dir in dir_entries(&tmp) {
                    let file = run_dir.join("secret-vars.json");
                    if let Ok(meta) = std::fs::metadata(&file) {
                        let dir_mode = std::fs::metadata(&run_dir)
                            .map(|m| m.permissions().mode() & 0o777)
                            .unwrap_or(0);
                        if meta.permissions().mode() & 0o777 == 0o600 && dir_mode == 0o700 {
                            seen_file.store(true, Ordering::SeqCst);
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };

    let err = sleep
        .ansible
        .run(&sleep.run)
        .await
        .expect_err("must time out");
    stop.store(true, Ordering::SeqCst);
    watcher.join().expect("watcher");
    assert_eq!(err.code(), "executor_timeout");
    assert!(
        seen_sleep.load(Ordering::SeqCst),
        "the task's sleep never ran within the timeout (machine too slow?)"
    );
    assert!(seen_secret_file_0600.load(Ordering::SeqCst));
    sleep.assert_nothing_left().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_run_future_kills_the_tree_and_removes_the_files() {
    // Cancellation (and unwinding from a panic) drops the run's guards.
    let sleep = SleepRun::new(60, 900);
    let cancelled =
        tokio::time::timeout(Duration::from_secs(3), sleep.ansible.run(&sleep.run)).await;
    assert!(cancelled.is_err(), "the run should still be going after 3s");
    sleep.assert_nothing_left().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_scrubbed_from_results_and_errors() {
    let playbooks = tempfile::tempdir().expect("tmp");
    write(
        playbooks.path(),
        "leak.yml",
        r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - name: "echo {{ api_token }}"
      ansible.builtin.command:
        argv: [echo, "{{ api_token }}"]
      changed_when: false
    - name: leak in msg
      ansible.builtin.debug:
        msg: "token={{ api_token }} b64={{ api_token | b64encode }}"
"#,
    );
    write(
        playbooks.path(),
        "leak_fail.yml",
        r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - name: fail with the secret
      ansible.builtin.fail:
        msg: "cannot use {{ api_token }}"
"#,
    );
    let tmp = tempfile::tempdir().expect("tmp");
    let ansible = ansible(playbooks.path(), 120, tmp.path());

    let outcome = ansible
        .run(&run_with_secret("leak.yml", Map::new()))
        .await
        .expect("run");
    let text = serde_json::to_string(&outcome).expect("json");
    assert!(!text.contains(SECRET), "{text}");
    assert!(
        !text.contains("czNjcjN0"),
        "base64 of the secret leaked: {text}"
    );
    assert_eq!(
        outcome.msg, "token=[REDACTED] b64=[REDACTED]",
        "{outcome:?}"
    );
    assert_eq!(outcome.tasks[0].task, "echo [REDACTED]");

    let err = ansible
        .run(&run_with_secret("leak_fail.yml", Map::new()))
        .await
        .expect_err("fails");
    assert_eq!(err.code(), "executor_failed");
    assert_eq!(err.to_string(), "playbook failed: cannot use [REDACTED]");
    assert!(!format!("{err:?}").contains(SECRET));
    assert_no_entries(tmp.path());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vars_reach_the_playbook_and_syntax_errors_fail_cleanly() {
    let playbooks = tempfile::tempdir().expect("tmp");
    write(
        playbooks.path(),
        "echo.yml",
        r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - name: show
      ansible.builtin.debug:
        msg: "{{ greeting }} {{ count + 1 }} {{ ansible_connection }} {{ inventory_hostname }}"
    - name: skipped
      ansible.builtin.debug: {msg: never}
      when: false
"#,
    );
    write(
        playbooks.path(),
        "broken.yml",
        "- hosts: localhost\n  tasks: [oops\n",
    );
    let runs = tempfile::tempdir().expect("tmp");
    let ansible = ansible(playbooks.path(), 120, runs.path());
    let outcome = ansible
        .run(&PlaybookRun {
            playbook: "echo.yml".into(),
            vars: obj(json!({"greeting": "it's \"quoted\"; $(rm -rf /) `x`", "count": 41})),
            secret_vars: BTreeMap::new(),
            check: true,
            limit: Some("localhost".into()),
        })
        .await
        .expect("run");
    assert_eq!(
        outcome.msg,
        "it's \"quoted\"; $(rm -rf /) `x` 42 local localhost"
    );
    assert_eq!(outcome.tasks.len(), 2);
    assert_eq!(outcome.tasks[1].status, "skipped");
    assert!(!outcome.changed && !outcome.failed);

    let err = ansible
        .run(&plain_run("broken.yml"))
        .await
        .expect_err("syntax error");
    assert_eq!(err.code(), "executor_failed");
    assert!(err.to_string().contains("exited with code 4"), "{err}");
}

#[tokio::test]
async fn version_reports_ansible_core() {
    let runs = tempfile::tempdir().expect("tmp");
    let ansible = ansible(
        &repo_root().join("deploy/ansible/playbooks"),
        60,
        runs.path(),
    );
    let version = ansible.version().await.expect("version");
    assert!(version.contains("core 2."), "{version}");
}

#[tokio::test]
async fn missing_or_unrunnable_binary_is_executor_unavailable() {
    let dir = tempfile::tempdir().expect("tmp");
    let not_exec = dir.path().join("ansible-playbook");
    std::fs::write(&not_exec, "#!/bin/sh\n").expect("write");
    std::fs::set_permissions(&not_exec, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    for bin in [dir.path().join("nope/ansible-playbook"), not_exec] {
        let ansible = ansible_with_binary(bin);
        let err = ansible
            .run(&plain_run("dns/add_record.yml"))
            .await
            .expect_err("unavailable");
        assert_eq!(err.code(), "executor_unavailable", "{err}");
        let err = ansible.version().await.expect_err("unavailable");
        assert_eq!(err.code(), "executor_unavailable", "{err}");
    }
}

#[tokio::test]
async fn playbook_path_traversal_and_bad_vars_are_rejected() {
    // Refused before anything starts. The binary leaves a mark if it ever runs, and the
    // private run directories (where the secret vars file would go) live in `runs`.
    let dir = tempfile::tempdir().expect("tmp");
    let mark = dir.path().join("ran");
    let bin = dir.path().join("ansible-playbook");
    std::fs::write(&bin, format!("#!/bin/sh\ntouch '{}'\n", mark.display())).expect("write");
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let runs = dir.path().join("runs");
    std::fs::create_dir(&runs).expect("mkdir");
    let ansible = Ansible::new(AnsibleConfig {
        run_root: Some(runs.clone()),
        ..ansible_with_binary(bin).config().clone()
    });
    let in_repo = repo_root().join("deploy/ansible/playbooks/dns/add_record.yml");
    for playbook in [
        "../../bootstrap/bind.sh",
        "../playbooks/dns/add_record.yml",
        "dns/../../library/aiops_nsupdate.py",
        "/etc/passwd",
        // Absolute, even when it names an allowed playbook.
        &in_repo.to_string_lossy(),
        "dns/missing.yml",
        "",
    ] {
        let err = ansible
            .run(&run_with_secret(playbook, Map::new()))
            .await
            .expect_err(playbook);
        assert_eq!(err.code(), "invalid_playbook", "{playbook}: {err}");
    }
    for vars in [
        json!({"ansible_connection": "ssh"}),
        json!({"bad-name": 1}),
        json!({"ansible_python_interpreter": "/bin/sh"}),
    ] {
        let err = ansible
            .run(&run_with_secret("dns/add_record.yml", obj(vars)))
            .await
            .expect_err("bad vars");
        assert_eq!(err.code(), "invalid_playbook");
    }
    let err = ansible
        .run(&PlaybookRun {
            limit: Some("--extra-vars=@/etc/shadow".into()),
            ..run_with_secret("dns/add_record.yml", Map::new())
        })
        .await
        .expect_err("bad limit");
    assert_eq!(err.code(), "invalid_playbook");
    assert!(!mark.exists(), "a refused run started the binary");
    assert_no_entries(&runs);
}

#[tokio::test]
async fn dns_lookup_against_a_closed_port_is_dns_unavailable() {
    let addr = aiops_test_support::ports::closed_addr();
    let err = dns_lookup(addr, "test.local", "A", Duration::from_secs(1))
        .await
        .expect_err("closed port");
    assert_eq!(err.code(), "dns_unavailable", "{err}");
}
