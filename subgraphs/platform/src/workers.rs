//! Background workers that run beside a service's HTTP server (outbox relays,
//! event consumers, reservation expiry) and stop with it: on shutdown the server
//! drains its requests first, then the workers are cancelled and awaited, so a
//! message in flight is finished or left unacknowledged, never half applied.

use std::future::Future;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// A set of cancellable background tasks.
#[derive(Default)]
pub struct Workers {
    token: CancellationToken,
    tasks: JoinSet<()>,
}

impl Workers {
    /// No workers yet.
    pub fn new() -> Self {
        Workers::default()
    }

    /// Spawns a worker; it must return soon after its token is cancelled.
    pub fn spawn<F>(&mut self, name: &'static str, worker: impl FnOnce(CancellationToken) -> F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let future = worker(self.token.child_token());
        self.tasks.spawn(async move {
            future.await;
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
