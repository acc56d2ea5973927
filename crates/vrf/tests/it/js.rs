//! The JavaScript verifier in `clients/vrf-verify`: its own `node --test`
//! suite (RFC vectors, tampered inputs), and a cross-check that it accepts
//! proofs made by this crate, derives the same beta and words, and refuses
//! the same tampered proofs.
//!
//! These tests need Node.js (>= 18) on PATH, as CI has; without it they fail
//! with a message saying so rather than skip.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use nsl_vrf::{Proof, SecretKey, prove, verify, words};
use rand::{Rng, RngCore};

fn package_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../clients/vrf-verify")
}

fn node() -> Command {
    match Command::new("node").arg("--version").output() {
        Ok(out) if out.status.success() => Command::new("node"),
        _ => panic!(
            "`node` (Node.js >= 18) is not on PATH: it is required to test the JavaScript VRF \
             verifier in clients/vrf-verify. Install Node.js and run the tests again."
        ),
    }
}

fn check(out: &Output, what: &str) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn js_verifier_own_test_suite_passes() {
    let out = node()
        .arg("--test")
        .arg("test/")
        .current_dir(package_dir())
        .output()
        .expect("run node --test");
    let stdout = check(&out, "node --test clients/vrf-verify");
    assert!(stdout.contains("# fail 0"), "{stdout}");
    assert!(!stdout.contains("# pass 0"), "no JS test ran:\n{stdout}");
}

/// Reads lines `pk alpha pi tampered` (0x-hex) on stdin, prints for each
/// `beta w0 w1 w2 <code the tampered proof was refused with, or ACCEPTED>`.
const CROSS_CHECK: &str = r#"
const m = await import(process.argv[1]);
let input = '';
for await (const chunk of process.stdin) input += chunk;
for (const line of input.trim().split('\n')) {
  const [pk, alpha, pi, tampered] = line.split(' ');
  const beta = await m.verify(pk, alpha, pi);
  const w = (await m.words(beta, 3)).map(m.bytesToHex);
  let refused = 'ACCEPTED';
  try { await m.verify(pk, alpha, tampered); } catch (e) { refused = e.code ?? String(e); }
  console.log([m.bytesToHex(beta), ...w, refused].join(' '));
}
"#;

#[test]
fn js_verifies_50_random_rust_proofs_and_refuses_tampered_ones() {
    let mut rng = rand::thread_rng();
    let mut input = String::new();
    let mut expected = Vec::new();
    while expected.len() < 50 {
        let mut sk_bytes = [0u8; 32];
        rng.fill_bytes(&mut sk_bytes);
        let Ok(sk) = SecretKey::from_bytes(&sk_bytes) else {
            continue;
        };
        let mut alpha = vec![0u8; rng.gen_range(0..100)];
        rng.fill_bytes(&mut alpha);
        let pk = sk.public_key();
        let proof = prove(&sk, &alpha);
        let beta = verify(&pk, &alpha, &proof).unwrap();
        let mut tampered = proof.to_bytes();
        let bit = rng.gen_range(0..tampered.len() * 8);
        tampered[bit / 8] ^= 1 << (bit % 8);
        // The Rust verifier refuses it too (parse error or invalid proof).
        let refused = match Proof::from_bytes(&tampered) {
            Err(_) => true,
            Ok(t) => verify(&pk, &alpha, &t).is_err(),
        };
        assert!(refused, "Rust accepted a tampered proof");
        input.push_str(&format!(
            "0x{} 0x{} 0x{} 0x{}\n",
            hex::encode(pk.to_compressed()),
            hex::encode(&alpha),
            hex::encode(proof.to_bytes()),
            hex::encode(tampered)
        ));
        let w: Vec<String> = words(&beta, 3).iter().map(hex::encode).collect();
        expected.push(format!("{} {}", hex::encode(beta), w.join(" ")));
    }

    let module = package_dir().join("index.js").canonicalize().unwrap();
    let module_url = format!("file://{}", module.display());
    let mut child = node()
        .args(["--input-type=module", "-e", CROSS_CHECK, "--", &module_url])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn node");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = check(&out, "JS cross-check");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 50, "{stdout}");
    for (i, (line, want)) in lines.iter().zip(&expected).enumerate() {
        let (got, refused) = line.rsplit_once(' ').unwrap();
        assert_eq!(got, want, "case {i}: beta/words differ between Rust and JS");
        assert!(
            refused == "INVALID_PROOF" || refused == "MALFORMED_PROOF",
            "case {i}: JS did not refuse the tampered proof: {refused}"
        );
    }
}
