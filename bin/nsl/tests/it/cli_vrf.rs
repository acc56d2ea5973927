//! `nsl vrf verify` running the real binary: an RFC 9381 vector (exit 0, beta on stdout), a
//! tampered proof or input (exit 1), malformed arguments (exit 2, one-line error).

use std::process::{Command, Output};

/// RFC 9381 appendix B.1, example 11 (ECVRF-P256-SHA256-TAI, alpha = "test").
const PK: &str = "0360fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6";
const ALPHA: &str = "74657374";
const PI: &str = "034dac60aba508ba0c01aa9be80377ebd7562c4a52d74722e0abae7dc3080ddb56c19e067b15a8a8174905b13617804534214f935b94c2287f797e393eb0816969d864f37625b443f30f1a5a33f2b3c854";
const BETA: &str = "a284f94ceec2ff4b3794629da7cbafa49121972671b466cab4ce170aa365f26d";

fn verify(key: &str, alpha: &str, proof: &str, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nsl"))
        .args([
            "vrf", "verify", "--key", key, "--alpha", alpha, "--proof", proof,
        ])
        .args(extra)
        .output()
        .expect("run nsl")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn valid_rfc_vector_exits_0_and_prints_beta() {
    let o = verify(PK, ALPHA, PI, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), format!("{BETA}\n"));

    // 0x prefixes and upper case are fine; --words prints the derived words after beta.
    let o = verify(
        &format!("0x{}", PK.to_uppercase()),
        &format!("0x{ALPHA}"),
        PI,
        &["--words", "2"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert_eq!(lines[0], BETA);
    let beta = hex::decode(BETA).unwrap().try_into().unwrap();
    for (i, w) in nsl_vrf::words(&beta, 2).iter().enumerate() {
        assert_eq!(lines[i + 1], hex::encode(w));
    }

    let o = verify(PK, ALPHA, PI, &["--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["valid"], true);
    assert_eq!(v["beta"], BETA);
}

#[test]
fn invalid_proof_exits_1() {
    // Another input, a flipped bit of c, a proof of another example.
    let mut flipped = hex::decode(PI).unwrap();
    flipped[40] ^= 0x01;
    let other_example = "035b5c726e8c0e2c488a107c600578ee75cb702343c153cb1eb8dec77f4b5071b4a53f0a46f018bc2c56e58d383f2305e0975972c26feea0eb122fe7893c15af376b33edf7de17c6ea056d4d82de6bc02f";
    for (alpha, proof) in [
        ("74657375", PI.to_owned()),
        ("", PI.to_owned()),
        (ALPHA, hex::encode(&flipped)),
        (ALPHA, other_example.to_owned()),
    ] {
        let o = verify(PK, alpha, &proof, &[]);
        assert_eq!(o.status.code(), Some(1), "alpha {alpha:?}: {}", stderr(&o));
        assert!(o.stdout.is_empty());
        let err = stderr(&o);
        assert!(err.contains("invalid proof"), "{err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    }
    // Another key.
    let other_key = "03596375e6ce57e0f20294fc46bdfcfd19a39f8161b58695b3ec5b3d16427c274d";
    assert_eq!(verify(other_key, ALPHA, PI, &[]).status.code(), Some(1));
}

#[test]
fn malformed_input_exits_2_with_a_clear_message() {
    let order = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";
    let s_is_order = format!("{}{order}", &PI[..98]);
    let bad_gamma = format!("04{}", &PI[2..]);
    let cases: Vec<(String, String, String, &str)> = vec![
        ("zz".into(), ALPHA.into(), PI.into(), "--key: not hex"),
        (
            PK[..64].into(),
            ALPHA.into(),
            PI.into(),
            "--key: invalid VRF public key",
        ),
        (
            format!("02{}", "ff".repeat(32)),
            ALPHA.into(),
            PI.into(),
            "--key: invalid VRF public key",
        ),
        (PK.into(), "abc".into(), PI.into(), "--alpha: not hex"),
        (
            PK.into(),
            ALPHA.into(),
            PI[..160].into(),
            "--proof: malformed VRF proof: a proof is exactly 81 bytes",
        ),
        (
            PK.into(),
            ALPHA.into(),
            s_is_order,
            "s is not below the group order",
        ),
        (
            PK.into(),
            ALPHA.into(),
            bad_gamma,
            "Gamma is not a compressed point",
        ),
    ];
    for (key, alpha, proof, expected) in cases {
        let o = verify(&key, &alpha, &proof, &[]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{expected}: {err}");
        assert!(err.contains(expected), "expected {expected:?} in {err:?}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(o.stdout.is_empty());
    }
    // Missing argument and too many words: usage errors, exit 2.
    let o = Command::new(env!("CARGO_BIN_EXE_nsl"))
        .args(["vrf", "verify", "--key", PK, "--alpha", ALPHA])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        verify(PK, ALPHA, PI, &["--words", "17"]).status.code(),
        Some(2)
    );
}
