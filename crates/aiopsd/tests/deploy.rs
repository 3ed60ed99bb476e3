//! The deployment artefacts, checked without deploying anything:
//!
//! - `deploy/systemd/aiopsd.service` passes `systemd-analyze verify` without a warning and
//!   `systemd-analyze security --offline` rates it at most 2.0 ("OK"), in a scratch root
//!   that holds the unit, the built `aiopsd` at the unit's `ExecStart` path and the host's
//!   systemd units (verify resolves `sysinit.target` and friends there);
//! - `bootstrap/install.sh --root` installs the binary, the unit, the system user, the
//!   playbooks and a config that `aiopsd check-config` accepts, with the modes it promises,
//!   keeps the config on a second run and refuses a config the daemon rejects;
//! - `deploy/compose/compose.yaml` declares the five services with health checks and named
//!   volumes, and its `aiopsd.toml` loads; the `Dockerfile` agrees with both and with
//!   `bootstrap/lib.sh`'s Ansible pins.
//!
//! Neither the compose file nor the image can be run here (no container runtime or image
//! registry); the unit is not started either (no systemd as PID 1), so what its sandbox does
//! to a running daemon is argued in the unit's comments, not tested.

// Test helpers outside #[test] fns; they run systemd-analyze, bootstrap/install.sh and the
// built daemon.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::collections::BTreeSet;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use aiops_test_support::{Vars, repo_root};
use sha2::{Digest, Sha256};
use yaml_rust2::{Yaml, YamlLoader};

const UNIT: &str = "deploy/systemd/aiopsd.service";
/// The most `systemd-analyze security` may rate the unit: 2.0 and below is "OK".
const MAX_EXPOSURE: f64 = 2.0;

fn aiopsd() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_aiopsd"))
}

/// A tool of the systemd package; missing, the test fails naming the script that installs it.
fn systemd_tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/bin", "/bin", "/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("{name} is not installed: run `bash bootstrap/test-env.sh` (installs Debian's systemd package)")
        })
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

fn sha256_file(path: &Path) -> String {
    let mut hasher = Sha256::new();
    let mut file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    std::io::copy(&mut file, &mut hasher).unwrap();
    hex::encode(hasher.finalize())
}

/// `Key=` values of a unit file, in order (repeated keys give several).
fn unit_values<'a>(unit: &'a str, key: &str) -> Vec<&'a str> {
    unit.lines()
        .filter_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .collect()
}

// ---------------------------------------------------------------------------------------
// systemd

/// A scratch root for `systemd-analyze --root`: the host's system units (the targets the
/// unit's default dependencies name), `unit` under the name `aiopsd.service`, and the built
/// daemon at `/usr/local/bin/aiopsd`, the unit's `ExecStart` (verify checks it is executable).
fn analysis_root(unit: &str) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let units = root.path().join("usr/lib/systemd/system");
    std::fs::create_dir_all(&units).unwrap();
    let host_units = ["/usr/lib/systemd/system", "/lib/systemd/system"]
        .map(Path::new)
        .into_iter()
        .find(|d| d.join("sysinit.target").exists())
        .expect("the host's systemd units (sysinit.target): install Debian's systemd package");
    for entry in std::fs::read_dir(host_units).unwrap() {
        let entry = entry.unwrap();
        // Unit files only; the *.wants directories would pull in more than verify needs.
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), units.join(entry.file_name())).unwrap();
        }
    }
    let local = root.path().join("usr/local/lib/systemd/system");
    std::fs::create_dir_all(&local).unwrap();
    std::fs::write(local.join("aiopsd.service"), unit).unwrap();
    let bin = root.path().join("usr/local/bin");
    std::fs::create_dir_all(&bin).unwrap();
    if std::fs::hard_link(aiopsd(), bin.join("aiopsd")).is_err() {
        std::fs::copy(aiopsd(), bin.join("aiopsd")).unwrap();
    }
    root
}

/// `systemd-analyze verify`: succeeds and says nothing (it reports unknown keys and values
/// it cannot parse as warnings, exiting 0).
fn verify(root: &Path) -> Result<(), String> {
    let out = run(Command::new(systemd_tool("systemd-analyze"))
        .arg("verify")
        .arg(format!("--root={}", root.display()))
        .arg("aiopsd.service"));
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    if out.status.success() && said.trim().is_empty() {
        Ok(())
    } else {
        Err(format!("systemd-analyze verify: {}: {said}", out.status))
    }
}

