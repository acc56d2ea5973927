//! Neo N3 protocol: hashes, keys, addresses, scripts, stack items, transactions, wallets.
