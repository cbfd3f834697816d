//! The stock ledger's primitives on MongoDB, with the semantics of the
//! PostgreSQL ledger and MongoDB's guarantees (the rules are `crate::stock`'s):
//!
//! - every event is applied in one multi-document transaction (snapshot read
//!   concern, majority write concern) holding its `inbox` document
//!   `{_id: {consumer, event_id}}` (a duplicate key means the event was applied
//!   already), the stock changes, the `reservations` document and the outgoing
//!   event in the `outbox` collection;
//! - stock changes are atomic conditional updates on the product document (the
//!   precondition `stock_on_hand - reserved >= q` is in the filter). MongoDB
//!   has no savepoints: when a line falls short the transaction is aborted and
//!   the rule is applied again, to refuse, in a second transaction;
//! - a transaction that loses a write conflict is run again (`session`), and
//!   then sees the winner's writes. Status changes are conditional on the
//!   status read (`{_id, status: <read>}`), like `SELECT ... FOR UPDATE` in
//!   PostgreSQL.
//!
//! Documents (see `documents`):
//! - `inbox`: `{_id: {consumer: "products", event_id}, event_type, processed_at}`;
//! - `reservations`: `{_id: order_id, status: HELD|COMMITTED|RELEASED|RESTOCKED|CANCELLED,
//!   lines: [{product_id, quantity, unit_price: {amount, currency}}], expires_at,
//!   created_at, updated_at}`;
//! - `outbox`: `{_id: event_id, routing_key, envelope: {..the raw envelope..},
//!   created_at, published_at, lease_until, attempts, last_error}`. Event ids are
//!   UUID v7, so `_id` order is creation order: it is the outbox sequence.
//!
//! The collections and indexes are created at start-up by [`prepare`]: MongoDB
//! before 4.4 cannot create a collection inside a transaction.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use events::consumer::HandlerError;
use events::outbox::OutboxStore;
use events::{EventMeta, RawEnvelope};
use futures::TryStreamExt;
use mongodb::bson::{doc, Document};
use mongodb::options::{IndexOptions, ReturnDocument};
use mongodb::{ClientSession, Collection, Database, IndexModel};
use platform::Money;
use uuid::Uuid;

use super::documents::{
    available, bson_date, corrupt_ledger, is_duplicate_key, outbox_document, parse_price,
    parse_reservation, reservation_document, server_code, INBOX, OUTBOX, PRODUCTS, RESERVATIONS,
};
use super::outbox::MongoOutbox;
use super::session::{abort, begin, commit, driver, is_write_conflict, retrying_conflicts};
use crate::config::NAME;
use crate::domain::reservation::{Line, PricedLine, ReservationStatus};
use crate::stock::{
    expire, held_unless, LedgerTx, Outgoing, Pass, Reservation, Step, StockRule, LOOK_AGAIN_AFTER,
};
use crate::store::{Applied, StockLedger};

/// `NamespaceExists`: `create` of a collection that exists.
const NAMESPACE_EXISTS: i32 = 48;

/// The stock ledger in MongoDB.
#[derive(Debug, Clone)]
pub struct MongoLedger {
    database: Database,
}

impl MongoLedger {
    /// The ledger in `database`, creating its collections and indexes.
    pub async fn open(database: Database) -> anyhow::Result<Self> {
        prepare(&database).await?;
        Ok(MongoLedger { database })
    }

    fn database(&self) -> &Database {
        &self.database
    }
}

