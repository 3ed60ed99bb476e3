//! Per-model circuit breakers: after N consecutive failures (errors and timeouts, never
//! refusals: a refused answer means the model works) the model is skipped for a cooldown,
//! so a dead or wedged model does not add its timeout to every request.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Default, Clone)]
struct State {
    failures: u32,
    open_until: Option<Instant>,
    last_error: Option<String>,
}

/// The breakers of every model, keyed by model name.
#[derive(Debug)]
pub(crate) struct Breakers {
    threshold: u32,
    cooldown: Duration,
    states: Mutex<HashMap<String, State>>,
}

impl Breakers {
    pub(crate) fn new(threshold: u32, cooldown: Duration) -> Self {
        Breakers {
            threshold,
            cooldown,
            states: Mutex::new(HashMap::new()),
        }
    }

    fn with<T>(&self, model: &str, f: impl FnOnce(&mut State) -> T) -> T {
        let mut states = self.states.lock().unwrap_or_else(|p| p.into_inner());
        f(states.entry(model.to_string()).or_default())
    }

    /// True while the model is skipped. After the cooldown one call is let through
    /// (half-open); if it fails, the breaker opens again at once.
    pub(crate) fn is_open(&self, model: &str) -> bool {
        self.with(model, |s| s.open_until.is_some_and(|t| Instant::now() < t))
    }

    /// The model answered (accepted or refused).
    pub(crate) fn success(&self, model: &str) {
        self.with(model, |s| {
            s.failures = 0;
            s.open_until = None;
        });
    }

    pub(crate) fn failure(&self, model: &str, error: String) {
        let (threshold, cooldown) = (self.threshold, self.cooldown);
        self.with(model, |s| {
            s.failures = s.failures.saturating_add(1);
            s.last_error = Some(error);
            if s.failures >= threshold {
                s.open_until = Some(Instant::now() + cooldown);
            }
        });
    }

    pub(crate) fn last_error(&self, model: &str) -> Option<String> {
        self.with(model, |s| s.last_error.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_consecutive_failures_and_answers_reset_it() {
        let b = Breakers::new(2, Duration::from_secs(3600));
        b.failure("m", "down".into());
        assert!(!b.is_open("m"));
        b.success("m");
        b.failure("m", "down".into());
        assert!(!b.is_open("m"), "a success in between resets the count");
        b.failure("m", "down again".into());
        assert!(b.is_open("m"));
        assert!(!b.is_open("other"));
        assert_eq!(b.last_error("m").as_deref(), Some("down again"));
    }

    #[test]
    fn a_zero_cooldown_lets_the_next_call_through() {
        let b = Breakers::new(1, Duration::ZERO);
        b.failure("m", "x".into());
        assert!(!b.is_open("m"));
    }
}
