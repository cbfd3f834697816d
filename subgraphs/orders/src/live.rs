//! Live order status, for subscriptions: a change committed by any replica
//! reaches the subscribers on every replica.
//!
//! A trigger on `order_status_history` notifies the channel [`CHANNEL`] with the
//! order's id (PostgreSQL delivers it at commit to every listening connection
//! of the database). Each replica runs one listener ([`StatusFeed::listen`], a
//! supervised worker) that fans the ids out to its subscriptions, which re-read
//! their order. A subscription also re-reads its order every
//! [`RECHECK_EVERY`]: a notification missed while the listener reconnects
//! delays a change, never loses it. Subscriptions are bounded per viewer and
//! per replica, and end after [`MAX_LIFETIME`] (a client reconnects; the
//! first event of a subscription is always the current status).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::Stream;
use platform::auth::Viewer;
use platform::workers::WorkerContext;
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::domain::order::Order;
use crate::domain::OrderStatus;
use crate::store::OrderStore;

/// The notification channel of status changes.
pub const CHANNEL: &str = "order_status";
/// How often a subscription re-reads its order without a notification.
pub const RECHECK_EVERY: Duration = Duration::from_secs(5);
/// Live subscriptions one viewer may hold on one replica.
pub const MAX_PER_VIEWER: usize = 5;
/// Live subscriptions one replica serves.
pub const MAX_PER_REPLICA: usize = 2_000;
/// How long a subscription lasts before it ends (the client resubscribes).
pub const MAX_LIFETIME: Duration = Duration::from_secs(30 * 60);

/// The changes this replica hears, and the subscriptions it serves.
#[derive(Clone)]
pub struct StatusFeed {
    changes: broadcast::Sender<Uuid>,
    open: Arc<Mutex<HashMap<Uuid, usize>>>,
}

impl Default for StatusFeed {
    fn default() -> Self {
        StatusFeed {
            changes: broadcast::channel(4096).0,
            open: Arc::default(),
        }
    }
}

/// Why a subscription was not admitted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refused {
    /// The viewer holds [`MAX_PER_VIEWER`] already.
    #[error("at most {MAX_PER_VIEWER} live subscriptions per user; close one first")]
    PerViewer,
    /// The replica serves [`MAX_PER_REPLICA`] already.
    #[error("too many live subscriptions right now; retry later")]
    Full,
}

/// One admitted subscription; releases its place when dropped.
pub struct Slot {
    open: Arc<Mutex<HashMap<Uuid, usize>>>,
    viewer: Uuid,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.viewer) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.viewer);
            }
        }
    }
}

