//! Shared primitives: GAS amounts in 10^-8 units, identifiers, stable error codes.
