//! The crate's error type.

/// Everything that can go wrong while parsing, decoding, signing or decrypting Neo data.
///
/// Messages describe the input's shape (lengths, offsets, limits), never its secret content: a bad WIF,
/// password or private key is reported without echoing it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A hex string is malformed (odd length or a non-hex character).
    #[error("invalid hex string")]
    Hex,
    /// A value has the wrong number of bytes.
    #[error("invalid length for {what}: expected {expected} bytes, got {got}")]
    Length {
        /// What was being parsed.
        what: &'static str,
        /// The required length.
        expected: usize,
        /// The length found.
        got: usize,
    },
    /// A base58 string has a character outside the alphabet.
    #[error("invalid base58 string")]
    Base58,
    /// A base58check string's 4-byte checksum does not match.
    #[error("base58check checksum mismatch")]
    Checksum,
    /// An address has a version byte other than the expected one.
    #[error("invalid address version byte {got:#04x}, expected {expected:#04x}")]
    AddressVersion {
        /// The version byte expected (0x35 for Neo N3).
        expected: u8,
        /// The version byte found.
        got: u8,
    },
    /// A WIF string is malformed (the key itself is never included).
    #[error("invalid WIF: {0}")]
    Wif(&'static str),
    /// A private key is zero or not below the curve order.
    #[error("invalid private key")]
    PrivateKey,
    /// A public key is not a valid P-256 point encoding.
    #[error("invalid public key: {0}")]
    PublicKey(&'static str),
    /// A signature is malformed (not 64 bytes r||s, or r/s out of range).
    #[error("invalid signature encoding")]
    Signature,
    /// Multisig parameters are inconsistent (m out of 1..=n, n out of 1..=1024, duplicate keys).
    #[error("invalid multisig parameters: {0}")]
    Multisig(String),
    /// Binary input ended before a value was complete.
    #[error("unexpected end of data at offset {offset}: needed {needed} more bytes")]
    UnexpectedEof {
        /// Offset where reading the value started.
        offset: usize,
        /// How many bytes were missing.
        needed: usize,
    },
    /// A protocol limit is exceeded (item count, byte length, nesting depth...).
    #[error("{what} exceeds limit: {got} > {max}")]
    Limit {
        /// Which limit.
        what: &'static str,
        /// The value found.
        got: u64,
        /// The maximum allowed.
        max: u64,
    },
    /// Binary or textual input violates the format (unknown type byte, non-canonical encoding...).
    #[error("invalid format: {0}")]
    Format(String),
    /// Bytes remain after a value that must span the whole input.
    #[error("{0} trailing bytes after the value")]
    TrailingBytes(usize),
    /// An integer does not fit the requested type or is out of the protocol's range.
    #[error("integer out of range: {0}")]
    IntegerRange(String),
    /// A stack item is not of the type a typed accessor expected.
    #[error("stack item type mismatch: expected {expected}, got {got}")]
    StackItemType {
        /// Type the caller asked for.
        expected: &'static str,
        /// Type found.
        got: &'static str,
    },
    /// NEP-2 decryption produced a key whose address hash does not match: the password is wrong.
    #[error("NEP-2 decryption failed: wrong password or corrupted key")]
    WrongPassword,
    /// A NEP-2 string is malformed.
    #[error("invalid NEP-2 key: {0}")]
    Nep2(&'static str),
    /// Scrypt parameters are not usable.
    #[error("invalid scrypt parameters: {0}")]
    Scrypt(String),
    /// A NEP-6 wallet file is malformed or an account is missing.
    #[error("NEP-6 wallet: {0}")]
    Wallet(String),
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
