//! `nsl-service-api`: the light crate every NSL service depends on (no HTTP server, no SQL).
//!
//! ```text
//! code      ResponseCode (Neo's oracle codes), code_name, MAX_RESULT_SIZE, MAX_URL_LEN
//! answer    Answer { code, result, detail }           what goes on chain for one request
//! gateway   GatewayCall, GatewayHandler                 one gateway service type's answers
//! service   Service (name, run until shutdown), RunContext, ServiceError + ErrorClass
//! health    HealthBoard / HealthReporter                state per service, read by /ready
//! supervise supervise(): run, restart on Err or panic with back-off, stop on shutdown
//! ```
//!
//! The node (`nsl-node`) builds services from its registry, hands each its dependencies when it
//! constructs it, and runs each under [`supervise`]. A service's `run` returns `Err` when it
//! cannot go on (store or chain gone); the supervisor marks it `restarting` on the
//! [`HealthBoard`] (with an [`ErrorClass`], never the error text) and runs it again after a
//! back-off (1 s doubling to 60 s; reset after a minute of healthy running).
//!
//! Invariants:
//! - A service is restarted until the node shuts down; it never ends the process.
//! - The health board holds states and error classes only: no error text, URL or key.
//! - Back-off delays come from [`RestartPolicy`], a pure policy (unit-tested without clocks).

pub mod answer;
pub mod code;
pub mod gateway;
pub mod health;
pub mod service;
pub mod supervise;

pub use answer::Answer;
pub use code::{MAX_RESULT_SIZE, MAX_URL_LEN, ResponseCode, code_name};
pub use gateway::{GatewayCall, GatewayHandler};
pub use health::{HealthBoard, HealthReporter, ReadyWarnings, ServiceHealth, ServiceState};
pub use service::{ErrorClass, RunContext, Service, ServiceError, Shutdown, ShutdownTrigger};
pub use supervise::{Clock, RestartPolicy, TokioClock, supervise};
