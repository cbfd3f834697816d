//! Background workers that run beside a service's HTTP server (outbox relays,
//! event consumers, reservation expiry) and stop with it: on shutdown the server
//! drains its requests first, then the workers are cancelled and awaited, so a
//! message in flight is finished or left unacknowledged, never half applied.
//!
//! Workers are supervised: one that panics, or returns while the service still
//! runs, is logged, counted (`worker_restarts_total`) and started again with
//! backoff. Each worker reports whether it can do its job ([`WorkerStatus`]:
//! e.g. a relay that cannot reach the broker is down), and `/health/ready`
//! answers 503 while any worker is down ([`WorkerHealth::check`]).

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// What one worker is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Up,
    Down(String),
}

/// The state of every worker of a service, shared with `/health/ready`.
#[derive(Debug, Clone, Default)]
pub struct WorkerHealth {
    states: Arc<Mutex<Vec<(&'static str, State)>>>,
}

impl WorkerHealth {
    fn register(&self, name: &'static str) -> WorkerStatus {
        let mut states = self.states.lock().unwrap_or_else(|p| p.into_inner());
        states.push((name, State::Up));
        WorkerStatus {
            health: self.clone(),
            index: states.len() - 1,
            name,
        }
    }

    fn set(&self, index: usize, state: State) {
        let mut states = self.states.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = states.get_mut(index) {
            slot.1 = state;
        }
    }

    /// `Ok` when every worker is up; otherwise why not (for `/health/ready`).
    pub fn check(&self) -> Result<(), String> {
        let states = self.states.lock().unwrap_or_else(|p| p.into_inner());
        let down: Vec<String> = states
            .iter()
            .filter_map(|(name, state)| match state {
                State::Up => None,
                State::Down(why) => Some(format!("{name}: {why}")),
            })
            .collect();
        if down.is_empty() {
            Ok(())
        } else {
            Err(down.join("; "))
        }
    }
}

/// A worker's handle on its own health entry.
#[derive(Debug, Clone)]
pub struct WorkerStatus {
    health: WorkerHealth,
    index: usize,
    name: &'static str,
}

impl WorkerStatus {
    /// A status not reported anywhere (tests that run a worker loop directly).
    pub fn detached(name: &'static str) -> WorkerStatus {
        WorkerHealth::default().register(name)
    }

    /// The worker can do its job.
    pub fn up(&self) {
        self.health.set(self.index, State::Up);
        metrics::gauge!("worker_up", "worker" => self.name).set(1.0);
    }

    /// The worker cannot do its job (a dependency is unreachable), and why.
    pub fn down(&self, why: impl Into<String>) {
        self.health.set(self.index, State::Down(why.into()));
        metrics::gauge!("worker_up", "worker" => self.name).set(0.0);
    }
}

/// What a worker gets each time it is started.
#[derive(Debug, Clone)]
pub struct WorkerContext {
    /// Cancelled when the service stops: the worker must return soon after.
    pub token: CancellationToken,
    /// Where it reports whether it can work.
    pub status: WorkerStatus,
}

impl WorkerContext {
    /// A context outside any supervisor (tests running a worker loop directly).
    pub fn detached(name: &'static str, token: CancellationToken) -> WorkerContext {
        WorkerContext {
            token,
            status: WorkerStatus::detached(name),
        }
    }
}

/// A set of cancellable, supervised background tasks.
#[derive(Default)]
pub struct Workers {
    token: CancellationToken,
    tasks: JoinSet<()>,
    health: WorkerHealth,
}

/// The delay before restarting a worker that stopped `restarts` times in a
/// row: 100 ms doubling to 30 s.
fn restart_delay(restarts: u32) -> Duration {
    let ms = 100u64.saturating_mul(1u64 << restarts.min(9));
    Duration::from_millis(ms.min(30_000))
}

/// A worker that ran this long before stopping starts its backoff afresh.
const STABLE_AFTER: Duration = Duration::from_secs(60);

impl Workers {
    /// No workers yet.
    pub fn new() -> Self {
        Workers::default()
    }

