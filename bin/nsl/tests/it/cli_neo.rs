//! End-to-end tests of `nsl neo ...` running the real binary: known vectors from neo-go, and bad
//! input that must end with exit code 2 and a one-line error (never a panic).

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

fn nsl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nsl"))
        .args(args)
        .output()
        .expect("run nsl")
}

fn nsl_stdin(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_nsl"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run nsl");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait nsl")
}

fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "nsl failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).expect("utf-8 stdout")
}

/// Value of a `key  value` line of the human output.
fn field(out: &str, key: &str) -> String {
    out.lines()
        .find_map(|l| {
            l.strip_prefix(key)
                .filter(|rest| rest.starts_with(' '))
                .map(|r| r.trim().to_owned())
        })
        .unwrap_or_else(|| panic!("no {key} in:\n{out}"))
}

/// Exit code 2, one line on stderr starting with `error:`, nothing that looks like a panic.
fn assert_bad_input(o: &Output, expect_in_msg: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "stderr: {err}");
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one line expected: {err}"
    );
    assert!(err.starts_with("error: "), "{err}");
    assert!(
        err.contains(expect_in_msg),
        "expected {expect_in_msg:?} in {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

// neo-go internal/keytestcases/testcases.go
const WIF: &str = "L1QqQJnpBwbsPGAuutuzPTac8piqvbR1HRjrY5qHup48TBCBFe4g";
const PUB: &str = "02028a99826edc0c97d18e22b6932373d908d323aa7f92656a77ec26e8861699ef";
const ADDR: &str = "NPTmAHDxo6Pkyic8Nvu3kwyXoYJCvcCB6i";
const HASH: &str = "0xa7cbfee3f01f89d58c042644b0b6df2d59a6eb26";

#[test]
fn address_from_pubkey_wif_and_address() {
    let out = stdout(&nsl(&["neo", "address", "--pubkey", PUB]));
    assert_eq!(field(&out, "address"), ADDR);
    assert_eq!(field(&out, "scriptHash"), HASH);

    let out = stdout(&nsl(&["neo", "address", "--wif", WIF]));
    assert_eq!(field(&out, "address"), ADDR);
    assert_eq!(field(&out, "publicKey"), PUB);
    assert!(!out.contains(WIF), "the WIF is never printed");

    let out = stdout(&nsl_stdin(
        &["neo", "address", "--wif", "-"],
        &format!("{WIF}\n"),
    ));
    assert_eq!(field(&out, "scriptHash"), HASH);

    let out = stdout(&nsl(&["neo", "address", "--address", ADDR]));
    assert_eq!(field(&out, "scriptHash"), HASH);

    // Uncompressed form of the same key (neon-js getPublicKeyUnencoded).
    let unc = "04028a99826edc0c97d18e22b6932373d908d323aa7f92656a77ec26e8861699ef35787439bef71cafeebeb4dfd8954d13470d3c383d59f491d98b079c5edbcc2e";
    let out = stdout(&nsl(&["--json", "neo", "address", "--pubkey", unc]));
    assert!(out.contains(&format!("\"address\": \"{ADDR}\"")), "{out}");
    assert!(out.contains(&format!("\"publicKey\": \"{PUB}\"")), "{out}");
}

#[test]
fn address_bad_input() {
    assert_bad_input(&nsl(&["neo", "address", "--pubkey", "0202"]), "--pubkey");
    assert_bad_input(
        &nsl(&["neo", "address", "--pubkey", &format!("05{}", &PUB[2..])]),
        "prefix",
    );
    assert_bad_input(&nsl(&["neo", "address", "--pubkey", "zz"]), "hex");
    let bad_wif = "L1QqQJnpBwbsPGAuutuzPTac8piqvbR1HRjrY5qHup48TBCBFe4h";
    let o = nsl(&["neo", "address", "--wif", bad_wif]);
    assert_bad_input(&o, "checksum");
    assert!(
        !String::from_utf8_lossy(&o.stderr).contains(bad_wif),
        "the WIF is not echoed"
    );
    assert_bad_input(
        &nsl(&[
            "neo",
            "address",
            "--address",
            "NPTmAHDxo6Pkyic8Nvu3kwyXoYJCvcCB6j",
        ]),
        "checksum",
    );
    assert_eq!(nsl(&["neo", "address"]).status.code(), Some(2));
}

#[test]
fn multisig_matches_neo_go_wallet() {
    // neo-go pkg/wallet/testdata/wallet1.json: 3-of-4 account of the privnet keys.
    let keys = [
        "02b3622bf4017bdfe317c58aed5f4c753f206b7db896046fa7d774bbc4bf7f8dc2",
        "02103a7f7dd016558597f7960d27c516a4394fd968b9e65155eb4b013e4040406e",
        "03d90c07df63e690ce77912e10ab51acc944b66860237b608c4f8f8309e71ee699",
        "02a7bc55fe8684e0119768d104ba30795bdcc86619e864add26156723ed185cd62",
    ]
    .join(",");
    let out = stdout(&nsl(&["neo", "multisig", "--m", "3", "--pubkeys", &keys]));
    assert_eq!(field(&out, "address"), "NVTiAjNgagDkTr5HTzDmQP9kPwPHN5BgVq");
    assert_eq!(
        field(&out, "script"),
        "130c2102103a7f7dd016558597f7960d27c516a4394fd968b9e65155eb4b013e4040406e0c2102a7bc55fe8684e0119768d104ba30795bdcc86619e864add26156723ed185cd620c2102b3622bf4017bdfe317c58aed5f4c753f206b7db896046fa7d774bbc4bf7f8dc20c2103d90c07df63e690ce77912e10ab51acc944b66860237b608c4f8f8309e71ee69914419ed0dc3a"
    );
    assert_eq!(field(&out, "m"), "3");
    assert_eq!(field(&out, "n"), "4");

    assert_bad_input(
        &nsl(&["neo", "multisig", "--m", "5", "--pubkeys", &keys]),
        "m = 5",
    );
    assert_bad_input(
        &nsl(&["neo", "multisig", "--m", "0", "--pubkeys", PUB]),
        "m = 0",
    );
    assert_bad_input(
        &nsl(&[
            "neo",
            "multisig",
            "--m",
            "1",
            "--pubkeys",
            &format!("{PUB},{PUB}"),
        ]),
        "duplicate",
    );
    assert_bad_input(
        &nsl(&[
            "neo",
            "multisig",
            "--m",
            "1",
            "--pubkeys",
            &format!("{PUB},02ab"),
        ]),
        "key 2",
    );
}

// neo-go pkg/core/transaction/helper_test.go rawInvocationTX.
const RAW_TX: &str = "ANgkvBnA2KcAAAAAACCqRAAAAAAA6AMAAAHe7nnBifMAmLC6ai65CzqSWKbH/wEAXwsDAEDZ3YhNCgAMFIDOx7b1tW9QV49zfxYtOrFNRmUNDBTe7nnBifMAmLC6ai65CzqSWKbH/xTAHwwIdHJhbnNmZXIMFM924ovQBixKR47jVWEBExnzz6TSQWJ9W1I5AcYMQNafQPvPYQuqk3yCFwz8+18XCjnr8F8Rqx8e5IoQIkxjG9TjuvZm1KKGDn2UbFJnMey/FPLqezK8nbbJw2Eg10kMQKXrVyD3fs38e6Mqwsy7bAkxLsLnhvMnerbYLOqWW/DdinzT1RKAoOz5b7dAPusj5IWzQ6EifSCigJRTp//XdaMMQOv1d15PkIZM7wIvQmKDNxNy5yzQYFyoezx9Og7rM+64J9LtaHp3LFIKKNPgDhL7sFR1bd2w7vzbyR7V+Pyg3GaTEwwhAhA6f33QFlWFl/eWDSfFFqQ5T9loueZRVetLAT5AQEBuDCECp7xV/oaE4BGXaNEEujB5W9zIZhnoZK3SYVZyPtGFzWIMIQKzYiv0AXvf4xfFiu1fTHU/IGt9uJYEb6fXdLvEv3+NwgwhA9kMB99j5pDOd5EuEKtRrMlEtmhgI3tgjE+PgwnnHuaZFEF7zmyl";

/// Hex of RAW_TX, from the base64 decoding the CLI also performs (checked by the equal outputs).
fn raw_tx_hex() -> String {
    let out = stdout(&nsl(&["--json", "neo", "tx", "decode", RAW_TX]));
    assert!(out.contains(
        "\"hash\": \"0x25426643feed564cd3e57f346d6c68692f5622b3063da11c5572d99ee1a5b49a\""
    ));
    // Rebuild the hex from the base64 input with a tiny decoder (no extra crates in this test).
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut n = 0;
    let mut bytes = Vec::new();
    for c in RAW_TX.bytes().filter(|&c| c != b'=') {
        let v = alphabet.iter().position(|&a| a == c).expect("base64") as u32;
        bits = (bits << 6) | v;
        n += 6;
        if n >= 8 {
            n -= 8;
            bytes.push((bits >> n) as u8);
        }
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn tx_decode() {
    let hex = raw_tx_hex();
    let out = stdout(&nsl(&["neo", "tx", "decode", &hex]));
    assert_eq!(
        field(&out, "hash"),
        "0x25426643feed564cd3e57f346d6c68692f5622b3063da11c5572d99ee1a5b49a"
    );
    assert_eq!(field(&out, "nonce"), "431760600");
    assert_eq!(field(&out, "systemFee"), "11000000");
    assert_eq!(field(&out, "systemFeeGas"), "0.11");
    assert_eq!(field(&out, "networkFee"), "4500000");
    assert_eq!(field(&out, "networkFeeGas"), "0.045");
    assert_eq!(field(&out, "validUntilBlock"), "1000");
    assert_eq!(field(&out, "size"), (hex.len() / 2).to_string());
    let sender = field(&out, "sender");
    assert!(sender.starts_with('N') && sender.len() == 34, "{sender}");
    let signers = field(&out, "signers");
    assert!(
        signers.contains("0xffc7a658923a0bb92e6abab09800f389c179eede"),
        "{signers}"
    );
    assert!(
        signers.contains("\"scopes\":[\"CalledByEntry\"]"),
        "{signers}"
    );
    assert!(signers.contains(&sender));
    assert!(field(&out, "script").starts_with("0b030040d9dd884d0a00"));
    assert!(field(&out, "witnesses").contains("\"invocation\":\"0c40d69f40fb"));

    // Same result with 0x prefix and from stdin.
    let with_prefix = stdout(&nsl(&["neo", "tx", "decode", &format!("0x{hex}")]));
    assert_eq!(with_prefix, out);
    let from_stdin = stdout(&nsl_stdin(
        &["neo", "tx", "decode", "-"],
        &format!("{hex}\n"),
    ));
    assert_eq!(from_stdin, out);
}

#[test]
fn tx_decode_bad_input() {
    let hex = raw_tx_hex();
    assert_bad_input(
        &nsl(&["neo", "tx", "decode", &hex[..hex.len() - 2]]),
        "unexpected end of data",
    );
    assert_bad_input(
        &nsl(&["neo", "tx", "decode", &format!("{hex}00")]),
        "trailing",
    );
    assert_bad_input(
        &nsl(&["neo", "tx", "decode", &hex[..hex.len() - 1]]),
        "odd number",
    );
    assert_bad_input(
        &nsl(&["neo", "tx", "decode", "not a transaction!"]),
        "neither hex nor base64",
    );
    assert_bad_input(&nsl(&["neo", "tx", "decode", ""]), "empty");
    // Version 1 is not a Neo N3 transaction.
    assert_bad_input(
        &nsl(&["neo", "tx", "decode", &format!("01{}", &hex[2..])]),
        "version",
    );
    // Every truncation point gives a clean error.
    for cut in (2..hex.len() - 2).step_by(74) {
        let o = nsl(&["neo", "tx", "decode", &hex[..cut - cut % 2]]);
        assert_eq!(o.status.code(), Some(2), "cut at {cut}");
        assert!(!String::from_utf8_lossy(&o.stderr).contains("panicked"));
    }
}
