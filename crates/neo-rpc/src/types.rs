//! Typed answers of the node's JSON-RPC methods (the fields this crate and its users need;
//! unknown fields are ignored so newer nodes keep working).

use neo::tx::Signer;
use neo::{UInt160, UInt256};
use serde::{Deserialize, Deserializer, Serialize};

pub use neo::StackItem;

/// `getversion`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Version {
    /// P2P port of the node.
    #[serde(default)]
    pub tcpport: u16,
    /// Random node nonce.
    #[serde(default)]
    pub nonce: u32,
    /// Node software, e.g. `/NEO-GO:0.120.0/`.
    #[serde(default)]
    pub useragent: String,
    /// The protocol settings of the chain.
    pub protocol: ProtocolSettings,
}

/// Protocol settings from `getversion`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtocolSettings {
    /// Address version byte (53 on N3: addresses start with `N`).
    pub addressversion: u8,
    /// Network magic; part of every signed message.
    pub network: u32,
    /// Block time in milliseconds.
    pub msperblock: u64,
    /// How many blocks ahead of the current height a transaction's validUntilBlock may be.
    pub maxvaliduntilblockincrement: u32,
    /// Blocks whose state is traceable.
    #[serde(default)]
    pub maxtraceableblocks: u32,
    /// Transaction limit per block.
    #[serde(default)]
    pub maxtransactionsperblock: u32,
    /// Memory pool capacity.
    #[serde(default)]
    pub memorypoolmaxtransactions: u32,
    /// Number of consensus validators.
    #[serde(default)]
    pub validatorscount: u32,
    /// GAS created at genesis, in fractions (10^-8).
    #[serde(default, deserialize_with = "de_i64_opt")]
    pub initialgasdistribution: Option<i64>,
    /// Public keys of the standby committee.
    #[serde(default)]
    pub standbycommittee: Vec<String>,
}

/// A block as `getblock` returns it with `verbose = 1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Block {
    /// Block hash.
    pub hash: UInt256,
    /// Height.
    pub index: u32,
    /// Timestamp in milliseconds.
    pub time: u64,
    /// Hash of the previous block.
    pub previousblockhash: UInt256,
    /// Merkle root of the transactions.
    pub merkleroot: UInt256,
    /// Size in bytes.
    #[serde(default)]
    pub size: u32,
    /// Index of the primary validator.
    #[serde(default)]
    pub primary: u8,
    /// Address of the next consensus multisig.
    #[serde(default)]
    pub nextconsensus: String,
    /// The block's transactions.
    #[serde(default)]
    pub tx: Vec<RawTransaction>,
    /// Blocks on top of this one (including itself).
    #[serde(default)]
    pub confirmations: u32,
}

/// A witness as JSON (base64 scripts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WitnessJson {
    /// Invocation script (signatures), base64.
    pub invocation: String,
    /// Verification script, base64.
    pub verification: String,
}

/// A transaction as `getrawtransaction` (verbose) or a verbose block returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawTransaction {
    /// Transaction hash.
    pub hash: UInt256,
    /// Size in bytes.
    pub size: u32,
    /// Version (0).
    pub version: u8,
    /// Nonce.
    pub nonce: u32,
    /// Address of the first signer (pays the fees).
    pub sender: String,
    /// System fee in GAS fractions.
    #[serde(deserialize_with = "de_i64")]
    pub sysfee: i64,
    /// Network fee in GAS fractions.
    #[serde(deserialize_with = "de_i64")]
    pub netfee: i64,
    /// Last block that may include the transaction.
    pub validuntilblock: u32,
    /// Signers.
    pub signers: Vec<Signer>,
    /// Attributes as the node renders them.
    #[serde(default)]
    pub attributes: Vec<serde_json::Value>,
    /// The script, base64.
    pub script: String,
    /// Witnesses.
    pub witnesses: Vec<WitnessJson>,
    /// Hash of the including block (absent while in the mempool).
    #[serde(default)]
    pub blockhash: Option<UInt256>,
    /// Confirmations (absent while in the mempool).
    #[serde(default)]
    pub confirmations: Option<u32>,
    /// Timestamp of the including block.
    #[serde(default)]
    pub blocktime: Option<u64>,
    /// VM state of the execution (neo-go includes it).
    #[serde(default)]
    pub vmstate: Option<String>,
}

/// VM state at the end of an execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum VmState {
    /// Completed normally.
    #[serde(rename = "HALT")]
    Halt,
    /// Aborted with an exception; state changes are discarded (fees are still paid).
    #[serde(rename = "FAULT")]
    Fault,
    /// Not run.
    #[serde(rename = "NONE")]
    None,
    /// Interrupted at a breakpoint.
    #[serde(rename = "BREAK")]
    Break,
}

