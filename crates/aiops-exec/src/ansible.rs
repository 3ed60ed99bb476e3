//! Running `ansible-playbook`: argv only, clean environment, a private run directory under
//! the daemon's data directory (never the system temp dir), secrets in a 0600 file there,
//! started under a supervisor that kills the whole process tree when the daemon dies
//! (`crate::supervise`), a timeout that kills it too, scrubbed results.

// This crate is the one place allowed to start processes (clippy.toml forbids
// `Command::new` elsewhere). Processes here are started from an argv that this module
// builds itself, never through a shell.
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::Permissions;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, Command};

use crate::ExecError;
use crate::output::{self, PlaybookOutcome};
use crate::scrub::scrub;
use crate::supervise::Lifeline;

/// At most this much of each of stdout and stderr is kept (the rest is drained).
const OUTPUT_CAP: usize = 16 << 20;
/// How long to wait for the output pipes to close once ansible-playbook has exited.
const PIPE_GRACE: Duration = Duration::from_secs(2);
/// `PATH` of the child, after the directory of the ansible-playbook binary.
const BASE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Variables of the parent's environment that the child gets (nothing else, and no
/// `ANSIBLE_*`): HOME for ssh keys and known_hosts of remote hosts, the user's name.
const PASSED_ENV: &[&str] = &["HOME", "USER", "LOGNAME"];

/// How to run Ansible: the `[ansible]` section of the daemon's configuration (field names
/// are the configuration keys; unknown keys are rejected, missing ones take the defaults).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnsibleConfig {
    /// The `ansible-playbook` binary (a path; a relative one is taken from the working
    /// directory). The Python interpreter for the local host is the `python` (or
    /// `python3`) next to it (a venv's), else Ansible's discovery.
    pub playbook_bin: PathBuf,
    /// The allow-listed playbook directory; runs name playbooks relative to it. Modules are
    /// looked up in `<playbook_dir>/library` and `<playbook_dir>/../library` (the repo's
    /// `deploy/ansible/library` for `deploy/ansible/playbooks`), roles likewise in `roles`.
    pub playbook_dir: PathBuf,
    /// Wall-clock limit of one run in seconds; then the process tree is killed.
    pub timeout_secs: u64,
    /// The run area: where each run gets its private directory (mode 0700; its files,
    /// the secret vars file among them, 0600). The daemon sets `<data_dir>/run` and wipes
    /// it at start-up ([`reclaim_run_area`]). Not a configuration key. `None` refuses to
    /// run: secrets never go to the system temp dir, where a crash would leave them.
    #[serde(skip)]
    pub run_root: Option<PathBuf>,
}

impl Default for AnsibleConfig {
    fn default() -> Self {
        AnsibleConfig {
            playbook_bin: PathBuf::from("ansible-playbook"),
            playbook_dir: PathBuf::from("deploy/ansible/playbooks"),
            timeout_secs: 120,
            run_root: None,
        }
    }
}

impl AnsibleConfig {
    /// The limit of one run.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }
}

/// One playbook run.
#[derive(Debug, Default)]
pub struct PlaybookRun {
    /// Path relative to `playbook_dir`, e.g. `dns/add_record.yml`. Absolute paths, `..`,
    /// paths leaving the directory through a symlink, and missing files are rejected.
    pub playbook: String,
    /// Extra variables (names: `[A-Za-z_][A-Za-z0-9_]*`, not `ansible_*`).
    pub vars: Map<String, Value>,
    /// Secret extra variables: written to a 0600 file in the run's private 0700 directory
    /// under the run area, passed as `-e @file`, removed afterwards (and by the start-up
    /// wipe after a crash); their values are scrubbed from all output.
    pub secret_vars: BTreeMap<String, SecretString>,
    /// Dry run: `--check --diff`.
    pub check: bool,
    /// `--limit` host pattern.
    pub limit: Option<String>,
}

/// The Ansible executor.
#[derive(Debug, Clone)]
pub struct Ansible {
    cfg: AnsibleConfig,
}

/// A per-run private directory (mode 0700) in the run area, holding the config, the
/// inventory, the vars files and Ansible's temp dirs. Removed, with everything in it, when
/// dropped: on every path out of `run`, including errors, timeouts, panics and
/// cancellation. After a crash, the start-up wipe of the run area removes it.
struct RunDir {
    dir: tempfile::TempDir,
}

