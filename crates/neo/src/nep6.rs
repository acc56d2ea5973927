//! NEP-6 wallet files: read accounts, decrypt one with its password, write new wallets.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::contract::{multisig_script, parse_multisig_script, parse_single_sig_script};
use crate::error::{Error, Result};
use crate::keys::{PrivateKey, PublicKey};
use crate::nep2::{self, ScryptParams};
use crate::uint::UInt160;

/// A contract parameter declaration of a wallet account (`{"name":"parameter0","type":"Signature"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nep6Parameter {
    /// Parameter name.
    pub name: String,
    /// Parameter type name, e.g. `Signature`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// The verification contract of a wallet account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nep6Contract {
    /// Verification script (base64 in the file).
    #[serde(with = "crate::serde_util::base64_bytes")]
    pub script: Vec<u8>,
    /// Parameters the script takes.
    #[serde(default)]
    pub parameters: Vec<Nep6Parameter>,
    /// Whether this is a deployed contract.
    #[serde(default)]
    pub deployed: bool,
}

impl Nep6Contract {
    fn signature_params(n: usize) -> Vec<Nep6Parameter> {
        (0..n)
            .map(|i| Nep6Parameter {
                name: format!("parameter{i}"),
                kind: "Signature".into(),
            })
            .collect()
    }
}

/// One account of a NEP-6 wallet. `Debug` shows the encrypted key, never a decrypted one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Nep6Account {
    /// Neo N3 address.
    pub address: String,
    /// Label.
    #[serde(default)]
    pub label: Option<String>,
    /// Whether this is the wallet's default account.
    #[serde(rename = "isDefault", default)]
    pub is_default: bool,
    /// Whether the account is locked.
    #[serde(default)]
    pub lock: bool,
    /// NEP-2 encrypted private key; absent for watch-only accounts.
    #[serde(default)]
    pub key: Option<String>,
    /// Verification contract.
    #[serde(default)]
    pub contract: Option<Nep6Contract>,
    /// Extra data.
    #[serde(default)]
    pub extra: Option<serde_json::Value>,
}

impl Nep6Account {
    /// The account's script hash (parsed from its address).
    pub fn script_hash(&self) -> Result<UInt160> {
        UInt160::from_address(&self.address)
    }

    /// A single-signature account for `key`, encrypted with `password`.
    pub fn from_key(
        key: &PrivateKey,
        password: &str,
        scrypt: ScryptParams,
        label: Option<String>,
    ) -> Result<Self> {
        Ok(Self {
            address: key.address(),
            label,
            is_default: false,
            lock: false,
            key: Some(nep2::encrypt(key, password, scrypt)?),
            contract: Some(Nep6Contract {
                script: key.public_key().verification_script(),
                parameters: Nep6Contract::signature_params(1),
                deployed: false,
            }),
            extra: None,
        })
    }

    /// An m-of-n multisig account over `keys`. `key` (one of the participants, encrypted with
    /// `password`) lets a node sign for it, as neo-go's `import-multisig` stores it.
    pub fn multisig(
        m: usize,
        keys: &[PublicKey],
        key: Option<(&PrivateKey, &str)>,
        scrypt: ScryptParams,
        label: Option<String>,
    ) -> Result<Self> {
        let script = multisig_script(m, keys)?;
        let encrypted = match key {
            Some((k, password)) => {
                if !keys.contains(&k.public_key()) {
                    return Err(Error::Multisig(
                        "the signing key is not one of the multisig keys".into(),
                    ));
                }
                Some(nep2::encrypt(k, password, scrypt)?)
            }
            None => None,
        };
        Ok(Self {
            address: UInt160::from_script(&script).to_address(),
            label,
            is_default: false,
            lock: false,
            key: encrypted,
            contract: Some(Nep6Contract {
                script,
                parameters: Nep6Contract::signature_params(m),
                deployed: false,
            }),
            extra: None,
        })
    }

