-- Approvals created before 0002 got expires_at_ms = 0 and would all expire at once:
-- derive the deadline from their RFC 3339 expires_at.
UPDATE approvals
SET expires_at_ms = CAST((julianday(expires_at) - 2440587.5) * 86400000 AS INTEGER)
WHERE expires_at_ms = 0;
