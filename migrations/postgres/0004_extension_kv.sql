-- Each extension's own key-value store. Values are hex-encoded bytes (at most
-- 64 KiB each, enforced by the kernel).
CREATE TABLE extension_kv (
    extension_id TEXT NOT NULL,
    k            TEXT NOT NULL,
    v            TEXT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (extension_id, k)
);