    /// Decrypt the account's key with `password`. Fails for watch-only accounts, wrong passwords,
    /// and keys that belong to neither the account's address nor its verification script.
    pub fn decrypt(&self, password: &str, scrypt: ScryptParams) -> Result<PrivateKey> {
        let enc = self
            .key
            .as_deref()
            .ok_or_else(|| Error::Wallet(format!("account {} has no key", self.address)))?;
        let key = nep2::decrypt(enc, password, scrypt)?;
        let pk = key.public_key();
        let belongs = key.address() == self.address
            || self.contract.as_ref().is_some_and(|c| {
                parse_single_sig_script(&c.script) == Some(pk)
                    || parse_multisig_script(&c.script).is_some_and(|(_, ks)| ks.contains(&pk))
            });
        if !belongs {
            return Err(Error::Wallet(format!(
                "decrypted key does not belong to account {}",
                self.address
            )));
        }
        Ok(key)
    }
}

/// A NEP-6 wallet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Nep6Wallet {
    /// Wallet name.
    #[serde(default)]
    pub name: Option<String>,
    /// Format version, `"1.0"`.
    pub version: String,
    /// Scrypt parameters used for every key of the wallet.
    pub scrypt: ScryptParams,
    /// Accounts.
    pub accounts: Vec<Nep6Account>,
    /// Extra data.
    #[serde(default)]
    pub extra: Option<serde_json::Value>,
}

impl Nep6Wallet {
    /// An empty wallet with these scrypt parameters.
    pub fn new(name: Option<String>, scrypt: ScryptParams) -> Self {
        Self {
            name,
            version: "1.0".into(),
            scrypt,
            accounts: Vec::new(),
            extra: None,
        }
    }

    /// A wallet with one single-signature default account for `key`.
    pub fn single_account(
        key: &PrivateKey,
        password: &str,
        scrypt: ScryptParams,
        label: Option<String>,
    ) -> Result<Self> {
        let mut w = Self::new(None, scrypt);
        let mut acc = Nep6Account::from_key(key, password, scrypt, label)?;
        acc.is_default = true;
        w.accounts.push(acc);
        Ok(w)
    }

    /// Parse a wallet from JSON text.
    pub fn from_json(text: &str) -> Result<Self> {
        serde_json::from_str(text).map_err(|e| Error::Wallet(format!("invalid wallet JSON: {e}")))
    }

    /// Read a wallet file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Wallet(format!("cannot read {}: {e}", path.display())))?;
        Self::from_json(&text)
    }

    /// The wallet as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Write the wallet file.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        std::fs::write(path, self.to_json())
            .map_err(|e| Error::Wallet(format!("cannot write {}: {e}", path.display())))
    }

    /// The account with this address.
    pub fn account(&self, address: &str) -> Option<&Nep6Account> {
        self.accounts.iter().find(|a| a.address == address)
    }

    /// The default account, else the first one.
    pub fn default_account(&self) -> Option<&Nep6Account> {
        self.accounts
            .iter()
            .find(|a| a.is_default)
            .or_else(|| self.accounts.first())
    }

    /// Decrypt the key of the account with `address`.
    pub fn decrypt_account(&self, address: &str, password: &str) -> Result<PrivateKey> {
        self.account(address)
            .ok_or_else(|| Error::Wallet(format!("no account {address} in the wallet")))?
            .decrypt(password, self.scrypt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_read_decrypt() {
        let fast = ScryptParams { n: 2, r: 1, p: 1 };
        let k = PrivateKey::generate();
        let w = Nep6Wallet::single_account(&k, "pw", fast, Some("validator".into())).unwrap();
        let text = w.to_json();
        assert!(text.contains("\"isDefault\": true"));
        let back = Nep6Wallet::from_json(&text).unwrap();
        assert_eq!(back, w);
        let addr = k.address();
        assert_eq!(back.decrypt_account(&addr, "pw").unwrap(), k);
        assert_eq!(
            back.decrypt_account(&addr, "nope").unwrap_err(),
            Error::WrongPassword
        );
        assert!(
            back.decrypt_account("NPTmAHDxo6Pkyic8Nvu3kwyXoYJCvcCB6i", "pw")
                .is_err()
        );
        let ms = Nep6Account::multisig(1, &[k.public_key()], Some((&k, "pw")), fast, None).unwrap();
        assert_eq!(ms.decrypt("pw", fast).unwrap(), k);
        assert!(Nep6Wallet::from_json("{").is_err());
    }
}
