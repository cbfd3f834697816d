//! The products side of the order saga, written once for both stores: an
//! order's lines are reserved all together or not at all, sold when the order
//! is paid, given back when it is cancelled or its hold lapses, and put back on
//! hand when a sold order is cancelled. The decisions are
//! `domain::reservation`'s; this module turns them into stock changes and
//! events over [`LedgerTx`], the primitives each store implements inside one
//! transaction per event, and [`StockLedger`], the store's driver that applies
//! a rule exactly once (the event's inbox record, the changes and the events
//! they cause, committed together).
//!
//! All or nothing, on stores with and without savepoints: a rule is applied
//! in two passes. The first ([`Pass::Attempt`]) takes the stock; when a line
//! falls short it answers [`Step::Short`], the store undoes the attempt
//! (PostgreSQL rolls back to a savepoint, MongoDB aborts the transaction) and
//! applies the rule again with [`Pass::Refuse`], which records the refusal.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use events::catalogue::{
    OrderCancelled, OrderPaid, OrderPlaced, RejectedLine, ReleaseReason, ReservedLine,
    StockRejected, StockReleased, StockReserved,
};
use events::consumer::HandlerError;
use events::outbox::OutboxStore;
use events::{Envelope, EventMeta, RawEnvelope};
use platform::Money;
use uuid::Uuid;

use crate::domain::reservation::{
    merge_lines, on_cancel, on_paid, CancelAction, Line, PayAction, PricedLine, ReservationStatus,
};
use crate::store::{Applied, StockLedger};

/// The most lapsed reservations one [`Stock::expire_due`] looks at: PostgreSQL
/// releases them in one transaction with a savepoint each, and past 64
/// subtransactions it slows every other session's snapshots until the
/// transaction ends.
pub const EXPIRY_BATCH: i64 = 50;

/// How long a lapsed reservation that cannot be released (a broken invariant,
/// unreadable lines) waits before it is looked at again, behind the others.
pub const LOOK_AGAIN_AFTER: chrono::Duration = chrono::Duration::hours(1);

/// Which pass over an event this is (see the module's documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// Take the stock if it is there.
    Attempt,
    /// The attempt fell short: record the refusal.
    Refuse,
}

/// How a pass ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Keep the changes: commit.
    Commit,
    /// Some stock was short: undo the attempt and apply again with
    /// [`Pass::Refuse`].
    Short,
}

/// An order's reservation as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Reservation {
    /// Where it is in its life.
    pub status: ReservationStatus,
    /// What it holds (or held), with the prices reserved at.
    pub lines: Vec<PricedLine>,
}

/// An event the stock rules announce.
#[derive(Debug, Clone, PartialEq)]
pub enum Outgoing {
    /// `stock.reserved`.
    Reserved(StockReserved),
    /// `stock.rejected`.
    Rejected(StockRejected),
    /// `stock.released`.
    Released(StockReleased),
}

impl Outgoing {
    /// The envelope of this event from `source`, caused as `meta` says.
    pub fn into_envelope(self, source: &str, meta: EventMeta) -> Result<RawEnvelope, HandlerError> {
        let raw = match self {
            Outgoing::Reserved(p) => Envelope::new(source, p, meta).into_raw(),
            Outgoing::Rejected(p) => Envelope::new(source, p, meta).into_raw(),
            Outgoing::Released(p) => Envelope::new(source, p, meta).into_raw(),
        };
        raw.map_err(|e| HandlerError::Permanent(e.into()))
    }
}

/// What the rules need from a store inside the transaction of one event
/// (whose inbox record the store has written already). Every stock change is
/// one atomic conditional update; a reservation read is locked (or, on
/// MongoDB, its later status change is conditional on the status read) until
/// the transaction ends.
#[async_trait]
pub trait LedgerTx: Send {
    /// The time the transaction started.
    fn now(&self) -> DateTime<Utc>;

