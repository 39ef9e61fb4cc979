-- Project API keys for MagGate. Only the SHA-256 of a key is stored (hex),
-- never the key itself; `prefix` (its first 8 characters) is what lists show.
-- A revoked key keeps its row (revoked_at set) so lists and audits can name it.
CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    project      TEXT NOT NULL,
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    key_hash     TEXT NOT NULL UNIQUE,
    created_by   TEXT,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT
);
CREATE INDEX api_keys_project ON api_keys (project, created_at);
