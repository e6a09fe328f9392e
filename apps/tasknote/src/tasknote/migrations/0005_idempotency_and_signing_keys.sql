-- Idempotency-Key (draft-ietf-httpapi-idempotency-key-header): the first successful response
-- to a keyed POST, replayed for a retry with the same key and payload until expires_at. The
-- row commits in the same transaction as the task or image it describes, so a stored response
-- always names something that exists. Expired rows are ignored by lookups and purged by the API.
CREATE TABLE idempotency_keys (
    scope text NOT NULL,                 -- the operation, e.g. 'POST /tasks'
    key text NOT NULL,
    fingerprint bytea NOT NULL,          -- sha256 of what the request asked for
    status smallint NOT NULL,
    location text,
    body bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_expires ON idempotency_keys (expires_at);

-- HMAC keys the API signs opaque tokens with (pagination cursors), shared by every replica
-- because they live with the data. gen_random_uuid() draws from PostgreSQL's strong random
-- source (pg_strong_random); two of them hashed give a 256-bit key with 244 random bits.
-- Rotate with UPDATE and restart the API: cursors signed with the old key become 400s.
CREATE TABLE signing_keys (
    purpose text PRIMARY KEY,
    key bytea NOT NULL CHECK (length(key) >= 32),
    created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO signing_keys (purpose, key)
VALUES ('cursor', sha256(convert_to(gen_random_uuid()::text || gen_random_uuid()::text, 'UTF8')));
