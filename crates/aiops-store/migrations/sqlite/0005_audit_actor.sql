-- Every audit row names who did it and how they authenticated: canonical JSON
-- `{"auth": "bearer", "user": "alice"}`, covered by the row's hash. Rows written before
-- this column existed keep '' and their old hash (which never covered an actor).
ALTER TABLE audit_events ADD COLUMN actor TEXT NOT NULL DEFAULT '';
