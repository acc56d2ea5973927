//! The persistent key store shared by vault implementations: master key
//! versions, named signing keys and the attestation key, held in memory and
//! sealed to one file under a *root key*.
//!
//! The root key is whatever the platform offers to seal with: the KEK for
//! the software vault, the SGX sealing key under Gramine. Everything else is
//! derived from it with HKDF-SHA256 (`crypto::derive_key`), one label per
//! purpose, so the state file key and the key behind `Vault::seal` are never
//! the same key.
//!
//! On-disk layout of `vault.state` (format 1, all integers big-endian):
//!
//! ```text
//! "NSLVAULT" (8) | format = 1 (1) | root check (8) | nonce (12) | AES-256-GCM(state) + tag
//!                  `------------ AAD = first 17 bytes ------------'
//! state = format 2 (1) | vault id (16) | current version (4)
//!       | master count (4) | { version (4) | created (8) | flags (1)
//!                            | retired: retired_at (8) / else: key (32) }*
//!       | attestation key scalar (32)
//!       | signing count (4) | { name len (2) | name | created (8) | scalar (32) }*
//!       | VRF key flag (1) | present: created (8) | scalar (32)
//! ```
//!
//! State format 1 is format 2 without the VRF section (no VRF key); it is
//! read as such and written back as format 2 on the next change.
//!
//! The root check is the first 8 bytes of `HKDF(root, "root-check")`: a
//! mismatch means "wrong KEK", a match followed by an authentication failure
//! means "file corrupted or tampered".

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use p256::ecdsa::SigningKey;
use p256::ecdsa::signature::hazmat::PrehashSigner;
use parking_lot::RwLock;
use zeroize::Zeroizing;

use crate::crypto::{self, Key32, NONCE_LEN, Reader, TAG_LEN, Writer};
use crate::error::{Result, VaultError};
use crate::types::{
    DataKey, MasterKeyInfo, MasterKeyState, PublicKey, SecretBytes, Signature, SigningKeyInfo,
    VrfProof, WrappedKey,
};
use crate::vault::validate_key_name;

/// File name of the sealed state inside the data directory.
pub const STATE_FILE: &str = "vault.state";
/// File name of the lock file inside the data directory.
pub const LOCK_FILE: &str = "vault.lock";

const FILE_MAGIC: &[u8; 8] = b"NSLVAULT";
const FILE_FORMAT: u8 = 1;
const STATE_FORMAT: u8 = 2;
/// The state format before the VRF key existed (read only).
const STATE_FORMAT_V1: u8 = 1;
const HEADER_LEN: usize = 8 + 1 + 8;

const SEAL_MAGIC: &[u8; 4] = b"NSLS";
const SEAL_FORMAT: u8 = 1;

const INFO_ROOT_CHECK: &[u8] = b"nsl-enclave/v1/root-check";
const INFO_STATE: &[u8] = b"nsl-enclave/v1/state";
const INFO_SEAL: &[u8] = b"nsl-enclave/v1/seal";
const INFO_WRAP: &[u8] = b"nsl-enclave/v1/wrap";
const WRAP_AAD: &[u8] = b"nsl-enclave/v1/wrapped-data-key";

/// Wrapped data key length: nonce + 32-byte key + tag.
const WRAPPED_LEN: usize = NONCE_LEN + 32 + TAG_LEN;

pub(crate) fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[derive(Clone)]
struct MasterEntry {
    created_at: u64,
    retired_at: Option<u64>,
    /// `None` once retired.
    key: Option<Key32>,
}

impl MasterEntry {
    fn info(&self, version: u32, current: u32) -> MasterKeyInfo {
        let state = if self.key.is_none() {
            MasterKeyState::Retired
        } else if version == current {
            MasterKeyState::Current
        } else {
            MasterKeyState::DecryptOnly
        };
        MasterKeyInfo {
            version,
            state,
            created_at: self.created_at,
            retired_at: self.retired_at,
        }
    }
}

#[derive(Clone)]
struct SigningEntry {
    created_at: u64,
    key: SigningKey,
}

