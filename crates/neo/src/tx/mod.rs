//! Transactions: signers and scopes, witness rules, attributes, witnesses, encoding and signing.

mod attribute;
mod signer;
mod transaction;
mod witness;

pub use attribute::{MAX_ORACLE_RESULT_SIZE, OracleResponseCode, TransactionAttribute};
pub use signer::{
    MAX_CONDITION_NESTING, MAX_SUBITEMS, Signer, WitnessAction, WitnessCondition, WitnessRule,
    WitnessScope,
};
pub use transaction::{
    MAX_SCRIPT_LENGTH, MAX_TRANSACTION_ATTRIBUTES, MAX_TRANSACTION_SIZE, Transaction, sign_tx,
};
pub use witness::{MAX_INVOCATION_SCRIPT, MAX_VERIFICATION_SCRIPT, Witness};
