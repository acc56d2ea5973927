-- Platform tables: accounts, wallet logins, API keys, login challenges, refresh tokens, audit log.
-- Timestamps are BIGINT  unix milliseconds; ids are UUID text; hashes are BYTEA.

CREATE TABLE accounts (
    id          TEXT    PRIMARY KEY NOT NULL,
    name        TEXT    NOT NULL,
    role        TEXT    NOT NULL CHECK (role IN ('user', 'admin')),
    created_at  BIGINT  NOT NULL,
    disabled_at BIGINT
);

CREATE TABLE account_wallets (
    address    TEXT    PRIMARY KEY NOT NULL,
    account_id TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at BIGINT  NOT NULL
);
CREATE INDEX account_wallets_account ON account_wallets (account_id);

CREATE TABLE api_keys (
    id           TEXT    PRIMARY KEY NOT NULL,
    account_id   TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    prefix       TEXT    NOT NULL,
    key_hash     BYTEA   NOT NULL,
    scopes       TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL,
    expires_at   BIGINT,
    last_used_at BIGINT,
    revoked_at   BIGINT
);
CREATE UNIQUE INDEX api_keys_prefix ON api_keys (prefix);
CREATE INDEX api_keys_account ON api_keys (account_id, created_at);

CREATE TABLE login_challenges (
    id         TEXT    PRIMARY KEY NOT NULL,
    address    TEXT    NOT NULL,
    message    TEXT    NOT NULL,
    created_at BIGINT  NOT NULL,
    expires_at BIGINT  NOT NULL
);
CREATE INDEX login_challenges_expires ON login_challenges (expires_at);

CREATE TABLE refresh_tokens (
    id          TEXT    PRIMARY KEY NOT NULL,
    family_id   TEXT    NOT NULL,
    account_id  TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    token_hash  BYTEA   NOT NULL,
    created_at  BIGINT  NOT NULL,
    expires_at  BIGINT  NOT NULL,
    used_at     BIGINT,
    revoked_at  BIGINT,
    replaced_by TEXT
);
CREATE UNIQUE INDEX refresh_tokens_hash ON refresh_tokens (token_hash);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_account ON refresh_tokens (account_id);
CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at);

CREATE TABLE audit_log (
    seq        BIGINT  PRIMARY KEY NOT NULL,
    ts         BIGINT  NOT NULL,
    actor      TEXT    NOT NULL,
    action     TEXT    NOT NULL,
    target     TEXT,
    ip         TEXT,
    detail     TEXT    NOT NULL,
    prev_hash  BYTEA   NOT NULL,
    entry_hash BYTEA   NOT NULL
);
CREATE INDEX audit_log_actor ON audit_log (actor, seq);
CREATE INDEX audit_log_action ON audit_log (action, seq);
CREATE INDEX audit_log_ts ON audit_log (ts);

-- The chain head: one row, updated in the same transaction as every append. Appends lock it first,
-- so they are serialized and the chain cannot fork; verify compares it with the last entry.
CREATE TABLE audit_head (
    id        BIGINT PRIMARY KEY NOT NULL CHECK (id = 1),
    seq       BIGINT  NOT NULL,
    head_hash BYTEA   NOT NULL
);
INSERT INTO audit_head (id, seq, head_hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'));