/// The vault's VRF key (ECVRF-P256-SHA256-TAI): created on first use,
/// never exported.
#[derive(Clone)]
struct VrfEntry {
    created_at: u64,
    /// The scalar as persisted.
    scalar: Key32,
    key: nsl_vrf::SecretKey,
}

impl VrfEntry {
    fn from_scalar(created_at: u64, scalar: Key32) -> Option<Self> {
        let key = nsl_vrf::SecretKey::from_bytes(scalar.as_bytes()).ok()?;
        Some(Self {
            created_at,
            scalar,
            key,
        })
    }

    fn generate() -> Result<Self> {
        // Rejection sampling, as for signing keys.
        for _ in 0..64 {
            if let Some(entry) = Self::from_scalar(now_unix(), Key32::random()?) {
                return Ok(entry);
            }
        }
        Err(VaultError::Crypto("could not sample a VRF scalar"))
    }
}

/// Everything the vault keeps; cloned, changed and persisted as a whole on
/// every mutation (mutations are rare: key generation, rotation, retirement).
#[derive(Clone)]
struct State {
    vault_id: [u8; 16],
    current: u32,
    masters: BTreeMap<u32, MasterEntry>,
    attestation_key: SigningKey,
    signing: BTreeMap<String, SigningEntry>,
    vrf: Option<VrfEntry>,
}

impl State {
    fn fresh() -> Result<Self> {
        let mut vault_id = [0u8; 16];
        crypto::random_bytes(&mut vault_id)?;
        let mut masters = BTreeMap::new();
        masters.insert(
            1,
            MasterEntry {
                created_at: now_unix(),
                retired_at: None,
                key: Some(Key32::random()?),
            },
        );
        Ok(Self {
            vault_id,
            current: 1,
            masters,
            attestation_key: random_signing_key()?,
            signing: BTreeMap::new(),
            vrf: None,
        })
    }

    fn encode(&self) -> Zeroizing<Vec<u8>> {
        let mut w = Writer::with_capacity(128 + 48 * self.masters.len() + 112 * self.signing.len());
        w.u8(STATE_FORMAT);
        w.bytes(&self.vault_id);
        w.u32(self.current);
        w.u32(len_u32(self.masters.len()));
        for (version, entry) in &self.masters {
            w.u32(*version);
            w.u64(entry.created_at);
            match (&entry.key, entry.retired_at) {
                (Some(key), _) => {
                    w.u8(0);
                    w.bytes(key.as_bytes());
                }
                (None, retired_at) => {
                    w.u8(1);
                    w.u64(retired_at.unwrap_or(0));
                }
            }
        }
        write_scalar(&mut w, &self.attestation_key);
        w.u32(len_u32(self.signing.len()));
        for (name, entry) in &self.signing {
            // Names are validated to at most 64 bytes.
            w.u16(u16::try_from(name.len()).unwrap_or(u16::MAX));
            w.bytes(name.as_bytes());
            w.u64(entry.created_at);
            write_scalar(&mut w, &entry.key);
        }
        match &self.vrf {
            None => w.u8(0),
            Some(entry) => {
                w.u8(1);
                w.u64(entry.created_at);
                w.bytes(entry.scalar.as_bytes());
            }
        }
        w.finish()
    }

