//! Accounts an [`crate::Actor`] can sign for: single-key accounts and m-of-n multisig accounts.

use neo::tx::Witness;
use neo::{PrivateKey, PublicKey, UInt160};

use crate::error::{Error, Result};

/// Price units of `PUSHDATA1` (times ExecFeeFactor).
const PUSHDATA1: i64 = 1 << 3;
/// Price units of `PUSH0`..`PUSH16` and `PUSHINT8` (times ExecFeeFactor).
const PUSHINT: i64 = 1;
/// Price units of one signature check (`CheckSig`, and each of `CheckMultisig`'s `n`).
const CHECK_SIG: i64 = 1 << 15;

/// GAS (fractions) the chain charges for checking the standard witness of an `m`-of-`n`
/// multisig account, without the size fee: `m x PUSHDATA1` signature; `PUSH m`, `n x PUSHDATA1`
/// key, `PUSH n`, `SYSCALL CheckMultisig` (`n` checks), times `exec_fee_factor` (Policy
/// `getExecFeeFactor`). What `calculatenetworkfee` charges for such a witness (for accounts
/// without the private keys at hand, e.g. the designated oracle nodes).
pub fn multisig_verification_gas(m: usize, n: usize, exec_fee_factor: i64) -> i64 {
    let (m, n) = (
        i64::try_from(m).unwrap_or(i64::MAX),
        i64::try_from(n).unwrap_or(i64::MAX),
    );
    m.saturating_mul(PUSHDATA1)
        .saturating_add(2 * PUSHINT)
        .saturating_add(n.saturating_mul(PUSHDATA1))
        .saturating_add(n.saturating_mul(CHECK_SIG))
        .saturating_mul(exec_fee_factor)
}

/// A signing account with the keys needed to produce its witness: a single-key account or an
/// m-of-n multisig account with at least `m` of its private keys.
///
/// `Debug` shows only public information (address, m and n).
#[derive(Clone)]
pub struct Account {
    kind: Kind,
}

#[derive(Clone)]
enum Kind {
    Single(PrivateKey),
    Multisig {
        m: usize,
        public_keys: Vec<PublicKey>,
        keys: Vec<PrivateKey>,
        script: Vec<u8>,
    },
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            Kind::Single(key) => f
                .debug_struct("Account::Single")
                .field("address", &key.address())
                .finish(),
            Kind::Multisig { m, public_keys, .. } => f
                .debug_struct("Account::Multisig")
                .field("address", &self.address())
                .field("m", m)
                .field("n", &public_keys.len())
                .finish_non_exhaustive(),
        }
    }
}

impl Account {
    /// A single-key account.
    pub fn single(key: PrivateKey) -> Self {
        Self {
            kind: Kind::Single(key),
        }
    }

    /// An m-of-n multisig account over `public_keys`, signing with `keys`.
    ///
    /// Fails if the script cannot be built (m not in 1..=n, duplicate keys), a private key is not
    /// one of `public_keys`, or fewer than `m` distinct keys are given.
    pub fn multisig(m: usize, public_keys: Vec<PublicKey>, keys: Vec<PrivateKey>) -> Result<Self> {
        let script = neo::multisig_script(m, &public_keys)?;
        let mut seen: Vec<PublicKey> = Vec::new();
        for k in &keys {
            let pk = k.public_key();
            if !public_keys.contains(&pk) {
                return Err(Error::InvalidArgument(format!(
                    "key {pk} is not one of the multisig account's public keys"
                )));
            }
            if !seen.contains(&pk) {
                seen.push(pk);
            }
        }
        if seen.len() < m {
            return Err(Error::InvalidArgument(format!(
                "{} distinct keys given, the multisig account needs {m} signatures",
                seen.len()
            )));
        }
        Ok(Self {
            kind: Kind::Multisig {
                m,
                public_keys,
                keys,
                script,
            },
        })
    }

    /// The public keys of the account (one for a single-key account, `n` for multisig).
    pub fn public_keys(&self) -> Vec<PublicKey> {
        match &self.kind {
            Kind::Single(key) => vec![key.public_key()],
            Kind::Multisig { public_keys, .. } => public_keys.clone(),
        }
    }

    /// The account's verification script.
    pub fn verification_script(&self) -> Vec<u8> {
        match &self.kind {
            Kind::Single(key) => key.public_key().verification_script(),
            Kind::Multisig { script, .. } => script.clone(),
        }
    }

    /// The account's script hash.
    pub fn script_hash(&self) -> UInt160 {
        match &self.kind {
            Kind::Single(key) => key.script_hash(),
            Kind::Multisig { script, .. } => UInt160::from_script(script),
        }
    }

