//! One router per resource, merged by [`crate::router`].

pub(crate) mod apikeys;
pub(crate) mod audit;
pub(crate) mod contracts;
pub(crate) mod me;
pub(crate) mod ops;
pub(crate) mod session;

pub use nsl_api_types::rfc3339;
