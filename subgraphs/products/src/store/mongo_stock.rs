//! The order saga's stock ledger on MongoDB, with the semantics of the
//! PostgreSQL ledger (`postgres_stock`) and MongoDB's guarantees:
//!
//! - every event is applied in one multi-document transaction (snapshot read
//!   concern, majority write concern) holding its `inbox` document
//!   `{_id: {consumer, event_id}}` (a duplicate key means the event was applied
//!   already), the stock changes, the `reservations` document and the outgoing
//!   event in the `outbox` collection;
//! - stock changes are atomic conditional updates on the product document (the
//!   precondition `stock_on_hand - reserved >= q` is in the filter); lines are
//!   reserved in [`merge_lines`] order. MongoDB has no savepoints: when a line
//!   falls short the transaction is aborted and the rejection (inbox,
//!   `stock.rejected`, a released reservation without lines) is written by a
//!   second transaction;
//! - two transactions writing the same document conflict (`WriteConflict`,
//!   labelled `TransientTransactionError`): the loser is run again after a
//!   short random pause (for a few seconds, then it is left to the consumer's
//!   retries as [`HandlerError::Transient`]) and then sees the winner's writes.
//!   Status changes are also conditional on the status read
//!   (`{_id, status: <read>}`), like `SELECT ... FOR UPDATE` in PostgreSQL;
//! - [`MongoOutbox`] is the relay's view of the `outbox` collection: documents
//!   are claimed one by one with `find_one_and_update` and a lease, so several
//!   relays never publish the same event at the same time.
//!
//! Documents (ids are hyphenated lower-case UUID strings, like the catalogue's):
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
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use events::catalogue::{
    Event, OrderCancelled, OrderLine, OrderPaid, OrderPlaced, RejectedLine, ReleaseReason,
    ReservedLine, StockRejected, StockReleased, StockReserved,
};
use events::consumer::HandlerError;
use events::outbox::{Claim, OutboxStore, Settlement};
use events::{Envelope, EventMeta, RawEnvelope};
use futures::{StreamExt, TryStreamExt};
use mongodb::bson::{doc, Bson, Document};
use mongodb::change_stream::event::ChangeStreamEvent;
use mongodb::change_stream::ChangeStream;
use mongodb::error::{
    ErrorKind, WriteFailure, RETRYABLE_WRITE_ERROR, TRANSIENT_TRANSACTION_ERROR,
    UNKNOWN_TRANSACTION_COMMIT_RESULT,
};
use mongodb::options::{IndexOptions, ReadConcern, ReturnDocument, WriteConcern};
use mongodb::{ClientSession, Collection, Database, IndexModel};
use platform::{Currency, Money};
use tokio::sync::Mutex;
use uuid::Uuid;

use super::mongo::MongoCatalogStore;
use super::{Applied, StockLedger};
use crate::domain::reservation::{
    merge_lines, on_cancel, on_paid, CancelAction, PayAction, ReservationStatus,
};

/// The service name in event envelopes and the inbox.
const SERVICE: &str = "products";
/// The collection of products (as `mongo.rs` stores them).
const PRODUCTS: &str = "products";
/// The collection of applied event ids.
const INBOX: &str = "inbox";
/// The collection of events waiting for the relay.
const OUTBOX: &str = "outbox";
/// The collection of reservations, one per order.
const RESERVATIONS: &str = "reservations";

/// `DuplicateKey`.
const DUPLICATE_KEY: i32 = 11000;
/// `WriteConflict`: another transaction wrote the document first.
const WRITE_CONFLICT: i32 = 112;
/// `NamespaceExists`: `create` of a collection that exists.
const NAMESPACE_EXISTS: i32 = 48;
/// Server error codes that say the request itself is wrong (retrying cannot
/// help): BadValue, FailedToParse, TypeMismatch, PathNotViable,
/// ConflictingUpdateOperators, DollarPrefixedFieldName, ImmutableField,
/// DocumentValidationFailure, BSONObjectTooLarge.
const PERMANENT_CODES: [i32; 9] = [2, 9, 14, 28, 40, 52, 66, 121, 10334];
/// The first pause before applying an event again after a write conflict
/// (doubling, randomised, up to [`CONFLICT_MAX_DELAY`]).
const CONFLICT_FIRST_DELAY: Duration = Duration::from_millis(5);
/// The longest pause between two applications after write conflicts.
const CONFLICT_MAX_DELAY: Duration = Duration::from_millis(250);
/// How long one call keeps applying an event that loses write conflicts.
const CONFLICT_BUDGET: Duration = Duration::from_secs(5);
/// How often a commit whose result is unknown is sent again before giving up
/// (the consumer then retries the whole event; the inbox makes that safe).
const COMMIT_ATTEMPTS: usize = 3;

