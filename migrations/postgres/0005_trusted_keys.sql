-- Public keys packages may be signed with: the first-party key and publisher
-- keys an admin added. key_id is the fingerprint of the key (first 16 bytes of
-- its SHA-256, hex), so an id cannot be claimed by another key.
CREATE TABLE trusted_keys (
    key_id     TEXT PRIMARY KEY,
    publisher  TEXT NOT NULL,
    public_key TEXT NOT NULL UNIQUE,
    level      TEXT NOT NULL CHECK (level IN ('first_party', 'verified_publisher')),
    added_by   TEXT,
    added_at   BIGINT NOT NULL
);
