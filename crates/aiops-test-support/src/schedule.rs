//! The daemon's timing that tests wait by: the approval worker's pass and the Slack
//! outbox's retry backoff. A test waiting for something the daemon does on a schedule
//! derives its deadline here, so the wait is as long as the schedule says and no longer.

use std::time::{Duration, Instant};

/// Allowance for a call to happen once it is due: the worker's pass and the HTTP call on
/// a loaded two-core machine. Added to every deadline derived from the schedule below.
pub const MARGIN: Duration = Duration::from_secs(3);

/// The outbox's wait before the next attempt after `failures` failed ones in a row. The
/// store schedules it at `now + 1000 * (2 << min(attempts, 8))` ms, `attempts` counted
/// before the failure: 2 s, 4 s, 8 s, … up to 512 s.
pub fn retry_delay(failures: u32) -> Duration {
    assert!(failures >= 1, "a retry follows a failure");
    Duration::from_secs(2 << (failures - 1).min(8))
}

/// By when the next attempt must reach Slack, when the latest of `failures` failures in a
/// row happened at `failed_at`: the backoff, then the worker's next pass (it looks every
/// `worker_interval`), plus [`MARGIN`].
pub fn retry_deadline(failed_at: Instant, failures: u32, worker_interval: Duration) -> Instant {
    failed_at + retry_delay(failures) + worker_interval + MARGIN
}

/// By when something the worker does on its next pass must have happened: one
/// `worker_interval` plus [`MARGIN`] from now.
pub fn worker_deadline(worker_interval: Duration) -> Instant {
    Instant::now() + worker_interval + MARGIN
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_doubles_from_two_seconds_and_is_capped() {
        let secs: Vec<u64> = [1, 2, 3, 9, 10, 40]
            .into_iter()
            .map(|n| retry_delay(n).as_secs())
            .collect();
        assert_eq!(secs, [2, 4, 8, 512, 512, 512]);
        let t = Instant::now();
        assert_eq!(
            retry_deadline(t, 2, Duration::from_millis(100)) - t,
            Duration::from_millis(4_100) + MARGIN
        );
    }
}