impl RunDir {
    fn new(root: Option<&Path>) -> Result<Self, ExecError> {
        let parent = root.ok_or_else(|| {
            ExecError::Config(
                "no run area: the executor needs a private directory for its runs".into(),
            )
        })?;
        private_dir(parent)?;
        let dir = tempfile::Builder::new()
            .prefix("ansible-")
            .permissions(Permissions::from_mode(0o700))
            .tempdir_in(parent)
            .map_err(|e| {
                ExecError::io(
                    format!("creating a private directory in {}", parent.display()),
                    e,
                )
            })?;
        let this = RunDir { dir };
        for sub in ["local_tmp", "remote_tmp", "tmp", "home"] {
            std::fs::create_dir(this.path().join(sub))
                .and_then(|()| {
                    std::fs::set_permissions(this.path().join(sub), Permissions::from_mode(0o700))
                })
                .map_err(|e| ExecError::io("creating the run's temp directories", e))?;
        }
        Ok(this)
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Creates `name` with mode 0600 from the start (O_CREAT|O_EXCL with that mode), and
    /// lets `fill` write it.
    fn write_private(
        &self,
        name: &str,
        fill: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
    ) -> Result<PathBuf, ExecError> {
        use std::os::unix::fs::OpenOptionsExt;
        let path = self.path().join(name);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| ExecError::io(format!("creating {name}"), e))?;
        fill(&mut file)
            .and_then(|()| file.flush())
            .map_err(|e| ExecError::io(format!("writing {name}"), e))?;
        Ok(path)
    }
}

/// Creates `dir` (and its parents) if needed and makes it private (0700).
fn private_dir(dir: &Path) -> Result<(), ExecError> {
    std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::set_permissions(dir, Permissions::from_mode(0o700)))
        .map_err(|e| ExecError::io(format!("preparing the run area {}", dir.display()), e))
}

/// What the start-up wipe of the run area found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Reclaimed {
    /// Processes of earlier runs still alive (their supervisor was killed with the daemon),
    /// now killed.
    pub killed: usize,
    /// Run directories of earlier runs, now removed with their secret files.
    pub removed: usize,
}

/// Makes the run area `root` empty and private, after a crash or any stop: kills what is
/// left of runs of an earlier process (any process whose environment names a run
/// directory under `root`), then removes every run directory, secret files included.
///
/// Call it before anything else at start-up, and only while holding the data directory
/// (a second daemon must not wipe the runs of the one serving).
pub fn reclaim_run_area(root: &Path) -> Result<Reclaimed, ExecError> {
    let mut reclaimed = Reclaimed::default();
    if root.exists() {
        let marker = run_marker(root);
        for pid in proc_tree::with_env_prefix(marker.as_encoded_bytes()) {
            if let Some(p) = i32::try_from(pid)
                .ok()
                .and_then(rustix::process::Pid::from_raw)
            {
                let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
                reclaimed.killed += 1;
            }
        }
        let entries = std::fs::read_dir(root)
            .map_err(|e| ExecError::io(format!("reading the run area {}", root.display()), e))?;
        for entry in entries {
            let path = entry
                .map_err(|e| ExecError::io("reading the run area", e))?
                .path();
            let removed = if path.is_dir() && !path.is_symlink() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            removed.map_err(|e| ExecError::io(format!("removing {}", path.display()), e))?;
            reclaimed.removed += 1;
        }
    }
    private_dir(root)?;
    Ok(reclaimed)
}

/// `AIOPS_RUN_DIR=<root>/`: the start of the environment entry every process of a run
/// under `root` inherits.
fn run_marker(root: &Path) -> OsString {
    let mut marker = OsString::from(format!("{RUN_DIR_VAR}="));
    marker.push(root.as_os_str());
    marker.push("/");
    marker
}

/// The environment variable naming a run's directory, inherited by every process of it.
const RUN_DIR_VAR: &str = "AIOPS_RUN_DIR";

/// Kills a started ansible-playbook and every process it started, unless disarmed.
///
/// The child is the run's supervisor (`crate::supervise`), which kills the whole tree
/// itself when the lifeline this guard holds is dropped or the daemon dies; ansible-playbook
/// below it leads its own process group, and its worker processes call `setsid()` and so
/// lead groups of their own (with the modules and commands they run). Killing takes a
/// snapshot of the process tree under the child (from `/proc`) and SIGKILLs the child's
/// group, each descendant's group that a descendant leads, and each descendant. Dropping
/// an armed guard (panic, cancelled future) does the same, and drops the lifeline.
struct ProcessTreeGuard {
    pid: Option<u32>,
    _lifeline: Lifeline,
}

