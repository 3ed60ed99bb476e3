//! Measurement, not a gate (ignored by default): the shared eval files and this crate's
//! paraphrases through `llm` (every case forced through the model) and `auto`, with the
//! real small models. Prints correct / wrong / unrecognized and latency p50/p95.
//!
//! ```sh
//! cargo test -p aiops-llm --test eval -- --ignored --nocapture
//! ```
//! `OLLAMA_HOST` uses a running server (else one is started); `AIOPS_EVAL_MODELS`
//! (comma-separated ladder, default both models in turn and the ladder) and
//! `AIOPS_EVAL_CALLS` (`one`, `two`, or `both`, the default) choose what is measured;
//! `AIOPS_EVAL_EVERY=N` measures every N-th case only.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Instant;

use aiops_core::{Catalog, IntentParser, ParseContext};
use aiops_llm::{AutoParser, Calls, LlmParser};
use common::{Case, Rules, Score};

/// The eval files; with `AIOPS_EVAL_EVERY=N` every N-th case of each (a fixed subset for a
/// slow model on a busy machine).
fn files() -> Vec<(String, Vec<Case>)> {
    let shared = common::repo_root().join("../shared/eval");
    let own = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/paraphrases.jsonl");
    let every: usize = std::env::var("AIOPS_EVAL_EVERY")
        .ok()
        .and_then(|n| n.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(1);
    [
        ("intents.jsonl", shared.join("intents.jsonl")),
        ("intents-more.jsonl", shared.join("intents-more.jsonl")),
        ("paraphrases.jsonl", own),
    ]
    .into_iter()
    .map(|(name, path)| {
        let cases = common::cases(&path).into_iter().step_by(every).collect();
        (name.to_string(), cases)
    })
    .collect()
}

fn pct(sorted: &[u128], p: f64) -> u128 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

async fn run(
    label: &str,
    parser: &dyn IntentParser,
    catalog: &Catalog,
    name: &str,
    cases: &[Case],
) {
    let ctx = ParseContext {
        catalog,
        context: &[],
    };
    let (mut c, mut w, mut u) = (0, 0, 0);
    let mut ms = Vec::new();
    let mut wrong = Vec::new();
    for case in cases {
        let t = Instant::now();
        let out = parser.parse(&case.nl, &ctx).await;
        ms.push(t.elapsed().as_millis());
        match common::score(catalog, &out, &case.expect) {
            Score::Correct => c += 1,
            Score::Unrecognized => u += 1,
            Score::Wrong => {
                w += 1;
                wrong.push(format!("    wrong: {} -> {:?}", case.nl, out.verdict));
            }
        }
    }
    ms.sort_unstable();
    println!(
        "{label:<40} {name:<20} correct {c:>3}/{:<3} wrong {w:>2} unrecognized {u:>3}  p50 {:>5} ms  p95 {:>5} ms",
        cases.len(),
        pct(&ms, 0.5),
        pct(&ms, 0.95)
    );
    for line in wrong {
        println!("{line}");
    }
}

#[tokio::test]
#[ignore = "measurement with real models; minutes"]
async fn measure() {
    let started = match std::env::var("OLLAMA_HOST") {
        Ok(_) => None,
        Err(_) => Some(common::Ollama::start()),
    };
    let host = started
        .as_ref()
        .map(|o| o.host.clone())
        .unwrap_or_else(|| std::env::var("OLLAMA_HOST").unwrap());
    let ladders: Vec<Vec<String>> = match std::env::var("AIOPS_EVAL_MODELS") {
        Ok(m) => vec![m.split(',').map(str::to_string).collect()],
        Err(_) => vec![
            vec![common::GEMMA.into()],
            vec![common::SMOLLM.into()],
            vec![common::GEMMA.into(), common::SMOLLM.into()],
        ],
    };
    let calls = match std::env::var("AIOPS_EVAL_CALLS").as_deref() {
        Ok("one") => vec![Calls::One],
        Ok("two") => vec![Calls::Two],
        _ => vec![Calls::One, Calls::Two],
    };
    let catalog = Catalog::embedded().unwrap();
    let files = files();
    for ladder in &ladders {
        for mode in &calls {
            let config = aiops_llm::LlmConfig {
                enabled: true,
                host: host.clone(),
                models: ladder.clone(),
                num_thread: Some(1),
                timeout_ms: 120_000,
                calls: *mode,
                // Measure the models, not the cache.
                cache_entries: 0,
                ..Default::default()
            };
            let llm = Arc::new(LlmParser::new(config).unwrap());
            let auto = AutoParser::new(Arc::new(Rules), llm.clone());
            let label = format!("{} calls={mode:?}", ladder.join(">"));
            for (name, cases) in &files {
                run(
                    &format!("llm  {label}"),
                    llm.as_ref(),
                    &catalog,
                    name,
                    cases,
                )
                .await;
                run(&format!("auto {label}"), &auto, &catalog, name, cases).await;
            }
        }
    }
    run(
        "rules",
        &Rules,
        &catalog,
        "all files",
        &files
            .iter()
            .flat_map(|(_, c)| {
                c.iter().map(|c| Case {
                    nl: c.nl.clone(),
                    expect: c.expect.clone(),
                })
            })
            .collect::<Vec<_>>(),
    )
    .await;
}

/// Writes the one-call request for a sentence as Ollama receives it (for curl timing).
#[test]
#[ignore = "debugging aid"]
fn dump_request() {
    let catalog = Catalog::embedded().unwrap();
    let set =
        aiops_llm::prompt::PromptSet::build(aiops_llm::prompt::Templates::embedded(), &catalog);
    for (name, call) in [("one", &set.one), ("classify", &set.classify)] {
        let body = serde_json::json!({"model": "MODEL", "stream": false,
            "messages": set.messages(call, "give web a restart", &[]), "format": call.format,
            "options": {"temperature": 0, "seed": 42, "num_predict": 160, "num_thread": 1}});
        std::fs::write(format!("/tmp/llm-helper/{name}.json"), body.to_string()).unwrap();
    }
}