    /// Marks where the stock taking of a [`Pass::Attempt`] begins: what follows
    /// is undone if the pass answers [`Step::Short`] (PostgreSQL: a savepoint;
    /// MongoDB: nothing, the whole transaction is aborted). A rule calls it
    /// before it takes any stock.
    async fn attempt(&mut self) -> Result<(), HandlerError>;

    /// The reservation of `order_id`, if any.
    async fn reservation(&mut self, order_id: Uuid) -> Result<Option<Reservation>, HandlerError>;

    /// Records the reservation of `order_id`.
    async fn insert_reservation(
        &mut self,
        order_id: Uuid,
        status: ReservationStatus,
        lines: &[PricedLine],
        expires_at: DateTime<Utc>,
    ) -> Result<(), HandlerError>;

    /// Moves the reservation of `order_id` from `from` (the status read in this
    /// transaction) to `to`.
    async fn set_status(
        &mut self,
        order_id: Uuid,
        from: ReservationStatus,
        to: ReservationStatus,
    ) -> Result<(), HandlerError>;

    /// Reserves `line` if its product is on sale with enough available, and
    /// returns the product's price; `None` when it falls short.
    async fn reserve_line(&mut self, line: &Line) -> Result<Option<Money>, HandlerError>;

    /// Sells held units: they leave both the stock on hand and the reserved. A
    /// product not holding them is a broken invariant (permanent).
    async fn sell_held(&mut self, line: &PricedLine) -> Result<(), HandlerError>;

    /// Sells the units of a lapsed reservation from what is available; `false`
    /// when it falls short.
    async fn sell_available(&mut self, line: &PricedLine) -> Result<bool, HandlerError>;

    /// Gives held units back to what is available. A product not holding them
    /// is a broken invariant (permanent).
    async fn release(&mut self, line: &PricedLine) -> Result<(), HandlerError>;

    /// Puts sold units back on hand.
    async fn restock(&mut self, line: &PricedLine) -> Result<(), HandlerError>;

    /// What each of these products has available (0 when archived; unknown
    /// products are left out).
    async fn available(&mut self, products: &[Uuid]) -> Result<Vec<(Uuid, i64)>, HandlerError>;

    /// Writes `event` to the outbox, caused by the event being applied.
    async fn publish(&mut self, event: Outgoing) -> Result<(), HandlerError>;
}

/// The work one event does inside its transaction.
#[async_trait]
pub trait StockRule: Sync {
    /// Applies the event in `tx` (whose inbox record is written already).
    async fn apply(&self, tx: &mut dyn LedgerTx, pass: Pass) -> Result<Step, HandlerError>;
}

/// The use cases of the saga's stock side, over a store's ledger.
#[derive(Clone)]
pub struct Stock {
    ledger: Arc<dyn StockLedger>,
}

impl Stock {
    /// The stock rules over `ledger`.
    pub fn new(ledger: Arc<dyn StockLedger>) -> Self {
        Stock { ledger }
    }

    /// `order.placed`: reserves every line or none; emits `stock.reserved`
    /// (held until `now + ttl`) or `stock.rejected`.
    pub async fn reserve(
        &self,
        event: &Envelope<OrderPlaced>,
        ttl: chrono::Duration,
    ) -> Result<Applied, HandlerError> {
        self.ledger
            .apply_once(&raw(event)?, &Reserve { event, ttl })
            .await
    }

    /// `order.paid`: the held units are sold. If the reservation had lapsed,
    /// the units are taken from what is available, or `stock.rejected` is
    /// emitted.
    pub async fn commit(&self, event: &Envelope<OrderPaid>) -> Result<Applied, HandlerError> {
        self.ledger.apply_once(&raw(event)?, &Sell { event }).await
    }

