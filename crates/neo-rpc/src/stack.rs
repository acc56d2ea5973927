//! Stack items as the RPC returns them.
//!
//! Temporary: raw JSON until `neo::StackItem` lands; then this module re-exports it.

/// A VM stack item in RPC JSON form (`{"type": "Integer", "value": "1"}`).
pub type StackItem = serde_json::Value;
