-- A session's tokens indexed by (session_id, valid_until) instead of session_id alone.
-- Why: each `_refresh` deletes the session's tokens whose grace is over
-- (`session_id = ? AND valid_until <= ?`) and ends the current one (`valid_until IS NULL`). With
-- only session_id indexed, the delete read every token still in its grace period, one table
-- lookup each: a session refreshed many times a minute keeps thousands, and the bench's refresh
-- case spent most of its CPU there. With valid_until in the index both statements seek straight
-- to the rows they change, and the partial index of current tokens (0003) is no longer needed:
-- one index fewer to update per refresh. The leading session_id still serves the cascade from
-- `sessions` and every lookup by session.
DROP INDEX session_tokens_current;
DROP INDEX session_tokens_by_session;
CREATE INDEX session_tokens_by_session ON session_tokens (session_id, valid_until);
