-- Foundation: roles, users, sessions, settings and the append-only audit log.
-- Timestamps are milliseconds since the Unix epoch (INTEGER).

CREATE TABLE roles (
    name        TEXT PRIMARY KEY,
    rank        INTEGER NOT NULL UNIQUE,
    description TEXT NOT NULL
);
INSERT INTO roles (name, rank, description) VALUES
    ('auditor', 1, 'Read-only access to dashboards, extensions and the audit log.'),
    ('admin',   2, 'Manages extensions, users and settings; cannot change owners.'),
    ('owner',   3, 'Full control, including other owners.');

-- A single row, written in the same transaction as the first owner: two
-- concurrent first-run setups cannot both succeed.
CREATE TABLE instance_setup (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    completed_at INTEGER NOT NULL
);

CREATE TABLE users (
    id                  TEXT PRIMARY KEY,
    email               TEXT NOT NULL UNIQUE,
    display_name        TEXT NOT NULL,
    password_hash       TEXT NOT NULL,
    role                TEXT NOT NULL REFERENCES roles(name),
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    last_login_at       INTEGER,
    disabled_at         INTEGER,
    password_changed_at INTEGER NOT NULL
);

CREATE TABLE sessions (
    id         TEXT PRIMARY KEY,
    data       TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    user_id    TEXT REFERENCES users(id) ON DELETE CASCADE
);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE INDEX sessions_user_id ON sessions (user_id);

CREATE TABLE settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    updated_by TEXT
);

CREATE TABLE audit_log (
    seq         INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    actor_kind  TEXT NOT NULL,
    actor_id    TEXT,
    actor_label TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT,
    outcome     TEXT NOT NULL,
    detail      TEXT NOT NULL,
    ip          TEXT,
    prev_hash   TEXT NOT NULL UNIQUE,
    hash        TEXT NOT NULL UNIQUE
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_action ON audit_log (action);

-- The product never edits or deletes audit entries; the database refuses too.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
