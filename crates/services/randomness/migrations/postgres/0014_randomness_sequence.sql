-- Off-chain randomness (POST /v1/randomness) gets a per-account sequence number: 1, 2, 3, ...
-- strictly increasing by one per account, part of alpha (docs/randomness.md), so the node
-- does not choose the VRF input and a withheld output leaves a visible gap. NULL for gateway
-- requests; unique per account (NULLs are distinct on both backends).

ALTER TABLE randomness ADD COLUMN sequence BIGINT;
CREATE UNIQUE INDEX randomness_account_sequence ON randomness (account_id, sequence);