impl ProcessTreeGuard {
    fn kill(&mut self) {
        let Some(pid) = self.pid.take() else { return };
        let descendants = proc_tree::descendants(pid);
        let to_pid = |p: u32| {
            i32::try_from(p)
                .ok()
                .and_then(rustix::process::Pid::from_raw)
        };
        if let Some(p) = to_pid(pid) {
            let _ = rustix::process::kill_process_group(p, rustix::process::Signal::KILL);
        }
        for proc_ in &descendants {
            if proc_.pgid == proc_.pid
                && let Some(p) = to_pid(proc_.pgid)
            {
                let _ = rustix::process::kill_process_group(p, rustix::process::Signal::KILL);
            }
            if let Some(p) = to_pid(proc_.pid) {
                let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
            }
        }
        tracing::warn!(
            pid,
            descendants = descendants.len(),
            "killed ansible-playbook process tree"
        );
    }

    fn disarm(&mut self) {
        self.pid = None;
    }
}

impl Drop for ProcessTreeGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

mod proc_tree {
    //! The process tree under a pid, and processes by environment, read from `/proc`
    //! (Linux). Empty elsewhere.

    #[derive(Debug, Clone, Copy)]
    pub(super) struct Proc {
        pub pid: u32,
        pub pgid: u32,
    }

    fn stat(pid: u32) -> Option<(u32, u32)> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // "pid (comm) state ppid pgrp ..."; comm may hold spaces and parentheses.
        let rest = &text[text.rfind(')')? + 1..];
        let mut fields = rest.split_whitespace();
        let _state = fields.next()?;
        let ppid = fields.next()?.parse().ok()?;
        let pgid = fields.next()?.parse().ok()?;
        Some((ppid, pgid))
    }

    /// Live processes with an environment entry starting with `prefix` (only processes
    /// of this user can be read).
    pub(super) fn with_env_prefix(prefix: &[u8]) -> Vec<u32> {
        let me = std::process::id();
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|&pid| pid != me)
            .filter(|pid| {
                std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|env| {
                    env.split(|&b| b == 0)
                        .any(|entry| entry.starts_with(prefix))
                })
            })
            .collect()
    }

    pub(super) fn descendants(root: u32) -> Vec<Proc> {
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        let all: Vec<(u32, u32, u32)> = entries
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter_map(|pid| stat(pid).map(|(ppid, pgid)| (pid, ppid, pgid)))
            .collect();
        let mut out: Vec<Proc> = Vec::new();
        let mut frontier = vec![root];
        while let Some(parent) = frontier.pop() {
            for &(pid, ppid, pgid) in &all {
                if ppid == parent && pid != root && !out.iter().any(|p| p.pid == pid) {
                    out.push(Proc { pid, pgid });
                    frontier.push(pid);
                }
            }
        }
        out
    }
}

async fn read_capped<R: AsyncRead + Unpin>(mut reader: R) -> (Vec<u8>, bool) {
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let mut truncated = false;
    loop {
        match reader.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = OUTPUT_CAP.saturating_sub(buf.len());
                if n > room {
                    truncated = true;
                }
                buf.extend_from_slice(&chunk[..n.min(room)]);
            }
        }
    }
    (buf, truncated)
}

fn valid_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn check_var_names<'a>(names: impl Iterator<Item = &'a String>) -> Result<(), ExecError> {
    for name in names {
        if !valid_var_name(name) {
            return Err(ExecError::InvalidPlaybook(format!(
                "invalid variable name {name:?}"
            )));
        }
        if name.starts_with("ansible_") {
            return Err(ExecError::InvalidPlaybook(format!(
                "variable {name:?} is reserved: the executor sets connection variables itself"
            )));
        }
    }
    Ok(())
}

fn check_limit(limit: &str) -> Result<(), ExecError> {
    let ok = !limit.is_empty()
        && limit.len() <= 1024
        && !limit.starts_with('-')
        && !limit.starts_with('@')
        && limit.chars().all(|c| c.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(ExecError::InvalidPlaybook(format!(
            "invalid limit {limit:?}: a host pattern, without spaces, not starting with '-' or '@'"
        )))
    }
}