    fn decode(data: &[u8]) -> std::result::Result<Self, &'static str> {
        const TRUNC: &str = "state truncated";
        let mut r = Reader::new(data);
        let format = r.u8().ok_or(TRUNC)?;
        if format != STATE_FORMAT && format != STATE_FORMAT_V1 {
            return Err("unsupported state format");
        }
        let vault_id = r.array::<16>().ok_or(TRUNC)?;
        let current = r.u32().ok_or(TRUNC)?;
        let n_masters = r.u32().ok_or(TRUNC)?;
        let mut masters = BTreeMap::new();
        for _ in 0..n_masters {
            let version = r.u32().ok_or(TRUNC)?;
            let created_at = r.u64().ok_or(TRUNC)?;
            let entry = match r.u8().ok_or(TRUNC)? {
                0 => MasterEntry {
                    created_at,
                    retired_at: None,
                    key: Some(Key32::from_bytes(r.array::<32>().ok_or(TRUNC)?)),
                },
                1 => MasterEntry {
                    created_at,
                    retired_at: Some(r.u64().ok_or(TRUNC)?),
                    key: None,
                },
                _ => return Err("bad master key flags"),
            };
            if version == 0 || masters.insert(version, entry).is_some() {
                return Err("bad or duplicate master key version");
            }
        }
        match masters.get(&current) {
            Some(entry) if entry.key.is_some() => {}
            _ => return Err("current master key missing"),
        }
        let attestation_key = read_scalar(&mut r)?;
        let n_signing = r.u32().ok_or(TRUNC)?;
        let mut signing = BTreeMap::new();
        for _ in 0..n_signing {
            let len = usize::from(r.u16().ok_or(TRUNC)?);
            let name = std::str::from_utf8(r.take(len).ok_or(TRUNC)?)
                .map_err(|_| "key name is not UTF-8")?
                .to_owned();
            if validate_key_name(&name).is_err() {
                return Err("invalid key name");
            }
            let created_at = r.u64().ok_or(TRUNC)?;
            let key = read_scalar(&mut r)?;
            if signing
                .insert(name, SigningEntry { created_at, key })
                .is_some()
            {
                return Err("duplicate key name");
            }
        }
        let vrf = if format == STATE_FORMAT_V1 {
            None
        } else {
            match r.u8().ok_or(TRUNC)? {
                0 => None,
                1 => {
                    let created_at = r.u64().ok_or(TRUNC)?;
                    let scalar = Key32::from_bytes(r.array::<32>().ok_or(TRUNC)?);
                    Some(
                        VrfEntry::from_scalar(created_at, scalar)
                            .ok_or("invalid VRF key scalar")?,
                    )
                }
                _ => return Err("bad VRF key flag"),
            }
        };
        if !r.is_empty() {
            return Err("trailing bytes after state");
        }
        Ok(Self {
            vault_id,
            current,
            masters,
            attestation_key,
            signing,
            vrf,
        })
    }
}

fn len_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn write_scalar(w: &mut Writer, key: &SigningKey) {
    let bytes = Zeroizing::new(key.to_bytes());
    w.bytes(bytes.as_slice());
}

