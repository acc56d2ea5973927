-- Functions called from chain (gateway service type `function`, answered by the oracle runtime).
-- `onchain_callers`: JSON array of the requesters (`0x` + 40 lowercase hex, big-endian script hash)
-- allowed to run a version from chain; empty = not callable from chain.
-- `trigger_kind`: `api` (HTTP or Rust caller) or `chain` (a gateway request); for `chain` rows the
-- gateway request id, the requesting transaction and the requester are kept.

ALTER TABLE function_versions ADD COLUMN onchain_callers TEXT NOT NULL DEFAULT '[]';
ALTER TABLE function_executions ADD COLUMN trigger_kind TEXT NOT NULL DEFAULT 'api'
    CHECK (trigger_kind IN ('api', 'chain'));
ALTER TABLE function_executions ADD COLUMN gateway_request_id BIGINT;
ALTER TABLE function_executions ADD COLUMN request_tx_hash TEXT;
ALTER TABLE function_executions ADD COLUMN requester TEXT;
CREATE INDEX function_executions_account ON function_executions (account_id, created_at);
