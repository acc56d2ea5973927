//! Neo N3 protocol library: hashes, keys, addresses, scripts, transactions, stack items, wallets.
//!
//! Pure Rust, synchronous, no network. Everything here is checked byte for byte against neo-go,
//! C# Neo and neon-js (see `tests/`).
//!
//! ```text
//! PrivateKey ──public_key()──▶ PublicKey ──verification_script()──▶ script ──hash160──▶ UInt160 ──▶ address
//!     │                                                                                    ▲
//!     └── sign(sha256 message) ── 64-byte r||s                                address_to_script_hash
//! ```
//!
//! Invariants:
//! - [`UInt160`]/[`UInt256`] hold little-endian bytes (wire order) and print `0x` + big-endian hex.
//! - Public keys are always encoded compressed (33 bytes); ordering is Neo's (X, then Y).
//! - Signatures are deterministic (RFC 6979) P-256 ECDSA over SHA-256, 64 bytes `r || s`.
//! - Decoders never panic: malformed input yields [`Error`], limits are checked before allocating.
//! - Secrets ([`PrivateKey`], WIF) never show in `Debug` output or error messages and are zeroized.

pub mod address;
pub mod contract;
pub mod encoding;
mod error;
pub mod hash;
pub mod io;
pub mod keys;
pub mod message;
pub mod nep2;
pub mod nep6;
pub mod script;
pub mod serde_util;
pub mod stackitem;
pub mod tx;
mod uint;

pub use address::{ADDRESS_VERSION, address_to_script_hash, script_hash_to_address};
pub use contract::{multisig_script, multisig_script_hash, single_sig_script};
pub use error::{Error, Result};
pub use hash::{hash160, hash256, sha256};
pub use io::{BinReader, BinWriter};
pub use keys::{PrivateKey, PublicKey, to_low_s, verify_signature};
pub use message::{sign_message, signed_message_bytes, verify_signed_message};
pub use nep2::ScryptParams;
pub use nep6::{Nep6Account, Nep6Contract, Nep6Wallet};
pub use num_bigint::BigInt;
pub use script::{Arg, CallFlags, OpCode, ScriptBuilder};
pub use serde_util::fixed8_to_string;
pub use stackitem::StackItem;
pub use tx::{
    OracleResponseCode, Signer, Transaction, TransactionAttribute, Witness, WitnessAction,
    WitnessCondition, WitnessRule, WitnessScope, sign_tx,
};
pub use uint::{UInt160, UInt256};
pub use zeroize::Zeroizing;
