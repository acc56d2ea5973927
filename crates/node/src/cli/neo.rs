//! `nsl neo ...`: the Neo N3 toolbox (addresses, multisig accounts, transaction decoding), built on
//! the `neo` crate. Every malformed input is a one-line error with exit code 2, never a panic.

use std::io::Read as _;

use clap::{ArgGroup, Args, Subcommand};
use neo::contract::{multisig_script, parse_multisig_script, parse_single_sig_script};
use neo::encoding::{from_base64, from_hex, to_hex};
use neo::{PrivateKey, PublicKey, Transaction, UInt160, Witness, Zeroizing, fixed8_to_string};
use serde::Serialize;

use super::{CliError, CliResult, Output};

/// Neo N3 toolbox commands.
#[derive(Debug, Subcommand)]
pub enum NeoCmd {
    /// Address and script hash of a public key, a WIF key, or an address.
    Address(AddressArgs),
    /// Verification script, script hash and address of an m-of-n multisig account.
    Multisig(MultisigArgs),
    /// Transactions.
    #[command(subcommand)]
    Tx(TxCmd),
}

/// `nsl neo address`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("input").required(true).args(["pubkey", "wif", "address"])))]
pub struct AddressArgs {
    /// Public key, hex (compressed 33 bytes or uncompressed 65 bytes).
    #[arg(long, value_name = "HEX")]
    pubkey: Option<String>,
    /// Private key in WIF; `-` reads it from stdin (keeps it out of the process list and history).
    #[arg(long, value_name = "WIF")]
    wif: Option<String>,
    /// A Neo N3 address, to get its script hash.
    #[arg(long, value_name = "ADDRESS")]
    address: Option<String>,
}

/// `nsl neo multisig`.
#[derive(Debug, Args)]
pub struct MultisigArgs {
    /// Signatures required.
    #[arg(long)]
    m: usize,
    /// Comma-separated public keys (hex), in any order: the script sorts them as Neo does.
    #[arg(
        long,
        value_delimiter = ',',
        required = true,
        value_name = "HEX,HEX,..."
    )]
    pubkeys: Vec<String>,
}

