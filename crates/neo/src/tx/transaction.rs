//! The Neo N3 transaction and its binary encoding.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::hash::sha256;
use crate::io::{BinReader, BinWriter};
use crate::keys::PrivateKey;
use crate::tx::{Signer, TransactionAttribute, Witness};
use crate::uint::{UInt160, UInt256};

/// Largest encoded transaction (C# `Transaction.MaxTransactionSize`).
pub const MAX_TRANSACTION_SIZE: usize = 102_400;
/// Most signers + attributes together (C# `Transaction.MaxTransactionAttributes`).
pub const MAX_TRANSACTION_ATTRIBUTES: usize = 16;
/// Longest transaction script (`ushort.MaxValue`).
pub const MAX_SCRIPT_LENGTH: usize = u16::MAX as usize;

/// A Neo N3 transaction.
///
/// The hash is SHA-256 of the unsigned part ([`encode_unsigned`](Self::encode_unsigned): every field
/// but the witnesses), so signing never changes it. Fields are public; the hash is computed from
/// them on demand.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Transaction {
    /// Version; only 0 exists.
    pub version: u8,
    /// Random number making otherwise equal transactions distinct.
    pub nonce: u32,
    /// GAS (in 10^-8) paid for executing the script.
    pub system_fee: i64,
    /// GAS (in 10^-8) paid for size and witness verification.
    pub network_fee: i64,
    /// Last block height at which the transaction may be included.
    pub valid_until_block: u32,
    /// Signers; the first is the sender (fee payer).
    pub signers: Vec<Signer>,
    /// Attributes.
    pub attributes: Vec<TransactionAttribute>,
    /// The script to run.
    pub script: Vec<u8>,
    /// One witness per signer, in signer order.
    pub witnesses: Vec<Witness>,
}

impl Transaction {
    /// A version-0 transaction with `script` and `signers`, no attributes or witnesses, zero fees.
    pub fn new(script: Vec<u8>, signers: Vec<Signer>, nonce: u32, valid_until_block: u32) -> Self {
        Self {
            nonce,
            valid_until_block,
            signers,
            script,
            ..Self::default()
        }
    }

    /// The sender (first signer's account), if any signer exists.
    pub fn sender(&self) -> Option<UInt160> {
        self.signers.first().map(|s| s.account)
    }

    /// Encode the unsigned (hashable) part: all fields but the witnesses.
    pub fn encode_unsigned_to(&self, w: &mut BinWriter) {
        w.write_u8(self.version);
        w.write_u32(self.nonce);
        w.write_i64(self.system_fee);
        w.write_i64(self.network_fee);
        w.write_u32(self.valid_until_block);
        w.write_var_int(self.signers.len() as u64);
        self.signers.iter().for_each(|s| s.encode(w));
        w.write_var_int(self.attributes.len() as u64);
        self.attributes.iter().for_each(|a| a.encode(w));
        w.write_var_bytes(&self.script);
    }

    /// The unsigned (hashable) bytes.
    pub fn encode_unsigned(&self) -> Vec<u8> {
        let mut w = BinWriter::new();
        self.encode_unsigned_to(&mut w);
        w.into_bytes()
    }

    /// Encode the whole transaction (unsigned part, then the witnesses).
    pub fn encode(&self, w: &mut BinWriter) {
        self.encode_unsigned_to(w);
        w.write_var_int(self.witnesses.len() as u64);
        self.witnesses.iter().for_each(|x| x.encode(w));
    }