/// Creates the ledger's collections (ignoring those that exist) and indexes;
/// called at start-up with the catalogue's indexes. Idempotent, so replicas may
/// start together.
pub(super) async fn prepare(database: &Database) -> anyhow::Result<()> {
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
impl StockLedger for MongoCatalogStore {
    async fn reserve(
        &self,
        event: &Envelope<OrderPlaced>,
        ttl: chrono::Duration,
    ) -> Result<Applied, HandlerError> {
        Collections::of(self.database())
            .apply_once(&raw(event)?, &Reserve { event, ttl })
            .await
    }

    async fn commit(&self, event: &Envelope<OrderPaid>) -> Result<Applied, HandlerError> {
        Collections::of(self.database())
            .apply_once(&raw(event)?, &Commit { event })
            .await
    }

    async fn cancel(&self, event: &Envelope<OrderCancelled>) -> Result<Applied, HandlerError> {
        Collections::of(self.database())
            .apply_once(&raw(event)?, &Cancel { event })
            .await
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

/// Which pass over an event this is: MongoDB has no savepoints, so an event
/// whose stock falls short is applied again, refusing instead of trying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    /// Take the stock if it is there.
    Attempt,
    /// The attempt fell short: record the refusal.
    Refuse,
}

/// How a pass ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Commit the transaction.
    Commit,
    /// Some stock was short: abort, and apply again with [`Pass::Refuse`].
    Short,
}

/// What one event does inside its transaction.
#[async_trait]
trait Work: Sync {
    /// Applies the event in `tx` (whose inbox document is written already).
    async fn apply(&self, tx: &mut Tx<'_>, pass: Pass) -> Result<Step, HandlerError>;
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

    /// Applies `event` once (see [`Collections::try_apply`]), running it again
    /// after a short random pause when its transaction lost a write conflict:
    /// unlike PostgreSQL, where the second writer of a row waits for the
    /// first, MongoDB fails it at once, so concurrent orders for one product
    /// would otherwise spend the consumer's few attempts in a burst and be
    /// dead-lettered. After [`CONFLICT_BUDGET`] the conflict is returned
    /// ([`HandlerError::Transient`]) for the consumer to retry.
    async fn apply_once(
        &self,
        event: &RawEnvelope,
        work: &dyn Work,
    ) -> Result<Applied, HandlerError> {
        let started = tokio::time::Instant::now();
        let mut delay = CONFLICT_FIRST_DELAY;
        loop {
            match self.try_apply(event, work).await {
                Err(HandlerError::Transient(cause))
                    if is_write_conflict(&cause) && started.elapsed() < CONFLICT_BUDGET =>
                {
                    tracing::debug!(event = %event.id, error = %cause, "write conflict; applying again");
                    tokio::time::sleep(jitter(delay)).await;
                    delay = (delay * 2).min(CONFLICT_MAX_DELAY);
                }
                other => return other,
            }
        }
    }

    /// Applies `event` once: its inbox document and `work` in one transaction,
    /// and, if `work` fell short, the refusal in a second one.
    async fn try_apply(
        &self,
        event: &RawEnvelope,
        work: &dyn Work,
    ) -> Result<Applied, HandlerError> {
        let mut session = self.session().await?;
        let mut pass = Pass::Attempt;
        loop {
            begin(&mut session).await?;
            let mut tx = Tx {
                c: self,
                session: &mut session,
                now: Utc::now(),
            };
            let step = match tx.record(event).await {
                Ok(true) => work.apply(&mut tx, pass).await,
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
    /// that claims it first (`{_id, status: HELD}` → RELEASED), so a
    /// reservation paid, cancelled or released by another replica meanwhile is
    /// skipped. Returns how many this call released.
    async fn expire_due(&self, limit: i64) -> Result<usize, HandlerError> {
        if limit <= 0 {
            return Ok(0);
        }
        let now = Utc::now();
        let due: Vec<Document> = self
            .reservations
            .find(due_filter(now))
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
            let Some(id) = found.get("_id").cloned() else {
                continue;
            };
            begin(&mut session).await?;
            let mut tx = Tx {
                c: self,
                session: &mut session,
                now: Utc::now(),
            };
            match tx.expire(id.clone(), now).await {
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
                            tracing::debug!(reservation = %id, "reservation changed meanwhile; skipped");
                        }
                        // Do not let one broken reservation hold up the others.
                        HandlerError::Permanent(cause) => {
                            tracing::error!(reservation = %id, error = %format_args!("{cause:#}"),
                                "cannot release a lapsed reservation; skipped");
                        }
                        other => return Err(other),
                    }
                }
            }
        }
        Ok(released)
    }
}

/// One transaction in progress.
struct Tx<'a> {
    c: &'a Collections,
    session: &'a mut ClientSession,
    now: DateTime<Utc>,
}

/// A reservation as stored.
#[derive(Debug, Clone, PartialEq)]
struct Reservation {
    status: ReservationStatus,
    lines: Vec<ReservedLine>,
}