fn read_scalar(r: &mut Reader<'_>) -> std::result::Result<SigningKey, &'static str> {
    let bytes = Zeroizing::new(r.array::<32>().ok_or("state truncated")?);
    SigningKey::from_slice(bytes.as_slice()).map_err(|_| "invalid signing key scalar")
}

fn random_signing_key() -> Result<SigningKey> {
    // Rejection sampling: a uniformly random 32-byte string is a valid
    // non-zero scalar below the group order with overwhelming probability.
    for _ in 0..64 {
        let bytes = Key32::random()?;
        if let Ok(key) = SigningKey::from_slice(bytes.as_bytes()) {
            return Ok(key);
        }
    }
    Err(VaultError::Crypto("could not sample a P-256 scalar"))
}

fn sign_prehash(key: &SigningKey, digest: &[u8; 32]) -> Result<Signature> {
    let sig: p256::ecdsa::Signature = key
        .sign_prehash(digest)
        .map_err(|_| VaultError::Crypto("ECDSA signing"))?;
    Signature::from_slice(sig.to_bytes().as_slice())
}

fn public_of(key: &SigningKey) -> PublicKey {
    PublicKey::from(p256::PublicKey::from(key.verifying_key()))
}

/// The sealed, persistent key store. Thread-safe: reads share a lock,
/// mutations are serialized and persisted before they become visible.
pub(crate) struct KeyStore {
    dir: PathBuf,
    state_path: PathBuf,
    root_check: [u8; 8],
    state_key: Key32,
    seal_key: Key32,
    state: RwLock<State>,
    /// Held for the store's lifetime: one vault instance per directory.
    _lock: File,
}

impl KeyStore {
    /// Open (or on first start create) the store in `dir`, sealed under
    /// `root` (any length of uniformly random key material, at least 16
    /// bytes). Returns the store and whether it was created now.
    pub(crate) fn open(dir: &Path, root: &[u8]) -> Result<(Self, bool)> {
        create_private_dir(dir)?;
        let lock = lock_dir(dir)?;
        let check_key = crypto::derive_key(root, INFO_ROOT_CHECK)?;
        let mut root_check = [0u8; 8];
        root_check.copy_from_slice(&check_key.as_bytes()[..8]);
        let state_key = crypto::derive_key(root, INFO_STATE)?;
        let seal_key = crypto::derive_key(root, INFO_SEAL)?;
        let state_path = dir.join(STATE_FILE);

        let (state, created) = match fs::read(&state_path) {
            Ok(bytes) => (
                read_state_file(&state_path, &bytes, &root_check, &state_key)?,
                false,
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (State::fresh()?, true),
            Err(e) => return Err(VaultError::io(&state_path, e)),
        };
        let store = Self {
            dir: dir.to_path_buf(),
            state_path,
            root_check,
            state_key,
            seal_key,
            state: RwLock::new(state),
            _lock: lock,
        };
        if created {
            let state = store.state.read();
            store.persist(&state)?;
        }
        Ok((store, created))
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn vault_id_hex(&self) -> String {
        hex::encode(self.state.read().vault_id)
    }

    /// Apply `change` to a copy of the state, persist it, then publish it.
    /// Readers keep going on the old state while the file is written; if
    /// persisting fails nothing changes.
    fn mutate<T>(&self, change: impl FnOnce(&mut State) -> Result<T>) -> Result<T> {
        let guard = self.state.upgradable_read();
        let mut next = (*guard).clone();
        let out = change(&mut next)?;
        self.persist(&next)?;
        let mut write = parking_lot::RwLockUpgradableReadGuard::upgrade(guard);
        *write = next;
        Ok(out)
    }

    fn persist(&self, state: &State) -> Result<()> {
        let plaintext = state.encode();
        let mut header = Vec::with_capacity(HEADER_LEN);
        header.extend_from_slice(FILE_MAGIC);
        header.push(FILE_FORMAT);
        header.extend_from_slice(&self.root_check);
        let (nonce, ciphertext) = self.state_key.encrypt(&header, &plaintext)?;
        let mut file = header;
        file.extend_from_slice(&nonce);
        file.extend_from_slice(&ciphertext);
        write_atomic(&self.state_path, &file)
    }

    // ---- signing keys ---------------------------------------------------

    pub(crate) fn generate_signing_key(&self, name: &str) -> Result<PublicKey> {
        validate_key_name(name)?;
        self.mutate(|state| {
            if state.signing.contains_key(name) {
                return Err(VaultError::KeyExists(name.to_owned()));
            }
            let key = random_signing_key()?;
            let public = public_of(&key);
            state.signing.insert(
                name.to_owned(),
                SigningEntry {
                    created_at: now_unix(),
                    key,
                },
            );
            Ok(public)
        })
    }

    pub(crate) fn public_key(&self, name: &str) -> Result<PublicKey> {
        let state = self.state.read();
        state
            .signing
            .get(name)
            .map(|e| public_of(&e.key))
            .ok_or_else(|| VaultError::KeyNotFound(name.to_owned()))
    }

    pub(crate) fn signing_keys(&self) -> Vec<SigningKeyInfo> {
        let state = self.state.read();
        state
            .signing
            .iter()
            .map(|(name, e)| SigningKeyInfo {
                name: name.clone(),
                public_key: public_of(&e.key),
                created_at: e.created_at,
            })
            .collect()
    }

    pub(crate) fn signing_key_count(&self) -> usize {
        self.state.read().signing.len()
    }

    pub(crate) fn sign_digest(&self, name: &str, digest: &[u8; 32]) -> Result<Signature> {
        let state = self.state.read();
        let entry = state
            .signing
            .get(name)
            .ok_or_else(|| VaultError::KeyNotFound(name.to_owned()))?;
        sign_prehash(&entry.key, digest)
    }

    /// Sign with the internal attestation key (not reachable by name).
    pub(crate) fn attestation_sign(&self, digest: &[u8; 32]) -> Result<(PublicKey, Signature)> {
        let state = self.state.read();
        let sig = sign_prehash(&state.attestation_key, digest)?;
        Ok((public_of(&state.attestation_key), sig))
    }

    // ---- VRF ------------------------------------------------------------

    /// Run `f` with the VRF key, creating (and persisting) it first if the
    /// vault has none yet.
    fn with_vrf_key<T>(&self, f: impl FnOnce(&nsl_vrf::SecretKey) -> T) -> Result<T> {
        {
            let state = self.state.read();
            if let Some(entry) = &state.vrf {
                return Ok(f(&entry.key));
            }
        }
        self.mutate(|state| {
            if state.vrf.is_none() {
                state.vrf = Some(VrfEntry::generate()?);
                tracing::info!("created the vault's VRF key");
            }
            Ok(())
        })?;
        let state = self.state.read();
        let entry = state
            .vrf
            .as_ref()
            .ok_or(VaultError::Crypto("VRF key missing after creation"))?;
        Ok(f(&entry.key))
    }

    pub(crate) fn vrf_public_key(&self) -> Result<[u8; 33]> {
        self.with_vrf_key(|key| key.public_key().to_compressed())
    }

    pub(crate) fn vrf_prove(&self, alpha: &[u8]) -> Result<VrfProof> {
        self.with_vrf_key(|key| {
            let proof = nsl_vrf::prove(key, alpha);
            // A proof made here always decodes.
            let beta = nsl_vrf::proof_to_hash(&proof)
                .map_err(|_| VaultError::Crypto("VRF proof to hash"))?;
            Ok(VrfProof {
                beta,
                proof: proof.to_bytes(),
            })
        })?
    }

    pub(crate) fn has_vrf_key(&self) -> bool {
        self.state.read().vrf.is_some()
    }

    // ---- sealing --------------------------------------------------------

    pub(crate) fn seal(&self, label: &str, plaintext: &[u8]) -> Result<Vec<u8>> {
        seal_with(&self.seal_key, label, plaintext)
    }

    pub(crate) fn unseal(&self, label: &str, sealed: &[u8]) -> Result<SecretBytes> {
        unseal_with(&self.seal_key, label, sealed)
    }

    // ---- envelope keys --------------------------------------------------

    pub(crate) fn wrap_data_key(&self, key: &DataKey) -> Result<WrappedKey> {
        let state = self.state.read();
        let version = state.current;
        let master = state
            .masters
            .get(&version)
            .and_then(|e| e.key.as_ref())
            .ok_or(VaultError::MasterKeyUnknown(version))?;
        let wrap_key = master.derive(INFO_WRAP)?;
        let (nonce, ct) = wrap_key.encrypt(&wrap_aad(version), key.expose_secret())?;
        let mut ciphertext = Vec::with_capacity(WRAPPED_LEN);
        ciphertext.extend_from_slice(&nonce);
        ciphertext.extend_from_slice(&ct);
        Ok(WrappedKey {
            key_version: version,
            ciphertext,
        })
    }

    pub(crate) fn unwrap_data_key(&self, wrapped: &WrappedKey) -> Result<DataKey> {
        if wrapped.ciphertext.len() != WRAPPED_LEN {
            return Err(VaultError::MalformedSealed(
                "wrapped data key must be 60 bytes",
            ));
        }
        let mut r = Reader::new(&wrapped.ciphertext);
        let nonce = r
            .array::<NONCE_LEN>()
            .ok_or(VaultError::MalformedSealed("too short"))?;
        let ct = r.rest();
        let wrap_key = {
            let state = self.state.read();
            let entry = state
                .masters
                .get(&wrapped.key_version)
                .ok_or(VaultError::MasterKeyUnknown(wrapped.key_version))?;
            entry
                .key
                .as_ref()
                .ok_or(VaultError::MasterKeyRetired(wrapped.key_version))?
                .derive(INFO_WRAP)?
        };
        let plain = wrap_key
            .decrypt(&nonce, &wrap_aad(wrapped.key_version), ct)?
            .ok_or(VaultError::UnwrapFailed)?;
        let bytes: [u8; 32] = plain
            .as_slice()
            .try_into()
            .map_err(|_| VaultError::UnwrapFailed)?;
        Ok(DataKey::from_bytes(bytes))
    }

    pub(crate) fn current_master_key_version(&self) -> u32 {
        self.state.read().current
    }

    pub(crate) fn rotate_master_key(&self) -> Result<MasterKeyInfo> {
        self.mutate(|state| {
            let last = state.masters.keys().next_back().copied().unwrap_or(0);
            let version = last
                .checked_add(1)
                .ok_or(VaultError::Crypto("master key versions exhausted"))?;
            let entry = MasterEntry {
                created_at: now_unix(),
                retired_at: None,
                key: Some(Key32::random()?),
            };
            let info = entry.info(version, version);
            state.masters.insert(version, entry);
            state.current = version;
            Ok(info)
        })
    }

    pub(crate) fn master_key_versions(&self) -> Vec<MasterKeyInfo> {
        let state = self.state.read();
        state
            .masters
            .iter()
            .map(|(v, e)| e.info(*v, state.current))
            .collect()
    }

    pub(crate) fn retire_master_key(&self, version: u32) -> Result<MasterKeyInfo> {
        {
            let state = self.state.read();
            let entry = state
                .masters
                .get(&version)
                .ok_or(VaultError::MasterKeyUnknown(version))?;
            if entry.key.is_none() {
                return Ok(entry.info(version, state.current));
            }
        }
        self.mutate(|state| {
            if version == state.current {
                return Err(VaultError::CannotRetireCurrent(version));
            }
            let current = state.current;
            let entry = state
                .masters
                .get_mut(&version)
                .ok_or(VaultError::MasterKeyUnknown(version))?;
            // Dropping the Key32 zeroizes it.
            entry.key = None;
            entry.retired_at.get_or_insert_with(now_unix);
            Ok(entry.info(version, current))
        })
    }
}

fn wrap_aad(version: u32) -> Vec<u8> {
    let mut aad = Vec::with_capacity(WRAP_AAD.len() + 4);
    aad.extend_from_slice(WRAP_AAD);
    aad.extend_from_slice(&version.to_be_bytes());
    aad
}

/// The seal key derived from `root` (the same one a [`KeyStore`] under that root uses).
pub(crate) fn seal_key_for(root: &[u8]) -> Result<Key32> {
    crypto::derive_key(root, INFO_SEAL)
}

/// If `dir` holds a state file, check that it was sealed under `root` (header check only, no lock,
/// nothing decrypted): [`VaultError::WrongKek`] otherwise.
pub(crate) fn check_root(dir: &Path, root: &[u8]) -> Result<()> {
    let path = dir.join(STATE_FILE);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(VaultError::io(&path, e)),
    };
    let check_key = crypto::derive_key(root, INFO_ROOT_CHECK)?;
    let expected = check_key.as_bytes().get(..8);
    if bytes.get(9..HEADER_LEN) != expected {
        return Err(VaultError::WrongKek { path });
    }
    Ok(())
}

/// `"NSLS" | 1 | nonce | AES-256-GCM(seal key, plaintext, AAD = "NSLS" | 1 | label)`.
pub(crate) fn seal_with(seal_key: &Key32, label: &str, plaintext: &[u8]) -> Result<Vec<u8>> {
    let mut aad = Vec::with_capacity(5 + label.len());
    aad.extend_from_slice(SEAL_MAGIC);
    aad.push(SEAL_FORMAT);
    aad.extend_from_slice(label.as_bytes());
    let (nonce, ciphertext) = seal_key.encrypt(&aad, plaintext)?;
    let mut out = Vec::with_capacity(5 + NONCE_LEN + ciphertext.len());
    out.extend_from_slice(SEAL_MAGIC);
    out.push(SEAL_FORMAT);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ciphertext);
    Ok(out)
}

/// Open a blob of [`seal_with`] under the same key and label.
pub(crate) fn unseal_with(seal_key: &Key32, label: &str, sealed: &[u8]) -> Result<SecretBytes> {
    let mut r = Reader::new(sealed);
    let magic = r
        .array::<4>()
        .ok_or(VaultError::MalformedSealed("too short"))?;
    if &magic != SEAL_MAGIC {
        return Err(VaultError::MalformedSealed("not a sealed blob"));
    }
    if r.u8() != Some(SEAL_FORMAT) {
        return Err(VaultError::MalformedSealed("unsupported sealed format"));
    }
    let nonce = r
        .array::<NONCE_LEN>()
        .ok_or(VaultError::MalformedSealed("too short"))?;
    let ciphertext = r.rest();
    let mut aad = Vec::with_capacity(5 + label.len());
    aad.extend_from_slice(SEAL_MAGIC);
    aad.push(SEAL_FORMAT);
    aad.extend_from_slice(label.as_bytes());
    seal_key
        .decrypt(&nonce, &aad, ciphertext)?
        .map(SecretBytes::new)
        .ok_or(VaultError::UnsealFailed)
}

fn read_state_file(
    path: &Path,
    bytes: &[u8],
    root_check: &[u8; 8],
    state_key: &Key32,
) -> Result<State> {
    let corrupted = |reason| VaultError::StateCorrupted {
        path: path.to_path_buf(),
        reason,
    };
    let mut r = Reader::new(bytes);
    let header = r.take(HEADER_LEN).ok_or(corrupted("file truncated"))?;
    let mut h = Reader::new(header);
    if h.array::<8>().as_ref() != Some(FILE_MAGIC) {
        return Err(corrupted("not a vault state file"));
    }
    if h.u8() != Some(FILE_FORMAT) {
        return Err(corrupted("unsupported file format"));
    }
    if h.array::<8>().as_ref() != Some(root_check) {
        return Err(VaultError::WrongKek {
            path: path.to_path_buf(),
        });
    }
    let nonce = r.array::<NONCE_LEN>().ok_or(corrupted("file truncated"))?;
    let plaintext = state_key
        .decrypt(&nonce, header, r.rest())?
        .ok_or(corrupted("authentication failed"))?;
    State::decode(&plaintext).map_err(corrupted)
}

/// Create `dir` (and parents) with mode 0700 if missing; an existing
/// directory keeps its mode.
pub(crate) fn create_private_dir(dir: &Path) -> Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|e| VaultError::io(dir, e))
}