/// Creates the ledger's collections (ignoring those that exist) and indexes.
/// Idempotent, so replicas may start together.
async fn prepare(database: &Database) -> anyhow::Result<()> {
    for name in [INBOX, OUTBOX, RESERVATIONS] {
        match database.create_collection(name).await {
            Ok(()) => {}
            Err(e) if server_code(&e) == Some(NAMESPACE_EXISTS) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let named = |name: &str| IndexOptions::builder().name(name.to_string()).build();
    database
        .collection::<Document>(RESERVATIONS)
        .create_index(
            IndexModel::builder()
                .keys(doc! { "status": 1, "expires_at": 1 })
                .options(named("status_expires_at"))
                .build(),
        )
        .await?;
    database
        .collection::<Document>(OUTBOX)
        .create_index(
            IndexModel::builder()
                .keys(doc! { "published_at": 1, "_id": 1 })
                .options(named("pending"))
                .build(),
        )
        .await?;
    Ok(())
}

#[async_trait]
impl StockLedger for MongoLedger {
    async fn apply_once(
        &self,
        event: &RawEnvelope,
        rule: &dyn StockRule,
    ) -> Result<Applied, HandlerError> {
        let ledger = Collections::of(self.database());
        retrying_conflicts(&event.id, || ledger.try_apply(event, rule)).await
    }

    async fn expire_due(&self, limit: i64) -> Result<usize, HandlerError> {
        Collections::of(self.database()).expire_due(limit).await
    }

    fn outbox(&self) -> Arc<dyn OutboxStore> {
        Arc::new(MongoOutbox::new(self.database()))
    }
}

/// The collections the ledger works on, as untyped documents.
struct Collections {
    database: Database,
    products: Collection<Document>,
    reservations: Collection<Document>,
    inbox: Collection<Document>,
    outbox: Collection<Document>,
}

impl Collections {
    fn of(database: &Database) -> Self {
        Collections {
            database: database.clone(),
            products: database.collection(PRODUCTS),
            reservations: database.collection(RESERVATIONS),
            inbox: database.collection(INBOX),
            outbox: database.collection(OUTBOX),
        }
    }

    async fn session(&self) -> Result<ClientSession, HandlerError> {
        self.database.client().start_session().await.map_err(driver)
    }

    /// Applies `event` once: its inbox document and `rule` in one transaction,
    /// and, if the rule fell short, the refusal in a second one.
    async fn try_apply(
        &self,
        event: &RawEnvelope,
        rule: &dyn StockRule,
    ) -> Result<Applied, HandlerError> {
        let mut session = self.session().await?;
        let mut pass = Pass::Attempt;
        loop {
            begin(&mut session).await?;
            let mut tx = MongoTx {
                c: self,
                session: &mut session,
                now: Utc::now(),
                cause: EventMeta::caused_by(event),
            };
            let step = match tx.record(event).await {
                Ok(true) => rule.apply(&mut tx, pass).await,
                Ok(false) => {
                    abort(&mut session).await;
                    tracing::debug!(event = %event.id, "already applied; skipping");
                    return Ok(Applied::Duplicate);
                }
                Err(e) => Err(e),
            };
            match step {
                Ok(Step::Commit) => {
                    commit(&mut session).await?;
                    return Ok(Applied::Done);
                }
                Ok(Step::Short) if pass == Pass::Attempt => {
                    abort(&mut session).await;
                    pass = Pass::Refuse;
                }
                Ok(Step::Short) => {
                    abort(&mut session).await;
                    return Err(HandlerError::Permanent(anyhow::anyhow!(
                        "event {} fell short while refusing",
                        event.id
                    )));
                }
                Err(e) => {
                    abort(&mut session).await;
                    return Err(e);
                }
            }
        }
    }

    /// Releases up to `limit` lapsed reservations, each in its own transaction
    /// that reads it again, so a reservation paid, cancelled or released by
    /// another replica meanwhile is skipped. Returns how many this call
    /// released.
    async fn expire_due(&self, limit: i64) -> Result<usize, HandlerError> {
        if limit <= 0 {
            return Ok(0);
        }
        let due: Vec<Document> = self
            .reservations
            .find(due_filter(Utc::now()))
            .sort(doc! { "status": 1, "expires_at": 1 })
            .projection(doc! { "_id": 1 })
            .limit(limit)
            .await
            .map_err(driver)?
            .try_collect()
            .await
            .map_err(driver)?;
        if due.is_empty() {
            return Ok(0);
        }
        let mut session = self.session().await?;
        let mut released = 0;
        for found in due {
            let Some(order_id) = found
                .get_str("_id")
                .ok()
                .and_then(|id| Uuid::parse_str(id).ok())
            else {
                tracing::error!(reservation = ?found.get("_id"), "unreadable reservation id; skipped");
                continue;
            };
            begin(&mut session).await?;
            let mut tx = MongoTx {
                c: self,
                session: &mut session,
                now: Utc::now(),
                cause: EventMeta::default(),
            };
            match expire(&mut tx, order_id).await {
                Ok(true) => {
                    commit(&mut session).await?;
                    released += 1;
                }
                Ok(false) => abort(&mut session).await,
                Err(e) => {
                    abort(&mut session).await;
                    match e {
                        // Another replica or an event handler wrote it first.
                        HandlerError::Transient(cause) if is_write_conflict(&cause) => {
                            tracing::debug!(reservation = %order_id, "reservation changed meanwhile; skipped");
                        }
                        // Do not let one broken reservation hold up the others.
                        HandlerError::Permanent(cause) => {
                            tracing::error!(reservation = %order_id, error = %format_args!("{cause:#}"),
                                "cannot release a lapsed reservation; looked at again later");
                            self.look_again_later(order_id).await;
                        }
                        other => return Err(other),
                    }
                }
            }
        }
        Ok(released)
    }
}

impl Collections {
    /// Moves a broken lapsed reservation behind the sound ones: looked at
    /// again after [`LOOK_AGAIN_AFTER`] (logged when even that fails).
    async fn look_again_later(&self, order_id: Uuid) {
        let later = bson_date(Utc::now() + LOOK_AGAIN_AFTER);
        let moved = self
            .reservations
            .update_one(
                doc! { "_id": order_id.to_string(), "status": ReservationStatus::Held.as_str() },
                doc! { "$set": { "expires_at": later, "updated_at": bson_date(Utc::now()) } },
            )
            .await;
        if let Err(e) = moved {
            tracing::warn!(reservation = %order_id, error = %e, "cannot postpone a broken reservation");
        }
    }
}

/// One transaction in progress, applying the event that `cause` describes.
struct MongoTx<'a> {
    c: &'a Collections,
    session: &'a mut ClientSession,
    now: DateTime<Utc>,
    cause: EventMeta,
}

impl MongoTx<'_> {
    /// Writes the inbox document; `false` when the event was applied already.
    async fn record(&mut self, event: &RawEnvelope) -> Result<bool, HandlerError> {
        let inserted = self
            .c
            .inbox
            .insert_one(doc! {
                "_id": { "consumer": NAME, "event_id": event.id.to_string() },
                "event_type": event.kind.as_str(),
                "processed_at": bson_date(self.now),
            })
            .session(&mut *self.session)
            .await;
        match inserted {
            Ok(_) => Ok(true),
            Err(e) if is_duplicate_key(&e) => Ok(false),
            Err(e) => Err(driver(e)),
        }
    }

    /// Applies `change` (`$inc`) to the counters of product `id` if `filter`
    /// (with the id) matches; whether it did.
    async fn change_counters(
        &mut self,
        mut filter: Document,
        id: Uuid,
        change: Document,
    ) -> Result<bool, HandlerError> {
        filter.insert("_id", id.to_string());
        let done = self
            .c
            .products
            .update_one(
                filter,
                doc! { "$inc": change, "$set": { "updated_at": bson_date(self.now) } },
            )
            .session(&mut *self.session)
            .await
            .map_err(driver)?;
        Ok(done.matched_count == 1)
    }
}