impl Tx<'_> {
    /// Writes the inbox document; `false` when the event was applied already.
    async fn record(&mut self, event: &RawEnvelope) -> Result<bool, HandlerError> {
        let inserted = self
            .c
            .inbox
            .insert_one(doc! {
                "_id": { "consumer": SERVICE, "event_id": event.id.to_string() },
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

    /// The reservation of `order_id`, if any.
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

    /// Whether `order_id` has a reservation (of any status).
    async fn has_reservation(&mut self, order_id: Uuid) -> Result<bool, HandlerError> {
        let found = self
            .c
            .reservations
            .find_one(doc! { "_id": order_id.to_string() })
            .projection(doc! { "_id": 1 })
            .session(&mut *self.session)
            .await
            .map_err(driver)?;
        Ok(found.is_some())
    }

    async fn insert_reservation(
        &mut self,
        order_id: Uuid,
        status: ReservationStatus,
        lines: &[ReservedLine],
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

    /// Moves the reservation from `from` (the status read in this transaction)
    /// to `to`.
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

    /// Reserves one line if the product is on sale with enough available;
    /// returns its price, or `None` when short.
    async fn reserve_line(&mut self, line: &OrderLine) -> Result<Option<Money>, HandlerError> {
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

    /// Sells held units: they leave both the stock on hand and the reserved.
    async fn sell_held(&mut self, line: &ReservedLine) -> Result<(), HandlerError> {
        let q = stored_quantity(line)?;
        let done = self
            .c
            .products
            .update_one(
                holding(line.product_id, q),
                doc! {
                    "$inc": { "stock_on_hand": -q, "reserved": -q },
                    "$set": { "updated_at": bson_date(self.now) },
                },
            )
            .session(&mut *self.session)
            .await
            .map_err(driver)?;
        not_held_unless(done.matched_count == 1, line)
    }

    /// Sells units of a lapsed reservation from what is available; `false`
    /// when short.
    async fn sell_available(&mut self, line: &ReservedLine) -> Result<bool, HandlerError> {
        let q = stored_quantity(line)?;
        let done = self
            .c
            .products
            .update_one(
                doc! {
                    "_id": line.product_id.to_string(),
                    "$expr": { "$gte": [ { "$subtract": ["$stock_on_hand", "$reserved"] }, q ] },
                },
                doc! {
                    "$inc": { "stock_on_hand": -q },
                    "$set": { "updated_at": bson_date(self.now) },
                },
            )
            .session(&mut *self.session)
            .await
            .map_err(driver)?;
        Ok(done.matched_count == 1)
    }

    /// Gives held units back to the available stock.
    async fn release(&mut self, lines: &[ReservedLine]) -> Result<(), HandlerError> {
        for line in lines {
            let q = stored_quantity(line)?;
            let done = self
                .c
                .products
                .update_one(
                    holding(line.product_id, q),
                    doc! {
                        "$inc": { "reserved": -q },
                        "$set": { "updated_at": bson_date(self.now) },
                    },
                )
                .session(&mut *self.session)
                .await
                .map_err(driver)?;
            not_held_unless(done.matched_count == 1, line)?;
        }
        Ok(())
    }

    /// Puts sold units back on hand.
    async fn restock(&mut self, lines: &[ReservedLine]) -> Result<(), HandlerError> {
        for line in lines {
            let q = stored_quantity(line)?;
            self.c
                .products
                .update_one(
                    doc! { "_id": line.product_id.to_string() },
                    doc! {
                        "$inc": { "stock_on_hand": q },
                        "$set": { "updated_at": bson_date(self.now) },
                    },
                )
                .session(&mut *self.session)
                .await
                .map_err(driver)?;
        }
        Ok(())
    }

    /// The lines that cannot be served, with what is available (0 for an
    /// unknown or archived product).
    async fn rejected_lines(
        &mut self,
        lines: &[OrderLine],
    ) -> Result<Vec<RejectedLine>, HandlerError> {
        let ids: Vec<String> = lines.iter().map(|l| l.product_id.to_string()).collect();
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
        let available: Vec<(String, i64)> = found
            .iter()
            .filter_map(|d| Some((d.get_str("_id").ok()?.to_string(), available(d))))
            .collect();
        Ok(rejections(lines, &available))
    }

    /// Writes an event caused by this transaction's work into the outbox.
    async fn enqueue<P: Event>(&mut self, payload: P, meta: EventMeta) -> Result<(), HandlerError> {
        let envelope = Envelope::new(SERVICE, payload, meta)
            .into_raw()
            .map_err(|e| HandlerError::Permanent(e.into()))?;
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

    /// Releases the lapsed reservation `id` if it is still held; `false` when
    /// it is not (any more).
    async fn expire(&mut self, id: Bson, due_at: DateTime<Utc>) -> Result<bool, HandlerError> {
        let mut filter = due_filter(due_at);
        filter.insert("_id", id);
        let claimed = self
            .c
            .reservations
            .find_one_and_update(
                filter,
                doc! { "$set": {
                    "status": ReservationStatus::Released.as_str(),
                    "updated_at": bson_date(self.now),
                } },
            )
            .return_document(ReturnDocument::Before)
            .session(&mut *self.session)
            .await
            .map_err(driver)?;
        let Some(claimed) = claimed else {
            return Ok(false);
        };
        let order_id = document_uuid(&claimed, "_id")?;
        let reservation = parse_reservation(&claimed)?;
        self.release(&reservation.lines).await?;
        self.enqueue(
            StockReleased {
                order_id,
                reason: ReleaseReason::Expired,
            },
            EventMeta::default(),
        )
        .await?;
        Ok(true)
    }
}

/// `order.placed`.
struct Reserve<'e> {
    event: &'e Envelope<OrderPlaced>,
    ttl: chrono::Duration,
}

#[async_trait]
impl Work for Reserve<'_> {
    async fn apply(&self, tx: &mut Tx<'_>, pass: Pass) -> Result<Step, HandlerError> {
        let order_id = self.event.payload.order_id;
        let meta = EventMeta::caused_by(self.event);
        if tx.has_reservation(order_id).await? {
            // Cancelled before it was placed here, or placed twice: nothing to hold.
            return Ok(Step::Commit);
        }
        let lines = merge_lines(&self.event.payload.items)
            .map_err(|why| HandlerError::Permanent(anyhow::anyhow!(why)))?;
        match pass {
            Pass::Attempt => {
                let mut reserved = Vec::with_capacity(lines.len());
                for line in &lines {
                    match tx.reserve_line(line).await? {
                        Some(unit_price) => reserved.push(ReservedLine {
                            product_id: line.product_id,
                            quantity: line.quantity,
                            unit_price,
                        }),
                        None => return Ok(Step::Short),
                    }
                }
                // Stored with millisecond precision: the event says the same.
                let expires_at = millis(Utc::now() + self.ttl);
                tx.insert_reservation(order_id, ReservationStatus::Held, &reserved, expires_at)
                    .await?;
                tx.enqueue(
                    StockReserved {
                        order_id,
                        lines: reserved,
                        expires_at,
                    },
                    meta,
                )
                .await?;
            }
            Pass::Refuse => {
                let rejected = tx.rejected_lines(&lines).await?;
                tx.enqueue(
                    StockRejected {
                        order_id,
                        lines: rejected,
                    },
                    meta,
                )
                .await?;
                let now = tx.now;
                tx.insert_reservation(order_id, ReservationStatus::Released, &[], now)
                    .await?;
            }
        }
        Ok(Step::Commit)
    }
}

/// `order.paid`.
struct Commit<'e> {
    event: &'e Envelope<OrderPaid>,
}

#[async_trait]
impl Work for Commit<'_> {
    async fn apply(&self, tx: &mut Tx<'_>, pass: Pass) -> Result<Step, HandlerError> {
        let order_id = self.event.payload.order_id;
        let reservation = tx.reservation(order_id).await?;
        let action = on_paid(
            reservation.as_ref().map(|r| r.status),
            reservation.as_ref().is_some_and(|r| !r.lines.is_empty()),
        );
        let lines = &reservation.map(|r| r.lines).unwrap_or_default();
        match action {
            PayAction::NotYetReserved => {
                // order.placed is still on its way: not recorded, tried again later.
                return Err(HandlerError::Transient(anyhow::anyhow!(
                    "order {order_id} paid but not reserved here yet"
                )));
            }
            PayAction::SellHeld => {
                for line in lines {
                    tx.sell_held(line).await?;
                }
                tx.set_status(
                    order_id,
                    ReservationStatus::Held,
                    ReservationStatus::Committed,
                )
                .await?;
            }
            // Paid after the reservation lapsed: sell from what is available.
            PayAction::SellAvailable => match pass {
                Pass::Attempt => {
                    for line in lines {
                        if !tx.sell_available(line).await? {
                            return Ok(Step::Short);
                        }
                    }
                    tx.set_status(
                        order_id,
                        ReservationStatus::Released,
                        ReservationStatus::Committed,
                    )
                    .await?;
                }
                Pass::Refuse => {
                    let wanted: Vec<OrderLine> = lines
                        .iter()
                        .map(|l| OrderLine {
                            product_id: l.product_id,
                            quantity: l.quantity,
                        })
                        .collect();
                    let rejected = tx.rejected_lines(&wanted).await?;
                    tx.enqueue(
                        StockRejected {
                            order_id,
                            lines: rejected,
                        },
                        EventMeta::caused_by(self.event),
                    )
                    .await?;
                }
            },
            PayAction::Nothing => {}
        }
        Ok(Step::Commit)
    }
}

/// `order.cancelled`.
struct Cancel<'e> {
    event: &'e Envelope<OrderCancelled>,
}

