-- Randomness served by the node (crates/services/randomness, docs/randomness.md): one row per
-- answered gateway `vrf` request (id = the gateway's request id in decimal) and per API request
-- (id = a UUID, owned by account_id). alpha, beta and proof are what a verifier checks with the
-- published VRF key; words is the number of words derived from beta.

CREATE TABLE randomness (
    id           TEXT    PRIMARY KEY,
    kind         TEXT    NOT NULL,
    account_id   TEXT,
    requester    TEXT,
    seed         BYTEA   NOT NULL,
    words        BIGINT NOT NULL,
    alpha        BYTEA   NOT NULL,
    beta         BYTEA   NOT NULL,
    proof        BYTEA   NOT NULL,
    tx_hash      TEXT,
    block_index  BIGINT,
    created_at   BIGINT  NOT NULL
);
CREATE INDEX randomness_account ON randomness (account_id, created_at);
