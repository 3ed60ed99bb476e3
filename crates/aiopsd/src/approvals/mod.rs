//! The approval gate: humans decide (REST, CLI, Slack), policy says who may, and a worker
//! executes approved requests after re-checking policy and re-planning.
//!
//! The worker is the only place an approved request runs. It claims approvals with a
//! compare-and-set in the store (so exactly one worker runs each, on any replica), and it
//! survives restarts: approvals are rows, not tasks. An approval whose plan hash no longer
//! matches a fresh plan, or that policy now denies, is void and nothing runs.

mod decide;
mod outbox;
mod view;
mod worker;

pub use decide::{DecisionReply, decide};
pub use view::{detail, list, record_view};
pub use worker::{tick, worker};
