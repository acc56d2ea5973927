//! Health of the node's services: one [`HealthBoard`] per node (read by `/ready`), one
//! [`HealthReporter`] per service (written by the supervisor and the service).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::service::ErrorClass;

/// Where a service is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceState {
    /// Registered, its run is setting up.
    Starting,
    /// Set up and working.
    Running,
    /// Its last run failed; it runs again after a back-off.
    Restarting,
    /// Stopped for shutdown.
    Stopped,
}

impl ServiceState {
    /// Stable snake_case name (`/ready`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Starting => "starting",
            Self::Running => "running",
            Self::Restarting => "restarting",
            Self::Stopped => "stopped",
        }
    }
}

/// One service's health as `/ready` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceHealth {
    /// Current state.
    pub state: ServiceState,
    /// When it entered the state, milliseconds since the Unix epoch.
    pub since_ms: u64,
    /// Class of the failure that ended the last run (kept until the service runs again).
    pub error: Option<ErrorClass>,
    /// Runs that failed since the node started.
    pub failures: u32,
}

impl ServiceHealth {
    /// Whether the node can count on the service (only `Running`).
    pub fn is_up(&self) -> bool {
        self.state == ServiceState::Running
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The health of every registered service. Cheap to clone; clones share the board.
#[derive(Debug, Clone, Default)]
pub struct HealthBoard(Arc<Mutex<BTreeMap<&'static str, ServiceHealth>>>);

impl HealthBoard {
    /// An empty board.
    pub fn new() -> Self {
        Self::default()
    }

    /// Register `service` (state `Starting`) and get its reporter.
    pub fn register(&self, service: &'static str) -> HealthReporter {
        let r = HealthReporter {
            board: self.clone(),
            service,
        };
        r.set(ServiceState::Starting, None);
        r
    }

    /// Every registered service's health, by name.
    pub fn snapshot(&self) -> BTreeMap<&'static str, ServiceHealth> {
        self.0.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// Whether every registered service is running (true without services).
    pub fn all_up(&self) -> bool {
        self.snapshot().values().all(ServiceHealth::is_up)
    }
}

/// Writes one service's entry on the [`HealthBoard`].
#[derive(Debug, Clone)]
pub struct HealthReporter {
    board: HealthBoard,
    service: &'static str,
}

impl HealthReporter {
    /// The service reported on.
    pub fn service(&self) -> &'static str {
        self.service
    }

    /// The service is set up and working (clears the last error).
    pub fn running(&self) {
        self.set(ServiceState::Running, None);
    }

    /// The run is setting up.
    pub fn starting(&self) {
        self.set(ServiceState::Starting, None);
    }

    /// The run failed with `class`; counted, shown until the service runs again.
    pub fn failed(&self, class: ErrorClass) {
        self.set(ServiceState::Restarting, Some(class));
    }

    /// Stopped for shutdown.
    pub fn stopped(&self) {
        self.set(ServiceState::Stopped, None);
    }

    /// The current entry.
    pub fn current(&self) -> Option<ServiceHealth> {
        self.board.snapshot().get(self.service).cloned()
    }

    fn set(&self, state: ServiceState, failure: Option<ErrorClass>) {
        let Ok(mut m) = self.board.0.lock() else {
            return;
        };
        let now = now_ms();
        let e = m.entry(self.service).or_insert(ServiceHealth {
            state,
            since_ms: now,
            error: None,
            failures: 0,
        });
        if e.state != state {
            e.since_ms = now;
        }
        e.state = state;
        match (state, failure) {
            (_, Some(class)) => {
                e.error = Some(class);
                e.failures = e.failures.saturating_add(1);
            }
            (ServiceState::Running, None) => e.error = None,
            _ => {}
        }
    }
}

/// Conditions a service reports that do not make the node unready but that an operator should
/// see (e.g. the oracle node account's GAS running low): listed by `/ready` (still 200). Cheap to
/// clone; every clone shares the same list.
#[derive(Debug, Clone, Default)]
pub struct ReadyWarnings(Arc<Mutex<BTreeMap<String, String>>>);

impl ReadyWarnings {
    /// Set (or replace) the warning of `source`.
    pub fn set(&self, source: &str, message: String) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(source.to_string(), message);
        }
    }

    /// Remove the warning of `source`, if any.
    pub fn clear(&self, source: &str) {
        if let Ok(mut m) = self.0.lock() {
            m.remove(source);
        }
    }

    /// Current warnings as `source: message`, sorted by source.
    pub fn list(&self) -> Vec<String> {
        self.0
            .lock()
            .map(|m| m.iter().map(|(k, v)| format!("{k}: {v}")).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_move_and_errors_clear_when_running_again() {
        let board = HealthBoard::new();
        assert!(board.all_up(), "no services: up");
        let r = board.register("oracle");
        assert_eq!(r.current().unwrap().state, ServiceState::Starting);
        assert!(!board.all_up());
        r.running();
        assert!(board.all_up());
        r.failed(ErrorClass::Store);
        let h = r.current().unwrap();
        assert_eq!(
            (h.state, h.error, h.failures),
            (ServiceState::Restarting, Some(ErrorClass::Store), 1)
        );
        assert!(!board.all_up());
        // Setting up again keeps the error visible; running clears it.
        r.starting();
        assert_eq!(r.current().unwrap().error, Some(ErrorClass::Store));
        r.running();
        let h = r.current().unwrap();
        assert_eq!(
            (h.state, h.error, h.failures),
            (ServiceState::Running, None, 1)
        );
        let other = board.register("functions");
        other.running();
        assert_eq!(
            board.snapshot().keys().copied().collect::<Vec<_>>(),
            ["functions", "oracle"]
        );
    }
}
