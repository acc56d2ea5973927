//! Which on-chain requesters belong to an account.
//!
//! Services record chain requests with the requesting party's script hash (`0x` + 40 lowercase hex
//! digits, big-endian): the contract that called the gateway or the OracleContract, or the sender
//! account of a direct call. An account's requesters are
//!
//! 1. the script hash of every wallet address linked to it (a wallet login proves the key), and
//! 2. every contract it registered with `POST /v1/contracts` (no proof needed: what it unlocks is
//!    a view of public chain data, so several accounts may register one contract).
//!
//! Handlers that show per-account views of chain requests filter on [`requesters_of`].

use std::collections::BTreeSet;

use neo::UInt160;
use nsl_store::{AccountId, AccountStore as _, ContractStore as _, Store};

use crate::error::ApiError;

/// Why a script hash text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is neither a script hash (0x followed by 40 hex digits, big-endian) nor a Neo N3 address"
)]
pub struct BadScriptHash(pub String);

/// Parse a script hash given as `0x` + 40 hex digits (big-endian, as Neo tools display it; either
/// case) or as a Neo N3 address (`N...`), into its canonical text `0x` + 40 lowercase hex digits.
/// Hex without `0x` is refused: it is ambiguous (scripts and storage use little-endian).
pub fn parse_script_hash(input: &str) -> Result<String, BadScriptHash> {
    let s = input.trim();
    let bad = || BadScriptHash(truncate(s));
    let hash = if s.starts_with("0x") || s.starts_with("0X") {
        if s.len() != 42 {
            return Err(bad());
        }
        UInt160::from_hex_be(s).map_err(|_| bad())?
    } else if s.starts_with('N') {
        UInt160::from_address(s).map_err(|_| bad())?
    } else {
        return Err(bad());
    };
    Ok(hash.to_string())
}

/// At most 64 characters of user input in messages.
fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}

/// The script hash (canonical text) of a Neo N3 address, if it is one.
pub fn address_script_hash(address: &str) -> Option<String> {
    UInt160::from_address(address).ok().map(|h| h.to_string())
}

/// The Neo N3 address of a canonical script hash, if it is one.
pub fn script_hash_address(script_hash: &str) -> Option<String> {
    UInt160::from_hex_be(script_hash)
        .ok()
        .map(|h| h.to_address())
}

/// Every requester of `account`: its wallets' script hashes and its registered contracts, sorted,
/// without duplicates. Empty when it has neither.
pub async fn requesters_of(store: &Store, account: AccountId) -> Result<Vec<String>, ApiError> {
    let mut set = BTreeSet::new();
    for address in store.wallets_of(account).await? {
        match address_script_hash(&address) {
            Some(h) => {
                set.insert(h);
            }
            None => tracing::warn!(%account, %address, "linked wallet is not a Neo N3 address"),
        }
    }
    for c in store.contracts_of(account).await? {
        set.insert(c.script_hash);
    }
    Ok(set.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_hashes_in_both_forms() {
        let canonical = "0xfe924b7cfe89ddd271abaf7210a80a7e11178758";
        assert_eq!(parse_script_hash(canonical).unwrap(), canonical);
        assert_eq!(
            parse_script_hash(" 0XFE924B7CFE89DDD271ABAF7210A80A7E11178758 ").unwrap(),
            canonical
        );
        let address = script_hash_address(canonical).unwrap();
        assert!(address.starts_with('N'), "{address}");
        assert_eq!(parse_script_hash(&address).unwrap(), canonical);
        assert_eq!(address_script_hash(&address).unwrap(), canonical);
        for bad in [
            "",
            "fe924b7cfe89ddd271abaf7210a80a7e11178758",
            "0xfe924b7cfe89ddd271abaf7210a80a7e1117875",
            "0xfe924b7cfe89ddd271abaf7210a80a7e1117875z",
            "0x0xfe924b7cfe89ddd271abaf7210a80a7e111787",
            "NPTmAHDxo6Pkyic8Nvu3kwyXoYJCvcCB6j",
            "AK2nJJpJr6o664CWJKi1QRXjqeic2zRp8y",
        ] {
            assert!(parse_script_hash(bad).is_err(), "{bad:?}");
        }
    }
}
