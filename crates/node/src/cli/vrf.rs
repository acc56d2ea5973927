//! `nsl vrf ...`: check randomness produced by a node (ECVRF, RFC 9381, suite
//! ECVRF-P256-SHA256-TAI) without trusting the node.
//!
//! `nsl vrf verify` exits 0 and prints beta (hex) when the proof is valid, 1 when it is well formed
//! but does not verify, 2 when an argument is malformed.

use clap::{Args, Subcommand};
use serde::Serialize;

use super::{CliError, CliResult, Output};

/// VRF commands.
#[derive(Debug, Subcommand)]
pub enum VrfCmd {
    /// Verify a VRF proof: prints the output beta (hex) if the proof is valid (exit 0), fails with
    /// exit 1 if it does not verify, 2 if an argument is malformed.
    Verify(VerifyArgs),
}

/// `nsl vrf verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The node's VRF public key, hex (SEC1 compressed 33 bytes or uncompressed 65 bytes).
    #[arg(long, value_name = "PUB_HEX")]
    key: String,
    /// The VRF input alpha, hex (may be empty).
    #[arg(long, value_name = "HEX", allow_hyphen_values = true)]
    alpha: String,
    /// The proof pi, hex (81 bytes).
    #[arg(long, value_name = "HEX")]
    proof: String,
    /// Also print the first N words derived from beta (word i = SHA-256(beta || i as u16 BE)).
    #[arg(long, value_name = "N", default_value_t = 0,
          value_parser = clap::value_parser!(u16).range(0..=i64::from(nsl_vrf::MAX_WORDS)))]
    words: u16,
}

#[derive(Serialize)]
struct Verified {
    valid: bool,
    beta: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    words: Vec<String>,
}

pub(super) fn run(cmd: VrfCmd, out: &Output) -> CliResult {
    match cmd {
        VrfCmd::Verify(args) => verify(args, out),
    }
}

fn parse_hex(what: &str, text: &str) -> CliResult<Vec<u8>> {
    let t = text.trim();
    let t = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    hex::decode(t).map_err(|e| CliError::bad_input(format_args!("--{what}: not hex ({e})")))
}

fn verify(args: VerifyArgs, out: &Output) -> CliResult {
    let key = nsl_vrf::PublicKey::from_sec1(&parse_hex("key", &args.key)?)
        .map_err(|e| CliError::bad_input(format_args!("--key: {e}")))?;
    let alpha = parse_hex("alpha", &args.alpha)?;
    let proof = nsl_vrf::Proof::from_bytes(&parse_hex("proof", &args.proof)?)
        .map_err(|e| CliError::bad_input(format_args!("--proof: {e}")))?;
    let beta = match nsl_vrf::verify(&key, &alpha, &proof) {
        Ok(beta) => beta,
        Err(nsl_vrf::VrfError::InvalidProof) => {
            return Err(CliError::Runtime(anyhow::anyhow!(
                "invalid proof: it does not verify for this key and input"
            )));
        }
        Err(e) => return Err(CliError::bad_input(e)),
    };
    let words: Vec<String> = nsl_vrf::words(&beta, args.words)
        .iter()
        .map(hex::encode)
        .collect();
    if out.is_json() {
        out.print(&Verified {
            valid: true,
            beta: hex::encode(beta),
            words,
        });
    } else {
        println!("{}", hex::encode(beta));
        for w in words {
            println!("{w}");
        }
    }
    Ok(())
}
