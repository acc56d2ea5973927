//! Vectors from neo-go (github.com/nspcc-dev/neo-go); each block cites the file the data comes from.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use neo::contract::{multisig_script, parse_multisig_script};
use neo::{
    Nep6Wallet, PrivateKey, PublicKey, ScryptParams, Transaction, UInt160, UInt256, WitnessScope,
    nep2,
};

/// neo-go internal/keytestcases/testcases.go (valid entries).
const KEYS: [(&str, &str, &str, &str, &str, &str); 3] = [
    (
        "NPTmAHDxo6Pkyic8Nvu3kwyXoYJCvcCB6i",
        "7d128a6d096f0c14c3a25a2b0c41cf79661bfcb4a8cc95aaaea28bde4d732344",
        "02028a99826edc0c97d18e22b6932373d908d323aa7f92656a77ec26e8861699ef",
        "L1QqQJnpBwbsPGAuutuzPTac8piqvbR1HRjrY5qHup48TBCBFe4g",
        "city of zion",
        "6PYUUUFei9PBBfVkSn8q7hFCnewWFRBKPxcn6Kz6Bmk3FqWyLyuTQE2XFH",
    ),
    (
        "NMBfzaEq2c5zodiNbLPoohVENARMbJim1r",
        "9ab7e154840daca3a2efadaf0df93cd3a5b51768c632f5433f86909d9b994a69",
        "031d8e1630ce640966967bc6d95223d21f44304133003140c3b52004dc981349c9",
        "L2QTooFoDFyRFTxmtiVHt5CfsXfVnexdbENGDkkrrgTTryiLsPMG",
        "我的密码",
        "6PYUmBuLbdXdnybyNeafUJUrVhoBRZpjHACdY9K2VCNzD5tuX5tXgr9fur",
    ),
    (
        "NfVdwyaJbijrWkRagrvs4eSRQUpP7WpukT",
        "3edee7036b8fd9cef91de47386b191dd76db2888a553e7736bb02808932a915b",
        "02232ce8d2e2063dce0451131851d47421bfc4fc1da4db116fca5302c0756462fa",
        "KyKvWLZsNwBJx5j9nurHYRwhYfdQUu9tTEDsLCUHDbYBL8cHxMiG",
        "MyL33tP@33w0rd",
        "6PYLQ9oCoEWCfuuHkq6xH4tYbi4Pyv9HYUU8WGkFVXtoczwTbitMjypkma",
    ),
];

#[test]
fn keys_wif_addresses() {
    for (address, priv_hex, pub_hex, wif, _, _) in KEYS {
        let k = PrivateKey::from_wif(wif).unwrap();
        assert_eq!(hex::encode(k.to_bytes().as_ref()), priv_hex);
        assert_eq!(k.public_key().to_hex(), pub_hex);
        assert_eq!(k.address(), address);
        assert_eq!(k.to_wif().as_str(), wif);
        let pk = PublicKey::from_hex(pub_hex).unwrap();
        assert_eq!(pk.address(), address);
        assert_eq!(UInt160::from_address(address).unwrap(), pk.script_hash());
    }
    // The invalid entry: WIF with a corrupted checksum.
    assert!(PrivateKey::from_wif("KyKvWLZsNwBJx5j9nurHYRwhYfdQUu9tTEDsLCUHDbYBL8cHxMiS").is_err());
}

/// NEP-2 with the standard scrypt parameters (N=16384, r=8, p=8). Encryption is deterministic, so
/// the whole string is compared; the vector with the non-ASCII passphrase covers UTF-8/NFC handling.
/// One scrypt run only: it takes ~50 s in a debug build (decryption is covered with fast
/// parameters by the NEP-6 and neon-js vectors).
#[test]
fn nep2_standard_params() {
    let (address, priv_hex, _, _, pass, encrypted) = KEYS[1];
    let k = PrivateKey::from_hex(priv_hex).unwrap();
    assert_eq!(k.address(), address);
    assert_eq!(
        nep2::encrypt(&k, pass, ScryptParams::default()).unwrap(),
        encrypted
    );
    for (_, _, _, _, _, encrypted) in KEYS {
        nep2::validate(encrypted).unwrap();
    }
}