    /// The whole transaction as bytes (what `sendrawtransaction` takes, base64-encoded).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = BinWriter::new();
        self.encode(&mut w);
        w.into_bytes()
    }

    /// Encoded size in bytes.
    pub fn size(&self) -> usize {
        self.to_bytes().len()
    }

    /// The transaction hash: SHA-256 of the unsigned bytes.
    pub fn hash(&self) -> UInt256 {
        UInt256::from_bytes_le(sha256(&self.encode_unsigned()))
    }

    /// The bytes a witness signs: network magic (u32 LE) || transaction hash (LE bytes).
    pub fn signing_data(&self, network: u32) -> [u8; 36] {
        let mut out = [0u8; 36];
        out[..4].copy_from_slice(&network.to_le_bytes());
        out[4..].copy_from_slice(self.hash().as_bytes());
        out
    }

    /// Sign the signing data with `key`: 64-byte `r || s`.
    pub fn sign(&self, key: &PrivateKey, network: u32) -> [u8; 64] {
        key.sign(&self.signing_data(network))
    }

    /// Put `witness` in the slot of the signer whose account is `account`, growing the witness list
    /// with empty witnesses up to the number of signers. Fails if `account` is not a signer.
    pub fn set_witness(&mut self, account: &UInt160, witness: Witness) -> Result<()> {
        let idx = self
            .signers
            .iter()
            .position(|s| s.account == *account)
            .ok_or_else(|| {
                Error::Format(format!("{account} is not a signer of the transaction"))
            })?;
        if self.witnesses.len() < self.signers.len() {
            self.witnesses
                .resize(self.signers.len(), Witness::default());
        }
        if let Some(slot) = self.witnesses.get_mut(idx) {
            *slot = witness;
        }
        Ok(())
    }

    /// Check the rules every node applies while decoding: version 0, non-negative fees without
    /// overflow, 1..=16 distinct signers, signers + attributes <= 16, single-use attributes not
    /// repeated, a non-empty script of at most 65535 bytes, witness count equal to signer count
    /// (or zero, for an unsigned transaction), witness script sizes, and the 102400-byte size limit.
    pub fn validate(&self) -> Result<()> {
        self.validate_unsigned()?;
        if !self.witnesses.is_empty() && self.witnesses.len() != self.signers.len() {
            return Err(Error::Format(format!(
                "{} witnesses for {} signers",
                self.witnesses.len(),
                self.signers.len()
            )));
        }
        for w in &self.witnesses {
            check_len(
                "invocation script",
                w.invocation.len(),
                super::MAX_INVOCATION_SCRIPT,
            )?;
            check_len(
                "verification script",
                w.verification.len(),
                super::MAX_VERIFICATION_SCRIPT,
            )?;
        }
        check_len("transaction size", self.size(), MAX_TRANSACTION_SIZE)
    }

    fn validate_unsigned(&self) -> Result<()> {
        if self.version != 0 {
            return Err(Error::Format(format!(
                "unsupported transaction version {}",
                self.version
            )));
        }
        if self.system_fee < 0 || self.network_fee < 0 {
            return Err(Error::Format("negative fee".into()));
        }
        if self.system_fee.checked_add(self.network_fee).is_none() {
            return Err(Error::Format("system fee + network fee overflows".into()));
        }
        if self.signers.is_empty() {
            return Err(Error::Format("transaction has no signers".into()));
        }
        check_len("signers", self.signers.len(), MAX_TRANSACTION_ATTRIBUTES)?;
        check_len(
            "attributes",
            self.attributes.len(),
            MAX_TRANSACTION_ATTRIBUTES - self.signers.len(),
        )?;
        for (i, s) in self.signers.iter().enumerate() {
            s.validate()?;
            if self.signers[..i].iter().any(|o| o.account == s.account) {
                return Err(Error::Format(format!("duplicate signer {}", s.account)));
            }
        }
        for (i, a) in self.attributes.iter().enumerate() {
            a.validate()?;
            if !a.allow_multiple()
                && self.attributes[..i]
                    .iter()
                    .any(|o| o.type_byte() == a.type_byte())
            {
                return Err(Error::Format(format!(
                    "duplicate {} attribute",
                    a.type_name()
                )));
            }
        }
        if self.script.is_empty() {
            return Err(Error::Format("transaction script is empty".into()));
        }
        check_len("script", self.script.len(), MAX_SCRIPT_LENGTH)
    }

    fn decode_unsigned_fields(r: &mut BinReader<'_>) -> Result<Self> {
        let version = r.read_u8()?;
        let nonce = r.read_u32()?;
        let system_fee = r.read_i64()?;
        let network_fee = r.read_i64()?;
        let valid_until_block = r.read_u32()?;
        let n = r.read_len(MAX_TRANSACTION_ATTRIBUTES, "signers")?;
        let signers = (0..n)
            .map(|_| Signer::decode(r))
            .collect::<Result<Vec<_>>>()?;
        let n = r.read_len(MAX_TRANSACTION_ATTRIBUTES - signers.len(), "attributes")?;
        let attributes = (0..n)
            .map(|_| TransactionAttribute::decode(r))
            .collect::<Result<Vec<_>>>()?;
        let script = r.read_var_bytes(MAX_SCRIPT_LENGTH)?.to_vec();
        let tx = Self {
            version,
            nonce,
            system_fee,
            network_fee,
            valid_until_block,
            signers,
            attributes,
            script,
            witnesses: Vec::new(),
        };
        tx.validate_unsigned()?;
        Ok(tx)
    }

    /// Decode a transaction from a reader (witness count must equal signer count).
    pub fn decode(r: &mut BinReader<'_>) -> Result<Self> {
        let mut tx = Self::decode_unsigned_fields(r)?;
        let n = r.read_len(MAX_TRANSACTION_ATTRIBUTES, "witnesses")?;
        if n != tx.signers.len() {
            return Err(Error::Format(format!(
                "{n} witnesses for {} signers",
                tx.signers.len()
            )));
        }
        tx.witnesses = (0..n)
            .map(|_| Witness::decode(r))
            .collect::<Result<Vec<_>>>()?;
        Ok(tx)
    }

    /// Decode a whole signed transaction; the input must be exactly one transaction of at most
    /// [`MAX_TRANSACTION_SIZE`] bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        check_len("transaction size", bytes.len(), MAX_TRANSACTION_SIZE)?;
        let mut r = BinReader::new(bytes);
        let tx = Self::decode(&mut r)?;
        r.finish()?;
        Ok(tx)
    }

    /// Decode the unsigned part only (as produced by [`encode_unsigned`](Self::encode_unsigned)).
    pub fn from_unsigned_bytes(bytes: &[u8]) -> Result<Self> {
        check_len("transaction size", bytes.len(), MAX_TRANSACTION_SIZE)?;
        let mut r = BinReader::new(bytes);
        let tx = Self::decode_unsigned_fields(&mut r)?;
        r.finish()?;
        Ok(tx)
    }
}

