-- Contracts an account registers as its own (`POST /v1/contracts`). A request recorded by a service
-- (e.g. an oracle request row, whose `requester` is a `0x` script hash) belongs to an account when
-- its requester is one of these contracts or the script hash of one of the account's wallets.
-- Registration proves nothing: it only unlocks views of public chain data, so two accounts may
-- register the same contract. Script hashes are `0x` + 40 lowercase hex digits (big-endian).

CREATE TABLE account_contracts (
    account_id  TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    script_hash TEXT    NOT NULL,
    label       TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (account_id, script_hash)
);
CREATE INDEX account_contracts_script_hash ON account_contracts (script_hash);