    /// `order.cancelled`: releases held units (emitting `stock.released`),
    /// restocks sold ones, or remembers the cancellation for a later
    /// `order.placed`.
    pub async fn cancel(&self, event: &Envelope<OrderCancelled>) -> Result<Applied, HandlerError> {
        self.ledger
            .apply_once(&raw(event)?, &Cancel { event })
            .await
    }

    /// Releases up to `limit` reservations past their expiry, emitting
    /// `stock.released` (expired) for each; safe to run on every replica.
    pub async fn expire_due(&self, limit: i64) -> Result<usize, HandlerError> {
        self.ledger.expire_due(limit).await
    }

    /// The outbox the relay publishes from.
    pub fn outbox(&self) -> Arc<dyn OutboxStore> {
        self.ledger.outbox()
    }
}

fn raw<P: events::Event + Clone>(event: &Envelope<P>) -> Result<RawEnvelope, HandlerError> {
    event
        .clone()
        .into_raw()
        .map_err(|e| HandlerError::Permanent(e.into()))
}

/// `order.placed`.
struct Reserve<'e> {
    event: &'e Envelope<OrderPlaced>,
    ttl: chrono::Duration,
}

#[async_trait]
impl StockRule for Reserve<'_> {
    async fn apply(&self, tx: &mut dyn LedgerTx, pass: Pass) -> Result<Step, HandlerError> {
        let order_id = self.event.payload.order_id;
        if tx.reservation(order_id).await?.is_some() {
            // Cancelled before it was placed here, or placed twice: nothing to hold.
            return Ok(Step::Commit);
        }
        let items: Vec<Line> = self
            .event
            .payload
            .items
            .iter()
            .map(|l| Line {
                product_id: l.product_id,
                quantity: l.quantity,
            })
            .collect();
        let lines =
            merge_lines(&items).map_err(|why| HandlerError::Permanent(anyhow::anyhow!(why)))?;
        if pass == Pass::Refuse {
            let rejected = rejected_lines(tx, &lines).await?;
            tx.publish(Outgoing::Rejected(StockRejected {
                order_id,
                lines: rejected,
            }))
            .await?;
            let now = tx.now();
            tx.insert_reservation(order_id, ReservationStatus::Released, &[], now)
                .await?;
            return Ok(Step::Commit);
        }
        tx.attempt().await?;
        let mut reserved = Vec::with_capacity(lines.len());
        for line in &lines {
            let Some(unit_price) = tx.reserve_line(line).await? else {
                return Ok(Step::Short);
            };
            reserved.push(PricedLine {
                product_id: line.product_id,
                quantity: line.quantity,
                unit_price,
            });
        }
        // Milliseconds, the precision of every store: the event says what is stored.
        let expires_at = millis(tx.now() + self.ttl);
        tx.insert_reservation(order_id, ReservationStatus::Held, &reserved, expires_at)
            .await?;
        tx.publish(Outgoing::Reserved(StockReserved {
            order_id,
            lines: reserved
                .iter()
                .map(|l| ReservedLine {
                    product_id: l.product_id,
                    quantity: l.quantity,
                    unit_price: l.unit_price,
                })
                .collect(),
            expires_at,
        }))
        .await?;
        Ok(Step::Commit)
    }
}

/// `order.paid`.
struct Sell<'e> {
    event: &'e Envelope<OrderPaid>,
}

