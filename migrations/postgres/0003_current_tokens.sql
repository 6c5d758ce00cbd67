-- The current token(s) of a session, found without walking every token the session ever had:
-- `_refresh` updates `WHERE session_id = ? AND valid_until IS NULL`, and a long-lived session
-- refreshed every minute accumulates thousands of replaced tokens.
CREATE INDEX session_tokens_current ON session_tokens (session_id) WHERE valid_until IS NULL;
