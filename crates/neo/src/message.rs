//! Messages signed by Neo N3 wallets (`signMessage` of NeoLine, O3, neon-js based wallets).
//!
//! The wallet wraps the payload in a transaction-like envelope so hardware wallets will sign it:
//! `01 00 01 f0 || varint(len(payload)) || payload || 00 00`, with payload = UTF-8 of `salt + message`
//! (salt: 32 lowercase hex characters returned beside the signature; "without salt" variants use an
//! empty salt). The signature is P-256 ECDSA over SHA-256 of those bytes, 64 bytes `r || s`.

use crate::io::BinWriter;
use crate::keys::PublicKey;

/// The exact bytes a wallet signs for `payload` (= salt + message).
pub fn signed_message_bytes(payload: &[u8]) -> Vec<u8> {
    let mut w = BinWriter::new();
    w.write_bytes(&[0x01, 0x00, 0x01, 0xf0]);
    w.write_var_bytes(payload);
    w.write_bytes(&[0x00, 0x00]);
    w.into_bytes()
}

/// Verify a wallet-signed message: `signature` (64 bytes `r || s`) by `public_key` over the envelope
/// of `salt + message`. Pass `salt = ""` for the "without salt" variant. Returns `false` for a wrong
/// or malformed signature.
pub fn verify_signed_message(
    public_key: &PublicKey,
    salt: &str,
    message: &str,
    signature: &[u8],
) -> bool {
    let mut payload = Vec::with_capacity(salt.len() + message.len());
    payload.extend_from_slice(salt.as_bytes());
    payload.extend_from_slice(message.as_bytes());
    public_key.verify(&signed_message_bytes(&payload), signature)
}

/// Verify a wallet signature over the envelope of raw `payload` bytes (for wallets that encode the
/// payload differently, e.g. hex of the message instead of UTF-8).
pub fn verify_signed_payload(public_key: &PublicKey, payload: &[u8], signature: &[u8]) -> bool {
    public_key.verify(&signed_message_bytes(payload), signature)
}

/// Sign `salt + message` the way wallets do (for tests and server-side tooling).
pub fn sign_message(key: &crate::keys::PrivateKey, salt: &str, message: &str) -> [u8; 64] {
    let mut payload = Vec::with_capacity(salt.len() + message.len());
    payload.extend_from_slice(salt.as_bytes());
    payload.extend_from_slice(message.as_bytes());
    key.sign(&signed_message_bytes(&payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_layout() {
        assert_eq!(
            hex::encode(signed_message_bytes(b"ab")),
            "010001f0026162".to_owned() + "0000"
        );
        let long = vec![b'x'; 300];
        let b = signed_message_bytes(&long);
        assert_eq!(&b[4..7], &[0xfd, 0x2c, 0x01]);
        assert_eq!(b.len(), 4 + 3 + 300 + 2);
    }

    #[test]
    fn sign_and_verify() {
        let k = crate::PrivateKey::generate();
        let salt = "0123456789abcdef0123456789abcdef";
        let sig = sign_message(&k, salt, "login");
        assert!(verify_signed_message(&k.public_key(), salt, "login", &sig));
        assert!(!verify_signed_message(
            &k.public_key(),
            salt,
            "logout",
            &sig
        ));
        assert!(!verify_signed_message(&k.public_key(), "", "login", &sig));
    }
}