/// The overall exposure `systemd-analyze security --offline=true` gives the unit (0.0 best,
/// 10.0 worst), read from its last line: "→ Overall exposure level for aiopsd.service: 1.2 OK 🙂".
fn exposure(root: &Path) -> f64 {
    let out = run(Command::new(systemd_tool("systemd-analyze"))
        .args(["security", "--offline=true", "--no-pager"])
        .arg(format!("--root={}", root.display()))
        .arg("aiopsd.service"));
    let stdout = text(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("Overall exposure level for aiopsd.service:"))
        .map(|(_, rest)| rest.trim())
        .unwrap_or_else(|| {
            panic!(
                "systemd-analyze security printed no exposure level ({}):\n{stdout}{}",
                out.status,
                text(&out.stderr)
            )
        });
    line.split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unreadable exposure level: {line}"))
}

#[test]
fn the_unit_verifies_cleanly_and_rates_ok() {
    let unit = read(&repo_root().join(UNIT));
    let root = analysis_root(&unit);
    verify(root.path()).unwrap();
    let score = exposure(root.path());
    assert!(
        score <= MAX_EXPOSURE,
        "systemd-analyze security rates {UNIT} {score}, above {MAX_EXPOSURE}: see the ✗ lines of `systemd-analyze security --offline=true {UNIT}`"
    );
    eprintln!("{UNIT}: exposure {score}");

    // The gate can fail: the same unit without its sandbox rates far worse, and a misspelt
    // directive is a verify failure, not a warning that passes.
    let bare = unit
        .lines()
        .filter(|l| {
            !l.contains('=')
                || ["ExecStart", "User", "Group", "Type", "Description"]
                    .iter()
                    .any(|k| l.starts_with(&format!("{k}=")))
        })
        .collect::<Vec<_>>()
        .join("\n");
    let bare_root = analysis_root(&bare);
    let bare_score = exposure(bare_root.path());
    assert!(bare_score > MAX_EXPOSURE + 3.0, "unsandboxed: {bare_score}");
    let typo = analysis_root(&unit.replace("ProtectProc=invisible", "ProtectProc=invisibl"));
    let err = verify(typo.path()).unwrap_err();
    assert!(
        err.contains("ProtectProc") || err.contains("/proc/"),
        "{err}"
    );

    // What the score does not see but the daemon relies on.
    assert_eq!(
        unit_values(&unit, "Type"),
        ["exec"],
        "no sd_notify in aiopsd"
    );
    assert_eq!(
        unit_values(&unit, "ExecStart"),
        ["/usr/local/bin/aiopsd --config /etc/aiops/aiopsd.toml serve"]
    );
    assert_eq!(unit_values(&unit, "StateDirectory"), ["aiops"]);
    assert_eq!(unit_values(&unit, "ConfigurationDirectory"), ["aiops"]);
    // SIGTERM to the daemon only: it drains its requests while its executor children finish;
    // what is left after it exits is killed.
    assert_eq!(unit_values(&unit, "KillMode"), ["mixed"]);
    assert!(unit_values(&unit, "Environment").contains(&"RUST_LIB_BACKTRACE=0"));
    let stop: u64 = unit_values(&unit, "TimeoutStopSec")[0].parse().unwrap();
    let drain = aiopsd::Config::default().api.request_timeout_secs;
    assert!(
        stop > drain,
        "TimeoutStopSec={stop} must outlast the longest request ({drain} s) the daemon drains"
    );
    // The supervisor reads its children's /proc entries and the run area reclaim reads the
    // environ of the service's own processes: both stay visible under ProtectProc=invisible
    // (same user) and ProcSubset=pid. Anything that hides them would break both.
    assert_eq!(unit_values(&unit, "ProtectProc"), ["invisible"]);
    assert_eq!(unit_values(&unit, "ProcSubset"), ["pid"]);
}

// ---------------------------------------------------------------------------------------
// bootstrap/install.sh

