//! A private BIND 9 (`bootstrap/bind.sh`) with the `local` and `corp.example.com` zones and
//! a TSIG key in a directory secret source layout.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::ports::{free_port, start_on_free_port};
use crate::{HarnessError, Result, run_script};

const SCRIPT: &str = "bootstrap/bind.sh";

/// A running BIND 9 in its own temporary directory; stopped on drop.
pub struct Bind {
    state: tempfile::TempDir,
    /// Where it answers (UDP and TCP).
    pub addr: SocketAddr,
    pub pid: u32,
    /// A directory secret source holding `dns/tsig` (the daemon's `secrets.dir`).
    pub secrets_dir: PathBuf,
}

/// The TSIG key the server accepts updates signed with.
#[derive(Debug, Clone)]
pub struct Tsig {
    pub name: String,
    pub algorithm: String,
    pub secret: String,
}

impl Bind {
    /// Starts a server on a free port (another one if that port is taken meanwhile).
    pub fn start() -> Result<Bind> {
        let state = tempfile::tempdir().map_err(HarnessError::io("temp dir"))?;
        let dir = state.path().to_string_lossy().into_owned();
        let vars = start_on_free_port(free_port, |port| {
            run_script(SCRIPT, &["start", &dir, &port.to_string()], &[])
        })?;
        let addr = vars.get("AIOPS_DNS")?;
        let pid = vars.get("AIOPS_DNS_PID")?;
        Ok(Bind {
            addr: addr.parse().map_err(|_| HarnessError::MissingVar {
                script: SCRIPT.into(),
                key: format!("AIOPS_DNS (an address, not {addr:?})"),
            })?,
            pid: pid.parse().unwrap_or_default(),
            secrets_dir: PathBuf::from(vars.get("AIOPS_SECRETS_DIR")?),
            state,
        })
    }

    /// Its state directory (config, zones, logs).
    pub fn state_dir(&self) -> &Path {
        self.state.path()
    }

    /// Stops the server (idempotent; the drop does it too).
    pub fn stop(&self) {
        let _ = run_script(SCRIPT, &["stop", &self.state.path().to_string_lossy()], &[]);
    }

    /// Applies RFC 2136 `update` lines to `zone` with `nsupdate`, signed with the test key:
    /// seeds records the playbooks do not create. Panics when the server refuses.
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
            .args(["-p", &self.addr.port().to_string(), name, rtype])
            .args(["+short", "+time=2", "+tries=1"])
            .output()
            .expect("dig is installed by bootstrap/test-env.sh");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// The TSIG key as written for the directory secret source (a 0600 file), so tests can
    /// sign with it and prove its secret never leaks.
    pub fn tsig(&self) -> Tsig {
        let path = self.secrets_dir.join("dns/tsig");
        let meta = std::fs::metadata(&path).expect("the TSIG file bind.sh wrote");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(meta.permissions().mode() & 0o777, 0o600, "TSIG file mode");
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).expect("read the TSIG file"))
                .expect("the TSIG file is JSON");
        let field = |name: &str| {
            v[name]
                .as_str()
                .unwrap_or_else(|| panic!("TSIG file has no {name}"))
                .to_string()
        };
        Tsig {
            name: field("name"),
            algorithm: field("algorithm"),
            secret: field("secret"),
        }
    }
}

impl Drop for Bind {
    fn drop(&mut self) {
        self.stop();
    }
}