#[async_trait]
impl LedgerTx for MongoTx<'_> {
    fn now(&self) -> DateTime<Utc> {
        self.now
    }

    async fn attempt(&mut self) -> Result<(), HandlerError> {
        // No savepoints: a short attempt aborts the whole transaction.
        Ok(())
    }

    async fn reservation(&mut self, order_id: Uuid) -> Result<Option<Reservation>, HandlerError> {
        let found = self
            .c
            .reservations
            .find_one(doc! { "_id": order_id.to_string() })
            .session(&mut *self.session)
            .await
            .map_err(driver)?;
        found.map(|d| parse_reservation(&d)).transpose()
    }

    async fn insert_reservation(
        &mut self,
        order_id: Uuid,
        status: ReservationStatus,
        lines: &[PricedLine],
        expires_at: DateTime<Utc>,
    ) -> Result<(), HandlerError> {
        self.c
            .reservations
            .insert_one(reservation_document(
                order_id, status, lines, expires_at, self.now,
            ))
            .session(&mut *self.session)
            .await
            .map_err(driver)?;
        Ok(())
    }

    async fn set_status(
        &mut self,
        order_id: Uuid,
        from: ReservationStatus,
        to: ReservationStatus,
    ) -> Result<(), HandlerError> {
        let done = self
            .c
            .reservations
            .update_one(
                doc! { "_id": order_id.to_string(), "status": from.as_str() },
                doc! { "$set": { "status": to.as_str(), "updated_at": bson_date(self.now) } },
            )
            .session(&mut *self.session)
            .await
            .map_err(driver)?;
        if done.matched_count == 1 {
            Ok(())
        } else {
            Err(HandlerError::Transient(anyhow::anyhow!(
                "reservation {order_id} left {} meanwhile",
                from.as_str()
            )))
        }
    }

    async fn reserve_line(&mut self, line: &Line) -> Result<Option<Money>, HandlerError> {
        let Ok(quantity) = i32::try_from(line.quantity) else {
            // More than any stock level can hold.
            return Ok(None);
        };
        let updated = self
            .c
            .products
            .find_one_and_update(
                reserve_filter(line.product_id, quantity),
                doc! {
                    "$inc": { "reserved": quantity },
                    "$set": { "updated_at": bson_date(self.now) },
                },
            )
            .projection(doc! { "price_amount": 1, "price_currency": 1 })
            .return_document(ReturnDocument::After)
            .session(&mut *self.session)
            .await
            .map_err(driver)?;
        updated
            .map(|d| parse_price(&d, line.product_id))
            .transpose()
    }

    async fn sell_held(&mut self, line: &PricedLine) -> Result<(), HandlerError> {
        let q = stored_quantity(line)?;
        let held = self
            .change_counters(
                holding(q),
                line.product_id,
                doc! { "stock_on_hand": -q, "reserved": -q },
            )
            .await?;
        held_unless(held, line)
    }

    async fn sell_available(&mut self, line: &PricedLine) -> Result<bool, HandlerError> {
        let q = stored_quantity(line)?;
        self.change_counters(
            doc! { "$expr": { "$gte": [ { "$subtract": ["$stock_on_hand", "$reserved"] }, q ] } },
            line.product_id,
            doc! { "stock_on_hand": -q },
        )
        .await
    }

    async fn release(&mut self, line: &PricedLine) -> Result<(), HandlerError> {
        let q = stored_quantity(line)?;
        let held = self
            .change_counters(holding(q), line.product_id, doc! { "reserved": -q })
            .await?;
        held_unless(held, line)
    }

    async fn restock(&mut self, line: &PricedLine) -> Result<(), HandlerError> {
        let q = stored_quantity(line)?;
        self.change_counters(
            Document::new(),
            line.product_id,
            doc! { "stock_on_hand": q },
        )
        .await?;
        Ok(())
    }

    async fn available(&mut self, products: &[Uuid]) -> Result<Vec<(Uuid, i64)>, HandlerError> {
        let ids: Vec<String> = products.iter().map(Uuid::to_string).collect();
        let found: Vec<Document> = self
            .c
            .products
            .find(doc! { "_id": { "$in": ids } })
            .projection(doc! { "archived": 1, "stock_on_hand": 1, "reserved": 1 })
            .session(&mut *self.session)
            .await
            .map_err(driver)?
            .stream(&mut *self.session)
            .try_collect()
            .await
            .map_err(driver)?;
        Ok(found
            .iter()
            .filter_map(|d| {
                let id = Uuid::parse_str(d.get_str("_id").ok()?).ok()?;
                Some((id, available(d)))
            })
            .collect())
    }

    async fn publish(&mut self, event: Outgoing) -> Result<(), HandlerError> {
        let envelope = event.into_envelope(NAME, self.cause.clone())?;
        let document = outbox_document(&envelope, self.now)
            .map_err(|e| HandlerError::Permanent(e.context("event cannot be stored")))?;
        self.c
            .outbox
            .insert_one(document)
            .session(&mut *self.session)
            .await
            .map_err(driver)?;
        Ok(())
    }
}