#[async_trait]
impl StockRule for Sell<'_> {
    async fn apply(&self, tx: &mut dyn LedgerTx, pass: Pass) -> Result<Step, HandlerError> {
        let order_id = self.event.payload.order_id;
        let reservation = tx.reservation(order_id).await?;
        let action = on_paid(
            reservation.as_ref().map(|r| r.status),
            reservation.as_ref().is_some_and(|r| !r.lines.is_empty()),
        );
        let (from, lines) = match reservation {
            Some(r) => (r.status, r.lines),
            None => (ReservationStatus::Held, Vec::new()),
        };
        match (action, pass) {
            (PayAction::NotYetReserved, _) => {
                // order.placed is still on its way: not recorded, tried again later.
                return Err(HandlerError::Transient(anyhow::anyhow!(
                    "order {order_id} paid but not reserved here yet"
                )));
            }
            (PayAction::SellHeld, _) => {
                for line in &lines {
                    tx.sell_held(line).await?;
                }
                tx.set_status(order_id, from, ReservationStatus::Committed)
                    .await?;
            }
            // Paid after the reservation lapsed: sell from what is available.
            (PayAction::SellAvailable, Pass::Attempt) => {
                tx.attempt().await?;
                for line in &lines {
                    if !tx.sell_available(line).await? {
                        return Ok(Step::Short);
                    }
                }
                tx.set_status(order_id, from, ReservationStatus::Committed)
                    .await?;
            }
            (PayAction::SellAvailable, Pass::Refuse) => {
                let wanted: Vec<Line> = lines.iter().map(PricedLine::line).collect();
                let rejected = rejected_lines(tx, &wanted).await?;
                tx.publish(Outgoing::Rejected(StockRejected {
                    order_id,
                    lines: rejected,
                }))
                .await?;
            }
            (PayAction::Nothing, _) => {}
        }
        Ok(Step::Commit)
    }
}

/// `order.cancelled`.
struct Cancel<'e> {
    event: &'e Envelope<OrderCancelled>,
}

#[async_trait]
impl StockRule for Cancel<'_> {
    async fn apply(&self, tx: &mut dyn LedgerTx, _: Pass) -> Result<Step, HandlerError> {
        let order_id = self.event.payload.order_id;
        let Some(current) = tx.reservation(order_id).await? else {
            // Nothing was reserved yet: remember the cancellation.
            let now = tx.now();
            tx.insert_reservation(order_id, ReservationStatus::Cancelled, &[], now)
                .await?;
            return Ok(Step::Commit);
        };
        let from = current.status;
        match on_cancel(Some(from), self.event.payload.restock) {
            CancelAction::Release => {
                for line in &current.lines {
                    tx.release(line).await?;
                }
                tx.set_status(order_id, from, ReservationStatus::Cancelled)
                    .await?;
                tx.publish(Outgoing::Released(StockReleased {
                    order_id,
                    reason: ReleaseReason::Cancelled,
                }))
                .await?;
            }
            CancelAction::Restock => {
                for line in &current.lines {
                    tx.restock(line).await?;
                }
                tx.set_status(order_id, from, ReservationStatus::Restocked)
                    .await?;
            }
            CancelAction::Close => {
                tx.set_status(order_id, from, ReservationStatus::Cancelled)
                    .await?;
            }
            // A reservation exists, so there is nothing to remember.
            CancelAction::Tombstone | CancelAction::Nothing => {}
        }
        Ok(Step::Commit)
    }
}

/// Releases the reservation of `order_id` if it is still held (the caller
/// found it due), emitting `stock.released` (expired); `false` when it is not
/// held (any more).
pub async fn expire(tx: &mut dyn LedgerTx, order_id: Uuid) -> Result<bool, HandlerError> {
    let Some(current) = tx.reservation(order_id).await? else {
        return Ok(false);
    };
    if current.status != ReservationStatus::Held {
        return Ok(false);
    }
    for line in &current.lines {
        tx.release(line).await?;
    }
    tx.set_status(
        order_id,
        ReservationStatus::Held,
        ReservationStatus::Released,
    )
    .await?;
    tx.publish(Outgoing::Released(StockReleased {
        order_id,
        reason: ReleaseReason::Expired,
    }))
    .await?;
    Ok(true)
}

