//! Policy evaluation cost on the shipped policies (`cargo bench -p aiops-policy --bench
//! evaluate`; results go to `BENCHMARKS.md`).
//!
//! Two parts, both on the same mix of varying inputs (every catalog action, production and
//! not, allows, denies and approvals, dry runs, model-parsed requests):
//!
//! 1. Percentiles. 20 000 individually timed calls of the shipped
//!    `PolicyEngine::evaluate`, of `evaluate_access`, and of the approach this crate used
//!    before (a raw regorus engine cloned per call, with regorus's own `regex.*` builtins),
//!    printed as one line each for scripts:
//!    `policy_eval p50_us=… p99_us=… mean_us=… n=20000`
//!    (`policy_eval_old …`, `policy_eval_repeat …`, `policy_access …`,
//!    `policy_eval_ratio old_over_new_p50=…`, and one `policy_eval_action action=…` line per
//!    action). The shipped and the old calls alternate, so that both see the same machine.
//!    `policy_eval` is a first evaluation: every call's input is new to the engine (its
//!    confidence differs by a trifle), so its memo cannot answer. `policy_eval_repeat` and
//!    `policy_access` ask again what was asked before, as a daemon does all day for access.
//! 2. Criterion, per call: the same three, plus what per-call preparation costs apart
//!    (the clone of a prepared engine alone, the input conversion alone) and a warm engine
//!    reused with `set_input` instead of a clone, to show that the clone is not the cost.
//!
//! The percentile part runs only under `cargo bench` (criterion's `--bench` argument), not
//! when the bench target is built or smoke-run as a test. With `AIOPS_BENCH_PERCENTILES_ONLY`
//! set it runs alone (what `bootstrap/bench.sh` does).

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aiops_policy::{
    AccessInput, AuthMethod, Caller, DECISION_RULE, Operation, ParserKind, PolicyEngine,
    PolicyInput, Risk, Stage,
};
use criterion::Criterion;
use serde_json::{Value, json};

/// Individually timed calls per percentile line.
const CALLS: usize = 20_000;

/// Distinct inputs cycled through (a multiple of the 10 input shapes).
const DISTINCT: usize = 500;

fn policies() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies")
}

fn caller(i: usize) -> Caller {
    let roles = match i % 4 {
        0 => vec!["operator".to_string()],
        1 => vec!["operator".to_string(), "platform".to_string()],
        2 => vec!["viewer".to_string()],
        _ => vec!["admin".to_string()],
    };
    Caller::new(format!("user{}", i % 13), roles, AuthMethod::Bearer)
}

/// Input `i` of the mix: the action cycles through the catalog, names, numbers, zones,
/// namespaces and flags vary with `i` (some out of bounds, so some decisions are denies).
fn policy_input(i: usize) -> PolicyInput {
    let n = i / 10;
    let ns = [
        "default",
        "shop",
        "staging",
        "production",
        "payments",
        "kube-system",
    ][n % 6];
    let zone = ["local", "corp.example.com", "example.org"][n % 3];
    let record_type = ["A", "CNAME", "TXT"][n % 3];
    let playbook = ["ping", "patch-hosts", "unknown"][n % 3];
    let limit = if n.is_multiple_of(2) {
        format!("web{n},db{n}")
    } else {
        "all:!none".to_string()
    };
    let (action, risk, params): (&str, Risk, Value) = match i % 10 {
        0 => (
            "k8s.scale_deployment",
            Risk::Change,
            json!({"namespace": ns, "name": format!("web{n}"), "replicas": n % 120}),
        ),
        1 => (
            "k8s.restart_deployment",
            Risk::Change,
            json!({"namespace": ns, "name": format!("api{n}")}),
        ),
        2 => ("k8s.list_pods", Risk::Read, json!({"namespace": ns})),
        3 => (
            "k8s.delete_pod",
            Risk::Destructive,
            json!({"namespace": ns, "name": format!("web-{n}")}),
        ),
        4 => (
            "dns.create_a_record",
            Risk::Change,
            json!({
                "name": format!("host{n}.{zone}"),
                "ip": format!("10.{}.{}.{}", n % 256, (n / 7) % 256, 1 + n % 250),
                "ttl": 300 + n,
            }),
        ),
        5 => (
            "dns.delete_record",
            Risk::Destructive,
            json!({"name": format!("old{n}.{zone}"), "type": record_type}),
        ),
        6 => (
            "dns.lookup",
            Risk::Read,
            json!({"name": format!("svc{n}.{zone}"), "type": "A"}),
        ),
        7 => (
            "k8s.expose_service",
            Risk::Change,
            json!({
                "namespace": ns,
                "service": format!("web{n}"),
                "hostname": format!("web{n}.{zone}"),
                "port": 8000 + n % 100,
            }),
        ),
        8 => (
            "ansible.run_playbook",
            Risk::Change,
            json!({"playbook": playbook, "limit": limit}),
        ),
        _ => (
            "ops.ask",
            Risk::Read,
            json!({"question": format!("how do I restart service {n}?")}),
        ),
    };
    PolicyInput {
        action: action.parse().expect("a catalog action"),
        risk,
        params,
        dry_run: i.is_multiple_of(7),
        stage: if i.is_multiple_of(2) {
            Stage::Decide
        } else {
            Stage::Execute
        },
        caller: caller(i),
        parser: if i.is_multiple_of(5) {
            ParserKind::Llm
        } else {
            ParserKind::Rules
        },
        confidence: 0.8 + (i % 16) as f64 / 100.0,
    }
}