    /// The account's address.
    pub fn address(&self) -> String {
        self.script_hash().to_address()
    }

    /// GAS (fractions) the chain charges for checking this account's witness, without the size
    /// fee: the opcode and `CheckSig`/`CheckMultisig` prices of the standard invocation and
    /// verification scripts times `exec_fee_factor` (Policy `getExecFeeFactor`). Together with
    /// `size * feePerByte` this is what `calculatenetworkfee` returns for a standard account.
    pub fn verification_gas(&self, exec_fee_factor: i64) -> i64 {
        match &self.kind {
            // PUSHDATA1 sig; PUSHDATA1 key, SYSCALL CheckSig (the opcode itself is free).
            Kind::Single(_) => (2 * PUSHDATA1 + CHECK_SIG) * exec_fee_factor,
            Kind::Multisig { m, public_keys, .. } => {
                multisig_verification_gas(*m, public_keys.len(), exec_fee_factor)
            }
        }
    }

    /// A witness with placeholder signatures of the right size, for fee calculation.
    pub(crate) fn placeholder_witness(&self) -> Witness {
        let sigs = match &self.kind {
            Kind::Single(_) => 1,
            Kind::Multisig { m, .. } => *m,
        };
        let mut sb = neo::ScriptBuilder::new();
        for _ in 0..sigs {
            sb.push_bytes(&[0u8; neo::keys::SIGNATURE_LEN]);
        }
        Witness::new(sb.into_bytes(), self.verification_script())
    }

    /// Sign `signing_data` (network magic || tx hash) and build the witness.
    pub(crate) fn witness(&self, signing_data: &[u8]) -> Result<Witness> {
        match &self.kind {
            Kind::Single(key) => Ok(Witness::sign(key, signing_data)),
            Kind::Multisig {
                m, keys, script, ..
            } => {
                let sigs: Vec<_> = keys
                    .iter()
                    .take(*m)
                    .map(|k| (k.public_key(), k.sign(signing_data)))
                    .collect();
                Ok(Witness::multisig(script, &sigs)?)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multisig_needs_enough_member_keys() {
        let ks: Vec<PrivateKey> = (0..3).map(|_| PrivateKey::generate()).collect();
        let pubs: Vec<PublicKey> = ks.iter().map(PrivateKey::public_key).collect();
        let a = Account::multisig(2, pubs.clone(), ks[..2].to_vec()).unwrap();
        assert_eq!(
            a.script_hash(),
            neo::multisig_script_hash(2, &pubs).unwrap()
        );
        assert!(Account::multisig(2, pubs.clone(), ks[..1].to_vec()).is_err());
        assert!(Account::multisig(2, pubs.clone(), vec![ks[0].clone(), ks[0].clone()]).is_err());
        assert!(
            Account::multisig(2, pubs.clone(), vec![PrivateKey::generate(), ks[1].clone()])
                .is_err()
        );
        assert!(Account::multisig(4, pubs, ks).is_err());
    }

    #[test]
    fn debug_shows_no_secret() {
        let k = PrivateKey::generate();
        let wif = k.to_wif();
        let text = format!("{:?}", Account::single(k.clone()));
        assert!(text.contains(&k.address()));
        assert!(!text.contains(wif.as_str()));
    }

    #[test]
    fn witnesses_verify() {
        let ks: Vec<PrivateKey> = (0..3).map(|_| PrivateKey::generate()).collect();
        let pubs: Vec<PublicKey> = ks.iter().map(PrivateKey::public_key).collect();
        let a = Account::multisig(2, pubs, vec![ks[2].clone(), ks[0].clone()]).unwrap();
        let w = a.witness(b"data").unwrap();
        assert_eq!(w.script_hash(), a.script_hash());
        let sigs = w.signatures().unwrap();
        assert_eq!(sigs.len(), 2);
        // Each signature verifies under one of the two signing keys, in the script's key order.
        let (_, ordered) = neo::contract::parse_multisig_script(&w.verification).unwrap();
        let signers: Vec<PublicKey> = ordered
            .into_iter()
            .filter(|k| *k == ks[0].public_key() || *k == ks[2].public_key())
            .collect();
        for (sig, key) in sigs.iter().zip(&signers) {
            assert!(key.verify(b"data", sig));
        }
        let p = a.placeholder_witness();
        assert_eq!(p.invocation.len(), w.invocation.len());
        let s = Account::single(ks[1].clone());
        let w = s.witness(b"data").unwrap();
        assert_eq!(w.script_hash(), ks[1].script_hash());
    }
}
