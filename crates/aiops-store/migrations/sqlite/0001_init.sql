-- Requests: one row per accepted intent, written before the response is sent.
CREATE TABLE requests (
    id           TEXT PRIMARY KEY,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    nl           TEXT NOT NULL,
    dry_run      INTEGER NOT NULL,
    caller       TEXT NOT NULL,
    status       TEXT NOT NULL,
    intent       TEXT,
    decision     TEXT,
    plan         TEXT,
    approval_id  TEXT,
    execution    TEXT,
    error        TEXT,
    context      TEXT
);
CREATE INDEX requests_status ON requests (status);

-- Approvals wait for a human; bound to the hash of the exact plan.
CREATE TABLE approvals (
    id                  TEXT PRIMARY KEY,
    request_id          TEXT NOT NULL REFERENCES requests (id),
    plan_hash           TEXT NOT NULL,
    state               TEXT NOT NULL,
    requester           TEXT NOT NULL,
    approvals_required  INTEGER NOT NULL,
    created_at          TEXT NOT NULL,
    expires_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
);
CREATE INDEX approvals_state ON approvals (state);

-- The audit log: each row carries the hash of the one before it.
CREATE TABLE audit_events (
    seq         INTEGER PRIMARY KEY,
    at          TEXT NOT NULL,
    request_id  TEXT,
    stage       TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    data        TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);
CREATE INDEX audit_events_request ON audit_events (request_id);

-- The chain's head, so that cutting rows off the end is detected too.
CREATE TABLE audit_head (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    seq   INTEGER NOT NULL,
    hash  TEXT NOT NULL
);
