-- Checkpoints of the audit chain: each row says "the chain was verified up to row `seq`,
-- whose hash is `hash`". An incremental verify starts from the latest one, checks that its
-- row still has that hash, and recomputes only the rows after it; a full verify recomputes
-- every row from the genesis. Written by verification (full or incremental) when it
-- succeeds; not part of the chain.
CREATE TABLE audit_checkpoints (
    seq  INTEGER PRIMARY KEY,
    hash TEXT NOT NULL,
    at   TEXT NOT NULL,
    -- `full` or `incremental`: how the rows up to `seq` were verified.
    mode TEXT NOT NULL
);