fn install(root: &Path, extra: &[&str]) -> Output {
    let playbook = aiops_test_support::ansible_playbook().unwrap();
    run(Command::new("bash")
        .arg(repo_root().join("bootstrap/install.sh"))
        .arg("--root")
        .arg(root)
        .arg("--binary")
        .arg(aiopsd())
        .arg("--ansible-playbook")
        .arg(&playbook)
        .args(extra)
        .env("AIOPS_NO_INSTALL", "1"))
}

fn install_ok(root: &Path) -> (Vars, String) {
    let out = install(root, &[]);
    let stderr = text(&out.stderr);
    assert!(
        out.status.success(),
        "install.sh: {}\n{}{stderr}",
        out.status,
        text(&out.stdout)
    );
    (
        Vars::parse("bootstrap/install.sh", &text(&out.stdout)),
        stderr,
    )
}

/// uid and gid of `user` in the passwd and group files under `root`.
fn ids(root: &Path, user: &str) -> (u32, u32) {
    let field = |file: &str| -> u32 {
        read(&root.join(file))
            .lines()
            .find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f[0] == user).then(|| f[2].parse().unwrap())
            })
            .unwrap_or_else(|| panic!("{user} is not in {file}"))
    };
    (field("etc/passwd"), field("etc/group"))
}

