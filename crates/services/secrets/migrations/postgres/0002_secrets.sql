-- Secrets service: one row per secret version, envelope-encrypted (see docs/secrets.md).
-- Values are never stored in clear: ciphertext is AES-256-GCM under a per-version data key, which
-- is stored only wrapped by the vault's master key version `key_version`.

CREATE TABLE secret_versions (
    account_id  TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    version     BIGINT  NOT NULL CHECK (version >= 1),
    key_version BIGINT  NOT NULL,
    wrapped_dek BYTEA   NOT NULL,
    nonce       BYTEA   NOT NULL,
    ciphertext  BYTEA   NOT NULL,
    created_at  BIGINT  NOT NULL,
    PRIMARY KEY (account_id, name, version)
);
-- Master key rotation finds rows still wrapped under an old master key version.
CREATE INDEX secret_versions_key_version ON secret_versions (key_version);
