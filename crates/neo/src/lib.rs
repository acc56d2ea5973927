//! Neo N3 protocol library: hashes, keys, addresses, scripts, transactions, stack items, wallets.
//!
//! Pure Rust, synchronous, no network, no async. Checked byte for byte against neo-go, C# Neo and
//! neon-js (golden vectors and a neon-js generator in `tests/it`).
//!
//! ```text
//! PrivateKey ─public_key()─▶ PublicKey ─verification_script()─▶ script ─hash160─▶ UInt160 ─▶ address
//!     │                                                                              ▲
//!     └─ sign(msg) = ECDSA P-256 over sha256(msg), 64-byte r||s        UInt160::from_address
//!
//! ScriptBuilder ─contract_call()─▶ script ─▶ Transaction { signers, attributes, script }
//!     ─encode_unsigned()─▶ sha256 = hash ─signing_data(magic)─▶ sign_tx / Witness::multisig
//!     ─to_bytes()─▶ sendrawtransaction          RPC results ─serde─▶ StackItem ─as_int()/as_hash160()…
//! ```
//!
//! Modules: [`uint`](UInt160) hashes, [`keys`] P-256 keys/WIF/signatures, [`address`] base58check
//! addresses, [`contract`] single-sig and multisig verification scripts, [`script`] opcodes,
//! interop ids, [`ScriptBuilder`], [`tx`] transactions/signers/witness rules/attributes/witnesses,
//! [`stackitem`] stack items (RPC JSON and StdLib binary serialization), [`io`] binary
//! reader/writer, [`message`] wallet-signed messages, [`nep2`] encrypted keys, [`nep6`] wallet
//! files, [`encoding`]/[`serde_util`] hex/base64 helpers.
//!
//! Invariants:
//! - [`UInt160`]/[`UInt256`] hold little-endian bytes (wire order) and print `0x` + big-endian hex.
//! - Public keys are always encoded compressed (33 bytes); ordering is Neo's (X, then Y).
//! - Signatures are deterministic (RFC 6979, as neo-go) P-256 ECDSA over SHA-256, 64 bytes `r || s`;
//!   [`to_low_s`] gives the low-S form some signers emit. Verification accepts both.
//! - Decoders never panic: malformed input yields [`Error`]; protocol limits (tx size 102400,
//!   16 signers + attributes, 65535-byte script, 1024-byte witness scripts, 16 sub-items, condition
//!   nesting 3, 2048 stack items, 131070-byte items, 32-byte integers) are checked while decoding,
//!   before allocating.
//! - Secrets ([`PrivateKey`], WIF) never show in `Debug` output or error messages and are zeroized.

#![warn(missing_docs)]

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
pub use message::{
    sign_message, signed_message_bytes, verify_signed_message, verify_signed_payload,
};
pub use nep2::ScryptParams;
pub use nep6::{Nep6Account, Nep6Contract, Nep6Wallet};
pub use num_bigint::BigInt;
pub use script::{Arg, CallFlags, OpCode, ScriptBuilder};
pub use serde_util::fixed8_to_string;
pub use stackitem::{InteropInterface, StackItem};
pub use tx::{
    OracleResponseCode, Signer, Transaction, TransactionAttribute, Witness, WitnessAction,
    WitnessCondition, WitnessRule, WitnessScope, sign_tx,
};
pub use uint::{UInt160, UInt256};
pub use zeroize::Zeroizing;
