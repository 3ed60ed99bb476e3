//! Prometheus metrics, rendered in the text format at `/metrics`.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use aiops_secrets::SecretSource;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    /// The standard methods by name, any other as `OTHER` (a client cannot grow the set).
    pub method: &'static str,
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StageLabels {
    pub stage: &'static str,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabels {
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReconciliationLabels {
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VerificationLabels {
    pub outcome: &'static str,
}

pub struct Metrics {
    registry: Registry,
    pub http_requests: Family<HttpLabels, Counter>,
    pub http_duration: Family<HttpLabels, Histogram>,
    pub stage_duration: Family<StageLabels, Histogram>,
    pub decisions: Family<OutcomeLabels, Counter>,
    /// Changes read back after they ran, by verification outcome.
    pub change_verifications: Family<OutcomeLabels, Counter>,
    pub intents: Family<StatusLabels, Counter>,
    pub quarantined: Family<ReasonLabels, Counter>,
    /// Executions interrupted by a stop, by what recovery found (`state_unknown` is the
    /// alert: someone must look at the world).
    pub reconciliations: Family<ReconciliationLabels, Counter>,
    pub auth_failures: Family<ReasonLabels, Counter>,
    /// Background verifications of the audit chain by outcome (`broken` is the alert).
    pub verifications: Family<VerificationLabels, Counter>,
    /// `aiops_tls_cert_not_after_seconds`, exported once TLS is serving.
    pub tls_cert_not_after: TlsCertGauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

fn latency_histogram() -> Histogram {
    // 1 ms .. ~65 s: lookups are milliseconds, Ansible runs are seconds.
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("aiops");
        let http_requests = Family::<HttpLabels, Counter>::default();
        let http_duration = Family::<HttpLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        let stage_duration = Family::<StageLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        let decisions = Family::<OutcomeLabels, Counter>::default();
        let change_verifications = Family::<OutcomeLabels, Counter>::default();
        let intents = Family::<StatusLabels, Counter>::default();
        let quarantined = Family::<ReasonLabels, Counter>::default();
        let reconciliations = Family::<ReconciliationLabels, Counter>::default();
        let auth_failures = Family::<ReasonLabels, Counter>::default();
        let verifications = Family::<VerificationLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            http_requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route and status",
            http_duration.clone(),
        );
        registry.register(
            "stage_duration_seconds",
            "Latency of each request-path stage by outcome",
            stage_duration.clone(),
        );
        registry.register(
            "policy_decisions",
            "Policy decisions by outcome",
            decisions.clone(),
        );
        registry.register(
            "change_verifications",
            "Changes read back after they ran, by outcome (verified, unverified, diverged)",
            change_verifications.clone(),
        );
        registry.register(
            "intents",
            "Finished intents by final status",
            intents.clone(),
        );
        registry.register(
            "quarantined",
            "Model answers refused and quarantined, by reason",
            quarantined.clone(),
        );
        registry.register(
            "reconciliations",
            "Executions interrupted by a stop, reconciled at start-up, by outcome (state_unknown needs an operator)",
            reconciliations.clone(),
        );
        registry.register(
            "auth_failures",
            "Refused authentications by reason (missing, malformed, unknown, expired)",
            auth_failures.clone(),
        );
        registry.register(
            "audit_verifications",
            "Background verifications of the audit chain by outcome",
            verifications.clone(),
        );
        let tls_cert_not_after = TlsCertGauge::default();
        registry.register_collector(Box::new(TlsCertCollector(tls_cert_not_after.clone())));
        Metrics {
            registry,
            http_requests,
            http_duration,
            stage_duration,
            decisions,
            change_verifications,
            intents,
            quarantined,
            reconciliations,
            auth_failures,
            verifications,
            tls_cert_not_after,
        }
    }
}

/// The not-after time (Unix seconds) of the certificate the API serves; nothing is exported
/// until TLS has loaded one. Shared with the TLS reloader, which sets it at every load.
#[derive(Debug, Clone)]
pub struct TlsCertGauge(Arc<AtomicI64>);

impl TlsCertGauge {
    const UNSET: i64 = i64::MIN;

    pub fn set(&self, not_after_unix: i64) {
        self.0.store(not_after_unix, Ordering::Relaxed);
    }

    pub fn get(&self) -> Option<i64> {
        Some(self.0.load(Ordering::Relaxed)).filter(|v| *v != Self::UNSET)
    }
}

impl Default for TlsCertGauge {
    fn default() -> Self {
        TlsCertGauge(Arc::new(AtomicI64::new(Self::UNSET)))
    }
}

#[derive(Debug)]
struct TlsCertCollector(TlsCertGauge);

impl Collector for TlsCertCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(not_after) = self.0.get() else {
            return Ok(());
        };
        let gauge = ConstGauge::new(not_after);
        let metric = encoder.encode_descriptor(
            "tls_cert_not_after_seconds",
            "Not-after time of the served TLS certificate, in Unix seconds.",
            None,
            gauge.metric_type(),
        )?;
        gauge.encode(metric)
    }
}

impl Metrics {
    /// Adds the secret source's counters (`aiops_secret_cache_hits_total`,
    /// `aiops_secret_cache_misses_total`, `aiops_secret_errors_total`, labelled with the
    /// source's kind), read from the source at each scrape.
    pub fn with_secret_source(mut self, source: Arc<dyn SecretSource>) -> Self {
        self.registry
            .register_collector(Box::new(SecretStatsCollector { source }));
        self
    }

