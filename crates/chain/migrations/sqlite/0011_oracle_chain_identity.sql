-- The oracle follower's cursor remembers which chain it belongs to: the genesis block hash
-- (0x hex) beside the network magic already in `chain` (`neo:<magic>`). At start the service
-- compares it with the node's chain: a different genesis (a fresh `nsl dev` chain in the same data
-- dir) retires the old chain's cursor and rows instead of waiting for the old height
-- (crates/services/oracle/src/service/store.rs, `enter_chain`). NULL: a cursor written before
-- this migration; it adopts the chain the service finds at its next start.
ALTER TABLE oracle_cursors ADD COLUMN genesis TEXT;