/// Resolves `playbook` under `dir`, refusing anything that would leave it.
pub(crate) fn resolve_playbook(dir: &Path, playbook: &str) -> Result<PathBuf, ExecError> {
    let invalid = |why: &str| ExecError::InvalidPlaybook(format!("{playbook:?}: {why}"));
    if playbook.is_empty() {
        return Err(invalid("empty playbook path"));
    }
    if playbook.contains('\0') {
        return Err(invalid("contains a NUL byte"));
    }
    let rel = Path::new(playbook);
    if rel.is_absolute() {
        return Err(invalid("absolute paths are not allowed"));
    }
    for component in rel.components() {
        match component {
            Component::Normal(_) | Component::CurDir => {}
            Component::ParentDir => return Err(invalid("'..' is not allowed")),
            Component::RootDir | Component::Prefix(_) => {
                return Err(invalid("absolute paths are not allowed"));
            }
        }
    }
    if !matches!(
        rel.extension().and_then(|e| e.to_str()),
        Some("yml" | "yaml")
    ) {
        return Err(invalid("a playbook must be a .yml or .yaml file"));
    }
    let base = dir.canonicalize().map_err(|e| {
        ExecError::InvalidPlaybook(format!(
            "playbook directory {} is not usable: {e}",
            dir.display()
        ))
    })?;
    let full = base
        .join(rel)
        .canonicalize()
        .map_err(|_| invalid("no such playbook"))?;
    if !full.starts_with(&base) {
        return Err(invalid("resolves outside the playbook directory"));
    }
    if !full.is_file() {
        return Err(invalid("not a file"));
    }
    Ok(full)
}

fn exit_description(status: ExitStatus) -> String {
    match status.code() {
        Some(code) => format!("ansible-playbook exited with code {code}"),
        None => "ansible-playbook was killed by a signal".to_owned(),
    }
}

/// The last lines of `text` that say something, for error messages.
fn tail(text: &str, lines: usize, max_chars: usize) -> String {
    let kept: Vec<&str> = text
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .collect();
    let start = kept.len().saturating_sub(lines);
    let joined = kept[start..].join("\n");
    if joined.chars().count() > max_chars {
        let skip = joined.chars().count() - max_chars;
        format!("…{}", joined.chars().skip(skip).collect::<String>())
    } else {
        joined
    }
}

impl Ansible {
    /// An executor with this configuration (nothing is checked until used).
    pub fn new(cfg: AnsibleConfig) -> Self {
        Ansible { cfg }
    }

    /// The configuration.
    pub fn config(&self) -> &AnsibleConfig {
        &self.cfg
    }

    /// The interpreter next to the ansible-playbook binary (a venv's python), if any.
    fn python(&self) -> Option<PathBuf> {
        let bin = &self.cfg.playbook_bin;
        let dirs = [
            bin.parent().map(Path::to_path_buf),
            bin.canonicalize()
                .ok()
                .and_then(|p| p.parent().map(Path::to_path_buf)),
        ];
        dirs.into_iter()
            .flatten()
            .flat_map(|d| [d.join("python"), d.join("python3")])
            .find(|p| p.is_file())
    }

    fn library_dirs(&self, name: &str) -> Vec<PathBuf> {
        let dir = &self.cfg.playbook_dir;
        [
            Some(dir.join(name)),
            dir.parent().map(|parent| parent.join(name)),
        ]
        .into_iter()
        .flatten()
        .filter(|p| p.is_dir())
        .filter_map(|p| p.canonicalize().ok())
        .collect()
    }

    fn check_binary(&self) -> Result<(), ExecError> {
        let bin = &self.cfg.playbook_bin;
        match std::fs::metadata(bin) {
            Ok(meta) if meta.is_file() && meta.permissions().mode() & 0o111 != 0 => Ok(()),
            Ok(_) => Err(ExecError::Unavailable(format!(
                "{} is not an executable file",
                bin.display()
            ))),
            Err(e) => Err(ExecError::Unavailable(format!(
                "ansible-playbook not found at {}: {e}",
                bin.display()
            ))),
        }
    }