impl StatusFeed {
    /// A place for one more subscription of `viewer`, within the bounds.
    pub fn admit(&self, viewer: Uuid) -> Result<Slot, Refused> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if open.values().sum::<usize>() >= MAX_PER_REPLICA {
            return Err(Refused::Full);
        }
        let n = open.entry(viewer).or_default();
        if *n >= MAX_PER_VIEWER {
            return Err(Refused::PerViewer);
        }
        *n += 1;
        Ok(Slot {
            open: self.open.clone(),
            viewer,
        })
    }

    /// Announces that `order` changed (the listener does; tests may).
    pub fn announce(&self, order: Uuid) {
        // No receiver is no subscription: nothing to tell.
        let _ = self.changes.send(order);
    }

    /// Listens on [`CHANNEL`] until the worker's token is cancelled,
    /// announcing every order id it hears; reconnects when the database drops
    /// the connection.
    pub async fn listen(self, pool: PgPool, ctx: WorkerContext) {
        let mut attempt = 0u32;
        while !ctx.token.is_cancelled() {
            let listener = async {
                let mut listener = PgListener::connect_with(&pool).await?;
                listener.listen(CHANNEL).await?;
                Ok::<_, sqlx::Error>(listener)
            }
            .await;
            let mut listener = match listener {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for order status changes; retrying");
                    let delay = Duration::from_millis(200 * 2u64.pow(attempt.min(5)));
                    attempt = attempt.saturating_add(1);
                    tokio::select! {
                        () = tokio::time::sleep(delay) => continue,
                        () = ctx.token.cancelled() => return,
                    }
                }
            };
            attempt = 0;
            loop {
                tokio::select! {
                    () = ctx.token.cancelled() => return,
                    heard = listener.try_recv() => match heard {
                        Ok(Some(notification)) => {
                            if let Ok(order) = notification.payload().parse() {
                                self.announce(order);
                            }
                        }
                        // The connection dropped (try_recv reconnects next time):
                        // subscriptions re-read their orders meanwhile.
                        Ok(None) => tracing::debug!("order status listener reconnecting"),
                        Err(e) => {
                            tracing::warn!(error = %e, "order status listener failed; reconnecting");
                            break;
                        }
                    }
                }
            }
        }
    }

    /// The statuses of `first` (sent first, as it is now), then every change,
    /// ending once the order is settled ([`OrderStatus::is_settled`]) or after [`MAX_LIFETIME`]. `slot` is held as long
    /// as the stream lives.
    pub fn watch(&self, store: OrderStore, first: Order, slot: Slot) -> impl Stream<Item = Order> {
        let state = Watch {
            store,
            changes: self.changes.subscribe(),
            order: first.id,
            last: None,
            pending: Some(first),
            deadline: tokio::time::Instant::now() + MAX_LIFETIME,
            _slot: slot,
        };
        futures::stream::unfold(state, |mut state| async move {
            let next = state.next().await?;
            Some((next, state))
        })
    }

    /// Every status change of `viewer`'s orders from now on (any order, for an
    /// administrator), until [`MAX_LIFETIME`].
    pub fn watch_all(
        &self,
        store: OrderStore,
        viewer: Viewer,
        slot: Slot,
    ) -> impl Stream<Item = Order> {
        let state = (
            store,
            self.changes.subscribe(),
            tokio::time::Instant::now() + MAX_LIFETIME,
            slot,
        );
        futures::stream::unfold(
            state,
            move |(store, mut changes, deadline, slot)| async move {
                loop {
                    let id = tokio::select! {
                        () = tokio::time::sleep_until(deadline) => return None,
                        heard = changes.recv() => match heard {
                            Ok(id) => id,
                            Err(broadcast::error::RecvError::Lagged(missed)) => {
                                tracing::warn!(missed, "a live subscription fell behind");
                                continue;
                            }
                            Err(broadcast::error::RecvError::Closed) => return None,
                        },
                    };
                    let Ok(mut found) = store.orders_by_ids(&[id]).await else {
                        continue;
                    };
                    let Some(order) = found.pop() else { continue };
                    if viewer.is_admin() || order.user_id == viewer.user_id {
                        return Some((order, (store, changes, deadline, slot)));
                    }
                }
            },
        )
    }
}

/// One order's subscription.
struct Watch {
    store: OrderStore,
    changes: broadcast::Receiver<Uuid>,
    order: Uuid,
    last: Option<OrderStatus>,
    pending: Option<Order>,
    deadline: tokio::time::Instant,
    _slot: Slot,
}

impl Watch {
    /// The next status to send, or `None` when the subscription ends.
    async fn next(&mut self) -> Option<Order> {
        if self.last.is_some_and(OrderStatus::is_settled) {
            return None;
        }
        loop {
            if let Some(order) = self.pending.take() {
                if self.last != Some(order.status) {
                    self.last = Some(order.status);
                    return Some(order);
                }
            }
            tokio::select! {
                () = tokio::time::sleep_until(self.deadline) => return None,
                () = tokio::time::sleep(RECHECK_EVERY) => {}
                heard = self.changes.recv() => match heard {
                    Ok(id) if id != self.order => continue,
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
            }
            match self.store.orders_by_ids(&[self.order]).await {
                Ok(mut found) => self.pending = found.pop(),
                // The database is away: the next recheck tries again.
                Err(e) => {
                    tracing::warn!(error = %e, order = %self.order, "cannot re-read a watched order")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscriptions_are_bounded_per_viewer_and_released_when_dropped() {
        let feed = StatusFeed::default();
        let viewer = Uuid::now_v7();
        let slots: Vec<Slot> = (0..MAX_PER_VIEWER)
            .map(|_| feed.admit(viewer).expect("within the bound"))
            .collect();
        assert_eq!(feed.admit(viewer).err(), Some(Refused::PerViewer));
        assert!(
            feed.admit(Uuid::now_v7()).is_ok(),
            "another viewer is not affected"
        );
        drop(slots);
        assert!(feed.admit(viewer).is_ok(), "places come back");
    }
}