fn lock_dir(dir: &Path) -> Result<File> {
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| VaultError::io(&path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(VaultError::Locked {
            path: dir.to_path_buf(),
        }),
        Err(fs::TryLockError::Error(e)) => Err(VaultError::io(&path, e)),
    }
}

/// Write `data` to `path` atomically: a 0600 temporary file in the same
/// directory, fsync, rename over `path`, fsync the directory.
pub(crate) fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let mut tmp_name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    tmp_name.push(".tmp");
    let tmp = dir.join(tmp_name);
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let result = (|| {
        let mut file = options.open(&tmp)?;
        file.write_all(data)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    result.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        VaultError::io(path, e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_encoding_round_trips() {
        let mut state = State::fresh().unwrap();
        state.signing.insert(
            "node".into(),
            SigningEntry {
                created_at: 5,
                key: random_signing_key().unwrap(),
            },
        );
        state.masters.insert(
            2,
            MasterEntry {
                created_at: 9,
                retired_at: Some(10),
                key: None,
            },
        );
        let decoded = State::decode(&state.encode()).unwrap();
        assert_eq!(decoded.vault_id, state.vault_id);
        assert_eq!(decoded.current, 1);
        assert_eq!(decoded.masters.len(), 2);
        assert!(decoded.masters[&2].key.is_none());
        assert_eq!(decoded.masters[&2].retired_at, Some(10));
        assert_eq!(
            decoded.masters[&1].key.as_ref().unwrap().as_bytes(),
            state.masters[&1].key.as_ref().unwrap().as_bytes()
        );
        assert_eq!(
            public_of(&decoded.signing["node"].key),
            public_of(&state.signing["node"].key)
        );
        assert_eq!(
            public_of(&decoded.attestation_key),
            public_of(&state.attestation_key)
        );
    }

    #[test]
    fn state_encoding_round_trips_the_vrf_key() {
        let mut state = State::fresh().unwrap();
        let entry = VrfEntry::generate().unwrap();
        let public = entry.key.public_key();
        state.vrf = Some(entry);
        let decoded = State::decode(&state.encode()).unwrap();
        let vrf = decoded.vrf.unwrap();
        assert_eq!(vrf.key.public_key(), public);
        assert_eq!(vrf.created_at, state.vrf.as_ref().unwrap().created_at);
        // A zero scalar is refused, not turned into a key.
        let mut bytes = state.encode().to_vec();
        let n = bytes.len();
        bytes[n - 32..].fill(0);
        assert!(State::decode(&bytes).is_err());
    }

    /// A state written before the VRF key existed (format 1: no VRF
    /// section) still opens, without a VRF key.
    #[test]
    fn state_format_1_decodes_without_vrf_key() {
        let mut state = State::fresh().unwrap();
        state.signing.insert(
            "node".into(),
            SigningEntry {
                created_at: 5,
                key: random_signing_key().unwrap(),
            },
        );
        let mut v1 = state.encode().to_vec();
        assert_eq!(v1.pop(), Some(0), "no VRF key: flag 0 at the end");
        v1[0] = STATE_FORMAT_V1;
        let decoded = State::decode(&v1).unwrap();
        assert!(decoded.vrf.is_none());
        assert_eq!(
            public_of(&decoded.signing["node"].key),
            public_of(&state.signing["node"].key)
        );
        // Format 1 with a VRF section appended is refused (trailing bytes).
        v1.push(0);
        assert!(State::decode(&v1).is_err());
    }

    #[test]
    fn state_decoding_rejects_every_truncation() {
        let state = State::fresh().unwrap();
        let bytes = state.encode();
        for len in 0..bytes.len() {
            assert!(State::decode(&bytes[..len]).is_err(), "length {len}");
        }
        let mut extra = bytes.to_vec();
        extra.push(0);
        assert!(State::decode(&extra).is_err());
    }

    /// Random inputs and random single-byte mutations of a valid encoding
    /// never panic the decoder (it is only reached after authentication,
    /// but must still be total).
    #[test]
    fn state_decoding_is_total() {
        use rand::{Rng, RngCore};
        let mut rng = rand::thread_rng();
        let mut state = State::fresh().unwrap();
        state.signing.insert(
            "k".into(),
            SigningEntry {
                created_at: 1,
                key: random_signing_key().unwrap(),
            },
        );
        let good = state.encode();
        for _ in 0..300 {
            let mut bytes = vec![0u8; rng.gen_range(0..200)];
            rng.fill_bytes(&mut bytes);
            let _ = State::decode(&bytes);
            let mut mutated = good.to_vec();
            let i = rng.gen_range(0..mutated.len());
            mutated[i] = rng.r#gen();
            let _ = State::decode(&mutated);
        }
    }

    /// RFC 6979 appendix A.2.5, P-256 with SHA-256, message "sample":
    /// deterministic signing gives exactly the published (r, s).
    #[test]
    fn signing_matches_rfc6979_vector() {
        let x = hex::decode("C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721")
            .unwrap();
        let key = SigningKey::from_slice(&x).unwrap();
        let digest = crate::types::sha256(b"sample");
        let sig = sign_prehash(&key, &digest).unwrap();
        assert_eq!(
            sig.to_hex().to_uppercase(),
            concat!(
                "EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716",
                "F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8"
            )
        );
        assert_eq!(
            public_of(&key).to_hex()[2..].to_uppercase(),
            "60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6"
        );
    }
}
