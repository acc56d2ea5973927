//! Gateway service type `function`: the handler now lives with the functions service
//! ([`nsl_functions::gateway`]); re-exported here so existing paths keep working.

pub use nsl_functions::gateway::{FunctionsGatewayHandler, SERVICE_TYPE};