    /// The health of these workers (for `/health/ready`).
    pub fn health(&self) -> WorkerHealth {
        self.health.clone()
    }

    /// Spawns a supervised worker. `start` is called again after the worker
    /// panics or returns before shutdown; the worker must return soon after its
    /// token is cancelled.
    pub fn spawn<F>(
        &mut self,
        name: &'static str,
        start: impl Fn(WorkerContext) -> F + Send + 'static,
    ) where
        F: Future<Output = ()> + Send + 'static,
    {
        let token = self.token.child_token();
        let status = self.health.register(name);
        status.up();
        self.tasks.spawn(async move {
            let mut restarts = 0u32;
            loop {
                let context = WorkerContext {
                    token: token.clone(),
                    status: status.clone(),
                };
                let started = tokio::time::Instant::now();
                // A panic while starting the worker is caught like one inside it.
                let outcome = match std::panic::catch_unwind(AssertUnwindSafe(|| start(context))) {
                    Ok(worker) => AssertUnwindSafe(worker).catch_unwind().await,
                    Err(panic) => Err(panic),
                };
                if token.is_cancelled() {
                    break;
                }
                let why = match outcome {
                    Ok(()) => "returned".to_string(),
                    Err(panic) => format!("panicked: {}", panic_message(panic.as_ref())),
                };
                if started.elapsed() > STABLE_AFTER {
                    restarts = 0;
                }
                let delay = restart_delay(restarts);
                restarts = restarts.saturating_add(1);
                tracing::error!(worker = name, %why, restart_in = ?delay, "worker stopped; restarting");
                metrics::counter!("worker_restarts_total", "worker" => name).increment(1);
                status.down(format!("restarting ({why})"));
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = token.cancelled() => break,
                }
                status.up();
            }
            tracing::debug!(worker = name, "worker stopped");
        });
    }

    /// How many workers run.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Cancels every worker and waits up to `grace` for them to finish; the
    /// stragglers are aborted.
    pub async fn stop(mut self, grace: Duration) {
        self.token.cancel();
        let drained = tokio::time::timeout(grace, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!("workers did not stop in time; aborting them");
            self.tasks.abort_all();
        }
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn a_worker_that_panics_is_restarted_and_reported_down_meanwhile() {
        let mut workers = Workers::new();
        let health = workers.health();
        let starts = Arc::new(AtomicUsize::new(0));
        let counted = starts.clone();
        workers.spawn("flaky", move |ctx| {
            let n = counted.fetch_add(1, Ordering::SeqCst);
            async move {
                if n < 2 {
                    panic!("boom {n}");
                }
                ctx.token.cancelled().await;
            }
        });
        // Two panics, each followed by a restart after 100 ms then 200 ms.
        let mut saw_down = false;
        for _ in 0..100 {
            if health.check().is_err() {
                saw_down = true;
            }
            if starts.load(Ordering::SeqCst) >= 3 && health.check().is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(saw_down, "a restarting worker is reported down");
        assert_eq!(starts.load(Ordering::SeqCst), 3);
        assert_eq!(health.check(), Ok(()));
        workers.stop(Duration::from_secs(1)).await;
    }

    #[tokio::test]
    async fn a_worker_reporting_down_makes_the_service_unready() {
        let mut workers = Workers::new();
        let health = workers.health();
        workers.spawn("relay", |ctx| async move {
            ctx.status.down("broker unreachable");
            ctx.token.cancelled().await;
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        let why = health.check().expect_err("down");
        assert!(why.contains("relay: broker unreachable"), "{why}");
        workers.stop(Duration::from_secs(1)).await;
    }

    #[tokio::test]
    async fn stopping_does_not_restart_a_worker_that_returns_on_cancellation() {
        let mut workers = Workers::new();
        let starts = Arc::new(AtomicUsize::new(0));
        let counted = starts.clone();
        workers.spawn("quiet", move |ctx| {
            counted.fetch_add(1, Ordering::SeqCst);
            async move { ctx.token.cancelled().await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        workers.stop(Duration::from_secs(1)).await;
        assert_eq!(starts.load(Ordering::SeqCst), 1);
    }
}
