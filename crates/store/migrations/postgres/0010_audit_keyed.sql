-- Keyed audit chain (issue #9): entry hashes become HMAC-SHA256 under an audit key sealed by the
-- node's vault. `keyed` = 0: the chain still uses plain SHA-256 (rows written before this
-- migration); the node re-keys every row once, on the start that creates its audit key, and sets
-- it to 1. `head_mac` = HMAC(audit key, "nsl-audit/v1/head" | seq | head_hash): the head cannot be
-- moved back (rows cut off the end) without the key.
ALTER TABLE audit_head ADD COLUMN keyed BIGINT NOT NULL DEFAULT 0;
ALTER TABLE audit_head ADD COLUMN head_mac BYTEA;
