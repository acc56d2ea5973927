//! Integration tests of nsl-vrf: the RFC 9381 vectors through the public API,
//! property tests, and the JavaScript verifier in `clients/vrf-verify` run
//! against the same vectors and against proofs made here.

mod js;
mod props;
mod vectors;
