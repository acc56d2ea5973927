//! [`supervise`]: run a [`Service`] until shutdown, restarting failed runs with back-off.
//!
//! ```text
//! loop:
//!   health: starting ── spawn run(ctx) ──┬─ Ok(()) after shutdown ───────────────▶ stopped
//!                                        ├─ Err(e) / panic / Ok(()) too early ─▶ restarting(class)
//!                                        │     sleep RestartPolicy::delay(failures) (shutdown cuts it)
//!                                        └─ shutdown: wait up to stop_grace, then abort ▶ stopped
//! ```
//!
//! A run that lasted at least `healthy_reset` starts the back-off over (1 s again).

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::health::HealthReporter;
use crate::service::{ErrorClass, RunContext, Service, Shutdown};

/// When a failed service runs again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartPolicy {
    /// Delay after the first failure (default 1 s); doubled per further failure.
    pub initial: Duration,
    /// Longest delay (default 60 s).
    pub max: Duration,
    /// A run at least this long resets the delay to `initial` (default 60 s).
    pub healthy_reset: Duration,
    /// How long a run may take to stop at shutdown before it is aborted (default 30 s).
    pub stop_grace: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
            healthy_reset: Duration::from_secs(60),
            stop_grace: Duration::from_secs(30),
        }
    }
}

impl RestartPolicy {
    /// The delay before the next run after `failures` consecutive failed runs (`failures >= 1`):
    /// `initial * 2^(failures-1)`, at most `max`.
    pub fn delay(&self, failures: u32) -> Duration {
        let exp = failures.saturating_sub(1).min(31);
        self.initial
            .checked_mul(1u32 << exp)
            .map_or(self.max, |d| d.min(self.max))
    }
}

/// Time as the supervisor sees it (a fake one in tests: no test waits for real back-offs).
#[async_trait]
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now.
    fn now(&self) -> Instant;
    /// Wait `d`.
    async fn sleep(&self, d: Duration);
}

/// The real clock (tokio's timer).
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioClock;

#[async_trait]
impl Clock for TokioClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
    async fn sleep(&self, d: Duration) {
        tokio::time::sleep(d).await;
    }
}

