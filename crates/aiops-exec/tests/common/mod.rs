//! Shared helpers of the executor's integration tests: they run REAL ansible-playbook and
//! REAL BIND 9, installed by `bootstrap/test-env.sh`. Missing tools fail the tests with a
//! message saying so; nothing is mocked and nothing silently passes.

// Tests start BIND through bootstrap/bind.sh (argv, no shell string).
#![allow(clippy::disallowed_methods, dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use aiops_exec::{Ansible, AnsibleConfig};

pub const HINT: &str = "run `bash bootstrap/test-env.sh` and export the AIOPS_ANSIBLE_PLAYBOOK it prints \
     (e.g. `eval \"$(bash bootstrap/test-env.sh)\"; export AIOPS_ANSIBLE_PLAYBOOK`)";

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

/// The real ansible-playbook of the test environment; panics (fails the test) without it.
pub fn ansible_playbook() -> PathBuf {
    let Some(path) = std::env::var_os("AIOPS_ANSIBLE_PLAYBOOK") else {
        panic!("AIOPS_ANSIBLE_PLAYBOOK is not set: {HINT}");
    };
    let path = PathBuf::from(path);
    assert!(
        path.is_file(),
        "AIOPS_ANSIBLE_PLAYBOOK={} does not exist: {HINT}",
        path.display()
    );
    path
}

pub fn ansible(playbook_dir: &Path, timeout_secs: u64, tmp_dir: Option<&Path>) -> Ansible {
    Ansible::new(AnsibleConfig {
        playbook_bin: ansible_playbook(),
        playbook_dir: playbook_dir.to_path_buf(),
        timeout_secs,
        tmp_dir: tmp_dir.map(Path::to_path_buf),
    })
}

/// A port on 127.0.0.1 free for both TCP and UDP right now.
pub fn free_port() -> u16 {
    for _ in 0..50 {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").expect("bind tcp");
        let port = tcp.local_addr().expect("addr").port();
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port");
}

/// A BIND 9 started by `bootstrap/bind.sh` in a temp dir; stopped when dropped.
pub struct Bind {
    pub state: tempfile::TempDir,
    pub addr: SocketAddr,
    pub pid: u32,
    pub secrets_dir: PathBuf,
}

fn named_installed() -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"].map(PathBuf::from))
        .any(|dir| dir.join("named").is_file())
}

impl Bind {
    pub fn start() -> Bind {
        assert!(
            named_installed(),
            "BIND 9 (named) is not installed: run `bash bootstrap/test-env.sh`"
        );
        let state = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let out = Command::new("bash")
            .arg(repo_root().join("bootstrap/bind.sh"))
            .arg("start")
            .arg(state.path())
            .arg(port.to_string())
            .env("AIOPS_NO_INSTALL", "1")
            .output()
            .expect("run bootstrap/bind.sh");
        assert!(
            out.status.success(),
            "bootstrap/bind.sh start failed ({}): {}\n{}\n{HINT}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let kv: BTreeMap<&str, &str> = stdout.lines().filter_map(|l| l.split_once('=')).collect();
        let addr: SocketAddr = kv["AIOPS_DNS"].parse().expect("AIOPS_DNS");
        assert_eq!(addr.port(), port);
        Bind {
            addr,
            pid: kv["AIOPS_DNS_PID"].parse().expect("AIOPS_DNS_PID"),
            secrets_dir: PathBuf::from(kv["AIOPS_SECRETS_DIR"]),
            state,
        }
    }

    /// The TSIG key as written for the daemon's directory secret source.
    pub fn tsig(&self) -> (String, String, String) {
        let path = self.secrets_dir.join("dns/tsig");
        let meta = std::fs::metadata(&path).expect("tsig file");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(meta.permissions().mode() & 0o777, 0o600, "tsig file mode");
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).expect("read tsig")).expect("json");
        (
            v["name"].as_str().expect("name").to_owned(),
            v["algorithm"].as_str().expect("algorithm").to_owned(),
            v["secret"].as_str().expect("secret").to_owned(),
        )
    }

    /// Applies RFC 2136 `update` lines to `zone` with `nsupdate`, signed with the test
    /// key: seeds records the playbooks do not create. Panics when the server refuses.
    pub fn nsupdate(&self, zone: &str, updates: &[&str]) {
        use std::io::Write;
        let mut script = format!(
            "server {} {}\nzone {zone}\n",
            self.addr.ip(),
            self.addr.port()
        );
        for update in updates {
            script.push_str(update);
            script.push('\n');
        }
        script.push_str("send\n");
        let mut child = Command::new("nsupdate")
            .arg("-k")
            .arg(self.state.path().join("aiops-key.conf"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("nsupdate is installed by bootstrap/test-env.sh");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(script.as_bytes())
            .expect("write the nsupdate script");
        let out = child.wait_with_output().expect("nsupdate");
        assert!(
            out.status.success(),
            "nsupdate failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `dig @server -p port name type +short`, as an operator would check.
    pub fn dig(&self, name: &str, rtype: &str) -> Vec<String> {
        let out = Command::new("dig")
            .arg(format!("@{}", self.addr.ip()))
            .arg("-p")
            .arg(self.addr.port().to_string())
            .arg(name)
            .arg(rtype)
            .arg("+short")
            .arg("+time=2")
            .arg("+tries=1")
            .output()
            .expect("dig is installed by bootstrap/test-env.sh");
        assert!(out.status.success(), "dig {name} {rtype}: {out:?}");
        let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.trim().to_owned())
            .filter(|l| !l.is_empty())
            .collect();
        lines.sort();
        lines
    }
}

impl Drop for Bind {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(repo_root().join("bootstrap/bind.sh"))
            .arg("stop")
            .arg(self.state.path())
            .output();
    }
}

/// Pids of live processes whose command line contains `needle`.
pub fn processes_matching(needle: &str) -> Vec<u32> {
    let me = std::process::id();
    std::fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != me)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| {
                    String::from_utf8_lossy(&c)
                        .replace('\0', " ")
                        .contains(needle)
                })
                .unwrap_or(false)
        })
        // A zombie has an empty cmdline, so only live processes match.
        .collect()
}

/// Fails unless `dir` is empty (or gone): no run left a file behind.
pub fn assert_no_entries(dir: &Path) {
    let entries = dir_entries(dir);
    assert!(entries.is_empty(), "left in {}: {entries:?}", dir.display());
}

/// Entries of a directory (empty when it does not exist).
pub fn dir_entries(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default()
}