/// `nsl neo tx ...`.
#[derive(Debug, Subcommand)]
pub enum TxCmd {
    /// Decode a signed transaction (hex, or base64 as RPC nodes return it).
    Decode {
        /// The transaction bytes; `-` reads them from stdin.
        tx: String,
    },
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AddressOut {
    address: String,
    script_hash: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    public_key: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MultisigOut {
    m: usize,
    n: usize,
    public_keys: Vec<String>,
    script: String,
    script_hash: String,
    address: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SignerOut {
    account: String,
    address: String,
    scopes: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    allowed_contracts: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    allowed_groups: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    rules: Vec<serde_json::Value>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WitnessOut {
    /// Address of the verification script's account (empty script: a contract account).
    #[serde(skip_serializing_if = "Option::is_none")]
    account: Option<String>,
    kind: String,
    invocation: String,
    verification: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TxOut {
    hash: String,
    size: usize,
    version: u8,
    nonce: u32,
    sender: String,
    system_fee: i64,
    system_fee_gas: String,
    network_fee: i64,
    network_fee_gas: String,
    valid_until_block: u32,
    signers: Vec<SignerOut>,
    attributes: Vec<serde_json::Value>,
    script: String,
    witnesses: Vec<WitnessOut>,
}

pub(super) fn run(cmd: NeoCmd, out: &Output) -> CliResult {
    match cmd {
        NeoCmd::Address(args) => out.print(&address(args)?),
        NeoCmd::Multisig(args) => out.print(&multisig(args)?),
        NeoCmd::Tx(TxCmd::Decode { tx }) => out.print(&decode_tx(&tx)?),
    }
    Ok(())
}

fn read_stdin(what: &str) -> CliResult<String> {
    let mut s = String::new();
    std::io::stdin()
        .take(1 << 20)
        .read_to_string(&mut s)
        .map_err(|e| CliError::bad_input(format!("cannot read {what} from stdin: {e}")))?;
    Ok(s.trim().to_owned())
}

fn address(args: AddressArgs) -> CliResult<AddressOut> {
    if let Some(hex) = args.pubkey {
        let pk = PublicKey::from_hex(hex.trim())
            .map_err(|e| CliError::bad_input(format!("--pubkey: {e}")))?;
        return Ok(AddressOut {
            address: pk.address(),
            script_hash: pk.script_hash().to_string(),
            public_key: Some(pk.to_hex()),
        });
    }
    if let Some(wif) = args.wif {
        let wif = if wif == "-" {
            Zeroizing::new(read_stdin("the WIF")?)
        } else {
            Zeroizing::new(wif)
        };
        let key = PrivateKey::from_wif(wif.trim())
            .map_err(|e| CliError::bad_input(format!("--wif: {e}")))?;
        let pk = key.public_key();
        return Ok(AddressOut {
            address: pk.address(),
            script_hash: pk.script_hash().to_string(),
            public_key: Some(pk.to_hex()),
        });
    }
    let addr = args.address.unwrap_or_default();
    let hash = UInt160::from_address(addr.trim())
        .map_err(|e| CliError::bad_input(format!("--address: {e}")))?;
    Ok(AddressOut {
        address: hash.to_address(),
        script_hash: hash.to_string(),
        public_key: None,
    })
}

fn multisig(args: MultisigArgs) -> CliResult<MultisigOut> {
    let keys = args
        .pubkeys
        .iter()
        .enumerate()
        .map(|(i, h)| {
            PublicKey::from_hex(h.trim())
                .map_err(|e| CliError::bad_input(format!("--pubkeys: key {}: {e}", i + 1)))
        })
        .collect::<CliResult<Vec<_>>>()?;
    let script = multisig_script(args.m, &keys).map_err(CliError::bad_input)?;
    let (m, sorted) = parse_multisig_script(&script).ok_or_else(|| {
        CliError::Runtime(anyhow::anyhow!("built multisig script does not parse back"))
    })?;
    let hash = UInt160::from_script(&script);
    Ok(MultisigOut {
        m,
        n: sorted.len(),
        public_keys: sorted.iter().map(PublicKey::to_hex).collect(),
        script: to_hex(&script),
        script_hash: hash.to_string(),
        address: hash.to_address(),
    })
}

/// Hex (optionally `0x`) or, failing that, base64.
fn parse_tx_bytes(input: &str) -> CliResult<Vec<u8>> {
    let s = input.trim();
    if s.is_empty() {
        return Err(CliError::bad_input("empty transaction"));
    }
    let h = s.strip_prefix("0x").unwrap_or(s);
    if h.bytes().all(|b| b.is_ascii_hexdigit()) {
        return from_hex(h)
            .map_err(|_| CliError::bad_input("transaction hex has an odd number of digits"));
    }
    from_base64(s).map_err(|_| CliError::bad_input("transaction is neither hex nor base64"))
}

fn witness_kind(w: &Witness) -> String {
    if w.verification.is_empty() {
        return "contract".into();
    }
    if parse_single_sig_script(&w.verification).is_some() {
        return "single-sig".into();
    }
    if let Some((m, keys)) = parse_multisig_script(&w.verification) {
        return format!("multisig {m}-of-{}", keys.len());
    }
    "custom".into()
}

fn decode_tx(input: &str) -> CliResult<TxOut> {
    let text = if input == "-" {
        read_stdin("the transaction")?
    } else {
        input.to_owned()
    };
    let bytes = parse_tx_bytes(&text)?;
    let tx = Transaction::from_bytes(&bytes)
        .map_err(|e| CliError::bad_input(format!("invalid transaction: {e}")))?;
    let to_json =
        |v: serde_json::Result<serde_json::Value>| v.map_err(|e| CliError::Runtime(e.into()));
    let signers = tx
        .signers
        .iter()
        .map(|s| {
            Ok(SignerOut {
                account: s.account.to_string(),
                address: s.account.to_address(),
                scopes: s.scopes.names(),
                allowed_contracts: s
                    .allowed_contracts
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
                allowed_groups: s.allowed_groups.iter().map(PublicKey::to_hex).collect(),
                rules: s
                    .rules
                    .iter()
                    .map(|r| to_json(serde_json::to_value(r)))
                    .collect::<CliResult<_>>()?,
            })
        })
        .collect::<CliResult<Vec<_>>>()?;
    let attributes = tx
        .attributes
        .iter()
        .map(|a| to_json(serde_json::to_value(a)))
        .collect::<CliResult<Vec<_>>>()?;
    let witnesses = tx
        .witnesses
        .iter()
        .map(|w| WitnessOut {
            account: (!w.verification.is_empty()).then(|| w.script_hash().to_address()),
            kind: witness_kind(w),
            invocation: to_hex(&w.invocation),
            verification: to_hex(&w.verification),
        })
        .collect();
    Ok(TxOut {
        hash: tx.hash().to_string(),
        size: bytes.len(),
        version: tx.version,
        nonce: tx.nonce,
        sender: tx.sender().map(|h| h.to_address()).unwrap_or_default(),
        system_fee: tx.system_fee,
        system_fee_gas: fixed8_to_string(tx.system_fee),
        network_fee: tx.network_fee,
        network_fee_gas: fixed8_to_string(tx.network_fee),
        valid_until_block: tx.valid_until_block,
        signers,
        attributes,
        script: to_hex(&tx.script),
        witnesses,
    })
}
