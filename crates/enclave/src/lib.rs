//! The key boundary: generate, sign, seal, unseal and attest behind one trait.