impl VmState {
    /// Whether the execution succeeded.
    pub fn is_halt(self) -> bool {
        self == Self::Halt
    }
}

impl std::fmt::Display for VmState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Halt => "HALT",
            Self::Fault => "FAULT",
            Self::None => "NONE",
            Self::Break => "BREAK",
        })
    }
}

/// A notification (event) emitted during an execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// The emitting contract.
    pub contract: UInt160,
    /// The event name.
    pub eventname: String,
    /// The event's arguments: an `Array` stack item.
    pub state: StackItem,
}

impl Notification {
    /// The event's arguments (the items of the `state` array; empty if it is not an array).
    pub fn args(&self) -> &[StackItem] {
        self.state.as_array().unwrap_or_default()
    }
}

/// One execution in an application log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Execution {
    /// Trigger (`Application`, `OnPersist`, `PostPersist`, `Verification`).
    pub trigger: String,
    /// Final VM state.
    pub vmstate: VmState,
    /// The exception text when the state is FAULT.
    #[serde(default)]
    pub exception: Option<String>,
    /// GAS consumed in fractions.
    #[serde(deserialize_with = "de_i64")]
    pub gasconsumed: i64,
    /// The result stack.
    #[serde(default)]
    pub stack: Vec<StackItem>,
    /// Notifications in emission order.
    #[serde(default)]
    pub notifications: Vec<Notification>,
}

/// `getapplicationlog`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplicationLog {
    /// The transaction hash (absent for block logs).
    #[serde(default)]
    pub txid: Option<UInt256>,
    /// The block hash (for block logs).
    #[serde(default)]
    pub blockhash: Option<UInt256>,
    /// Executions (one for a transaction).
    pub executions: Vec<Execution>,
}

/// `invokefunction` / `invokescript`: a test run that changes nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvokeResult {
    /// The script that ran, base64.
    pub script: String,
    /// Final VM state.
    pub state: VmState,
    /// GAS consumed in fractions: the system fee a real transaction needs.
    #[serde(deserialize_with = "de_i64")]
    pub gasconsumed: i64,
    /// The exception text when the state is FAULT.
    #[serde(default)]
    pub exception: Option<String>,
    /// Notifications.
    #[serde(default)]
    pub notifications: Vec<Notification>,
    /// The result stack.
    #[serde(default)]
    pub stack: Vec<StackItem>,
}

/// `findstorage`: one page of a contract's storage under a prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FoundStorage {
    /// Key/value pairs, base64.
    pub results: Vec<StorageEntry>,
    /// Index to pass as `start` for the next page.
    #[serde(default)]
    pub next: u64,
    /// Whether more entries follow.
    #[serde(default)]
    pub truncated: bool,
}

/// A storage entry, base64 encoded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageEntry {
    /// The key (without the contract id), base64.
    pub key: String,
    /// The value, base64.
    pub value: String,
}

impl StorageEntry {
    /// The key's bytes.
    pub fn key_bytes(&self) -> Result<Vec<u8>, crate::Error> {
        decode_b64("findstorage", &self.key)
    }

    /// The value's bytes.
    pub fn value_bytes(&self) -> Result<Vec<u8>, crate::Error> {
        decode_b64("findstorage", &self.value)
    }
}

fn decode_b64(method: &str, s: &str) -> Result<Vec<u8>, crate::Error> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| crate::Error::invalid(method, format!("not base64: {e}")))
}

/// A NEF file as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NefJson {
    /// Magic number (0x3346454E).
    pub magic: u32,
    /// Compiler name and version.
    pub compiler: String,
    /// Source URL.
    #[serde(default)]
    pub source: String,
    /// The script, base64.
    pub script: String,
    /// Checksum: the first 4 bytes of the double SHA-256 of the file, little-endian.
    pub checksum: u32,
}

/// `getcontractstate` and the entries of `getnativecontracts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContractState {
    /// Contract id (negative for natives).
    pub id: i32,
    /// Updates so far.
    #[serde(default)]
    pub updatecounter: u32,
    /// Script hash.
    pub hash: UInt160,
    /// The NEF.
    pub nef: NefJson,
    /// The manifest JSON.
    pub manifest: serde_json::Value,
}

impl ContractState {
    /// The manifest's `name`.
    pub fn name(&self) -> &str {
        self.manifest
            .get("name")
            .and_then(|n| n.as_str())
            .unwrap_or_default()
    }
}

/// `getnep17balances`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nep17Balances {
    /// The account's address.
    pub address: String,
    /// One entry per token the account has touched.
    #[serde(rename = "balance")]
    pub balances: Vec<Nep17Balance>,
}

impl Nep17Balances {
    /// The balance of `asset` in its smallest unit (0 when absent).
    pub fn amount_of(&self, asset: &UInt160) -> i128 {
        self.balances
            .iter()
            .find(|b| &b.assethash == asset)
            .map(|b| b.amount)
            .unwrap_or(0)
    }
}

