//! Layered Neo N3 JSON-RPC client: raw RPC, invoker, actor, NEP-17 and native contract wrappers.