fn check_len(what: &'static str, got: usize, max: usize) -> Result<()> {
    if got > max {
        return Err(Error::Limit {
            what,
            got: got as u64,
            max: max as u64,
        });
    }
    Ok(())
}

/// Sign `tx` for `network` with a single-signature `key`: its witness (`PUSHDATA1 <sig>` +
/// verification script) goes into the slot of the signer whose account is the key's script hash.
/// Fails if that account is not a signer.
pub fn sign_tx(tx: &mut Transaction, key: &PrivateKey, network: u32) -> Result<()> {
    let witness = Witness::sign(key, &tx.signing_data(network));
    tx.set_witness(&key.script_hash(), witness)
}

/// The JSON form Neo RPC nodes use (`getrawtransaction` verbose, without block fields).
#[derive(Serialize, Deserialize)]
struct TransactionJson {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hash: Option<UInt256>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    size: Option<usize>,
    version: u8,
    nonce: u32,
    #[serde(default)]
    sender: String,
    #[serde(with = "crate::serde_util::i64_string")]
    sysfee: i64,
    #[serde(with = "crate::serde_util::i64_string")]
    netfee: i64,
    validuntilblock: u32,
    signers: Vec<Signer>,
    attributes: Vec<TransactionAttribute>,
    #[serde(with = "crate::serde_util::base64_bytes")]
    script: Vec<u8>,
    witnesses: Vec<Witness>,
}

impl Serialize for Transaction {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        TransactionJson {
            hash: Some(self.hash()),
            size: Some(self.size()),
            version: self.version,
            nonce: self.nonce,
            sender: self.sender().map(|h| h.to_address()).unwrap_or_default(),
            sysfee: self.system_fee,
            netfee: self.network_fee,
            validuntilblock: self.valid_until_block,
            signers: self.signers.clone(),
            attributes: self.attributes.clone(),
            script: self.script.clone(),
            witnesses: self.witnesses.clone(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Transaction {
    /// Reads the RPC JSON form; `hash`, `size` and `sender` may be absent (neon-js omits them), and
    /// when present must match the fields.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error as _;
        let j = TransactionJson::deserialize(d)?;
        let tx = Transaction {
            version: j.version,
            nonce: j.nonce,
            system_fee: j.sysfee,
            network_fee: j.netfee,
            valid_until_block: j.validuntilblock,
            signers: j.signers,
            attributes: j.attributes,
            script: j.script,
            witnesses: j.witnesses,
        };
        if j.hash.is_some_and(|h| h != tx.hash()) {
            return Err(D::Error::custom(
                "transaction hash does not match its fields",
            ));
        }
        if j.size.is_some_and(|s| s != tx.size()) {
            return Err(D::Error::custom(
                "transaction size does not match its fields",
            ));
        }
        if !j.sender.is_empty() && tx.sender().map(|h| h.to_address()) != Some(j.sender) {
            return Err(D::Error::custom(
                "transaction sender does not match its first signer",
            ));
        }
        Ok(tx)
    }
}