    /// The child's whole environment (it inherits nothing else).
    fn child_env(&self, run_dir: &Path) -> Vec<(String, OsString)> {
        let join = |dirs: &[PathBuf]| std::env::join_paths(dirs).unwrap_or_default();
        let bin_dir = self
            .cfg
            .playbook_bin
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let mut path = bin_dir.into_os_string();
        if !path.is_empty() {
            path.push(":");
        }
        path.push(BASE_PATH);

        let mut env: Vec<(String, OsString)> = vec![
            ("PATH".into(), path),
            ("LANG".into(), "C.UTF-8".into()),
            ("LC_ALL".into(), "C.UTF-8".into()),
            ("TMPDIR".into(), run_dir.join("tmp").into()),
            (RUN_DIR_VAR.into(), run_dir.into()),
            ("PYTHONDONTWRITEBYTECODE".into(), "1".into()),
            ("PYTHONNOUSERSITE".into(), "1".into()),
            ("ANSIBLE_CONFIG".into(), run_dir.join("ansible.cfg").into()),
            ("ANSIBLE_HOME".into(), run_dir.join("home").into()),
            (
                "ANSIBLE_LOCAL_TEMP".into(),
                run_dir.join("local_tmp").into(),
            ),
            (
                "ANSIBLE_REMOTE_TEMP".into(),
                run_dir.join("remote_tmp").into(),
            ),
            ("ANSIBLE_NOCOLOR".into(), "1".into()),
            ("ANSIBLE_FORCE_COLOR".into(), "0".into()),
            ("ANSIBLE_HOST_KEY_CHECKING".into(), "False".into()),
            ("ANSIBLE_RETRY_FILES_ENABLED".into(), "False".into()),
            (
                "ANSIBLE_STDOUT_CALLBACK".into(),
                "ansible.builtin.default".into(),
            ),
            ("ANSIBLE_LOAD_CALLBACK_PLUGINS".into(), "False".into()),
            ("ANSIBLE_CALLBACK_RESULT_FORMAT".into(), "json".into()),
            ("ANSIBLE_CALLBACK_FORMAT_PRETTY".into(), "False".into()),
            ("ANSIBLE_DISPLAY_OK_HOSTS".into(), "True".into()),
            ("ANSIBLE_DISPLAY_SKIPPED_HOSTS".into(), "True".into()),
            ("ANSIBLE_DISPLAY_FAILED_STDERR".into(), "False".into()),
            ("ANSIBLE_DISPLAY_ARGS_TO_STDOUT".into(), "False".into()),
            ("ANSIBLE_CHECK_MODE_MARKERS".into(), "False".into()),
            ("ANSIBLE_SHOW_CUSTOM_STATS".into(), "False".into()),
            ("ANSIBLE_SHOW_PER_HOST_START".into(), "False".into()),
            ("ANSIBLE_DEPRECATION_WARNINGS".into(), "False".into()),
            ("ANSIBLE_LOCALHOST_WARNING".into(), "False".into()),
            ("ANSIBLE_INVENTORY_UNPARSED_WARNING".into(), "False".into()),
            ("ANSIBLE_INVENTORY_ENABLED".into(), "yaml".into()),
            ("ANSIBLE_GATHERING".into(), "explicit".into()),
            ("ANSIBLE_PIPELINING".into(), "True".into()),
            ("ANSIBLE_NO_TARGET_SYSLOG".into(), "True".into()),
            (
                "ANSIBLE_LIBRARY".into(),
                join(&self.library_dirs("library")),
            ),
            (
                "ANSIBLE_ROLES_PATH".into(),
                join(&self.library_dirs("roles")),
            ),
        ];
        for name in PASSED_ENV {
            if let Some(v) = std::env::var_os(name) {
                env.push(((*name).to_owned(), v));
            }
        }
        env
    }

    /// Writes the config and inventory into the run directory.
    fn prepare(&self, run_dir: &RunDir) -> Result<PathBuf, ExecError> {
        run_dir.write_private("ansible.cfg", |f| {
            f.write_all(
                b"# generated by aiops-exec: settings come from the environment\n[defaults]\n",
            )
        })?;
        let python = self.python().map_or_else(
            || Value::String("auto_silent".into()),
            |p| Value::String(p.to_string_lossy().into_owned()),
        );
        // JSON is YAML: the yaml inventory plugin reads this file.
        let inventory = json!({
            "all": { "hosts": { "localhost": {
                "ansible_connection": "local",
                "ansible_python_interpreter": python,
            }}}
        });
        run_dir.write_private("inventory.yml", |f| {
            serde_json::to_writer(&mut *f, &inventory).map_err(std::io::Error::other)
        })
    }

