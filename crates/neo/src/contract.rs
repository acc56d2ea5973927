//! Standard verification scripts: single-signature and m-of-n multisig accounts.

use crate::error::{Error, Result};
use crate::keys::{PUBLIC_KEY_LEN, PublicKey};
use crate::script::interop::{SYSTEM_CRYPTO_CHECK_MULTISIG, SYSTEM_CRYPTO_CHECK_SIG, interop_id};
use crate::script::{OpCode, ScriptBuilder};
use crate::uint::UInt160;

/// Most keys a multisig verification script may hold (C# `Contract.CreateMultiSigRedeemScript`).
pub const MAX_MULTISIG_KEYS: usize = 1024;

/// `PUSHDATA1 33 <compressed key> SYSCALL System.Crypto.CheckSig` (40 bytes).
pub fn single_sig_script(key: &PublicKey) -> Vec<u8> {
    let mut s = Vec::with_capacity(40);
    s.push(OpCode::PUSHDATA1 as u8);
    s.push(PUBLIC_KEY_LEN as u8);
    s.extend_from_slice(&key.to_compressed());
    s.push(OpCode::SYSCALL as u8);
    s.extend_from_slice(&interop_id(SYSTEM_CRYPTO_CHECK_SIG).to_le_bytes());
    s
}

/// The m-of-n multisig verification script: `PUSH m`, the keys sorted as Neo sorts them
/// (by X then Y) each as `PUSHDATA1 33 <key>`, `PUSH n`, `SYSCALL System.Crypto.CheckMultisig`.
///
/// Fails if `m` is not in `1..=n`, `n` is not in `1..=1024`, or a key repeats.
pub fn multisig_script(m: usize, keys: &[PublicKey]) -> Result<Vec<u8>> {
    let n = keys.len();
    if n == 0 || n > MAX_MULTISIG_KEYS {
        return Err(Error::Multisig(format!(
            "number of keys {n} not in 1..={MAX_MULTISIG_KEYS}"
        )));
    }
    if m == 0 || m > n {
        return Err(Error::Multisig(format!("m = {m} not in 1..={n}")));
    }
    let mut sorted = keys.to_vec();
    sorted.sort();
    if sorted.windows(2).any(|w| w[0] == w[1]) {
        return Err(Error::Multisig("duplicate public key".into()));
    }
    let mut sb = ScriptBuilder::new();
    sb.push_int(m as i64);
    for k in &sorted {
        sb.push_bytes(&k.to_compressed());
    }
    sb.push_int(n as i64);
    sb.syscall(SYSTEM_CRYPTO_CHECK_MULTISIG);
    Ok(sb.into_bytes())
}

/// Script hash of [`multisig_script`].
pub fn multisig_script_hash(m: usize, keys: &[PublicKey]) -> Result<UInt160> {
    Ok(UInt160::from_script(&multisig_script(m, keys)?))
}

/// If `script` is a standard single-signature verification script, its public key.
pub fn parse_single_sig_script(script: &[u8]) -> Option<PublicKey> {
    if script.len() != 40
        || script[0] != OpCode::PUSHDATA1 as u8
        || script[1] != 33
        || script[35] != OpCode::SYSCALL as u8
    {
        return None;
    }
    if script[36..40] != interop_id(SYSTEM_CRYPTO_CHECK_SIG).to_le_bytes() {
        return None;
    }
    PublicKey::from_bytes(&script[2..35]).ok()
}

/// If `script` is a standard multisig verification script, `(m, keys in script order)`.
pub fn parse_multisig_script(script: &[u8]) -> Option<(usize, Vec<PublicKey>)> {
    let mut pos = 0;
    let m = read_small_int(script, &mut pos)?;
    let mut keys = Vec::new();
    while script.get(pos) == Some(&(OpCode::PUSHDATA1 as u8)) {
        if script.get(pos + 1) != Some(&33) {
            return None;
        }
        let key = PublicKey::from_bytes(script.get(pos + 2..pos + 35)?).ok()?;
        keys.push(key);
        pos += 35;
    }
    let n = read_small_int(script, &mut pos)?;
    if n != keys.len() || m == 0 || m > n || n > MAX_MULTISIG_KEYS {
        return None;
    }
    if script.get(pos) != Some(&(OpCode::SYSCALL as u8)) {
        return None;
    }
    let id = script.get(pos + 1..pos + 5)?;
    if id != interop_id(SYSTEM_CRYPTO_CHECK_MULTISIG).to_le_bytes() || script.len() != pos + 5 {
        return None;
    }
    Some((m, keys))
}

/// Reads PUSH1..PUSH16, PUSHINT8 or PUSHINT16 as a non-negative count.
fn read_small_int(script: &[u8], pos: &mut usize) -> Option<usize> {
    let op = *script.get(*pos)?;
    if (OpCode::PUSH1 as u8..=OpCode::PUSH16 as u8).contains(&op) {
        *pos += 1;
        return Some((op - OpCode::PUSH0 as u8) as usize);
    }
    if op == OpCode::PUSHINT8 as u8 {
        let v = *script.get(*pos + 1)? as i8;
        *pos += 2;
        return usize::try_from(v).ok();
    }
    if op == OpCode::PUSHINT16 as u8 {
        let b = script.get(*pos + 1..*pos + 3)?;
        let v = i16::from_le_bytes([b[0], b[1]]);
        *pos += 3;
        return usize::try_from(v).ok();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_sig_known_vector() {
        // neo-go internal/keytestcases: key -> NPTmAHDxo6Pkyic8Nvu3kwyXoYJCvcCB6i.
        let k = PublicKey::from_hex(
            "02028a99826edc0c97d18e22b6932373d908d323aa7f92656a77ec26e8861699ef",
        )
        .unwrap();
        let s = single_sig_script(&k);
        assert_eq!(
            hex::encode(&s),
            "0c2102028a99826edc0c97d18e22b6932373d908d323aa7f92656a77ec26e8861699ef4156e7b327"
        );
        assert_eq!(parse_single_sig_script(&s), Some(k));
        assert_eq!(
            UInt160::from_script(&s).to_string(),
            "0xa7cbfee3f01f89d58c042644b0b6df2d59a6eb26"
        );
    }

    #[test]
    fn multisig_rejects_bad_params() {
        let k = PublicKey::from_hex(
            "02028a99826edc0c97d18e22b6932373d908d323aa7f92656a77ec26e8861699ef",
        )
        .unwrap();
        assert!(multisig_script(0, &[k]).is_err());
        assert!(multisig_script(2, &[k]).is_err());
        assert!(multisig_script(1, &[]).is_err());
        assert!(multisig_script(1, &[k, k]).is_err());
        let s = multisig_script(1, &[k]).unwrap();
        assert_eq!(parse_multisig_script(&s), Some((1, vec![k])));
        assert_eq!(parse_multisig_script(&s[..s.len() - 1]), None);
    }
}
