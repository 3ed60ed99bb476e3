//! Waiting for a request to end: poll `GET /api/v1/intents/{id}` until its status is
//! terminal or the deadline passes. The decisions (when to poll again, when to stop, which
//! failures to ride out) are pure functions, tested without a server; [`follow`] only
//! sleeps and asks.

use std::time::{Duration, Instant};

use aiops_api::IntentRecord;
use aiops_core::RequestStatus;

use crate::client::{Api, Reply};
use crate::error::CliError;

/// The first pause between polls: a request that is executing usually ends within seconds.
pub const FIRST_POLL: Duration = Duration::from_secs(1);
/// The longest pause: a human deciding takes minutes, so 5 s late is not noticed, and an
/// hour of waiting stays at 720 requests.
pub const MAX_POLL: Duration = Duration::from_secs(5);

/// What to do after seeing a request's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// The request ended.
    Done,
    /// Ask again after this pause.
    PollIn(Duration),
    /// The deadline passed and the request has not ended.
    GiveUp,
}

/// The pause before poll number `polls + 1`: 1 s, growing by a second a poll, up to 5 s.
pub fn poll_interval(polls: u32) -> Duration {
    (FIRST_POLL * polls.saturating_add(1)).min(MAX_POLL)
}

/// What to do with a request in `status`, `polls` polls and `elapsed` into a wait of
/// `timeout`. The last pause is cut to the deadline, so the final answer is read at it.
pub fn next(status: RequestStatus, polls: u32, elapsed: Duration, timeout: Duration) -> Next {
    if status.is_terminal() {
        return Next::Done;
    }
    match timeout.checked_sub(elapsed) {
        Some(left) if !left.is_zero() => Next::PollIn(poll_interval(polls).min(left)),
        _ => Next::GiveUp,
    }
}

/// Whether a poll's failure is worth riding out: the daemon restarting (unreachable, a
/// dropped connection, a timeout), overloaded (429, 503) or briefly failing (5xx). The
/// request is safe in its store meanwhile. A 4xx (the token revoked, the id unknown) will
/// not get better by asking again.
pub fn transient(result: &Result<Reply, CliError>) -> bool {
    match result {
        Ok(reply) => reply.status == 429 || reply.status >= 500,
        Err(CliError::Unreachable { .. } | CliError::Other(_)) => true,
        Err(_) => false,
    }
}

/// What a poll showed, for the caller's progress display.
#[derive(Debug)]
pub enum Progress<'a> {
    /// The request as it stands.
    Record(&'a IntentRecord),
    /// A poll failed in a way worth riding out; the error says how.
    Trouble(&'a CliError),
}

/// How a wait ended: the last record read (and its body, for `--json`) and whether the
/// request had ended. No record means every poll failed.
#[derive(Debug)]
pub struct Followed {
    pub last: Option<(IntentRecord, String)>,
    pub ended: bool,
}

/// Polls request `id` (now in `status`) until it ends or `timeout` passes, reporting each
/// poll to `progress`.
pub async fn follow(
    api: &Api,
    id: &str,
    mut status: RequestStatus,
    timeout: Duration,
    mut progress: impl FnMut(Progress<'_>),
) -> Result<Followed, CliError> {
    let url = api.endpoint(&["api", "v1", "intents", id]);
    let start = Instant::now();
    let mut last = None;
    let mut polls = 0u32;
    loop {
        match next(status, polls, start.elapsed(), timeout) {
            Next::Done => return Ok(Followed { last, ended: true }),
            Next::GiveUp => return Ok(Followed { last, ended: false }),
            Next::PollIn(pause) => tokio::time::sleep(pause).await,
        }
        polls = polls.saturating_add(1);
        let result = api.get(url.clone()).await;
        if transient(&result) {
            let err = match result {
                Ok(reply) => CliError::from_response(reply.status, &reply.body),
                Err(e) => e,
            };
            progress(Progress::Trouble(&err));
            continue;
        }
        let reply = result?;
        let record: IntentRecord = reply.decode("a request")?;
        status = record.status;
        progress(Progress::Record(&record));
        last = Some((record, reply.body));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn polls_start_at_a_second_and_grow_to_five() {
        let pauses: Vec<u64> = (0..8).map(|n| poll_interval(n).as_secs()).collect();
        assert_eq!(pauses, [1, 2, 3, 4, 5, 5, 5, 5]);
        assert_eq!(poll_interval(u32::MAX), MAX_POLL);
    }

    #[test]
    fn terminal_statuses_end_the_wait_and_others_keep_it_going() {
        use RequestStatus::*;
        for status in [Success, DryRun, Denied, Unrecognized, Answered, Failed] {
            assert_eq!(next(status, 3, HOUR * 2, HOUR), Next::Done, "{status}");
        }
        for status in [Received, Executing, PendingApproval] {
            assert_eq!(
                next(status, 0, Duration::ZERO, HOUR),
                Next::PollIn(FIRST_POLL),
                "{status}"
            );
            assert_eq!(next(status, 0, HOUR, HOUR), Next::GiveUp, "{status}");
        }
    }

    #[test]
    fn the_last_pause_ends_at_the_deadline() {
        let timeout = Duration::from_secs(10);
        let status = RequestStatus::PendingApproval;
        assert_eq!(
            next(status, 9, Duration::from_secs(8), timeout),
            Next::PollIn(Duration::from_secs(2))
        );
        assert_eq!(
            next(status, 9, Duration::from_millis(9_999), timeout),
            Next::PollIn(Duration::from_millis(1))
        );
        assert_eq!(
            next(status, 9, Duration::from_secs(11), timeout),
            Next::GiveUp
        );
        // A whole wait: each pause as scheduled, never past the deadline.
        let (mut elapsed, mut polls) = (Duration::ZERO, 0);
        while let Next::PollIn(pause) = next(status, polls, elapsed, timeout) {
            elapsed += pause;
            polls += 1;
        }
        assert_eq!((elapsed, polls), (timeout, 4), "1 + 2 + 3 + 4 s");
    }

    #[test]
    fn outages_are_ridden_out_but_refusals_are_not() {
        let reply = |status: u16| {
            Ok(Reply {
                status,
                body: String::new(),
            })
        };
        assert!(transient(&reply(503)));
        assert!(transient(&reply(500)));
        assert!(transient(&reply(429)));
        assert!(!transient(&reply(200)));
        assert!(!transient(&reply(401)));
        assert!(!transient(&reply(404)));
        assert!(transient(&Err(CliError::Unreachable {
            url: "http://h:1".into(),
            detail: "refused".into(),
        })));
        assert!(transient(&Err(CliError::Other("timed out".into()))));
        assert!(!transient(&Err(CliError::Usage("bad token".into()))));
    }
}