    /// `ansible-playbook` with only the child's environment, in the run directory, in a
    /// process group of its own (its supervisor's), stdin closed and the output piped.
    fn command(&self, run_dir: &RunDir) -> Command {
        let mut cmd = Command::new(&self.cfg.playbook_bin);
        cmd.env_clear()
            .envs(self.child_env(run_dir.path()))
            .current_dir(run_dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        cmd
    }

    /// Starts `cmd` under a supervisor tied to a new lifeline (`crate::supervise`), armed
    /// with a guard that kills its process tree unless disarmed.
    fn spawn(&self, cmd: &mut Command) -> Result<(Child, ProcessTreeGuard), ExecError> {
        let mut lifeline =
            Lifeline::new().map_err(|e| ExecError::io("creating the run's lifeline", e))?;
        lifeline.arm(cmd);
        let child = cmd.spawn().map_err(|e| {
            ExecError::Unavailable(format!(
                "cannot start {}: {e}",
                self.cfg.playbook_bin.display()
            ))
        })?;
        lifeline.started();
        let guard = ProcessTreeGuard {
            pid: child.id(),
            _lifeline: lifeline,
        };
        Ok((child, guard))
    }

    /// Runs `ansible-playbook --version` and returns its first line (e.g.
    /// `ansible-playbook [core 2.19.14]`). For readiness checks.
    pub async fn version(&self) -> Result<String, ExecError> {
        self.check_binary()?;
        let run_dir = RunDir::new(self.cfg.run_root.as_deref())?;
        self.prepare(&run_dir)?;
        let mut cmd = self.command(&run_dir);
        cmd.arg("--version");
        let (child, mut guard) = self.spawn(&mut cmd)?;
        let limit = self.cfg.timeout().min(Duration::from_secs(60));
        let out = match tokio::time::timeout(limit, child.wait_with_output()).await {
            Err(_) => {
                guard.kill();
                return Err(ExecError::Timeout(limit));
            }
            Ok(Err(e)) => {
                return Err(ExecError::Unavailable(format!(
                    "ansible-playbook --version failed: {e}"
                )));
            }
            Ok(Ok(out)) => {
                guard.disarm();
                out
            }
        };
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            return Err(ExecError::Unavailable(format!(
                "ansible-playbook --version failed ({}): {}",
                exit_description(out.status),
                tail(&String::from_utf8_lossy(&out.stderr), 3, 500)
            )));
        }
        stdout
            .lines()
            .next()
            .map(|l| l.trim().to_owned())
            .filter(|l| !l.is_empty())
            .ok_or_else(|| {
                ExecError::Unavailable("ansible-playbook --version printed nothing".into())
            })
    }