/// neo-go pkg/wallet/testdata/wallet1.json, written by pkg/wallet/regenerate_test.go from
/// privnetWIFs with password "one" and scrypt {n: 2, r: 1, p: 1}.
const WALLET1: &str = r#"{
  "version": "1.0",
  "accounts": [
    {
      "address": "Nhfg3TbpwogLvDGVvAvqyThbsHgoSUKwtn",
      "key": "6PYM8VdX3hY4B51UJxmm8D41RQMbpJT8aYHibyQ67gjkUPmvQgu51Y5UQR",
      "label": "",
      "contract": {
        "script": "DCECs2Ir9AF73+MXxYrtX0x1PyBrfbiWBG+n13S7xL9/jcJBVuezJw==",
        "parameters": [{"name": "parameter0", "type": "Signature"}],
        "deployed": false
      },
      "lock": false,
      "isDefault": false
    },
    {
      "address": "NVTiAjNgagDkTr5HTzDmQP9kPwPHN5BgVq",
      "key": "6PYM8VdX3hY4B51UJxmm8D41RQMbpJT8aYHibyQ67gjkUPmvQgu51Y5UQR",
      "label": "",
      "contract": {
        "script": "EwwhAhA6f33QFlWFl/eWDSfFFqQ5T9loueZRVetLAT5AQEBuDCECp7xV/oaE4BGXaNEEujB5W9zIZhnoZK3SYVZyPtGFzWIMIQKzYiv0AXvf4xfFiu1fTHU/IGt9uJYEb6fXdLvEv3+NwgwhA9kMB99j5pDOd5EuEKtRrMlEtmhgI3tgjE+PgwnnHuaZFEGe0Nw6",
        "parameters": [
          {"name": "parameter0", "type": "Signature"},
          {"name": "parameter1", "type": "Signature"},
          {"name": "parameter2", "type": "Signature"}
        ],
        "deployed": false
      },
      "lock": false,
      "isDefault": false
    }
  ],
  "scrypt": {"n": 2, "r": 1, "p": 1},
  "extra": {"Tokens": null}
}"#;

/// neo-go pkg/wallet/regenerate_test.go privnetWIFs.
const PRIVNET_WIFS: [&str; 4] = [
    "KxyjQ8eUa4FHt3Gvioyt1Wz29cTUrE4eTqX3yFSk1YFCsPL8uNsY",
    "KzfPUYDC9n2yf4fK5ro4C8KMcdeXtFuEnStycbZgX3GomiUsvX6W",
    "L2oEXKRAAMiPEZukwR5ho2S6SMeQLhcK9mF71ZnF7GvT8dU4Kkgz",
    "KzgWE3u3EDp13XPXXuTKZxeJ3Gi8Bsm8f9ijY3ZsCKKRvZUo1Cdn",
];

#[test]
fn nep6_wallet_and_multisig() {
    let w = Nep6Wallet::from_json(WALLET1).unwrap();
    assert_eq!(w.scrypt, ScryptParams { n: 2, r: 1, p: 1 });
    assert_eq!(w.accounts.len(), 2);
    // No default account: the first one is used (neo-go TestWalletGetChangeAddress).
    assert_eq!(
        w.default_account().unwrap().address,
        "Nhfg3TbpwogLvDGVvAvqyThbsHgoSUKwtn"
    );

    let k0 = PrivateKey::from_wif(PRIVNET_WIFS[0]).unwrap();
    let single = &w.accounts[0];
    assert_eq!(
        single.contract.as_ref().unwrap().script,
        k0.public_key().verification_script()
    );
    assert_eq!(
        w.decrypt_account("Nhfg3TbpwogLvDGVvAvqyThbsHgoSUKwtn", "one")
            .unwrap(),
        k0
    );
    assert!(
        w.decrypt_account("Nhfg3TbpwogLvDGVvAvqyThbsHgoSUKwtn", "two")
            .is_err()
    );

    // 3-of-4 multisig of the four privnet keys; keys given unsorted, the script sorts them.
    let mut pubs: Vec<PublicKey> = PRIVNET_WIFS
        .iter()
        .map(|w| PrivateKey::from_wif(w).unwrap().public_key())
        .collect();
    pubs.reverse();
    let script = multisig_script(3, &pubs).unwrap();
    let multi = &w.accounts[1];
    assert_eq!(
        B64.encode(&script),
        B64.encode(&multi.contract.as_ref().unwrap().script)
    );
    assert_eq!(
        UInt160::from_script(&script).to_address(),
        "NVTiAjNgagDkTr5HTzDmQP9kPwPHN5BgVq"
    );
    let (m, keys) = parse_multisig_script(&script).unwrap();
    assert_eq!(m, 3);
    assert_eq!(keys.len(), 4);
    assert!(keys.windows(2).all(|p| p[0] < p[1]));
    // The multisig account stores the participant key k0; decryption checks membership.
    assert_eq!(
        w.decrypt_account("NVTiAjNgagDkTr5HTzDmQP9kPwPHN5BgVq", "one")
            .unwrap(),
        k0
    );
}

