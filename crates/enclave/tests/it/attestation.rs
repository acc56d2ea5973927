use nsl_enclave::{AttestationMode, AttestationReport, Evidence, ReportData, Vault};
use sha2::{Digest, Sha256};
use tempfile::TempDir;

use crate::{KEK_HEX, fresh, open_with};

fn signer(report: &AttestationReport) -> nsl_enclave::PublicKey {
    match &report.evidence {
        Evidence::Simulated { signer, .. } => *signer,
        other => panic!("simulated evidence expected, got {other:?}"),
    }
}

#[test]
fn report_says_simulated_and_binds_the_public_key() {
    let (_dir, vault) = fresh();
    assert_eq!(vault.mode(), AttestationMode::Simulated);
    let pk = vault.generate_signing_key("node").unwrap();
    let data = ReportData::for_public_key(&pk);
    let report = vault.attest(&data).unwrap();
    assert_eq!(report.mode, AttestationMode::Simulated);
    assert!(report.binds(&data));
    // Report data = SHA-256(compressed public key) || 32 zero bytes.
    let hash: [u8; 32] = Sha256::digest(pk.to_compressed()).into();
    assert_eq!(&report.report_data.as_bytes()[..32], &hash);
    assert_eq!(&report.report_data.as_bytes()[32..], &[0u8; 32]);
    report.verify().expect("self-consistent report");

    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["mode"], "simulated");
    assert_eq!(json["evidence"]["kind"], "simulated");
    assert_eq!(
        json["report_data"].as_str().unwrap(),
        format!("{}{}", hex::encode(hash), "00".repeat(32))
    );
    let back: AttestationReport = serde_json::from_value(json).unwrap();
    assert_eq!(back, report);
    back.verify().unwrap();
}

#[test]
fn altered_reports_do_not_verify() {
    let (_dir, vault) = fresh();
    let report = vault.attest(&ReportData::for_data(b"caller data")).unwrap();
    assert!(report.binds(&ReportData::for_data(b"caller data")));
    assert!(!report.binds(&ReportData::for_data(b"other data")));

    let mut other_data = report.clone();
    other_data.report_data = ReportData::for_data(b"other data");
    assert!(other_data.verify().is_err());

    let mut other_time = report.clone();
    other_time.issued_at += 1;
    assert!(other_time.verify().is_err());

    let mut other_id = report.clone();
    other_id.vault_id = "00".repeat(16);
    assert!(other_id.verify().is_err());

    // A signer swapped for another vault's key does not verify either.
    let (_dir2, vault2) = fresh();
    let foreign = vault2.attest(&report.report_data).unwrap();
    let signer = signer(&foreign);
    let mut swapped = report.clone();
    if let Evidence::Simulated { signer: s, .. } = &mut swapped.evidence {
        *s = signer;
    }
    assert!(swapped.verify().is_err());
}

#[test]
fn vault_identity_is_stable_across_restarts() {
    let dir = TempDir::new().unwrap();
    let data = ReportData::for_data(b"x");
    let first = open_with(dir.path(), KEK_HEX)
        .unwrap()
        .attest(&data)
        .unwrap();
    let second = open_with(dir.path(), KEK_HEX)
        .unwrap()
        .attest(&data)
        .unwrap();
    assert_eq!(first.vault_id, second.vault_id);
    assert_eq!(first.vault_id.len(), 32);
    assert_eq!(signer(&first), signer(&second));
    let (_d, other) = fresh();
    assert_ne!(other.attest(&data).unwrap().vault_id, first.vault_id);
}

#[test]
fn attestation_key_is_not_a_named_signing_key() {
    let (_dir, vault) = fresh();
    assert!(vault.signing_keys().unwrap().is_empty());
    let report = vault.attest(&ReportData::for_data(b"x")).unwrap();
    let signer = signer(&report);
    let pk = vault.generate_signing_key("node").unwrap();
    assert_ne!(pk, signer);
}