#[async_trait]
impl Work for Cancel<'_> {
    async fn apply(&self, tx: &mut Tx<'_>, _: Pass) -> Result<Step, HandlerError> {
        let order_id = self.event.payload.order_id;
        let current = tx.reservation(order_id).await?;
        let status = current.as_ref().map(|r| r.status);
        let lines = current.map(|r| r.lines).unwrap_or_default();
        match (on_cancel(status, self.event.payload.restock), status) {
            (CancelAction::Release, Some(from)) => {
                tx.release(&lines).await?;
                tx.set_status(order_id, from, ReservationStatus::Cancelled)
                    .await?;
                tx.enqueue(
                    StockReleased {
                        order_id,
                        reason: ReleaseReason::Cancelled,
                    },
                    EventMeta::caused_by(self.event),
                )
                .await?;
            }
            (CancelAction::Restock, Some(from)) => {
                tx.restock(&lines).await?;
                tx.set_status(order_id, from, ReservationStatus::Restocked)
                    .await?;
            }
            (CancelAction::Tombstone, _) => {
                let now = tx.now;
                tx.insert_reservation(order_id, ReservationStatus::Cancelled, &[], now)
                    .await?;
            }
            (CancelAction::Close, Some(from)) => {
                tx.set_status(order_id, from, ReservationStatus::Cancelled)
                    .await?;
            }
            // Release, restock and close always come with a status.
            (CancelAction::Release | CancelAction::Restock | CancelAction::Close, None)
            | (CancelAction::Nothing, _) => {}
        }
        Ok(Step::Commit)
    }
}

/// Starts a transaction on `session`: snapshot reads (every read sees one
/// majority-committed point in time, and a write to a document changed since
/// is a `WriteConflict`) and majority writes.
async fn begin(session: &mut ClientSession) -> Result<(), HandlerError> {
    session
        .start_transaction()
        .read_concern(ReadConcern::snapshot())
        .write_concern(WriteConcern::majority())
        .await
        .map_err(driver)
}

/// Commits, sending the commit again while its result is unknown.
async fn commit(session: &mut ClientSession) -> Result<(), HandlerError> {
    let mut attempt = 1;
    loop {
        match session.commit_transaction().await {
            Ok(()) => return Ok(()),
            Err(e)
                if attempt < COMMIT_ATTEMPTS
                    && e.contains_label(UNKNOWN_TRANSACTION_COMMIT_RESULT) =>
            {
                tracing::debug!(error = %e, "commit result unknown; committing again");
                attempt += 1;
            }
            Err(e) => return Err(driver(e)),
        }
    }
}

