//! Integration tests of nsl-sandbox: API, limits, escape and abuse corpus, real HTTP.

mod support;

mod api;
mod corpus;
mod http;