    /// Adds the store's commit counters (`aiops_store_commits_total`: durability points of
    /// runs; `aiops_store_transactions_total`: the transactions, and so syncs to disk, that
    /// carried them), read from the store at each scrape.
    pub fn with_store(mut self, store: Arc<dyn aiops_store::Store>) -> Self {
        self.registry
            .register_collector(Box::new(StoreStatsCollector { store }));
        self
    }

    pub fn observe_http(&self, labels: HttpLabels, elapsed: Duration) {
        self.http_requests.get_or_create(&labels).inc();
        self.http_duration
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
    }

    pub fn observe_stage(&self, stage: &'static str, outcome: &str, elapsed: Duration) {
        self.stage_duration
            .get_or_create(&StageLabels {
                stage,
                outcome: outcome.to_string(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// A request reached `status` (a final one, or pending approval).
    pub fn count_request(&self, status: aiops_core::RequestStatus) {
        self.intents
            .get_or_create(&StatusLabels {
                status: status.as_str().to_string(),
            })
            .inc();
    }

    pub fn count_verification_outcome(&self, outcome: aiops_core::VerificationOutcome) {
        self.change_verifications
            .get_or_create(&OutcomeLabels {
                outcome: outcome.as_str().to_string(),
            })
            .inc();
    }

    pub fn count_decision(&self, outcome: aiops_policy::Outcome) {
        let outcome = match outcome {
            aiops_policy::Outcome::Allow => "allow",
            aiops_policy::Outcome::Deny => "deny",
            aiops_policy::Outcome::RequireApproval => "require_approval",
        };
        self.decisions
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_string(),
            })
            .inc();
    }

    /// A model answer was refused and quarantined.
    pub fn count_quarantined(&self, reason: aiops_core::QuarantineReason) {
        self.quarantined
            .get_or_create(&ReasonLabels {
                reason: reason.as_str(),
            })
            .inc();
    }

    /// A background verification of the audit chain ended: it verified, or it did not.
    pub fn count_verification(&self, ok: bool) {
        self.verifications
            .get_or_create(&VerificationLabels {
                outcome: if ok { "verified" } else { "broken" },
            })
            .inc();
    }

    /// Recovery reconciled an interrupted execution.
    pub fn count_reconciliation(&self, outcome: aiops_core::Reconciliation) {
        self.reconciliations
            .get_or_create(&ReconciliationLabels {
                outcome: outcome.as_str(),
            })
            .inc();
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

/// Exports the counters a secret source keeps itself (it may not depend on the metrics
/// registry), read at scrape time.
struct SecretStatsCollector {
    source: Arc<dyn SecretSource>,
}

impl std::fmt::Debug for SecretStatsCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretStatsCollector")
            .field("source", &self.source.kind())
            .finish()
    }
}

impl Collector for SecretStatsCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let stats = self.source.stats();
        let labels = [("source", self.source.kind())];
        // Help texts end with a period, as the registry's own metrics do.
        for (name, help, value) in [
            (
                "secret_cache_hits",
                "Secret reads served from the cache.",
                stats.hits,
            ),
            (
                "secret_cache_misses",
                "Secret reads that went to the source.",
                stats.misses,
            ),
            ("secret_errors", "Secret reads that failed.", stats.errors),
        ] {
            let counter = ConstCounter::new(value);
            let mut family = encoder.encode_descriptor(name, help, None, counter.metric_type())?;
            counter.encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

/// Exports the store's commit counters, read at scrape time.
struct StoreStatsCollector {
    store: Arc<dyn aiops_store::Store>,
}

impl std::fmt::Debug for StoreStatsCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreStatsCollector")
            .field("store", &self.store.kind())
            .finish()
    }
}

impl Collector for StoreStatsCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let stats = self.store.commit_stats();
        let labels = [("store", self.store.kind())];
        for (name, help, value) in [
            (
                "store_commits",
                "Durability points committed (stage outcomes of one run, written together).",
                stats.commits,
            ),
            (
                "store_transactions",
                "Store transactions that carried them: fewer than commits when concurrent runs shared one sync (group commit).",
                stats.transactions,
            ),
        ] {
            let counter = ConstCounter::new(value);
            let mut family = encoder.encode_descriptor(name, help, None, counter.metric_type())?;
            counter.encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_source_counters_are_exported_at_scrape_time() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let metrics = Metrics::default()
            .with_secret_source(Arc::new(aiops_secrets::DirectorySource::new(dir.path())));
        let text = metrics.render();
        for (name, help) in [
            ("secret_cache_hits", "Secret reads served from the cache."),
            (
                "secret_cache_misses",
                "Secret reads that went to the source.",
            ),
            ("secret_errors", "Secret reads that failed."),
        ] {
            let block = format!(
                "# HELP aiops_{name} {help}\n# TYPE aiops_{name} counter\n\
                 aiops_{name}_total{{source=\"directory\"}} 0\n"
            );
            assert!(text.contains(&block), "{block}\nnot in:\n{text}");
        }
        assert!(text.ends_with("# EOF\n"), "{text}");
        assert!(!Metrics::default().render().contains("secret_"));
    }

    #[test]
    fn the_certificate_gauge_appears_once_tls_has_loaded() {
        let metrics = Metrics::default();
        assert!(!metrics.render().contains("tls_cert"));
        metrics.tls_cert_not_after.set(1_900_000_000);
        let text = metrics.render();
        assert!(
            text.contains("# TYPE aiops_tls_cert_not_after_seconds gauge\naiops_tls_cert_not_after_seconds 1900000000\n"),
            "{text}"
        );
    }
}