/// Aborts the transaction in progress, if any (the server may have aborted it
/// already, after a failed operation: that is not an error).
async fn abort(session: &mut ClientSession) {
    if let Err(e) = session.abort_transaction().await {
        tracing::debug!(error = %e, "abort_transaction");
    }
}

fn raw<P: Event + Clone>(event: &Envelope<P>) -> Result<RawEnvelope, HandlerError> {
    event
        .clone()
        .into_raw()
        .map_err(|e| HandlerError::Permanent(e.into()))
}

/// Classifies a driver error: bad data and malformed requests are permanent,
/// everything else (write conflicts, `TransientTransactionError`,
/// `UnknownTransactionCommitResult`, network and server-selection errors, a
/// primary stepping down, ...) is worth retrying.
fn driver(e: mongodb::error::Error) -> HandlerError {
    if is_transient(&e) {
        return HandlerError::Transient(e.into());
    }
    let permanent = match e.kind.as_ref() {
        ErrorKind::BsonDeserialization(_)
        | ErrorKind::BsonSerialization(_)
        | ErrorKind::InvalidArgument { .. } => true,
        _ => server_code(&e).is_some_and(|c| PERMANENT_CODES.contains(&c)),
    };
    if permanent {
        HandlerError::Permanent(e.into())
    } else {
        HandlerError::Transient(e.into())
    }
}

fn is_transient(e: &mongodb::error::Error) -> bool {
    e.contains_label(TRANSIENT_TRANSACTION_ERROR)
        || e.contains_label(UNKNOWN_TRANSACTION_COMMIT_RESULT)
        || e.contains_label(RETRYABLE_WRITE_ERROR)
        || server_code(e) == Some(WRITE_CONFLICT)
        || matches!(
            e.kind.as_ref(),
            ErrorKind::Io(_)
                | ErrorKind::ConnectionPoolCleared { .. }
                | ErrorKind::ServerSelection { .. }
        )
}

/// Between half and all of `delay`, at random, so that transactions that
/// collided do not collide again.
fn jitter(delay: Duration) -> Duration {
    let half = delay / 2;
    let span = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX).max(1);
    // A v4 UUID is 122 random bits: enough randomness without another crate.
    let random = Uuid::new_v4().as_u64_pair().1;
    half + Duration::from_nanos(random % span)
}

/// Whether a transient handler error is a write conflict (another
/// transaction changed the same document) or otherwise aborted the
/// transaction in a way that running it again may cure.
fn is_write_conflict(e: &anyhow::Error) -> bool {
    e.downcast_ref::<mongodb::error::Error>().is_some_and(|e| {
        server_code(e) == Some(WRITE_CONFLICT) || e.contains_label(TRANSIENT_TRANSACTION_ERROR)
    })
}

/// The server's error code: of the command, of the (single) write error or of
/// the write concern error.
fn server_code(e: &mongodb::error::Error) -> Option<i32> {
    match e.kind.as_ref() {
        ErrorKind::Command(c) => Some(c.code),
        ErrorKind::Write(WriteFailure::WriteError(w)) => Some(w.code),
        ErrorKind::Write(WriteFailure::WriteConcernError(w)) => Some(w.code),
        _ => None,
    }
}

fn is_duplicate_key(e: &mongodb::error::Error) -> bool {
    server_code(e) == Some(DUPLICATE_KEY)
}

fn bson_date(t: DateTime<Utc>) -> mongodb::bson::DateTime {
    mongodb::bson::DateTime::from_millis(t.timestamp_millis())
}

