//! Interop service (SYSCALL) identifiers.

/// The SYSCALL id of an interop service: the first 4 bytes of SHA-256(`name`), read little-endian.
/// A script carries it as those same 4 bytes.
pub fn interop_id(name: &str) -> u32 {
    let h = crate::hash::sha256(name.as_bytes());
    u32::from_le_bytes([h[0], h[1], h[2], h[3]])
}

/// `System.Contract.Call`.
pub const SYSTEM_CONTRACT_CALL: &str = "System.Contract.Call";
/// `System.Crypto.CheckSig`.
pub const SYSTEM_CRYPTO_CHECK_SIG: &str = "System.Crypto.CheckSig";
/// `System.Crypto.CheckMultisig`.
pub const SYSTEM_CRYPTO_CHECK_MULTISIG: &str = "System.Crypto.CheckMultisig";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_ids() {
        // Values from C# neo ApplicationEngine / neo-go interopnames.
        assert_eq!(interop_id(SYSTEM_CRYPTO_CHECK_SIG), 0x27b3_e756);
        assert_eq!(interop_id(SYSTEM_CRYPTO_CHECK_MULTISIG), 0x3adc_d09e);
        assert_eq!(interop_id(SYSTEM_CONTRACT_CALL), 0x525b_7d62);
    }
}