/// Run `service` until `shutdown`, restarting failed runs (an `Err`, a panic, or an `Ok` before
/// shutdown) after [`RestartPolicy::delay`]. Health goes to `health`: `starting` before each
/// run (the service itself reports `running`), `restarting` with the error class after a
/// failure, `stopped` at the end. Never returns before shutdown.
pub async fn supervise(
    service: Arc<dyn Service>,
    health: HealthReporter,
    shutdown: Shutdown,
    policy: RestartPolicy,
    clock: Arc<dyn Clock>,
) {
    let name = service.name();
    let mut failures = 0u32;
    loop {
        if shutdown.is_triggered() {
            break;
        }
        health.starting();
        let started = clock.now();
        let ctx = RunContext {
            shutdown: shutdown.clone(),
            health: health.clone(),
        };
        let svc = service.clone();
        let mut task = tokio::spawn(async move { svc.run(ctx).await });
        let outcome = tokio::select! {
            r = &mut task => r,
            () = shutdown.wait() => match tokio::time::timeout(policy.stop_grace, &mut task).await {
                Ok(r) => r,
                Err(_) => {
                    task.abort();
                    tracing::warn!(service = name, grace = ?policy.stop_grace,
                        "service did not stop in time; aborted");
                    break;
                }
            },
        };
        let class = match outcome {
            Ok(Ok(())) if shutdown.is_triggered() => break,
            Ok(Ok(())) => {
                tracing::error!(service = name, "service stopped on its own; restarting");
                ErrorClass::Internal
            }
            Ok(Err(e)) => {
                // The message is the service's own error text: no keys, no credentials.
                tracing::error!(service = name, class = e.class.as_str(), error = %e.message,
                    "service failed; restarting");
                e.class
            }
            Err(e) if e.is_panic() => {
                tracing::error!(service = name, "service panicked; restarting");
                ErrorClass::Panic
            }
            Err(_) => ErrorClass::Internal,
        };
        if shutdown.is_triggered() {
            break;
        }
        if clock.now().saturating_duration_since(started) >= policy.healthy_reset {
            failures = 0;
        }
        failures = failures.saturating_add(1);
        health.failed(class);
        let delay = policy.delay(failures);
        tracing::info!(
            service = name,
            failures,
            delay_ms = delay.as_millis() as u64,
            "service restarts after back-off"
        );
        tokio::select! {
            () = clock.sleep(delay) => {}
            () = shutdown.wait() => break,
        }
    }
    health.stopped();
    tracing::info!(service = name, "service stopped");
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Mutex;

    use super::*;
    use crate::health::{HealthBoard, ServiceHealth, ServiceState};
    use crate::service::{ServiceError, ShutdownTrigger};

    /// Time advances only when the supervisor sleeps or a run says so.
    #[derive(Debug)]
    struct FakeClock {
        base: Instant,
        offset: Mutex<Duration>,
        sleeps: Mutex<Vec<Duration>>,
    }

    impl FakeClock {
        fn advance(&self, d: Duration) {
            *self.offset.lock().unwrap() += d;
        }
    }

    #[async_trait]
    impl Clock for FakeClock {
        fn now(&self) -> Instant {
            self.base + *self.offset.lock().unwrap()
        }
        async fn sleep(&self, d: Duration) {
            self.sleeps.lock().unwrap().push(d);
            self.advance(d);
        }
    }

    #[derive(Debug)]
    enum Step {
        Fail(ErrorClass),
        Panic,
        EndEarly,
        /// Report running, "run" for this long, then fail with `Store`.
        RunThenFail(Duration),
        /// Report running, trigger shutdown, return when it fires.
        RunUntilShutdown,
    }

    #[derive(Debug)]
    struct Scripted {
        steps: Mutex<VecDeque<Step>>,
        clock: Arc<FakeClock>,
        trigger: Mutex<Option<ShutdownTrigger>>,
        /// Health seen at the start of each run.
        seen: Mutex<Vec<ServiceHealth>>,
    }

    #[async_trait]
    impl Service for Scripted {
        fn name(&self) -> &'static str {
            "scripted"
        }
        async fn run(&self, ctx: RunContext) -> Result<(), ServiceError> {
            self.seen
                .lock()
                .unwrap()
                .push(ctx.health.current().unwrap());
            let step = self.steps.lock().unwrap().pop_front();
            match step {
                Some(Step::Fail(class)) => Err(ServiceError::new(class, "scripted")),
                Some(Step::Panic) => panic!("scripted panic"),
                Some(Step::EndEarly) => Ok(()),
                Some(Step::RunThenFail(d)) => {
                    ctx.health.running();
                    self.clock.advance(d);
                    Err(ServiceError::new(ErrorClass::Store, "lost the store"))
                }
                Some(Step::RunUntilShutdown) | None => {
                    ctx.health.running();
                    assert!(ctx.health.current().unwrap().is_up());
                    if let Some(t) = self.trigger.lock().unwrap().take() {
                        t.trigger();
                    }
                    ctx.shutdown.wait().await;
                    Ok(())
                }
            }
        }
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn delays_double_from_one_second_up_to_a_minute() {
        let p = RestartPolicy::default();
        let got: Vec<u64> = (1..=9).map(|n| p.delay(n).as_secs()).collect();
        assert_eq!(got, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(p.delay(u32::MAX), p.max);
        assert_eq!(p.delay(0), p.initial);
    }

    #[tokio::test]
    async fn failed_runs_restart_with_backoff_and_health_follows() {
        use Step::*;
        let clock = Arc::new(FakeClock {
            base: Instant::now(),
            offset: Mutex::new(Duration::ZERO),
            sleeps: Mutex::new(Vec::new()),
        });
        let (trigger, shutdown) = Shutdown::new();
        let steps = [
            Fail(ErrorClass::Store),
            Panic,
            Fail(ErrorClass::Chain),
            EndEarly,
            Fail(ErrorClass::Store),
            Fail(ErrorClass::Store),
            Fail(ErrorClass::Store),
            Fail(ErrorClass::Store),
            // A healthy minute resets the back-off.
            RunThenFail(secs(61)),
            Fail(ErrorClass::Store),
            // Shorter than a minute: no reset.
            RunThenFail(secs(5)),
            RunUntilShutdown,
        ];
        let svc = Arc::new(Scripted {
            steps: Mutex::new(steps.into_iter().collect()),
            clock: clock.clone(),
            trigger: Mutex::new(Some(trigger)),
            seen: Mutex::new(Vec::new()),
        });
        let board = HealthBoard::new();
        let health = board.register("scripted");
        supervise(
            svc.clone(),
            health.clone(),
            shutdown,
            RestartPolicy::default(),
            clock.clone(),
        )
        .await;
        let sleeps: Vec<u64> = clock
            .sleeps
            .lock()
            .unwrap()
            .iter()
            .map(Duration::as_secs)
            .collect();
        assert_eq!(sleeps, [1, 2, 4, 8, 16, 32, 60, 60, 1, 2, 4]);
        let seen = svc.seen.lock().unwrap();
        let errors: Vec<Option<&str>> = seen
            .iter()
            .map(|h| h.error.map(ErrorClass::as_str))
            .collect();
        assert_eq!(
            errors,
            [
                None,
                Some("store"),
                Some("panic"),
                Some("chain"),
                Some("internal"),
                Some("store"),
                Some("store"),
                Some("store"),
                Some("store"),
                Some("store"),
                Some("store"),
                Some("store"),
            ]
        );
        assert!(seen.iter().all(|h| h.state == ServiceState::Starting));
        assert_eq!(seen.last().unwrap().failures, 11);
        let end = health.current().unwrap();
        assert_eq!((end.state, end.error), (ServiceState::Stopped, None));
    }

    #[tokio::test]
    async fn shutdown_during_backoff_stops_without_another_run() {
        #[derive(Debug)]
        struct FailsOnce(Mutex<Option<ShutdownTrigger>>, Mutex<u32>);
        #[async_trait]
        impl Service for FailsOnce {
            fn name(&self) -> &'static str {
                "fails_once"
            }
            async fn run(&self, _ctx: RunContext) -> Result<(), ServiceError> {
                *self.1.lock().unwrap() += 1;
                Err(ServiceError::new(ErrorClass::Store, "down"))
            }
        }
        /// A clock whose sleep never ends, and asks for shutdown when entered.
        #[derive(Debug)]
        struct Stuck(Arc<FailsOnce>);
        #[async_trait]
        impl Clock for Stuck {
            fn now(&self) -> Instant {
                Instant::now()
            }
            async fn sleep(&self, _d: Duration) {
                if let Some(t) = self.0.0.lock().unwrap().take() {
                    t.trigger();
                }
                std::future::pending::<()>().await;
            }
        }
        let (trigger, shutdown) = Shutdown::new();
        let svc = Arc::new(FailsOnce(Mutex::new(Some(trigger)), Mutex::new(0)));
        let board = HealthBoard::new();
        let health = board.register("fails_once");
        supervise(
            svc.clone(),
            health.clone(),
            shutdown,
            RestartPolicy::default(),
            Arc::new(Stuck(svc.clone())),
        )
        .await;
        assert_eq!(*svc.1.lock().unwrap(), 1, "one run only");
        assert_eq!(health.current().unwrap().state, ServiceState::Stopped);
    }
}