const OPERATIONS: [Operation; 8] = [
    Operation::CatalogRead,
    Operation::IntentsSubmit,
    Operation::SubmitChange,
    Operation::SubmitDestructive,
    Operation::ApprovalsRead,
    Operation::ApprovalsDecide,
    Operation::AuditRead,
    Operation::DocumentsIngest,
];

fn access_input(i: usize) -> AccessInput {
    AccessInput {
        caller: caller(i),
        operation: OPERATIONS[i % OPERATIONS.len()],
    }
}

/// The approach before this change, for comparison: one prepared regorus engine (no
/// compiled-pattern cache), cloned per call, the input and the result through serde.
struct OldEngine(regorus::Engine);

impl OldEngine {
    fn load() -> Self {
        let dir = policies();
        let mut engine = regorus::Engine::new();
        for name in ["access.rego", "aiops.rego", "approvals.rego"] {
            engine
                .add_policy_from_file(dir.join(name))
                .expect("policy parses");
        }
        engine
            .add_data(regorus::Value::from_json_file(dir.join("data.json")).expect("data"))
            .expect("data loads");
        // Prepared once, as `PolicyEngine` did (and does) at load.
        engine.set_input(regorus::Value::new_object());
        engine
            .eval_rule(DECISION_RULE.to_string())
            .expect("decision rule");
        OldEngine(engine)
    }

    fn evaluate(&self, input: &PolicyInput) -> Value {
        let mut engine = self.0.clone();
        engine.set_input(to_value(input));
        let result = engine
            .eval_rule(DECISION_RULE.to_string())
            .expect("a decision");
        serde_json::to_value(&result).expect("a JSON decision")
    }
}

fn to_value(input: &PolicyInput) -> regorus::Value {
    serde_json::to_value(input)
        .and_then(serde_json::from_value)
        .expect("input converts")
}

struct Percentiles {
    p50: Duration,
    p99: Duration,
    mean: Duration,
}