/// One token balance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nep17Balance {
    /// The token contract.
    pub assethash: UInt160,
    /// Amount in the token's smallest unit.
    #[serde(deserialize_with = "de_i128")]
    pub amount: i128,
    /// Height of the last change.
    #[serde(default)]
    pub lastupdatedblock: u32,
    /// Token symbol, when the node knows it.
    #[serde(default)]
    pub symbol: Option<String>,
}

/// Which block to fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockId {
    /// By height.
    Index(u32),
    /// By hash.
    Hash(UInt256),
}

impl From<u32> for BlockId {
    fn from(i: u32) -> Self {
        Self::Index(i)
    }
}

impl From<UInt256> for BlockId {
    fn from(h: UInt256) -> Self {
        Self::Hash(h)
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NumOrStr {
    Num(serde_json::Number),
    Str(String),
}

fn parse_num<T: std::str::FromStr, E: serde::de::Error>(v: NumOrStr) -> Result<T, E> {
    let s = match v {
        NumOrStr::Num(n) => n.to_string(),
        NumOrStr::Str(s) => s,
    };
    s.trim()
        .parse()
        .map_err(|_| E::custom(format!("not an integer: {s:?}")))
}

/// Integers that nodes send as JSON strings (fees, amounts) or numbers.
pub(crate) fn de_i64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    parse_num(NumOrStr::deserialize(d)?)
}

fn de_i64_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Option::<NumOrStr>::deserialize(d)?
        .map(parse_num)
        .transpose()
}