/// `t` truncated to milliseconds, the precision of a BSON date.
fn millis(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
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

/// The product `id` holding at least `quantity` reserved units: the guard of
/// PostgreSQL's `CHECK (reserved >= 0 AND reserved <= stock_on_hand)` for
/// updates that take reserved units away.
fn holding(id: Uuid, quantity: i32) -> Document {
    doc! {
        "_id": id.to_string(),
        "reserved": { "$gte": quantity },
        "stock_on_hand": { "$gte": quantity },
    }
}

/// A broken invariant when a product did not hold a reservation's units.
fn not_held_unless(held: bool, line: &ReservedLine) -> Result<(), HandlerError> {
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

fn corrupt(what: impl std::fmt::Display) -> HandlerError {
    HandlerError::Permanent(anyhow::anyhow!("stored {what} is corrupt"))
}

/// A whole number stored as a 32- or 64-bit integer.
fn integer(d: &Document, key: &str) -> Option<i64> {
    match d.get(key)? {
        Bson::Int32(v) => Some(i64::from(*v)),
        Bson::Int64(v) => Some(*v),
        _ => None,
    }
}

fn document_uuid(d: &Document, key: &str) -> Result<Uuid, HandlerError> {
    d.get_str(key)
        .ok()
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or_else(|| corrupt(format_args!("{key} {:?}", d.get(key))))
}

/// A quantity of a stored reservation line, as the product counters store it.
fn stored_quantity(line: &ReservedLine) -> Result<i32, HandlerError> {
    i32::try_from(line.quantity).map_err(|_| {
        corrupt(format_args!(
            "quantity {} of product {}",
            line.quantity, line.product_id
        ))
    })
}

fn parse_price(d: &Document, product_id: Uuid) -> Result<Money, HandlerError> {
    let amount = integer(d, "price_amount");
    let currency = d
        .get_str("price_currency")
        .ok()
        .and_then(|c| Currency::parse(c).ok());
    match (amount, currency) {
        (Some(amount), Some(currency)) => Ok(Money::new(amount, currency)),
        _ => Err(corrupt(format_args!("price of product {product_id}"))),
    }
}

/// What a product document has available (0 when archived).
fn available(d: &Document) -> i64 {
    if d.get_bool("archived").unwrap_or(false) {
        return 0;
    }
    integer(d, "stock_on_hand").unwrap_or(0) - integer(d, "reserved").unwrap_or(0)
}

/// The lines that cannot be served from `available` (product id, units).
fn rejections(lines: &[OrderLine], available: &[(String, i64)]) -> Vec<RejectedLine> {
    lines
        .iter()
        .filter_map(|l| {
            let id = l.product_id.to_string();
            let avail = available
                .iter()
                .find(|(p, _)| *p == id)
                .map(|(_, a)| *a)
                .unwrap_or(0);
            (avail < l.quantity).then_some(RejectedLine {
                product_id: l.product_id,
                requested: l.quantity,
                available: avail,
            })
        })
        .collect()
}

fn reservation_document(
    order_id: Uuid,
    status: ReservationStatus,
    lines: &[ReservedLine],
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Document {
    let lines: Vec<Document> = lines
        .iter()
        .map(|l| {
            doc! {
                "product_id": l.product_id.to_string(),
                "quantity": l.quantity,
                "unit_price": {
                    "amount": l.unit_price.amount,
                    "currency": l.unit_price.currency.as_str(),
                },
            }
        })
        .collect();
    doc! {
        "_id": order_id.to_string(),
        "status": status.as_str(),
        "lines": lines,
        "expires_at": bson_date(expires_at),
        "created_at": bson_date(now),
        "updated_at": bson_date(now),
    }
}

fn parse_reservation(d: &Document) -> Result<Reservation, HandlerError> {
    let id = d.get("_id").cloned().unwrap_or(Bson::Null);
    let status = d
        .get_str("status")
        .ok()
        .and_then(ReservationStatus::parse)
        .ok_or_else(|| corrupt(format_args!("status of reservation {id}")))?;
    let stored = d
        .get_array("lines")
        .map_err(|_| corrupt(format_args!("lines of reservation {id}")))?;
    let mut lines = Vec::with_capacity(stored.len());
    for line in stored {
        let parsed = line.as_document().and_then(|l| {
            let product_id = Uuid::parse_str(l.get_str("product_id").ok()?).ok()?;
            let quantity = integer(l, "quantity")?;
            let price = l.get_document("unit_price").ok()?;
            let amount = integer(price, "amount")?;
            let currency = Currency::parse(price.get_str("currency").ok()?).ok()?;
            Some(ReservedLine {
                product_id,
                quantity,
                unit_price: Money::new(amount, currency),
            })
        });
        lines.push(parsed.ok_or_else(|| corrupt(format_args!("line of reservation {id}")))?);
    }
    Ok(Reservation { status, lines })
}

/// The outbox document of an event waiting to be published.
fn outbox_document(envelope: &RawEnvelope, now: DateTime<Utc>) -> anyhow::Result<Document> {
    let json = serde_json::to_value(envelope)?;
    let Bson::Document(stored) = Bson::try_from(json)? else {
        anyhow::bail!("an envelope is not a JSON object");
    };
    Ok(doc! {
        "_id": envelope.id.to_string(),
        "routing_key": envelope.kind.as_str(),
        "envelope": stored,
        "created_at": bson_date(now),
        "published_at": Bson::Null,
        "lease_until": Bson::Null,
        "attempts": 0_i32,
        "last_error": Bson::Null,
    })
}

/// The envelope stored in an outbox document.
fn stored_envelope(d: &Document) -> anyhow::Result<RawEnvelope> {
    let stored = d.get_document("envelope")?;
    let json = Bson::Document(stored.clone()).into_relaxed_extjson();
    Ok(serde_json::from_value(json)?)
}

/// The relay's view of the `outbox` collection. Claims take a lease one
/// document at a time (`find_one_and_update` is atomic per document), so
/// relays running side by side never publish the same event concurrently; a
/// crashed relay's documents become claimable when their lease runs out.
/// [`OutboxStore::wait`] watches the collection for inserts (a change stream),
/// polling when change streams are not available.
pub struct MongoOutbox {
    outbox: Collection<Document>,
    inbox: Collection<Document>,
    inserts: Mutex<Inserts>,
}

/// The change stream that wakes [`MongoOutbox::wait`].
#[derive(Default)]
struct Inserts {
    stream: Option<ChangeStream<ChangeStreamEvent<Document>>>,
    /// Whether opening a stream failed already (warned once, then polling).
    failed: bool,
}

impl MongoOutbox {
    /// The outbox of `database`.
    pub fn new(database: &Database) -> Self {
        MongoOutbox {
            outbox: database.collection(OUTBOX),
            inbox: database.collection(INBOX),
            inserts: Mutex::new(Inserts::default()),
        }
    }
}

#[async_trait]
impl OutboxStore for MongoOutbox {
    async fn claim(&self, limit: i64, lease: Duration) -> anyhow::Result<Box<dyn Claim>> {
        let lease = chrono::Duration::from_std(lease)?;
        let mut events = Vec::new();
        while (events.len() as i64) < limit {
            let now = Utc::now();
            let claimed = self
                .outbox
                .find_one_and_update(
                    doc! {
                        "published_at": Bson::Null,
                        "parked_at": Bson::Null,
                        "$or": [
                            { "lease_until": Bson::Null },
                            { "lease_until": { "$lt": bson_date(now) } },
                        ],
                    },
                    doc! {
                        "$set": { "lease_until": bson_date(now + lease) },
                        "$inc": { "attempts": 1 },
                    },
                )
                .sort(doc! { "published_at": 1, "_id": 1 })
                .return_document(ReturnDocument::After)
                .await?;
            let Some(claimed) = claimed else {
                break;
            };
            match stored_envelope(&claimed) {
                Ok(envelope) => events.push(envelope),
                Err(e) => {
                    // Keep it leased, so it is looked at again only after the lease.
                    let id = claimed.get("_id").cloned().unwrap_or(Bson::Null);
                    tracing::error!(event = %id, error = %e, "unreadable outbox document");
                    self.outbox
                        .update_one(
                            doc! { "_id": id },
                            doc! { "$set": { "last_error": format!("unreadable: {e}") } },
                        )
                        .await?;
                }
            }
        }
        Ok(Box::new(MongoClaim {
            outbox: self.outbox.clone(),
            events,
        }))
    }

    async fn wait(&self, timeout: Duration) {
        let mut inserts = self.inserts.lock().await;
        if inserts.stream.is_none() {
            let opened = self
                .outbox
                .watch()
                .pipeline([doc! { "$match": { "operationType": "insert" } }])
                .await;
            match opened {
                Ok(stream) => inserts.stream = Some(stream),
                Err(e) if !inserts.failed => {
                    inserts.failed = true;
                    tracing::warn!(error = %e, "cannot watch the outbox; polling");
                }
                Err(e) => tracing::debug!(error = %e, "cannot watch the outbox; polling"),
            }
        }
        let Some(stream) = inserts.stream.as_mut() else {
            drop(inserts);
            tokio::time::sleep(timeout).await;
            return;
        };
        // The stream keeps a pending fetch across calls, so a timeout loses nothing.
        match tokio::time::timeout(timeout, stream.next()).await {
            Ok(Some(Ok(_))) | Err(_) => {}
            Ok(Some(Err(e))) => {
                tracing::warn!(error = %e, "outbox change stream lost");
                inserts.stream = None;
            }
            Ok(None) => inserts.stream = None,
        }
    }

    async fn prune(&self, age: Duration) -> anyhow::Result<u64> {
        let cutoff = Utc::now() - chrono::Duration::from_std(age)?;
        let done = self
            .outbox
            .delete_many(doc! { "published_at": { "$lt": bson_date(cutoff) } })
            .await?;
        let inbox_cutoff =
            Utc::now() - chrono::Duration::from_std(events::outbox::INBOX_RETENTION)?;
        let inbox = self
            .inbox
            .delete_many(doc! { "processed_at": { "$lt": bson_date(inbox_cutoff) } })
            .await?;
        Ok(done.deleted_count + inbox.deleted_count)
    }

    async fn backlog(&self) -> anyhow::Result<events::outbox::Backlog> {
        let pending = self
            .outbox
            .count_documents(doc! { "published_at": Bson::Null })
            .await?;
        let parked = self
            .outbox
            .count_documents(
                doc! { "published_at": Bson::Null, "parked_at": { "$ne": Bson::Null } },
            )
            .await?;
        let oldest = self
            .outbox
            .find_one(doc! { "published_at": Bson::Null, "parked_at": Bson::Null })
            .sort(doc! { "created_at": 1 })
            .await?
            .and_then(|d| d.get_datetime("created_at").ok().copied());
        let oldest_pending_secs = oldest
            .map(|t| (Utc::now().timestamp_millis() - t.timestamp_millis()) as f64 / 1000.0)
            .unwrap_or(0.0)
            .max(0.0);
        Ok(events::outbox::Backlog {
            pending: i64::try_from(pending).unwrap_or(i64::MAX),
            parked: i64::try_from(parked).unwrap_or(i64::MAX),
            oldest_pending_secs,
        })
    }
}

/// A batch leased by [`MongoOutbox::claim`], settled document by document.
struct MongoClaim {
    outbox: Collection<Document>,
    events: Vec<RawEnvelope>,
}

#[async_trait]
impl Claim for MongoClaim {
    fn events(&self) -> &[RawEnvelope] {
        &self.events
    }

    async fn settle(self: Box<Self>, settlement: Settlement) -> anyhow::Result<Vec<Uuid>> {
        // Document by document: one that cannot be recorded is logged and
        // claimable again after its lease; the others are still recorded.
        mark_published_events(&self.outbox, &settlement.published).await?;
        for (id, error) in &settlement.released {
            if let Err(e) = release_event(&self.outbox, *id, error).await {
                tracing::warn!(event = %id, error = %e, "cannot give the event back");
            }
        }
        let mut parked = Vec::new();
        for d in &settlement.deferred {
            match defer_event(&self.outbox, d.id, &d.error, d.permanent).await {
                Ok(true) => parked.push(d.id),
                Ok(false) => {}
                Err(e) => tracing::warn!(event = %d.id, error = %e, "cannot defer the event"),
            }
        }
        Ok(parked)
    }
}

async fn mark_published_events(outbox: &Collection<Document>, ids: &[Uuid]) -> anyhow::Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = ids.iter().map(Uuid::to_string).collect();
    outbox
        .update_many(
            doc! { "_id": { "$in": ids } },
            doc! { "$set": {
                "published_at": bson_date(Utc::now()),
                "lease_until": Bson::Null,
                "last_error": Bson::Null,
            } },
        )
        .await?;
    Ok(())
}

async fn release_event(outbox: &Collection<Document>, id: Uuid, error: &str) -> anyhow::Result<()> {
    outbox
        .update_one(
            doc! { "_id": id.to_string() },
            doc! { "$set": { "lease_until": Bson::Null, "last_error": error } },
        )
        .await?;
    Ok(())
}

async fn defer_event(
    outbox: &Collection<Document>,
    id: Uuid,
    error: &str,
    permanent: bool,
) -> anyhow::Result<bool> {
    let current = outbox.find_one(doc! { "_id": id.to_string() }).await?;
    let attempts = current
        .and_then(|d| d.get_i32("attempts").ok())
        .unwrap_or(events::outbox::MAX_PUBLISH_ATTEMPTS);
    let park = permanent || attempts >= events::outbox::MAX_PUBLISH_ATTEMPTS;
    let delay = chrono::Duration::from_std(events::outbox::publish_retry_delay(attempts))?;
    let now = Utc::now();
    let parked_at = if park {
        Bson::from(bson_date(now))
    } else {
        Bson::Null
    };
    outbox
        .update_one(
            doc! { "_id": id.to_string() },
            doc! { "$set": {
                "last_error": error,
                "lease_until": bson_date(now + delay),
                "parked_at": parked_at,
            } },
        )
        .await?;
    Ok(park)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn reserved(order_id: Uuid) -> Envelope<StockReserved> {
        Envelope::new(
            SERVICE,
            StockReserved {
                order_id,
                lines: vec![ReservedLine {
                    product_id: Uuid::now_v7(),
                    quantity: 3,
                    unit_price: Money::new(4_999_000_000_000, Currency::EUR),
                }],
                expires_at: millis(Utc::now()),
            },
            EventMeta {
                correlation_id: Some("c-1".into()),
                causation_id: Some(Uuid::now_v7()),
                traceparent: None,
            },
        )
    }

    #[test]
    fn outbox_documents_keep_the_envelope_unchanged() {
        let env = reserved(Uuid::now_v7());
        let raw = env.clone().into_raw().unwrap();
        let d = outbox_document(&raw, Utc::now()).unwrap();
        assert_eq!(d.get_str("_id").unwrap(), env.id.to_string());
        assert_eq!(d.get_str("routing_key").unwrap(), "stock.reserved");
        assert_eq!(d.get("published_at"), Some(&Bson::Null));
        assert_eq!(d.get("lease_until"), Some(&Bson::Null));
        let back = stored_envelope(&d).unwrap();
        assert_eq!(back, raw);
        assert_eq!(back.decode::<StockReserved>().unwrap(), env);
    }

    #[test]
    fn outbox_ids_sort_in_creation_order() {
        let ids: Vec<String> = (0..200).map(|_| Uuid::now_v7().to_string()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(sorted, ids);
    }

    #[test]
    fn reservations_round_trip_through_their_documents() {
        let lines = vec![
            ReservedLine {
                product_id: Uuid::now_v7(),
                quantity: 2,
                unit_price: Money::new(1299, Currency::EUR),
            },
            ReservedLine {
                product_id: Uuid::now_v7(),
                quantity: 1,
                unit_price: Money::new(899, Currency::USD),
            },
        ];
        let order = Uuid::now_v7();
        let d = reservation_document(
            order,
            ReservationStatus::Held,
            &lines,
            Utc::now(),
            Utc::now(),
        );
        assert_eq!(d.get_str("_id").unwrap(), order.to_string());
        assert_eq!(
            parse_reservation(&d).unwrap(),
            Reservation {
                status: ReservationStatus::Held,
                lines
            }
        );
        let mut bad = d.clone();
        bad.insert("status", "LOST");
        assert!(matches!(
            parse_reservation(&bad),
            Err(HandlerError::Permanent(_))
        ));
    }

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
    fn rejected_lines_say_what_is_available() {
        let (a, b, c) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let products = [
            doc! { "_id": a.to_string(), "archived": false, "stock_on_hand": 5, "reserved": 4 },
            doc! { "_id": b.to_string(), "archived": true, "stock_on_hand": 9, "reserved": 0_i64 },
        ];
        assert_eq!(available(&products[0]), 1);
        assert_eq!(available(&products[1]), 0);
        let avail: Vec<(String, i64)> = products
            .iter()
            .map(|d| (d.get_str("_id").unwrap().to_string(), available(d)))
            .collect();
        let line = |product_id, quantity| OrderLine {
            product_id,
            quantity,
        };
        assert_eq!(
            rejections(&[line(a, 1), line(b, 2), line(c, 1)], &avail),
            vec![
                RejectedLine {
                    product_id: b,
                    requested: 2,
                    available: 0
                },
                RejectedLine {
                    product_id: c,
                    requested: 1,
                    available: 0
                },
            ]
        );
    }

    #[test]
    fn pauses_after_conflicts_are_random_within_bounds() {
        let delay = Duration::from_millis(40);
        let pauses: Vec<Duration> = (0..50).map(|_| jitter(delay)).collect();
        assert!(pauses.iter().all(|p| *p >= delay / 2 && *p <= delay));
        assert!(pauses.iter().any(|p| *p != pauses[0]));
    }

    #[test]
    fn network_errors_are_transient_and_bad_data_permanent() {
        let io = mongodb::error::Error::from(ErrorKind::Io(Arc::new(std::io::Error::from(
            std::io::ErrorKind::ConnectionReset,
        ))));
        assert!(driver(io).is_transient());
        let bad: mongodb::bson::de::Error = serde::de::Error::custom("nope");
        let bad = mongodb::error::Error::from(ErrorKind::BsonDeserialization(bad));
        assert!(!driver(bad).is_transient());
    }
}
