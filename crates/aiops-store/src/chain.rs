//! What both stores share about the audit chain: the row as stored (its exact text, which
//! the hash covers) and the walk that recomputes rows one after another from a known point.
//! Each store streams its rows into a [`Walk`] its own way.

use serde_json::Value;

use crate::audit::{GENESIS_HASH, HashedRow, event_hash};
use crate::{AuditRecord, ChainReport};
use aiops_core::VerifyMode;

/// An audit row as stored.
#[derive(sqlx::FromRow)]
pub(crate) struct AuditRow {
    pub(crate) seq: i64,
    pub(crate) at: String,
    pub(crate) request_id: Option<String>,
    pub(crate) stage: String,
    pub(crate) outcome: String,
    /// The exact canonical JSON text the row's hash covers.
    pub(crate) data: String,
    /// Canonical JSON of the actor; empty on rows from before rows named one.
    pub(crate) actor: String,
    pub(crate) prev_hash: String,
    pub(crate) hash: String,
}

impl From<AuditRow> for AuditRecord {
    fn from(r: AuditRow) -> Self {
        // A tampered row may hold text that is not JSON; show it rather than fail the read.
        let data = serde_json::from_str(&r.data).unwrap_or(Value::String(r.data));
        AuditRecord {
            seq: r.seq,
            at: r.at,
            request_id: r.request_id,
            stage: r.stage,
            outcome: r.outcome,
            data,
            actor: serde_json::from_str(&r.actor).ok(),
            prev_hash: r.prev_hash,
            hash: r.hash,
        }
    }
}

/// Recomputes rows one after another from a known point.
pub(crate) struct Walk {
    mode: VerifyMode,
    from_seq: i64,
    prev: String,
    expected_seq: i64,
    checked: u64,
}

impl Walk {
    pub(crate) fn new(mode: VerifyMode, from_seq: i64, from_hash: String) -> Self {
        Walk {
            mode,
            from_seq,
            prev: from_hash,
            expected_seq: from_seq + 1,
            checked: 0,
        }
    }

    /// The row this walk starts after (0: the genesis).
    pub(crate) fn start_seq(&self) -> i64 {
        self.from_seq
    }

    pub(crate) fn report(&self, bad: Option<(i64, String)>) -> ChainReport {
        let (first_bad_seq, reason) = bad.unzip();
        ChainReport {
            ok: first_bad_seq.is_none(),
            events: u64::try_from(self.expected_seq - 1).unwrap_or(0),
            head: self.prev.clone(),
            first_bad_seq,
            reason,
            mode: self.mode,
            from_seq: self.from_seq,
            checked: self.checked,
        }
    }

    /// The next row: `Err` is the report of the first bad one.
    pub(crate) fn step(&mut self, row: AuditRow) -> Result<(), ChainReport> {
        if row.seq != self.expected_seq {
            let reason = format!(
                "row {} is missing (next row is {})",
                self.expected_seq, row.seq
            );
            return Err(self.report(Some((self.expected_seq, reason))));
        }
        if row.prev_hash != self.prev {
            let reason = "prev_hash does not match the previous row".to_string();
            return Err(self.report(Some((row.seq, reason))));
        }
        let recomputed = event_hash(HashedRow {
            prev_hash: &row.prev_hash,
            seq: row.seq,
            at: &row.at,
            request_id: row.request_id.as_deref(),
            stage: &row.stage,
            outcome: &row.outcome,
            data: &row.data,
            actor: &row.actor,
        });
        if recomputed != row.hash {
            let reason = "row content does not match its hash".to_string();
            return Err(self.report(Some((row.seq, reason))));
        }
        self.prev = row.hash;
        self.expected_seq += 1;
        self.checked += 1;
        Ok(())
    }

    /// The end of the rows: the head row must name the last one.
    pub(crate) fn finish(self, head: Option<(i64, String)>) -> ChainReport {
        let (head_seq, head_hash) = head.unwrap_or((0, GENESIS_HASH.to_string()));
        let last = self.expected_seq - 1;
        if head_seq != last || head_hash != self.prev {
            let reason = format!("chain ends at row {last} but the head says row {head_seq}");
            return self.report(Some((self.expected_seq, reason)));
        }
        self.report(None)
    }
}