fn de_i128<'de, D: Deserializer<'de>>(d: D) -> Result<i128, D::Error> {
    parse_num(NumOrStr::deserialize(d)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_from_neo_go() {
        // Captured from neo-go 0.120.0 on a 100 ms privnet.
        let v: Version = serde_json::from_str(r#"{"tcpport":20399,"nonce":809326379,"useragent":"/NEO-GO:0.120.0/","protocol":{"addressversion":53,"network":56753,"msperblock":100,"maxtraceableblocks":2102400,"maxvaliduntilblockincrement":864000,"maxtransactionsperblock":512,"memorypoolmaxtransactions":50000,"validatorscount":1,"initialgasdistribution":5200000000000000,"hardforks":[{"name":"Aspidochelone","blockheight":0}],"standbycommittee":["02028a99826edc0c97d18e22b6932373d908d323aa7f92656a77ec26e8861699ef"],"seedlist":null},"rpc":{"maxiteratorresultitems":100,"sessionenabled":true}}"#).unwrap();
        assert_eq!(v.protocol.network, 56753);
        assert_eq!(v.protocol.addressversion, 53);
        assert_eq!(v.protocol.msperblock, 100);
        assert_eq!(v.protocol.maxvaliduntilblockincrement, 864000);
        assert_eq!(
            v.protocol.initialgasdistribution,
            Some(5_200_000_000_000_000)
        );
    }

    #[test]
    fn balances_from_neo_go() {
        let b: Nep17Balances = serde_json::from_str(r#"{"balance":[{"assethash":"0xef4073a0f2b305a38ec4050e4d3d28bc40ea63f5","amount":"100000000","decimals":"0","lastupdatedblock":0,"name":"NeoToken","symbol":"NEO"},{"assethash":"0xd2a4cff31913016155e38e474a2c06d08be276cf","amount":"5200000000000000","decimals":"8","lastupdatedblock":0,"name":"GasToken","symbol":"GAS"}],"address":"Nc61rk4f69a5wr7VLpVvteAheSHtvrBW35"}"#).unwrap();
        let gas: UInt160 = "0xd2a4cff31913016155e38e474a2c06d08be276cf"
            .parse()
            .unwrap();
        assert_eq!(b.amount_of(&gas), 5_200_000_000_000_000);
        assert_eq!(b.amount_of(&UInt160::ZERO), 0);
    }

    // Captured from neo-go 0.120.0: a 5 GAS transfer from the committee (nsl dev).
    const APPLOG: &str = r#"{"txid":"0x52a42566e831069e2e37f1967f3db654dcd4c09b9e7b98949c99de7fbc2bea98","executions":[{"trigger":"Application","vmstate":"HALT","gasconsumed":"9977780","stack":[],"notifications":[{"contract":"0xd2a4cff31913016155e38e474a2c06d08be276cf","eventname":"Transfer","state":{"type":"Array","value":[{"type":"ByteString","value":"8PHkinkoWVvMjxzHwA7WL8j4wyY="},{"type":"ByteString","value":"o4OKNc8SfRpF7t5b45EtLeKc0x4="},{"type":"Integer","value":"500000000"}]}}],"exception":null,"invocations":null}]}"#;
    const RAWTX: &str = r#"{"blockhash":"0xcae3a2f551f65f00483cedab920d2cbde005f471e020ca0202c2fa1be0406c07","confirmations":7,"blocktime":1795318470803,"vmstate":"HALT","hash":"0x52a42566e831069e2e37f1967f3db654dcd4c09b9e7b98949c99de7fbc2bea98","size":251,"version":0,"nonce":3223806466,"sender":"Nhsy8oCUA8sKV5wP2mkQCy2NEYzCasZXnz","sysfee":"9977780","netfee":"1234580","validuntilblock":864002,"attributes":[],"signers":[{"account":"0x26c3f8c82fd60ec0c71c8fcc5b5928798ae4f1f0","scopes":"CalledByEntry"}],"script":"CwIAZc0dDBSjg4o1zxJ9GkXu3lvjkS0t4pzTHgwU8PHkinkoWVvMjxzHwA7WL8j4wyYUwB8MCHRyYW5zZmVyDBTPduKL0AYsSkeO41VhARMZ88+k0kFifVtSOQ==","witnesses":[{"invocation":"DEADD1Hbfd8sJrvbbFcP/WhZiN68/9prouRbJtwl9vdP4Ix2dAssifgpa6kXMAu/KzaVOzk4S2/5gj8z8CGCusIF","verification":"EQwhAofvZKYcwzDv5PvTn8gRDtI/E4h3OoHdryUuTtXr56jtEUGe0Nw6"}]}"#;
    const INVOKE_FAULT: &str = r#"{"state":"FAULT","gasconsumed":"984030","script":"wh8MCHRyYW5zZmVyDBTPduKL0AYsSkeO41VhARMZ88+k0kFifVtS","stack":[],"exception":"at instruction 34 (SYSCALL): System.Contract.Call failed: method not found: transfer/0","notifications":[]}"#;
    const INVOKE_HALT: &str = r#"{"state":"HALT","gasconsumed":"984060","script":"wh8MBnN5bWJvbAwUz3bii9AGLEpHjuNVYQETGfPPpNJBYn1bUg==","stack":[{"type":"ByteString","value":"R0FT"}],"exception":null,"notifications":[]}"#;

    #[test]
    fn application_log_from_neo_go() {
        let log: ApplicationLog = serde_json::from_str(APPLOG).unwrap();
        let exec = &log.executions[0];
        assert_eq!(exec.vmstate, VmState::Halt);
        assert_eq!(exec.gasconsumed, 9_977_780);
        assert_eq!(exec.exception, None);
        let n = &exec.notifications[0];
        assert_eq!(n.contract, crate::native::GAS);
        assert_eq!(n.eventname, "Transfer");
        assert_eq!(n.args().len(), 3);
        assert_eq!(n.args()[2].as_i64().unwrap(), 500_000_000);
        assert_eq!(
            n.args()[0].as_hash160().unwrap().to_string(),
            "0x26c3f8c82fd60ec0c71c8fcc5b5928798ae4f1f0"
        );
    }

    #[test]
    fn raw_transaction_from_neo_go() {
        let tx: RawTransaction = serde_json::from_str(RAWTX).unwrap();
        assert_eq!(tx.sysfee, 9_977_780);
        assert_eq!(tx.netfee, 1_234_580);
        assert_eq!(tx.validuntilblock, 864_002);
        assert_eq!(tx.signers[0].scopes, neo::tx::WitnessScope::CALLED_BY_ENTRY);
        assert_eq!(tx.vmstate.as_deref(), Some("HALT"));
        assert!(tx.blockhash.is_some());
    }

    #[test]
    fn invoke_results_from_neo_go() {
        let ok: InvokeResult = serde_json::from_str(INVOKE_HALT).unwrap();
        let item = ok.into_halt().unwrap().into_single("symbol").unwrap();
        assert_eq!(item.as_string().unwrap(), "GAS");
        let fault: InvokeResult = serde_json::from_str(INVOKE_FAULT).unwrap();
        assert_eq!(fault.gasconsumed, 984_030);
        match fault.into_halt() {
            Err(crate::Error::Fault { exception }) => {
                assert!(exception.contains("method not found: transfer/0"))
            }
            other => panic!("expected a fault, got {other:?}"),
        }
    }

    #[test]
    fn fees_as_strings_or_numbers() {
        #[derive(Deserialize)]
        struct F {
            #[serde(deserialize_with = "de_i64")]
            v: i64,
        }
        assert_eq!(serde_json::from_str::<F>(r#"{"v":"12"}"#).unwrap().v, 12);
        assert_eq!(serde_json::from_str::<F>(r#"{"v":-3}"#).unwrap().v, -3);
        assert!(serde_json::from_str::<F>(r#"{"v":"x"}"#).is_err());
        assert!(serde_json::from_str::<F>(r#"{"v":1.5}"#).is_err());
    }
}
