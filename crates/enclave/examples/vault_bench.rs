//! Rough throughput figures for the software vault (not a test; prints
//! numbers). Run with `cargo run --release -p nsl-enclave --example vault_bench`.

use std::time::Instant;

use nsl_enclave::{
    Kek, KekSource, ReportData, SoftwareVault, SoftwareVaultConfig, Vault, open_secret, rewrap,
    seal_secret,
};

fn rate(
    label: &str,
    n: u32,
    mut f: impl FnMut(u32) -> nsl_enclave::Result<()>,
) -> nsl_enclave::Result<()> {
    let start = Instant::now();
    for i in 0..n {
        f(i)?;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{label:<28} {n:>6} ops  {:>10.0} ops/s  {:>8.1} us/op",
        f64::from(n) / secs,
        secs * 1e6 / f64::from(n)
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::TempDir::new()?;
    let vault = SoftwareVault::open(SoftwareVaultConfig {
        data_dir: dir.path().join("vault"),
        kek: KekSource::Key(Kek::generate()?),
    })?;
    let pk = vault.generate_signing_key("node")?;
    let digest = [7u8; 32];
    let sig = vault.sign_digest("node", &digest)?;
    let secret = vec![0x42u8; 256];
    let sealed = seal_secret(&vault, "acct", "name", 1, &secret)?;

    rate("sign_digest (P-256)", 2_000, |_| {
        vault.sign_digest("node", &digest).map(drop)
    })?;
    rate("verify_digest (P-256)", 2_000, |_| {
        assert!(pk.verify_digest(&digest, &sig));
        Ok(())
    })?;
    rate("seal_secret (256 B)", 20_000, |i| {
        seal_secret(&vault, "acct", "name", u64::from(i), &secret).map(drop)
    })?;
    rate("open_secret (256 B)", 20_000, |_| {
        open_secret(&vault, "acct", "name", 1, &sealed).map(drop)
    })?;
    rate("seal + unseal (256 B)", 20_000, |_| {
        let blob = vault.seal("label", &secret)?;
        vault.unseal("label", &blob).map(drop)
    })?;
    rate("attest (simulated)", 2_000, |_| {
        vault.attest(&ReportData::for_public_key(&pk)).map(drop)
    })?;
    rate("generate_signing_key (fsync)", 50, |i| {
        vault.generate_signing_key(&format!("k{i}")).map(drop)
    })?;
    vault.rotate_master_key()?;
    rate("rewrap", 20_000, |_| rewrap(&vault, &sealed).map(drop))?;
    Ok(())
}
