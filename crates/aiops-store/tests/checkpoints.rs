//! Audit-chain checkpoints against a real SQLite file and a real PostgreSQL cluster: a verification that succeeds records
//! one; an incremental verify starts from the latest and recomputes only the rows after it,
//! anchored on that row's hash; a full verify still recomputes everything.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

#[macro_use]
mod common;

use aiops_store::{AuditEvent, Change, Store, VerifyMode};
use common::{Backend, TestStore};
use serde_json::json;

/// Appends `n` events in one commit.
async fn append(s: &dyn Store, n: usize) {
    let events = (0..n)
        .map(|i| Change::Append(AuditEvent::new(None, "note", "noted", json!({"i": i}))))
        .collect();
    s.commit(events).await.unwrap();
}

async fn checkpoints(s: &TestStore) -> Vec<(i64, String)> {
    s.checkpoints().await
}

async fn incremental_verify_recomputes_only_the_rows_since_the_last_checkpoint(b: Backend) {
    let s = common::store(b).await;
    append(&*s, 2000).await;
    // No checkpoint yet: incremental is a full verify, and leaves one at the head.
    let first = s.verify_incremental().await.unwrap();
    assert!(first.ok, "{first:?}");
    assert_eq!(
        (first.mode, first.from_seq, first.checked, first.events),
        (VerifyMode::Full, 0, 2000, 2000)
    );
    assert_eq!(checkpoints(&s).await, [(2000, "full".to_string())]);

    append(&*s, 7).await;
    let next = s.verify_incremental().await.unwrap();
    assert!(next.ok, "{next:?}");
    assert_eq!(
        (next.mode, next.from_seq, next.checked, next.events),
        (VerifyMode::Incremental, 2000, 7, 2007)
    );
    let head = s.head_hash().await;
    assert_eq!(next.head, head);
    assert_eq!(
        checkpoints(&s).await,
        [
            (2000, "full".to_string()),
            (2007, "incremental".to_string())
        ]
    );

    // Nothing new: nothing recomputed, no new checkpoint.
    let idle = s.verify_incremental().await.unwrap();
    assert!(
        idle.ok && idle.checked == 0 && idle.events == 2007,
        "{idle:?}"
    );
    assert_eq!(checkpoints(&s).await.len(), 2);

    // A full verify recomputes everything, whatever the checkpoints.
    let full = s.verify_chain().await.unwrap();
    assert_eq!(
        (full.mode, full.checked, full.events),
        (VerifyMode::Full, 2007, 2007)
    );
}

async fn a_changed_row_after_the_checkpoint_is_found_incrementally(b: Backend) {
    let s = common::store(b).await;
    append(&*s, 10).await;
    assert!(s.verify_incremental().await.unwrap().ok);
    append(&*s, 5).await;
    s.exec("UPDATE audit_events SET outcome = 'forged' WHERE seq = 13")
        .await;
    let r = s.verify_incremental().await.unwrap();
    assert!(!r.ok);
    assert_eq!((r.first_bad_seq, r.checked), (Some(13), 2), "{r:?}");
    // A failed verification records no checkpoint.
    assert_eq!(checkpoints(&s).await.len(), 1);
}

async fn rewriting_history_up_to_the_checkpoint_breaks_its_anchor(b: Backend) {
    let s = common::store(b).await;
    append(&*s, 10).await;
    assert!(s.verify_incremental().await.unwrap().ok);
    append(&*s, 3).await;
    // Someone rewrites row 10's hash (as a consistent rewrite of rows up to it would):
    // the checkpoint no longer matches the chain.
    s.exec("UPDATE audit_events SET hash = 'rewritten' WHERE seq = 10")
        .await;
    let r = s.verify_incremental().await.unwrap();
    assert!(!r.ok);
    assert_eq!(r.first_bad_seq, Some(10));
    assert!(r.reason.unwrap().contains("checkpoint"));

    // Deleting the checkpoint's row is the same.
    let s = common::store(b).await;
    append(&*s, 10).await;
    assert!(s.verify_incremental().await.unwrap().ok);
    s.exec("DELETE FROM audit_events WHERE seq = 10").await;
    let r = s.verify_incremental().await.unwrap();
    assert_eq!((r.ok, r.first_bad_seq), (false, Some(10)), "{r:?}");
}

async fn an_edit_below_the_checkpoint_that_keeps_the_hashes_needs_a_full_verify(b: Backend) {
    let s = common::store(b).await;
    append(&*s, 10).await;
    assert!(s.verify_incremental().await.unwrap().ok);
    // Content changed, hashes left alone: the rows after the checkpoint are untouched, so the
    // incremental verify (which does not read row 4) passes; the full verify finds it. This is
    // the trade-off `VerifyMode::Incremental` documents.
    s.exec("UPDATE audit_events SET outcome = 'forged' WHERE seq = 4")
        .await;
    append(&*s, 2).await;
    assert!(s.verify_incremental().await.unwrap().ok);
    let full = s.verify_chain().await.unwrap();
    assert_eq!((full.ok, full.first_bad_seq), (false, Some(4)), "{full:?}");
}

both_backends!(
    incremental_verify_recomputes_only_the_rows_since_the_last_checkpoint,
    a_changed_row_after_the_checkpoint_is_found_incrementally,
    rewriting_history_up_to_the_checkpoint_breaks_its_anchor,
    an_edit_below_the_checkpoint_that_keeps_the_hashes_needs_a_full_verify,
);
