//! Integration tests of the `neo` crate: golden vectors from neo-go and C# Neo, vectors generated
//! by neon-js, and property tests.

mod golden_csharp;
mod golden_neogo;
mod neon;
mod props;
