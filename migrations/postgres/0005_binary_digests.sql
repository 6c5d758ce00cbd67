-- Token and API key digests as 32 raw bytes (BYTEA) instead of 64 hex characters (TEXT): the
-- lookup index of every authenticated request keys on them, and binary halves each entry; the
-- server compares and caches the same 32 bytes it computes. Existing rows are converted in
-- place (their primary-key / unique indexes are rebuilt by the type change).
ALTER TABLE session_tokens ALTER COLUMN token_hash TYPE BYTEA USING decode(token_hash, 'hex');
ALTER TABLE api_keys ALTER COLUMN key_hash TYPE BYTEA USING decode(key_hash, 'hex');
