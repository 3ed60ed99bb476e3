-- Approval flow: decisions by distinct approvers, integer deadlines (compared in SQL), and a
-- durable Slack outbox (post once, update after each state change, retried with backoff).
ALTER TABLE approvals ADD COLUMN expires_at_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE approvals ADD COLUMN reason TEXT;
ALTER TABLE approvals ADD COLUMN slack_channel TEXT;
ALTER TABLE approvals ADD COLUMN slack_ts TEXT;
ALTER TABLE approvals ADD COLUMN notify_state TEXT NOT NULL DEFAULT 'pending';
ALTER TABLE approvals ADD COLUMN notify_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE approvals ADD COLUMN notify_next_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE approvals ADD COLUMN update_pending INTEGER NOT NULL DEFAULT 0;

CREATE TABLE approval_decisions (
    approval_id  TEXT NOT NULL REFERENCES approvals (id),
    approver     TEXT NOT NULL,
    decision     TEXT NOT NULL,
    channel      TEXT NOT NULL,
    reason       TEXT,
    at           TEXT NOT NULL,
    PRIMARY KEY (approval_id, approver)
);

-- Signatures of Slack requests already accepted, to refuse replays inside the 300 s window.
CREATE TABLE slack_replays (
    signature  TEXT PRIMARY KEY,
    at_ms      INTEGER NOT NULL
);