impl Percentiles {
    fn of(mut times: Vec<Duration>) -> Self {
        times.sort_unstable();
        let n = times.len();
        let at = |q: f64| times[((q * n as f64).ceil() as usize).clamp(1, n) - 1];
        Percentiles {
            p50: at(0.50),
            p99: at(0.99),
            mean: times.iter().sum::<Duration>() / n as u32,
        }
    }
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn print_line(name: &str, p: &Percentiles, n: usize) {
    println!(
        "{name} p50_us={:.1} p99_us={:.1} mean_us={:.1} n={n}",
        us(p.p50),
        us(p.p99),
        us(p.mean)
    );
}

/// Times one call.
fn timed(f: impl FnOnce()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

/// `CALLS` individually timed calls of each approach on input `i % DISTINCT`, the shipped
/// and the old one alternating call by call (which goes first alternates too), so that both
/// meet the same machine: on a shared machine a burst of other work otherwise lands on
/// one of them only.
fn percentile_lines(engine: &PolicyEngine, old: &OldEngine) {
    let inputs: Vec<PolicyInput> = (0..DISTINCT).map(policy_input).collect();
    let access: Vec<AccessInput> = (0..DISTINCT).map(access_input).collect();
    // Input k of the timed calls: shape k % DISTINCT, never asked before (warm-up included).
    let first = |k: usize| {
        let mut input = inputs[k % DISTINCT].clone();
        input.confidence = 0.5 + k as f64 / (4 * CALLS) as f64;
        input
    };
    let new_call = |input: &PolicyInput| {
        black_box(engine.evaluate(input).expect("a decision"));
    };
    let old_call = |input: &PolicyInput| {
        black_box(old.evaluate(input));
    };
    // Warm-up: every distinct input once through each.
    for input in &inputs {
        new_call(input);
        old_call(input);
    }
    let mut new = Vec::with_capacity(CALLS);
    let mut before = Vec::with_capacity(CALLS);
    for k in 0..CALLS {
        let (i, input) = (k % DISTINCT, first(k));
        if k % 2 == 0 {
            new.push((i, timed(|| new_call(&input))));
            before.push((i, timed(|| old_call(&input))));
        } else {
            before.push((i, timed(|| old_call(&input))));
            new.push((i, timed(|| new_call(&input))));
        }
    }
    let all = |v: &[(usize, Duration)]| Percentiles::of(v.iter().map(|(_, d)| *d).collect());
    let (new_all, old_all) = (all(&new), all(&before));
    print_line("policy_eval", &new_all, CALLS);
    print_line("policy_eval_old", &old_all, CALLS);
    // The 20 000 first evaluations above filled the memo's budget and evicted the warm-up's
    // answers: ask the distinct inputs once more, then time questions asked before.
    for input in &inputs {
        new_call(input);
    }
    let repeat: Vec<Duration> = (0..CALLS)
        .map(|k| timed(|| new_call(&inputs[k % DISTINCT])))
        .collect();
    print_line("policy_eval_repeat", &Percentiles::of(repeat), CALLS);

    for input in &access {
        access_call(engine, input);
    }
    let acc: Vec<Duration> = (0..CALLS)
        .map(|k| timed(|| access_call(engine, &access[k % DISTINCT])))
        .collect();
    print_line("policy_access", &Percentiles::of(acc), CALLS);

    println!(
        "policy_eval_ratio old_over_new_p50={:.2} old_over_new_p99={:.2} old_over_new_mean={:.2}",
        us(old_all.p50) / us(new_all.p50),
        us(old_all.p99) / us(new_all.p99),
        us(old_all.mean) / us(new_all.mean),
    );
    // Per action (input shape): where the time goes.
    for (shape, example) in inputs.iter().enumerate().take(10) {
        let of = |v: &[(usize, Duration)]| {
            Percentiles::of(
                v.iter()
                    .filter(|(i, _)| i % 10 == shape)
                    .map(|(_, d)| *d)
                    .collect(),
            )
        };
        let (n, o) = (of(&new), of(&before));
        println!(
            "policy_eval_action action={} p50_us={:.1} p99_us={:.1} old_p50_us={:.1} old_p99_us={:.1}",
            example.action,
            us(n.p50),
            us(n.p99),
            us(o.p50),
            us(o.p99)
        );
    }
}

fn access_call(engine: &PolicyEngine, input: &AccessInput) {
    black_box(engine.evaluate_access(input).expect("an access decision"));
}

fn criterion_rows(c: &mut Criterion, engine: &PolicyEngine, old: &OldEngine) {
    let inputs: Vec<PolicyInput> = (0..DISTINCT).map(policy_input).collect();
    let access: Vec<AccessInput> = (0..DISTINCT).map(access_input).collect();
    let mut group = c.benchmark_group("policy");

    let mut i = 0usize;
    let mut next = move || {
        i = (i + 1) % DISTINCT;
        i
    };
    let mut nonce = 0u64;
    group.bench_function("evaluate (shipped), new input", |b| {
        b.iter_batched(
            || {
                nonce += 1;
                let mut input = inputs[next()].clone();
                input.confidence = 0.5 + nonce as f64 * 1e-9;
                input
            },
            |input| engine.evaluate(&input).expect("a decision"),
            criterion::BatchSize::SmallInput,
        )
    });
    group.bench_function("evaluate (shipped), input asked before (memo)", |b| {
        b.iter(|| engine.evaluate(&inputs[next()]).expect("a decision"))
    });
    group.bench_function(
        "evaluate, old: clone per call, regex compiled per call",
        |b| b.iter(|| old.evaluate(&inputs[next()])),
    );
    group.bench_function("evaluate_access (shipped)", |b| {
        b.iter(|| {
            engine
                .evaluate_access(&access[next()])
                .expect("an access decision")
        })
    });

    // What preparing a call costs, apart from evaluating.
    group.bench_function("per-call part: clone of the prepared engine", |b| {
        b.iter(|| black_box(old.0.clone()))
    });
    group.bench_function("per-call part: input to regorus::Value", |b| {
        b.iter(|| to_value(&inputs[next()]))
    });
    // The alternative to a clone: one warm engine reused. Same regex handling as "old", so
    // the difference between the two rows is the clone.
    let mut warm = old.0.clone();
    group.bench_function("evaluate, warm engine reused (set_input, no clone)", |b| {
        b.iter(|| {
            warm.set_input(to_value(&inputs[next()]));
            warm.eval_rule(DECISION_RULE.to_string())
                .expect("a decision")
        })
    });
    group.finish();
}

fn main() {
    let engine = PolicyEngine::load(&policies()).expect("shipped policies load");
    let old = OldEngine::load();
    // Both answer alike on the whole mix (the comparison is between equals).
    for i in 0..DISTINCT {
        let input = policy_input(i);
        let d = engine.evaluate(&input).expect("a decision");
        let o = old.evaluate(&input);
        assert_eq!(o["outcome"], d.outcome.as_str(), "input {i}");
        assert_eq!(o["reasons"], json!(d.reasons), "input {i}");
    }

    if std::env::args().any(|a| a == "--bench") {
        percentile_lines(&engine, &old);
        // bootstrap/bench.sh reads the percentile lines alone.
        if std::env::var_os("AIOPS_BENCH_PERCENTILES_ONLY").is_some() {
            return;
        }
    }
    let mut c = Criterion::default().configure_from_args();
    criterion_rows(&mut c, &engine, &old);
    c.final_summary();
}