/// neo-go pkg/core/transaction/helper_test.go rawInvocationTX (a C# privnet transaction) and the
/// expectations of transaction_test.go TestDecodeEncodeInvocationTX.
const RAW_INVOCATION_TX: &str = "ANgkvBnA2KcAAAAAACCqRAAAAAAA6AMAAAHe7nnBifMAmLC6ai65CzqSWKbH/wEAXwsDAEDZ3YhNCgAMFIDOx7b1tW9QV49zfxYtOrFNRmUNDBTe7nnBifMAmLC6ai65CzqSWKbH/xTAHwwIdHJhbnNmZXIMFM924ovQBixKR47jVWEBExnzz6TSQWJ9W1I5AcYMQNafQPvPYQuqk3yCFwz8+18XCjnr8F8Rqx8e5IoQIkxjG9TjuvZm1KKGDn2UbFJnMey/FPLqezK8nbbJw2Eg10kMQKXrVyD3fs38e6Mqwsy7bAkxLsLnhvMnerbYLOqWW/DdinzT1RKAoOz5b7dAPusj5IWzQ6EifSCigJRTp//XdaMMQOv1d15PkIZM7wIvQmKDNxNy5yzQYFyoezx9Og7rM+64J9LtaHp3LFIKKNPgDhL7sFR1bd2w7vzbyR7V+Pyg3GaTEwwhAhA6f33QFlWFl/eWDSfFFqQ5T9loueZRVetLAT5AQEBuDCECp7xV/oaE4BGXaNEEujB5W9zIZhnoZK3SYVZyPtGFzWIMIQKzYiv0AXvf4xfFiu1fTHU/IGt9uJYEb6fXdLvEv3+NwgwhA9kMB99j5pDOd5EuEKtRrMlEtmhgI3tgjE+PgwnnHuaZFEF7zmyl";

#[test]
fn signed_transaction_roundtrip() {
    let raw = B64.decode(RAW_INVOCATION_TX).unwrap();
    let tx = Transaction::from_bytes(&raw).unwrap();
    assert_eq!(
        B64.encode(&tx.script),
        "CwMAQNndiE0KAAwUgM7HtvW1b1BXj3N/Fi06sU1GZQ0MFN7uecGJ8wCYsLpqLrkLOpJYpsf/FMAfDAh0cmFuc2ZlcgwUz3bii9AGLEpHjuNVYQETGfPPpNJBYn1bUjk="
    );
    assert_eq!(tx.nonce, 431_760_600);
    assert_eq!(tx.system_fee, 11_000_000);
    assert_eq!(tx.network_fee, 4_500_000);
    assert_eq!(tx.valid_until_block, 1000);
    assert_eq!(
        tx.hash(),
        "0x25426643feed564cd3e57f346d6c68692f5622b3063da11c5572d99ee1a5b49a"
            .parse::<UInt256>()
            .unwrap()
    );
    assert_eq!(tx.signers.len(), 1);
    assert_eq!(tx.signers[0].scopes, WitnessScope::CALLED_BY_ENTRY);
    assert_eq!(
        tx.signers[0].account.to_string(),
        "0xffc7a658923a0bb92e6abab09800f389c179eede"
    );
    assert!(tx.attributes.is_empty());
    assert_eq!(tx.witnesses.len(), 1);
    assert_eq!(
        B64.encode(&tx.witnesses[0].invocation),
        "DEDWn0D7z2ELqpN8ghcM/PtfFwo56/BfEasfHuSKECJMYxvU47r2ZtSihg59lGxSZzHsvxTy6nsyvJ22ycNhINdJDECl61cg937N/HujKsLMu2wJMS7C54bzJ3q22Czqllvw3Yp809USgKDs+W+3QD7rI+SFs0OhIn0gooCUU6f/13WjDEDr9XdeT5CGTO8CL0JigzcTcucs0GBcqHs8fToO6zPuuCfS7Wh6dyxSCijT4A4S+7BUdW3dsO7828ke1fj8oNxm"
    );
    assert_eq!(tx.witnesses[0].signatures().unwrap().len(), 3);
    // Byte-for-byte re-encoding, and the hash from the unsigned part alone.
    assert_eq!(tx.to_bytes(), raw);
    assert_eq!(tx.size(), raw.len());
    let unsigned = Transaction::from_unsigned_bytes(&tx.encode_unsigned()).unwrap();
    assert_eq!(unsigned.hash(), tx.hash());
    // Every strict prefix is rejected, never a panic; so is a trailing byte.
    for cut in 0..raw.len() {
        assert!(
            Transaction::from_bytes(&raw[..cut]).is_err(),
            "prefix of {cut} bytes accepted"
        );
    }
    let mut longer = raw.clone();
    longer.push(0);
    assert!(matches!(
        Transaction::from_bytes(&longer),
        Err(neo::Error::TrailingBytes(1))
    ));
    // RPC JSON form round trip (hash checked on the way back).
    let json = serde_json::to_value(&tx).unwrap();
    assert_eq!(
        json["hash"],
        "0x25426643feed564cd3e57f346d6c68692f5622b3063da11c5572d99ee1a5b49a"
    );
    assert_eq!(json["sysfee"], "11000000");
    assert_eq!(json["signers"][0]["scopes"], "CalledByEntry");
    let back: Transaction = serde_json::from_value(json).unwrap();
    assert_eq!(back, tx);
}
