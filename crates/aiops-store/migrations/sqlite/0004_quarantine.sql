-- Model answers the product refused (malformed, ungrounded, disagreeing): kept for review,
-- never executed, never shown to policy. Written in the same transaction as the request's
-- parse stage.
CREATE TABLE quarantine (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    at              TEXT NOT NULL,
    request_id      TEXT REFERENCES requests (id),
    parser          TEXT NOT NULL,
    model           TEXT NOT NULL,
    prompt_revision TEXT NOT NULL,
    reason          TEXT NOT NULL,
    detail          TEXT NOT NULL,
    raw_output      TEXT NOT NULL
);

CREATE INDEX quarantine_by_request ON quarantine (request_id);