    /// Runs one playbook and parses its results.
    ///
    /// `Ok` when the run succeeded (every task ok/changed/skipped or ignored); a failed
    /// run is `Err(ExecError::Failed)` holding the scrubbed message and outcome. Every
    /// string returned is scrubbed of the run's secret values.
    #[tracing::instrument(skip_all, fields(playbook = %run.playbook, check = run.check))]
    pub async fn run(&self, run: &PlaybookRun) -> Result<PlaybookOutcome, ExecError> {
        let playbook = resolve_playbook(&self.cfg.playbook_dir, &run.playbook)?;
        check_var_names(run.vars.keys().chain(run.secret_vars.keys()))?;
        if let Some(limit) = &run.limit {
            check_limit(limit)?;
        }
        self.check_binary()?;

        let secrets: Vec<&str> = run
            .secret_vars
            .values()
            .map(|s| s.expose_secret())
            .filter(|s| !s.is_empty())
            .collect();
        let scrubber = |text: &str| scrub(text, &secrets);

        // Dropped last (declared first): removes the vars files and Ansible's temp dirs
        // after the process guard below has killed anything still running.
        let run_dir = RunDir::new(self.cfg.run_root.as_deref())?;
        let inventory = self.prepare(&run_dir)?;
        let vars_file = run_dir.write_private("vars.json", |f| {
            serde_json::to_writer(&mut *f, &run.vars).map_err(std::io::Error::other)
        })?;
        let secret_file = if run.secret_vars.is_empty() {
            None
        } else {
            Some(run_dir.write_private("secret-vars.json", |f| {
                // Written value by value: no JSON document holding the secrets is built.
                f.write_all(b"{")?;
                for (i, (name, value)) in run.secret_vars.iter().enumerate() {
                    if i > 0 {
                        f.write_all(b",")?;
                    }
                    serde_json::to_writer(&mut *f, name).map_err(std::io::Error::other)?;
                    f.write_all(b":")?;
                    serde_json::to_writer(&mut *f, value.expose_secret())
                        .map_err(std::io::Error::other)?;
                }
                f.write_all(b"}")
            })?)
        };

        let mut cmd = self.command(&run_dir);
        cmd.arg("-v").arg("-i").arg(&inventory);
        cmd.arg("-e").arg(at_file(&vars_file));
        if let Some(secret_file) = &secret_file {
            cmd.arg("-e").arg(at_file(secret_file));
        }
        if run.check {
            cmd.arg("--check").arg("--diff");
        }
        if let Some(limit) = &run.limit {
            cmd.arg("--limit").arg(limit);
        }
        cmd.arg("--").arg(&playbook);

        let started = Instant::now();
        let (mut child, mut guard) = self.spawn(&mut cmd)?;
        tracing::debug!(pid = child.id(), "ansible-playbook started");

        let stdout_task = child.stdout.take().map(|s| tokio::spawn(read_capped(s)));
        let stderr_task = child.stderr.take().map(|s| tokio::spawn(read_capped(s)));
        let abort_readers = || {
            for task in [&stdout_task, &stderr_task].into_iter().flatten() {
                task.abort();
            }
        };

        let status = match tokio::time::timeout(self.cfg.timeout(), child.wait()).await {
            Err(_) => {
                guard.kill();
                let _ = child.wait().await;
                abort_readers();
                tracing::warn!(
                    timeout_s = self.cfg.timeout().as_secs_f64(),
                    "ansible-playbook timed out"
                );
                return Err(ExecError::Timeout(self.cfg.timeout()));
            }
            Ok(Err(e)) => {
                guard.kill();
                abort_readers();
                return Err(ExecError::io("waiting for ansible-playbook", e));
            }
            Ok(Ok(status)) => status,
        };

        // Output pipes still open after the exit mean leftover processes of this run hold
        // them: they are still in the tree (so their group ids are still taken), kill them.
        let mut collect = async |task: Option<tokio::task::JoinHandle<(Vec<u8>, bool)>>| {
            let Some(task) = task else {
                return (Vec::new(), false);
            };
            let abort = task.abort_handle();
            match tokio::time::timeout(PIPE_GRACE, task).await {
                Ok(Ok(out)) => out,
                Ok(Err(_)) => (Vec::new(), false),
                Err(_) => {
                    guard.kill();
                    abort.abort();
                    (Vec::new(), true)
                }
            }
        };
        let (stdout, out_truncated) = collect(stdout_task).await;
        let (stderr, _) = collect(stderr_task).await;
        guard.disarm();
        let elapsed = started.elapsed();

        let stdout = String::from_utf8_lossy(&stdout);
        let stderr = String::from_utf8_lossy(&stderr);
        let parsed = output::parse(&stdout);
        let mut outcome = output::outcome(&parsed, status.success(), &scrubber);
        if out_truncated {
            outcome.msg.push_str(" (output truncated)");
        }
        tracing::info!(
            elapsed_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
            exit = status.code(),
            changed = outcome.changed,
            failed = outcome.failed,
            tasks = outcome.tasks.len(),
            "ansible-playbook finished"
        );

        if status.success() && !outcome.failed {
            return Ok(outcome);
        }
        let message = if !outcome.msg.is_empty() {
            outcome.msg.clone()
        } else {
            let from_stderr = stderr
                .lines()
                .find_map(|l| l.trim().strip_prefix("[ERROR]:"))
                .map(|l| l.trim().to_owned())
                .unwrap_or_else(|| tail(&stderr, 5, 2000));
            let detail = if from_stderr.is_empty() {
                tail(&stdout, 5, 2000)
            } else {
                from_stderr
            };
            if detail.is_empty() {
                exit_description(status)
            } else {
                format!("{}: {}", exit_description(status), scrubber(&detail))
            }
        };
        Err(ExecError::Failed {
            message,
            outcome: (!outcome.tasks.is_empty()).then(|| Box::new(outcome)),
        })
    }
}

