//! Prometheus metrics, rendered in the text format at `/metrics`.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: String,
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

pub struct Metrics {
    registry: Registry,
    pub http_requests: Family<HttpLabels, Counter>,
    pub http_duration: Family<HttpLabels, Histogram>,
    pub stage_duration: Family<StageLabels, Histogram>,
    pub decisions: Family<OutcomeLabels, Counter>,
    pub intents: Family<StatusLabels, Counter>,
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
        let intents = Family::<StatusLabels, Counter>::default();
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
            "intents",
            "Finished intents by final status",
            intents.clone(),
        );
        Metrics {
            registry,
            http_requests,
            http_duration,
            stage_duration,
            decisions,
            intents,
        }
    }
}

impl Metrics {
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

    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
