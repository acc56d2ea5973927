//! The formulas shared with the gateway contract and with verifiers: the `vrf` payload, the VRF
//! input (alpha) of gateway and API requests, the words derived from beta, and the answer the
//! node sends on chain. `docs/randomness.md` states each one.

use sha2::{Digest, Sha256};

/// Largest consumer seed, bytes.
pub const MAX_SEED: usize = 64;
/// Most words one request may ask for (`nsl_vrf::MAX_WORDS`).
pub const MAX_WORDS: u16 = 16;
/// Length of beta (the VRF output).
pub const BETA_LEN: usize = 32;
/// Length of an ECVRF-P256-SHA256-TAI proof.
pub const PROOF_LEN: usize = 81;
/// Length of the node's signature (ECDSA P-256, `r || s`).
pub const SIGNATURE_LEN: usize = 64;
/// Domain prefix of API (off-chain) alphas, so that no API request can share an alpha with a
/// gateway request.
pub const OFFCHAIN_DOMAIN: &[u8] = b"nsl-offchain";

/// A `vrf` payload: word count (one byte, 1..=16) followed by the seed (at most 64 bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VrfPayload {
    /// Words asked for.
    pub words: u16,
    /// The consumer's seed.
    pub seed: Vec<u8>,
}

/// Why a payload (or an API body) is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// Empty payload (no word count).
    #[error("payload is empty: a word count byte and a seed are expected")]
    Empty,
    /// Seed longer than [`MAX_SEED`].
    #[error("seed is {0} bytes, at most {MAX_SEED}")]
    SeedTooLong(usize),
    /// Word count outside 1..=16.
    #[error("words must be 1..={MAX_WORDS}, got {0}")]
    Words(i64),
}

/// Decode a `vrf` payload with the gateway's rules (it refuses the same payloads at request
/// time, so a node only sees valid ones).
pub fn parse_payload(payload: &[u8]) -> Result<VrfPayload, PayloadError> {
    let (&count, seed) = payload.split_first().ok_or(PayloadError::Empty)?;
    check(i64::from(count), seed.len())?;
    Ok(VrfPayload {
        words: u16::from(count),
        seed: seed.to_vec(),
    })
}

/// Check a word count and a seed length.
pub fn check(words: i64, seed_len: usize) -> Result<(), PayloadError> {
    if seed_len > MAX_SEED {
        return Err(PayloadError::SeedTooLong(seed_len));
    }
    if !(1..=i64::from(MAX_WORDS)).contains(&words) {
        return Err(PayloadError::Words(words));
    }
    Ok(())
}

/// The alpha of gateway request `request_id`, as the gateway computes it: SHA-256(requestId as 8
/// bytes little-endian || requester (20 bytes, the VM's byte order) || seed || hash of the block
/// that included the request (32 bytes, the VM's byte order)).
pub fn chain_alpha(
    request_id: u64,
    requester: &[u8; 20],
    seed: &[u8],
    block_hash: &[u8; 32],
) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(request_id.to_le_bytes());
    h.update(requester);
    h.update(seed);
    h.update(block_hash);
    h.finalize().into()
}

/// The alpha of an API request: SHA-256("nsl-offchain" || account id (UUID text) || sequence
/// (u64 big-endian) || seed). The sequence is the account's next number (1, 2, 3, ...), so every
/// input is fixed before the node proves: it cannot try several and keep the output it likes.
pub fn offchain_alpha(account: &str, sequence: u64, seed: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(OFFCHAIN_DOMAIN);
    h.update(account.as_bytes());
    h.update(sequence.to_be_bytes());
    h.update(seed);
    h.finalize().into()
}

/// The words of `beta`: word i = SHA-256(beta || i as 2 bytes big-endian), i in 0..n (the same
/// as `nsl_vrf::words` and the gateway's derivation).
pub fn words(beta: &[u8; 32], n: u16) -> Vec<[u8; 32]> {
    (0..n)
        .map(|i| {
            let mut h = Sha256::new();
            h.update(beta);
            h.update(i.to_be_bytes());
            h.finalize().into()
        })
        .collect()
}

/// What the node signs for a gateway answer: requestId (8 bytes little-endian) || alpha || beta.
pub fn signed_message(request_id: u64, alpha: &[u8; 32], beta: &[u8; 32]) -> Vec<u8> {
    let mut m = Vec::with_capacity(8 + 32 + 32);
    m.extend_from_slice(&request_id.to_le_bytes());
    m.extend_from_slice(alpha);
    m.extend_from_slice(beta);
    m
}

/// The `result` of a gateway `vrf` answer: beta || proof || signature (177 bytes).
pub fn answer_bytes(
    beta: &[u8; BETA_LEN],
    proof: &[u8; PROOF_LEN],
    signature: &[u8; SIGNATURE_LEN],
) -> Vec<u8> {
    let mut r = Vec::with_capacity(BETA_LEN + PROOF_LEN + SIGNATURE_LEN);
    r.extend_from_slice(beta);
    r.extend_from_slice(proof);
    r.extend_from_slice(signature);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_follow_the_gateway_rules() {
        let p = parse_payload(b"\x03seed").unwrap();
        assert_eq!((p.words, p.seed.as_slice()), (3, &b"seed"[..]));
        assert_eq!(parse_payload(b"\x10").unwrap().words, 16);
        assert_eq!(parse_payload(b""), Err(PayloadError::Empty));
        assert_eq!(parse_payload(b"\x00ab"), Err(PayloadError::Words(0)));
        assert_eq!(parse_payload(b"\x11ab"), Err(PayloadError::Words(17)));
        let long = [vec![1u8], vec![7u8; 65]].concat();
        assert_eq!(parse_payload(&long), Err(PayloadError::SeedTooLong(65)));
        let max = [vec![16u8], vec![7u8; 64]].concat();
        assert_eq!(parse_payload(&max).unwrap().seed.len(), 64);
    }

    #[test]
    fn words_hash_beta_with_a_big_endian_index() {
        let beta = [9u8; 32];
        let w = words(&beta, 3);
        assert_eq!(w.len(), 3);
        let mut input = beta.to_vec();
        input.extend_from_slice(&[0, 2]);
        let expect: [u8; 32] = Sha256::digest(&input).into();
        assert_eq!(w[2], expect);
        assert_ne!(w[0], w[1]);
        assert!(words(&beta, 0).is_empty());
    }

    #[test]
    fn alphas_bind_every_input() {
        let base = chain_alpha(7, &[1; 20], b"s", &[2; 32]);
        assert_ne!(base, chain_alpha(8, &[1; 20], b"s", &[2; 32]));
        assert_ne!(base, chain_alpha(7, &[3; 20], b"s", &[2; 32]));
        assert_ne!(base, chain_alpha(7, &[1; 20], b"t", &[2; 32]));
        assert_ne!(base, chain_alpha(7, &[1; 20], b"s", &[4; 32]));
        let mut input = 7u64.to_le_bytes().to_vec();
        input.extend_from_slice(&[1; 20]);
        input.extend_from_slice(b"s");
        input.extend_from_slice(&[2; 32]);
        assert_eq!(base, <[u8; 32]>::from(Sha256::digest(&input)));
        let a = offchain_alpha("acc", 0x0102, b"seed");
        assert_eq!(
            a,
            <[u8; 32]>::from(Sha256::digest(
                b"nsl-offchainacc\x00\x00\x00\x00\x00\x00\x01\x02seed"
            ))
        );
    }
}
