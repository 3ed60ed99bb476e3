//! Reading a stored request's timeline (`GET /api/v1/intents/{id}`) in assertions.

use serde_json::Value;

/// The `stage:outcome` pairs of a stored request's timeline, in order.
pub fn stages(rec: &Value) -> Vec<String> {
    rec["timeline"]
        .as_array()
        .expect("a timeline")
        .iter()
        .map(|e| {
            format!(
                "{}:{}",
                e["stage"].as_str().unwrap_or_default(),
                e["outcome"].as_str().unwrap_or_default()
            )
        })
        .collect()
}

/// How many timeline entries of a stored request are `stage:outcome`.
pub fn count_stage(rec: &Value, stage_outcome: &str) -> usize {
    stages(rec).iter().filter(|s| *s == stage_outcome).count()
}