#[test]
fn install_sh_installs_a_checked_config_and_keeps_it() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let (vars, _) = install_ok(&root);
    let at = |p: &str| root.join(p.trim_start_matches('/'));

    // The binary, the unit, the user.
    let bin = at("/usr/local/bin/aiopsd");
    assert_eq!(vars["AIOPS_BIN"], bin.display().to_string());
    assert_eq!(mode(&bin), 0o755);
    assert_eq!(sha256_file(&bin), sha256_file(&aiopsd()));
    let unit = at("/usr/local/lib/systemd/system/aiopsd.service");
    assert_eq!(vars["AIOPS_UNIT"], unit.display().to_string());
    assert_eq!(read(&unit), read(&repo_root().join(UNIT)));
    assert_eq!(mode(&unit), 0o644);
    assert_eq!(mode(&at("/usr/local/lib/sysusers.d/aiops.conf")), 0o644);
    let passwd = read(&at("/etc/passwd"));
    let entry = passwd
        .lines()
        .find(|l| l.starts_with("aiops:"))
        .expect("the aiops user");
    assert!(
        entry.ends_with(":/var/lib/aiops:/usr/sbin/nologin"),
        "{entry}"
    );
    let (uid, gid) = ids(&root, "aiops");
    assert!(uid > 0 && uid < 1000, "a system uid: {uid}");

    // The playbooks and their module.
    for f in [
        "playbooks/ping.yml",
        "playbooks/dns/add_record.yml",
        "library/aiops_nsupdate.py",
    ] {
        let p = at(&format!("/usr/local/share/aiops/ansible/{f}"));
        assert_eq!(mode(&p), 0o644, "{}", p.display());
    }

    // The configuration and the first admin's token.
    let config = at("/etc/aiops/aiopsd.toml");
    assert_eq!(vars["AIOPS_CONFIG"], config.display().to_string());
    let token_file = at("/etc/aiops/admin.token");
    assert_eq!(mode(&config), 0o640);
    assert_eq!(mode(&token_file), 0o600);
    assert_eq!(mode(&at("/etc/aiops")), 0o750);
    assert_eq!(mode(&at("/etc/aiops/secrets")), 0o750);
    if is_root() {
        // Readable by the service's group, the token by root only.
        let meta = |p: &Path| std::fs::metadata(p).unwrap();
        assert_eq!((meta(&config).uid(), meta(&config).gid()), (0, gid));
        assert_eq!(
            (
                meta(&at("/etc/aiops/secrets")).uid(),
                meta(&at("/etc/aiops/secrets")).gid()
            ),
            (0, gid)
        );
        assert_eq!((meta(&token_file).uid(), meta(&token_file).gid()), (0, 0));
    }
    let token = read(&token_file).trim().to_string();
    assert!(token.len() == 64 && token.chars().all(|c| c.is_ascii_hexdigit()));
    let toml = read(&config);
    assert!(!toml.contains('@'), "a placeholder is left:\n{toml}");
    let loaded = aiopsd::Config::load(Some(&config)).unwrap();
    assert_eq!(
        loaded.data_dir,
        Path::new("/var/lib/aiops"),
        "the unit's StateDirectory=aiops"
    );
    assert_eq!(loaded.listen, aiopsd::Config::default().listen);
    assert_eq!(loaded.secrets_dir(), Path::new("/etc/aiops/secrets"));
    assert_eq!(
        loaded.ansible.playbook_dir,
        Path::new("/usr/local/share/aiops/ansible/playbooks")
    );
    assert_eq!(
        loaded.ansible.playbook_bin,
        aiops_test_support::ansible_playbook().unwrap()
    );
    let admin = &loaded.auth.users[0];
    assert_eq!(
        (admin.name.as_str(), admin.roles.as_slice()),
        ("admin", &["admin".to_string()][..])
    );
    assert_eq!(
        admin.token_sha256.as_deref(),
        Some(hex::encode(Sha256::digest(token.as_bytes())).as_str())
    );

    // The installed daemon accepts the installed config (on a scratch data directory).
    let scratch = tempfile::tempdir().unwrap();
    let out = run(Command::new(&bin)
        .arg("--config")
        .arg(&config)
        .arg("check-config")
        .env("AIOPS_DATA_DIR", scratch.path()));
    assert!(out.status.success(), "check-config: {}", text(&out.stderr));

    // A second run changes nothing it already installed and keeps the operator's edits.
    let edited = format!("{toml}\n# edited by the operator\n");
    std::fs::write(&config, &edited).unwrap();
    let (_, stderr) = install_ok(&root);
    assert!(
        stderr.contains("keeping /etc/aiops/aiopsd.toml"),
        "{stderr}"
    );
    assert_eq!(read(&config), edited);
    assert_eq!(read(&token_file).trim(), token);
    assert_eq!(ids(&root, "aiops"), (uid, gid));
    assert_eq!(mode(&config), 0o640);

    // A config the daemon rejects fails the install, with the daemon's reason.
    std::fs::write(&config, format!("{edited}\nbogus_key = 1\n")).unwrap();
    let out = install(&root, &[]);
    let stderr = text(&out.stderr);
    assert!(
        !out.status.success(),
        "a rejected config must fail the install"
    );
    assert!(
        stderr.contains("bogus_key") && stderr.contains("check-config"),
        "{stderr}"
    );

    // --dry-run writes nothing.
    let dry = tmp.path().join("dry");
    let out = install(&dry, &["--dry-run"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("would run: install"));
    assert!(!dry.exists(), "--dry-run created {}", dry.display());
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

// ---------------------------------------------------------------------------------------
// compose, Dockerfile

fn compose() -> Yaml {
    let path = repo_root().join("deploy/compose/compose.yaml");
    let mut docs = YamlLoader::load_from_str(&read(&path))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(docs.len(), 1);
    docs.remove(0)
}

fn keys(y: &Yaml) -> BTreeSet<String> {
    y.as_hash()
        .map(|h| {
            h.keys()
                .filter_map(|k| k.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn strings(y: &Yaml) -> Vec<String> {
    y.as_vec()
        .map(|v| {
            v.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// `INSTR value` lines of the Dockerfile (`ARG NAME=default`, `EXPOSE 30080`, ...).
fn dockerfile(instr: &str) -> Vec<String> {
    read(&repo_root().join("Dockerfile"))
        .lines()
        .filter_map(|l| l.strip_prefix(instr)?.strip_prefix(' '))
        .map(|v| v.trim().to_string())
        .collect()
}

#[test]
fn compose_declares_the_appliance_with_health_checks_and_named_volumes() {
    let doc = compose();
    let services = &doc["services"];
    let names = keys(services);
    assert_eq!(
        names,
        ["aiopsd", "ollama", "openbao", "postgres", "qdrant"]
            .map(String::from)
            .into(),
        "the services of a single-VM install"
    );
    let declared = keys(&doc["volumes"]);
    let mut used = BTreeSet::new();
    let dir = repo_root().join("deploy/compose");
    for name in &names {
        let s = &services[name.as_str()];
        assert!(
            s["image"].as_str().is_some_and(|i| i.contains(':')),
            "{name}: an image with a tag"
        );
        let test = strings(&s["healthcheck"]["test"]);
        assert!(
            test.len() >= 2 && test[0] == "CMD",
            "{name}: a health check, {test:?}"
        );
        assert_eq!(s["restart"].as_str(), Some("unless-stopped"), "{name}");
        for v in strings(&s["volumes"]) {
            let source = v.split(':').next().unwrap();
            if source.starts_with('.') {
                assert!(dir.join(source).is_file(), "{name}: {source} is missing");
            } else {
                assert!(
                    declared.contains(source),
                    "{name}: volume {source} is not declared"
                );
                used.insert(source.to_string());
            }
        }
    }
    assert_eq!(used, declared, "every named volume is used");

    // aiopsd waits for every backend to be healthy and is published on loopback only.
    let aiopsd = &services["aiopsd"];
    let waits = keys(&aiopsd["depends_on"]);
    assert_eq!(
        waits,
        ["ollama", "openbao", "postgres", "qdrant"]
            .map(String::from)
            .into()
    );
    for w in &waits {
        assert_eq!(
            aiopsd["depends_on"][w.as_str()]["condition"].as_str(),
            Some("service_healthy")
        );
    }
    let ports = strings(&aiopsd["ports"]);
    assert!(
        !ports.is_empty() && ports.iter().all(|p| p.starts_with("127.0.0.1:")),
        "{ports:?}"
    );
    assert_eq!(aiopsd["read_only"].as_bool(), Some(true));

    // Its config loads, and agrees with the compose file and the image.
    let config_path = dir.join("aiopsd.toml");
    let config = aiopsd::Config::load(Some(&config_path)).unwrap();
    let container_port: u16 = ports[0].rsplit(':').next().unwrap().parse().unwrap();
    assert_eq!(config.listen.port(), container_port);
    let mounts = strings(&aiopsd["volumes"]);
    assert!(
        mounts.contains(&format!("aiops-data:{}", config.data_dir.display())),
        "{mounts:?}"
    );
    assert!(
        mounts
            .iter()
            .any(|m| m.starts_with("./aiopsd.toml:/etc/aiops/aiopsd.toml"))
    );
    assert!(
        dockerfile("ENV")
            .iter()
            .any(|e| e.contains("AIOPS_CONFIG=/etc/aiops/aiopsd.toml")),
        "the image reads the file compose mounts"
    );
    let venv = config
        .ansible
        .playbook_bin
        .parent()
        .unwrap()
        .parent()
        .unwrap();
    assert!(dockerfile("COPY").contains(&format!("--from=ansible {0} {0}", venv.display())));
    assert!(dockerfile("COPY").contains(&format!(
        "deploy/ansible {}",
        config.ansible.playbook_dir.parent().unwrap().display()
    )));
    assert_eq!(config.secrets.provider, "vault");
}

#[test]
fn the_image_matches_the_daemon_and_the_bootstrap_pins() {
    // The executor's Python side: the versions bootstrap/lib.sh installs and tests with.
    let lib = read(&repo_root().join("bootstrap/lib.sh"));
    let pin = |var: &str| -> String {
        lib.lines()
            .find_map(|l| l.strip_prefix(&format!("{var}=\"${{{var}:-")))
            .and_then(|rest| rest.strip_suffix("}\""))
            .unwrap_or_else(|| panic!("bootstrap/lib.sh pins no {var}"))
            .to_string()
    };
    let args = dockerfile("ARG");
    for (arg, var) in [
        ("ANSIBLE_CORE_VERSION", "AIOPS_ANSIBLE_CORE_VERSION"),
        ("DNSPYTHON_VERSION", "AIOPS_DNSPYTHON_VERSION"),
    ] {
        assert!(
            args.contains(&format!("{arg}={}", pin(var))),
            "Dockerfile ARG {arg} differs from bootstrap/lib.sh {var}: {args:?}"
        );
    }
    assert_eq!(
        dockerfile("EXPOSE"),
        [aiopsd::Config::default().listen.port().to_string()]
    );
    let user = dockerfile("USER");
    assert!(
        user.len() == 1 && !user[0].starts_with("0") && !user[0].starts_with("root"),
        "{user:?}"
    );
    assert_eq!(dockerfile("HEALTHCHECK").len(), 1);
    let ignore = read(&repo_root().join(".dockerignore"));
    for must in [".git", "target", ".aiops", "deploy/compose/secrets"] {
        assert!(
            ignore.lines().any(|l| l == must),
            ".dockerignore lacks {must}"
        );
    }
}
