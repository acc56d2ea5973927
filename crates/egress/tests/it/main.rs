//! Integration tests of `nsl-egress` against local servers on loopback addresses only.

mod fetch;
mod ssrf;
mod support;
mod tls;
