-- Lists page by key, never by OFFSET: `WHERE <filter> AND id > $cursor ORDER BY id LIMIT n`
-- (ids are ULIDs, so id order is creation order). Each filter gets an index ending in the
-- id, so a page is one range scan however deep the client pages. The single-column state
-- and status indexes are prefixes of the new ones: dropped, one index less to write.
DROP INDEX IF EXISTS approvals_state;
CREATE INDEX approvals_state_id ON approvals (state, id);
DROP INDEX IF EXISTS requests_status;
CREATE INDEX requests_status_id ON requests (status, id);
CREATE INDEX requests_caller_id ON requests (caller, id);

-- Payload retention: a final request that last changed before the cutoff has its payload
-- cleared (nl to '', intent, decision, plan, execution, context to NULL, the error reduced
-- to its code) and `pruned_at` set. What lists and audit links need stays: id, status,
-- caller, timestamps, dry_run, approval_id, and the action and plan hash, copied into
-- `kept_action` / `kept_plan_hash` when `intent` / `plan` are cleared (NULL before).
ALTER TABLE requests ADD COLUMN pruned_at TEXT;
ALTER TABLE requests ADD COLUMN kept_action TEXT;
ALTER TABLE requests ADD COLUMN kept_plan_hash TEXT;
-- Only rows that still hold a payload, oldest change first: a pass scans its candidates,
-- never the history it already pruned.
CREATE INDEX requests_unpruned ON requests (updated_at) WHERE pruned_at IS NULL;