fn at_file(path: &Path) -> OsString {
    let mut arg = OsString::from("@");
    arg.push(path);
    arg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_keys_defaults_and_unknown_keys() {
        let expected = AnsibleConfig {
            playbook_bin: "/venv/bin/ansible-playbook".into(),
            timeout_secs: 5,
            ..AnsibleConfig::default()
        };
        let cfg = crate::config_check::config_keys(
            json!({"playbook_bin": "/venv/bin/ansible-playbook", "timeout_secs": 5}),
            &expected,
            json!({"playbook_bin": "ansible-playbook", "playbook_dir": "deploy/ansible/playbooks",
                   "timeout_secs": 120}),
            &[
                json!({"timeout": 5}),
                json!({"tmp_dir": "/tmp"}),
                json!({"run_root": "/tmp"}),
            ],
        );
        assert_eq!(cfg.timeout(), Duration::from_secs(5));
    }

    #[test]
    fn playbook_paths_are_confined() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("dns")).unwrap();
        std::fs::write(dir.path().join("dns/add.yml"), "- hosts: all\n").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "x").unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("evil.yml"), "- hosts: all\n").unwrap();
        std::os::unix::fs::symlink(outside.path().join("evil.yml"), dir.path().join("link.yml"))
            .unwrap();

        assert!(resolve_playbook(dir.path(), "dns/add.yml").is_ok());
        assert!(resolve_playbook(dir.path(), "./dns/add.yml").is_ok());
        for bad in [
            "",
            "/etc/passwd.yml",
            "../x.yml",
            "dns/../../x.yml",
            "dns/../dns/add.yml",
            "missing.yml",
            "notes.txt",
            "link.yml",
            "dns",
        ] {
            let err = resolve_playbook(dir.path(), bad).unwrap_err();
            assert_eq!(err.code(), "invalid_playbook", "{bad}: {err}");
        }
    }

    #[test]
    fn var_names_and_limits() {
        assert!(valid_var_name("record_name"));
        assert!(valid_var_name("_x1"));
        assert!(!valid_var_name("1x"));
        assert!(!valid_var_name("a-b"));
        assert!(!valid_var_name(""));
        let names = ["ansible_connection".to_owned()];
        assert!(check_var_names(names.iter()).is_err());
        assert!(check_limit("web*:!db1").is_ok());
        assert!(check_limit("-e").is_err());
        assert!(check_limit("@hosts.txt").is_err());
        assert!(check_limit("a b").is_err());
    }

    #[test]
    fn reclaiming_the_run_area_kills_leftover_runs_and_removes_their_files() {
        use std::os::unix::process::ExitStatusExt;
        let data = tempfile::tempdir().unwrap();
        let root = data.path().join("run");
        let run = root.join("ansible-left");
        std::fs::create_dir_all(&run).unwrap();
        std::fs::write(run.join("secret-vars.json"), "{\"k\":\"v\"}").unwrap();
        // A process of that run, still alive (its supervisor died with the daemon), and one
        // of a run area elsewhere, which is not ours to touch.
        let sleep = |dir: &Path| {
            std::process::Command::new("sleep")
                .arg("1000")
                .env(RUN_DIR_VAR, dir)
                .spawn()
                .unwrap()
        };
        let mut leftover = sleep(&run);
        let other_root = tempfile::tempdir().unwrap();
        let mut other = sleep(&other_root.path().join("run/ansible-x"));

        let reclaimed = reclaim_run_area(&root).unwrap();
        assert_eq!(
            reclaimed,
            Reclaimed {
                killed: 1,
                removed: 1
            }
        );
        assert_eq!(leftover.wait().unwrap().signal(), Some(9));
        assert!(
            other.try_wait().unwrap().is_none(),
            "another run area's process"
        );
        other.kill().unwrap();
        other.wait().unwrap();
        assert_eq!(std::fs::read_dir(&root).unwrap().count(), 0);
        let mode = std::fs::metadata(&root).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        // A fresh data directory: the run area is made, empty and private.
        let fresh = data.path().join("fresh/run");
        assert_eq!(reclaim_run_area(&fresh).unwrap(), Reclaimed::default());
        assert!(fresh.is_dir());
    }

    #[test]
    fn tail_keeps_last_lines() {
        assert_eq!(tail("a\n\nb\nc\n", 2, 100), "b\nc");
        assert_eq!(tail("abcdef", 1, 3), "…def");
    }
}
