//! Witnesses: the invocation (signatures) and verification (account) scripts of a signer.

use serde::{Deserialize, Serialize};

use crate::contract::parse_multisig_script;
use crate::error::{Error, Result};
use crate::io::{BinReader, BinWriter};
use crate::keys::{PrivateKey, PublicKey, SIGNATURE_LEN};
use crate::script::{OpCode, ScriptBuilder};
use crate::uint::UInt160;

/// Longest invocation script a witness may carry (C# `Witness.MaxInvocationScript`).
pub const MAX_INVOCATION_SCRIPT: usize = 1024;
/// Longest verification script a witness may carry (C# `Witness.MaxVerificationScript`).
pub const MAX_VERIFICATION_SCRIPT: usize = 1024;

/// A witness: `invocation` pushes the arguments (signatures) that `verification` checks.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Witness {
    /// Invocation script, e.g. `PUSHDATA1 64 <signature>`.
    #[serde(rename = "invocation", with = "crate::serde_util::base64_bytes")]
    pub invocation: Vec<u8>,
    /// Verification script, e.g. a single-signature or multisig script; empty for contract accounts.
    #[serde(rename = "verification", with = "crate::serde_util::base64_bytes")]
    pub verification: Vec<u8>,
}

impl Witness {
    /// A witness from its two scripts.
    pub fn new(invocation: Vec<u8>, verification: Vec<u8>) -> Self {
        Self {
            invocation,
            verification,
        }
    }

    /// The single-signature witness of `key` for a signature over the signing data.
    pub fn single_sig(key: &PublicKey, signature: &[u8; SIGNATURE_LEN]) -> Self {
        let mut sb = ScriptBuilder::new();
        sb.push_bytes(signature);
        Self {
            invocation: sb.into_bytes(),
            verification: key.verification_script(),
        }
    }

    /// Sign `signing_data` with `key` and build its single-signature witness.
    pub fn sign(key: &PrivateKey, signing_data: &[u8]) -> Self {
        Self::single_sig(&key.public_key(), &key.sign(signing_data))
    }

    /// Assemble a multisig witness for `verification` (a standard m-of-n script) from signatures by
    /// some of its keys. Signatures are put in the order their keys appear in the script and only
    /// the first `m` are used. Fails if the script is not a multisig script, a key is not in it,
    /// or fewer than `m` distinct keys signed.
    pub fn multisig(
        verification: &[u8],
        signatures: &[(PublicKey, [u8; SIGNATURE_LEN])],
    ) -> Result<Self> {
        let (m, keys) = parse_multisig_script(verification)
            .ok_or_else(|| Error::Multisig("not a standard multisig verification script".into()))?;
        let mut slots: Vec<Option<&[u8; SIGNATURE_LEN]>> = vec![None; keys.len()];
        for (pk, sig) in signatures {
            let idx = keys.iter().position(|k| k == pk).ok_or_else(|| {
                Error::Multisig(format!("key {pk} is not in the multisig script"))
            })?;
            if let Some(slot) = slots.get_mut(idx) {
                *slot = Some(sig);
            }
        }
        let ordered: Vec<_> = slots.into_iter().flatten().take(m).collect();
        if ordered.len() < m {
            return Err(Error::Multisig(format!(
                "{} signatures, {m} required",
                ordered.len()
            )));
        }
        let mut sb = ScriptBuilder::new();
        for sig in ordered {
            sb.push_bytes(sig);
        }
        Ok(Self {
            invocation: sb.into_bytes(),
            verification: verification.to_vec(),
        })
    }

    /// Script hash of the verification script (the account this witness is for).
    pub fn script_hash(&self) -> UInt160 {
        UInt160::from_script(&self.verification)
    }

    /// Signatures pushed by the invocation script, if it consists only of `PUSHDATA1 64 <sig>` pushes.
    pub fn signatures(&self) -> Option<Vec<[u8; SIGNATURE_LEN]>> {
        let mut out = Vec::new();
        for chunk in self.invocation.chunks(66) {
            if chunk.len() != 66 || chunk[0] != OpCode::PUSHDATA1 as u8 || chunk[1] != 64 {
                return None;
            }
            let mut sig = [0u8; SIGNATURE_LEN];
            sig.copy_from_slice(&chunk[2..]);
            out.push(sig);
        }
        Some(out)
    }

    /// Binary encoding: var-bytes invocation, var-bytes verification.
    pub fn encode(&self, w: &mut BinWriter) {
        w.write_var_bytes(&self.invocation);
        w.write_var_bytes(&self.verification);
    }

    /// Decode, enforcing the script length limits.
    pub fn decode(r: &mut BinReader<'_>) -> Result<Self> {
        let invocation = r.read_var_bytes(MAX_INVOCATION_SCRIPT)?.to_vec();
        let verification = r.read_var_bytes(MAX_VERIFICATION_SCRIPT)?.to_vec();
        Ok(Self {
            invocation,
            verification,
        })
    }
}