/// The lines that cannot be served, with what is available (0 for an unknown
/// or archived product).
async fn rejected_lines(
    tx: &mut dyn LedgerTx,
    lines: &[Line],
) -> Result<Vec<RejectedLine>, HandlerError> {
    let ids: Vec<Uuid> = lines.iter().map(|l| l.product_id).collect();
    let available = tx.available(&ids).await?;
    Ok(lines
        .iter()
        .filter_map(|l| {
            let avail = available
                .iter()
                .find(|(id, _)| *id == l.product_id)
                .map_or(0, |(_, a)| *a);
            (avail < l.quantity).then_some(RejectedLine {
                product_id: l.product_id,
                requested: l.quantity,
                available: avail,
            })
        })
        .collect())
}

/// Nothing, when a product `held` a reservation's units; else the broken
/// invariant (permanent: applying the event again cannot mend it).
pub fn held_unless(held: bool, line: &PricedLine) -> Result<(), HandlerError> {
    if held {
        Ok(())
    } else {
        Err(HandlerError::Permanent(anyhow::anyhow!(
            "product {} does not hold the {} units reserved for it",
            line.product_id,
            line.quantity
        )))
    }
}

/// `t` truncated to milliseconds.
pub fn millis(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    //! The rules over a ledger in memory whose driver undoes a short attempt
    //! the way both stores do: what holds here holds for both (their own
    //! contract suite checks that their primitives match these).
    use std::collections::HashMap;

    use events::catalogue::OrderLine;
    use events::Event;
    use platform::Currency;

    use super::*;

    /// A product: (on hand, reserved, archived).
    type Row = (i64, i64, bool);

    #[derive(Clone, Default)]
    struct Memory {
        products: HashMap<Uuid, Row>,
        reservations: HashMap<Uuid, Reservation>,
        outbox: Vec<Outgoing>,
        /// How often a rule marked the start of its stock taking.
        attempts: usize,
    }

    #[async_trait]
    impl LedgerTx for Memory {
        fn now(&self) -> DateTime<Utc> {
            millis(Utc::now())
        }

        async fn attempt(&mut self) -> Result<(), HandlerError> {
            self.attempts += 1;
            Ok(())
        }

        async fn reservation(
            &mut self,
            order_id: Uuid,
        ) -> Result<Option<Reservation>, HandlerError> {
            Ok(self.reservations.get(&order_id).cloned())
        }

        async fn insert_reservation(
            &mut self,
            order_id: Uuid,
            status: ReservationStatus,
            lines: &[PricedLine],
            _expires_at: DateTime<Utc>,
        ) -> Result<(), HandlerError> {
            let reservation = Reservation {
                status,
                lines: lines.to_vec(),
            };
            match self.reservations.insert(order_id, reservation) {
                None => Ok(()),
                Some(_) => Err(HandlerError::Permanent(anyhow::anyhow!("duplicate key"))),
            }
        }

        async fn set_status(
            &mut self,
            order_id: Uuid,
            from: ReservationStatus,
            to: ReservationStatus,
        ) -> Result<(), HandlerError> {
            match self.reservations.get_mut(&order_id) {
                Some(r) if r.status == from => {
                    r.status = to;
                    Ok(())
                }
                _ => Err(HandlerError::Transient(anyhow::anyhow!(
                    "changed meanwhile"
                ))),
            }
        }

        async fn reserve_line(&mut self, line: &Line) -> Result<Option<Money>, HandlerError> {
            match self.products.get_mut(&line.product_id) {
                Some((on_hand, reserved, false)) if *on_hand - *reserved >= line.quantity => {
                    *reserved += line.quantity;
                    Ok(Some(Money::new(1250, Currency::EUR)))
                }
                _ => Ok(None),
            }
        }

        async fn sell_held(&mut self, line: &PricedLine) -> Result<(), HandlerError> {
            match self.products.get_mut(&line.product_id) {
                Some((on_hand, reserved, _)) if *reserved >= line.quantity => {
                    *on_hand -= line.quantity;
                    *reserved -= line.quantity;
                    Ok(())
                }
                _ => Err(HandlerError::Permanent(anyhow::anyhow!("not held"))),
            }
        }

        async fn sell_available(&mut self, line: &PricedLine) -> Result<bool, HandlerError> {
            match self.products.get_mut(&line.product_id) {
                Some((on_hand, reserved, _)) if *on_hand - *reserved >= line.quantity => {
                    *on_hand -= line.quantity;
                    Ok(true)
                }
                _ => Ok(false),
            }
        }

        async fn release(&mut self, line: &PricedLine) -> Result<(), HandlerError> {
            match self.products.get_mut(&line.product_id) {
                Some((_, reserved, _)) if *reserved >= line.quantity => {
                    *reserved -= line.quantity;
                    Ok(())
                }
                _ => Err(HandlerError::Permanent(anyhow::anyhow!("not held"))),
            }
        }

        async fn restock(&mut self, line: &PricedLine) -> Result<(), HandlerError> {
            if let Some((on_hand, _, _)) = self.products.get_mut(&line.product_id) {
                *on_hand += line.quantity;
            }
            Ok(())
        }

        async fn available(&mut self, ids: &[Uuid]) -> Result<Vec<(Uuid, i64)>, HandlerError> {
            Ok(ids
                .iter()
                .filter_map(|id| {
                    let (on_hand, reserved, archived) = self.products.get(id)?;
                    Some((*id, if *archived { 0 } else { on_hand - reserved }))
                })
                .collect())
        }

        async fn publish(&mut self, event: Outgoing) -> Result<(), HandlerError> {
            self.outbox.push(event);
            Ok(())
        }
    }

    impl Memory {
        /// Applies `rule` as the stores do: a short attempt is undone and the
        /// rule applied again to refuse; an error leaves nothing behind.
        async fn apply(&mut self, rule: &dyn StockRule) -> Result<(), HandlerError> {
            let mut attempt = self.clone();
            let marked = attempt.attempts;
            match rule.apply(&mut attempt, Pass::Attempt).await? {
                Step::Commit => *self = attempt,
                Step::Short => {
                    assert!(
                        attempt.attempts > marked,
                        "a short attempt marks where its stock taking began"
                    );
                    let mut refusal = self.clone();
                    assert_eq!(rule.apply(&mut refusal, Pass::Refuse).await?, Step::Commit);
                    *self = refusal;
                }
            }
            Ok(())
        }

        fn product(&mut self, on_hand: i64) -> Uuid {
            let id = Uuid::now_v7();
            self.products.insert(id, (on_hand, 0, false));
            id
        }

        fn sent(&mut self) -> Vec<&'static str> {
            self.outbox
                .drain(..)
                .map(|e| match e {
                    Outgoing::Reserved(_) => StockReserved::TYPE,
                    Outgoing::Rejected(_) => StockRejected::TYPE,
                    Outgoing::Released(_) => StockReleased::TYPE,
                })
                .collect()
        }

        fn status(&self, order: Uuid) -> Option<ReservationStatus> {
            self.reservations.get(&order).map(|r| r.status)
        }
    }

    fn envelope<P: events::Event>(payload: P) -> Envelope<P> {
        Envelope::new("orders", payload, EventMeta::default())
    }

    fn placed(lines: &[(Uuid, i64)]) -> Envelope<OrderPlaced> {
        envelope(OrderPlaced {
            order_id: Uuid::now_v7(),
            user_id: Uuid::now_v7(),
            items: lines
                .iter()
                .map(|&(product_id, quantity)| OrderLine {
                    product_id,
                    quantity,
                })
                .collect(),
            currency: "EUR".into(),
        })
    }

    fn paid(order_id: Uuid) -> Envelope<OrderPaid> {
        envelope(OrderPaid {
            order_id,
            payment_id: Uuid::now_v7(),
        })
    }

    fn cancelled(order_id: Uuid, restock: bool) -> Envelope<OrderCancelled> {
        envelope(OrderCancelled {
            order_id,
            reason: "customer".into(),
            refund: restock,
            restock,
            items: Vec::new(),
        })
    }

    const TTL: chrono::Duration = chrono::Duration::minutes(15);

    #[tokio::test]
    async fn an_order_is_reserved_whole_or_refused_whole() {
        let mut m = Memory::default();
        let (a, b) = (m.product(5), m.product(1));
        let short = placed(&[(a, 2), (b, 2)]);
        let rule = Reserve {
            event: &short,
            ttl: TTL,
        };
        m.apply(&rule).await.unwrap();
        assert_eq!(m.sent(), [StockRejected::TYPE]);
        assert_eq!(
            (m.products[&a], m.products[&b]),
            ((5, 0, false), (1, 0, false))
        );
        assert_eq!(
            m.status(short.payload.order_id),
            Some(ReservationStatus::Released)
        );

        let whole = placed(&[(a, 2), (b, 1), (a, 1)]);
        m.apply(&Reserve {
            event: &whole,
            ttl: TTL,
        })
        .await
        .unwrap();
        assert_eq!(m.sent(), [StockReserved::TYPE]);
        assert_eq!(
            (m.products[&a], m.products[&b]),
            ((5, 3, false), (1, 1, false))
        );
        let held = &m.reservations[&whole.payload.order_id];
        assert_eq!(held.status, ReservationStatus::Held);
        assert_eq!(held.lines.len(), 2, "lines of one product are merged");
    }

    #[tokio::test]
    async fn a_refusal_says_what_each_short_line_could_have() {
        let mut m = Memory::default();
        let (a, gone) = (m.product(3), Uuid::now_v7());
        let order = placed(&[(a, 5), (gone, 1)]);
        let mut refusal = m.clone();
        assert_eq!(
            Reserve {
                event: &order,
                ttl: TTL
            }
            .apply(&mut refusal, Pass::Refuse)
            .await
            .unwrap(),
            Step::Commit
        );
        let Some(Outgoing::Rejected(rejected)) = refusal.outbox.pop() else {
            panic!("a refusal announces stock.rejected");
        };
        assert_eq!(
            rejected.lines,
            vec![
                RejectedLine {
                    product_id: a,
                    requested: 5,
                    available: 3
                },
                RejectedLine {
                    product_id: gone,
                    requested: 1,
                    available: 0
                },
            ]
        );
    }

    #[tokio::test]
    async fn payment_sells_held_units_and_lapsed_ones_only_if_available() {
        let mut m = Memory::default();
        let a = m.product(4);
        let order = placed(&[(a, 3)]);
        let id = order.payload.order_id;
        m.apply(&Reserve {
            event: &order,
            ttl: TTL,
        })
        .await
        .unwrap();
        m.apply(&Sell { event: &paid(id) }).await.unwrap();
        assert_eq!(m.products[&a], (1, 0, false));
        assert_eq!(m.status(id), Some(ReservationStatus::Committed));

        // Lapsed, then paid: sold from what is available, else refused.
        let lapsing = placed(&[(a, 1)]);
        let lapsing_id = lapsing.payload.order_id;
        m.apply(&Reserve {
            event: &lapsing,
            ttl: TTL,
        })
        .await
        .unwrap();
        assert!(expire(&mut m, lapsing_id).await.unwrap());
        assert!(!expire(&mut m, lapsing_id).await.unwrap(), "released once");
        m.sent();
        m.products.insert(a, (0, 0, false));
        m.apply(&Sell {
            event: &paid(lapsing_id),
        })
        .await
        .unwrap();
        assert_eq!(m.sent(), [StockRejected::TYPE]);
        assert_eq!(m.status(lapsing_id), Some(ReservationStatus::Released));
        m.products.insert(a, (2, 0, false));
        m.apply(&Sell {
            event: &paid(lapsing_id),
        })
        .await
        .unwrap();
        assert_eq!(m.products[&a], (1, 0, false));
        assert_eq!(m.status(lapsing_id), Some(ReservationStatus::Committed));

        // Paid before placed: tried again later, nothing recorded.
        let err = m
            .apply(&Sell {
                event: &paid(Uuid::now_v7()),
            })
            .await
            .unwrap_err();
        assert!(err.is_transient());
    }

    #[tokio::test]
    async fn cancelling_releases_restocks_or_remembers() {
        let mut m = Memory::default();
        let a = m.product(5);
        let held = placed(&[(a, 2)]);
        m.apply(&Reserve {
            event: &held,
            ttl: TTL,
        })
        .await
        .unwrap();
        m.sent();
        m.apply(&Cancel {
            event: &cancelled(held.payload.order_id, false),
        })
        .await
        .unwrap();
        assert_eq!(m.sent(), [StockReleased::TYPE]);
        assert_eq!(m.products[&a], (5, 0, false));

        let sold = placed(&[(a, 2)]);
        let sold_id = sold.payload.order_id;
        m.apply(&Reserve {
            event: &sold,
            ttl: TTL,
        })
        .await
        .unwrap();
        m.apply(&Sell {
            event: &paid(sold_id),
        })
        .await
        .unwrap();
        m.apply(&Cancel {
            event: &cancelled(sold_id, true),
        })
        .await
        .unwrap();
        assert_eq!(m.products[&a], (5, 0, false));
        assert_eq!(m.status(sold_id), Some(ReservationStatus::Restocked));

        // Cancelled before placed: the later placement holds nothing, and a
        // payment never sells.
        let early = placed(&[(a, 1)]);
        let early_id = early.payload.order_id;
        m.apply(&Cancel {
            event: &cancelled(early_id, true),
        })
        .await
        .unwrap();
        m.apply(&Reserve {
            event: &early,
            ttl: TTL,
        })
        .await
        .unwrap();
        m.apply(&Sell {
            event: &paid(early_id),
        })
        .await
        .unwrap();
        assert_eq!(m.products[&a], (5, 0, false));
        assert_eq!(m.status(early_id), Some(ReservationStatus::Cancelled));
    }

    #[tokio::test]
    async fn every_order_of_placed_paid_and_cancelled_leaves_exact_stock() {
        #[derive(Debug, Clone, Copy)]
        enum E {
            Placed,
            Paid,
            Cancelled,
        }
        let orders = [
            [E::Placed, E::Paid, E::Cancelled],
            [E::Placed, E::Cancelled, E::Paid],
            [E::Paid, E::Placed, E::Cancelled],
            [E::Paid, E::Cancelled, E::Placed],
            [E::Cancelled, E::Placed, E::Paid],
            [E::Cancelled, E::Paid, E::Placed],
        ];
        for events in orders {
            let mut m = Memory::default();
            let a = m.product(3);
            let order = placed(&[(a, 2)]);
            let id = order.payload.order_id;
            let mut pending: Vec<E> = events.to_vec();
            let mut rounds = 0;
            while let Some(e) = (!pending.is_empty()).then(|| pending.remove(0)) {
                rounds += 1;
                assert!(rounds < 10, "never settles: {events:?}");
                let done = match e {
                    E::Placed => {
                        m.apply(&Reserve {
                            event: &order,
                            ttl: TTL,
                        })
                        .await
                    }
                    E::Paid => m.apply(&Sell { event: &paid(id) }).await,
                    E::Cancelled => {
                        m.apply(&Cancel {
                            event: &cancelled(id, true),
                        })
                        .await
                    }
                };
                if let Err(e2) = done {
                    assert!(e2.is_transient(), "{events:?}: {e2}");
                    pending.push(e);
                }
            }
            // Cancelled in the end, whatever the order: nothing sold, nothing held.
            assert_eq!(m.products[&a], (3, 0, false), "{events:?}");
        }
    }
}
