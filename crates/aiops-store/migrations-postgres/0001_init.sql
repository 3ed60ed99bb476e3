-- The PostgreSQL store: the same tables as the SQLite store after its migrations 0001-0007
-- (see migrations/sqlite), in one step, plus what several replicas on one database need:
-- the owner of each request in flight and the replicas' leases.
--
-- Text that is compared or ordered (ids, RFC 3339 timestamps) is COLLATE "C": byte order,
-- as in SQLite, whatever the database's locale. Keyset pagination and the retention scan
-- rely on it. JSON payloads are `json` (the exact text, as SQLite keeps it); audit rows keep
-- `data` and `actor` as TEXT because their hash covers that exact text.

CREATE TABLE requests (
    id              TEXT COLLATE "C" PRIMARY KEY,
    created_at      TEXT COLLATE "C" NOT NULL,
    updated_at      TEXT COLLATE "C" NOT NULL,
    nl              TEXT NOT NULL,
    dry_run         BOOLEAN NOT NULL,
    caller          TEXT COLLATE "C" NOT NULL,
    status          TEXT NOT NULL,
    intent          JSON,
    decision        JSON,
    plan            JSON,
    approval_id     TEXT,
    execution       JSON,
    error           JSON,
    context         JSON,
    pruned_at       TEXT,
    kept_action     TEXT,
    kept_plan_hash  TEXT,
    -- The replica whose run holds the request while it is in flight (set when it is
    -- accepted, and when a worker claims its approval). When that replica's lease is gone,
    -- another one takes the request over (`replica_leases`).
    owner           TEXT,
    -- Taken over from a replica that died while it was executing: its new owner reconciles
    -- it against the world, never runs it again.
    adopted         BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX requests_status_id ON requests (status, id);
CREATE INDEX requests_caller_id ON requests (caller, id);
CREATE INDEX requests_unpruned ON requests (updated_at) WHERE pruned_at IS NULL;

CREATE TABLE approvals (
    id                  TEXT COLLATE "C" PRIMARY KEY,
    request_id          TEXT NOT NULL REFERENCES requests (id),
    plan_hash           TEXT NOT NULL,
    state               TEXT NOT NULL,
    requester           TEXT NOT NULL,
    approvals_required  BIGINT NOT NULL,
    created_at          TEXT COLLATE "C" NOT NULL,
    expires_at          TEXT NOT NULL,
    updated_at          TEXT COLLATE "C" NOT NULL,
    expires_at_ms       BIGINT NOT NULL,
    reason              TEXT,
    slack_channel       TEXT,
    slack_ts            TEXT,
    notify_state        TEXT NOT NULL DEFAULT 'pending',
    notify_attempts     INTEGER NOT NULL DEFAULT 0,
    notify_next_ms      BIGINT NOT NULL DEFAULT 0,
    update_pending      BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX approvals_state_id ON approvals (state, id);

CREATE TABLE approval_decisions (
    approval_id  TEXT NOT NULL REFERENCES approvals (id),
    approver     TEXT COLLATE "C" NOT NULL,
    decision     TEXT NOT NULL,
    channel      TEXT NOT NULL,
    reason       TEXT,
    at           TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (approval_id, approver)
);

CREATE TABLE slack_replays (
    signature  TEXT PRIMARY KEY,
    at_ms      BIGINT NOT NULL
);

CREATE TABLE audit_events (
    seq         BIGINT PRIMARY KEY,
    at          TEXT NOT NULL,
    request_id  TEXT,
    stage       TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    data        TEXT NOT NULL,
    actor       TEXT NOT NULL DEFAULT '',
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);
CREATE INDEX audit_events_request ON audit_events (request_id);

-- The chain's head. Its row always exists (the genesis until the first event): every write
-- transaction locks it first (SELECT ... FOR UPDATE), which is what keeps one chain when
-- several replicas append at once, and orders all writers the same way (no deadlocks).
CREATE TABLE audit_head (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    seq   BIGINT NOT NULL,
    hash  TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE audit_checkpoints (
    seq   BIGINT PRIMARY KEY,
    hash  TEXT NOT NULL,
    at    TEXT NOT NULL,
    mode  TEXT NOT NULL
);

CREATE TABLE quarantine (
    id               BIGSERIAL PRIMARY KEY,
    at               TEXT NOT NULL,
    request_id       TEXT REFERENCES requests (id),
    parser           TEXT NOT NULL,
    model            TEXT NOT NULL,
    prompt_revision  TEXT NOT NULL,
    reason           TEXT NOT NULL,
    detail           TEXT NOT NULL,
    raw_output       TEXT NOT NULL
);
CREATE INDEX quarantine_by_request ON quarantine (request_id);

-- One row per live replica, renewed by its heartbeat. Times are the database's clock, so
-- replicas' clocks never disagree about who expired. A row past `expires_at` is taken over
-- (deleted) by another replica in the same transaction that adopts what it owned; a replica
-- whose row is gone may write nothing more (every write transaction checks it).
CREATE TABLE replica_leases (
    replica_id  TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    started_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL
);
