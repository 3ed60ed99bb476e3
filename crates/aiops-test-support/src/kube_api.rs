//! A real kube-apiserver + etcd (`bootstrap/kube.sh`, v1.20 built from Debian's source
//! package by `bash bootstrap/kube.sh build`).

use std::path::{Path, PathBuf};

use crate::ports::{free_port, start_on_free_port};
use crate::{HarnessError, Result, run_script};

const SCRIPT: &str = "bootstrap/kube.sh";
const BUILD_HINT: &str = "run `bash bootstrap/kube.sh build` first (about 8 minutes cold; the \
     binary is cached under ${AIOPS_CACHE:-~/.cache/aiops}/kube/bin)";

/// A running kube-apiserver and its etcd in a temporary directory; stopped on drop.
pub struct KubeApi {
    state: tempfile::TempDir,
    /// Kubeconfig of an admin (group `system:masters`).
    pub kubeconfig: PathBuf,
    /// Kubeconfig of `aiops-restricted`, who has no rights until a test grants some.
    pub restricted_kubeconfig: PathBuf,
    /// `https://127.0.0.1:<port>`
    pub api: String,
}

impl KubeApi {
    /// Starts the servers; a missing build fails with the command that builds it.
    pub fn start() -> Result<KubeApi> {
        let state = tempfile::Builder::new()
            .prefix("aiops-kube-")
            .tempdir()
            .map_err(HarnessError::io("temp dir"))?;
        let dir = state.path().to_string_lossy().into_owned();
        let started = start_on_free_port(free_port, |port| {
            run_script(SCRIPT, &["start", &dir, &port.to_string()], &[])
        });
        let vars = match started {
            Ok(vars) => vars,
            Err(err) => {
                // A half-started etcd must not outlive the failure.
                let _ = run_script(SCRIPT, &["stop", &dir], &[]);
                return Err(with_build_hint(err));
            }
        };
        Ok(KubeApi {
            kubeconfig: PathBuf::from(vars.get("KUBECONFIG")?),
            restricted_kubeconfig: PathBuf::from(vars.get("AIOPS_KUBE_RESTRICTED_KUBECONFIG")?),
            api: vars.get("AIOPS_KUBE_API")?.to_string(),
            state,
        })
    }

    /// Installs the project's CRDs (`deploy/k8s/crds`: Gateway API `Gateway`/`HTTPRoute`,
    /// cert-manager `Certificate`/`ClusterIssuer`) with `bootstrap/kube.sh crds`, which
    /// returns once they are Established and their kinds are served. Needs the kubectl that
    /// `bootstrap/test-env.sh` installs.
    pub fn install_crds(&self) -> Result<()> {
        run_script(SCRIPT, &["crds", &self.state.path().to_string_lossy()], &[]).map(|_| ())
    }

    /// Its state directory (certificates, tokens, logs).
    pub fn state_dir(&self) -> &Path {
        self.state.path()
    }

    /// Stops both servers (idempotent; the drop does it too).
    pub fn stop(&self) {
        let _ = run_script(SCRIPT, &["stop", &self.state.path().to_string_lossy()], &[]);
    }

    /// The last `lines` lines of the apiserver's and etcd's logs, for failure reports.
    pub fn log_tail(&self, lines: usize) -> String {
        ["apiserver.log", "etcd.log"]
            .iter()
            .map(|log| {
                let text = std::fs::read_to_string(self.state.path().join(log)).unwrap_or_default();
                let all: Vec<&str> = text.lines().collect();
                let tail = &all[all.len().saturating_sub(lines)..];
                format!("--- last lines of {log} ---\n{}\n", tail.join("\n"))
            })
            .collect()
    }

    /// A client with admin rights, for setting up and checking what the code under test did.
    #[cfg(feature = "kube")]
    pub async fn client(&self) -> kube::Client {
        client_for(&self.kubeconfig).await
    }
}

/// A kube client from a kubeconfig file.
#[cfg(feature = "kube")]
pub async fn client_for(kubeconfig: &Path) -> kube::Client {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig).expect("kubeconfig");
    let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .expect("kube config");
    kube::Client::try_from(cfg).expect("kube client")
}

/// Adds how to build the apiserver when the script says it is not built.
fn with_build_hint(err: HarnessError) -> HarnessError {
    match err {
        HarnessError::Script {
            script,
            args,
            status,
            stdout,
            stderr,
        } if stderr.contains("not built") => HarnessError::Script {
            script,
            args,
            status,
            stdout,
            stderr: format!("{stderr}\n{BUILD_HINT}"),
        },
        other => other,
    }
}

impl Drop for KubeApi {
    fn drop(&mut self) {
        self.stop();
    }
}