/// Held reservations due at `now`.
fn due_filter(now: DateTime<Utc>) -> Document {
    doc! {
        "status": ReservationStatus::Held.as_str(),
        "expires_at": { "$lte": bson_date(now) },
    }
}

/// The product `id` on sale with at least `quantity` available.
fn reserve_filter(id: Uuid, quantity: i32) -> Document {
    doc! {
        "_id": id.to_string(),
        "archived": false,
        "$expr": { "$gte": [ { "$subtract": ["$stock_on_hand", "$reserved"] }, quantity ] },
    }
}

/// A product holding at least `quantity` reserved units: the guard of
/// PostgreSQL's `CHECK (reserved >= 0 AND reserved <= stock_on_hand)` for
/// updates that take reserved units away.
fn holding(quantity: i32) -> Document {
    doc! {
        "reserved": { "$gte": quantity },
        "stock_on_hand": { "$gte": quantity },
    }
}

/// A quantity of a stored reservation line, as the product counters store it.
fn stored_quantity(line: &PricedLine) -> Result<i32, HandlerError> {
    i32::try_from(line.quantity).map_err(|_| {
        corrupt_ledger(format_args!(
            "quantity {} of product {}",
            line.quantity, line.product_id
        ))
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn reserving_checks_what_is_available_in_the_update_filter() {
        let id = Uuid::now_v7();
        assert_eq!(
            reserve_filter(id, 3),
            doc! {
                "_id": id.to_string(),
                "archived": false,
                "$expr": { "$gte": [ { "$subtract": ["$stock_on_hand", "$reserved"] }, 3 ] },
            }
        );
    }

    #[test]
    fn taking_reserved_units_away_needs_them_held() {
        assert_eq!(
            holding(2),
            doc! { "reserved": { "$gte": 2 }, "stock_on_hand": { "$gte": 2 } }
        );
        let line = PricedLine {
            product_id: Uuid::now_v7(),
            quantity: i64::from(i32::MAX) + 1,
            unit_price: Money::new(1, platform::Currency::EUR),
        };
        assert!(matches!(
            stored_quantity(&line),
            Err(HandlerError::Permanent(_))
        ));
    }
}
