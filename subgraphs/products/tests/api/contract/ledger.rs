//! The stock ledger's contract: the order saga's stock rules (`Stock`) over
//! each store's ledger, the PostgreSQL semantics being the reference.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::Duration;
use events::catalogue::{
    OrderCancelled, OrderLine, OrderPaid, OrderPlaced, RejectedLine, ReleaseReason, StockRejected,
    StockReleased, StockReserved,
};
use events::consumer::HandlerError;
use events::outbox::Settlement;
use events::{Envelope, Event, EventMeta, RawEnvelope};
use platform::{Currency, Money};
use products::domain::now;
use products::stock::Stock;
use products::store::postgres::PgCatalogStore;
use products::store::{Applied, CatalogStore};
use testkit::fresh_database_url;
use uuid::Uuid;

struct Stores {
    catalog: Arc<dyn CatalogStore>,
    ledger: Stock,
}

async fn postgres() -> Stores {
    let store = Arc::new(
        PgCatalogStore::connect(&fresh_database_url("products"), 3)
            .await
            .expect("postgres store"),
    );
    Stores {
        catalog: store.clone(),
        ledger: Stock::new(store),
    }
}

async fn mongodb() -> Option<Stores> {
    let url = std::env::var("MONGODB_URL").ok()?;
    let (catalog, ledger) = products::store::mongo::connect(&url, &super::mongo_database())
        .await
        .expect("mongodb store");
    Some(Stores {
        catalog: Arc::new(catalog),
        ledger: Stock::new(Arc::new(ledger)),
    })
}

on_both_stores!(
    orders_are_reserved_all_or_nothing_and_each_event_applies_once,
    payment_sells_cancellation_restocks_and_lapsed_reservations_are_released,
    saga_events_in_any_order_never_sell_the_stock_of_a_cancelled_order,
);

const TTL: i64 = 900;

/// Two products: A (5 in stock at 49.99) and B (1 in stock at 12.99).
async fn two_products(stores: &Stores) -> (Uuid, Uuid) {
    let t = now();
    let lamps = super::category("lamps", t);
    stores.catalog.insert_category(&lamps).await.unwrap();
    let a = super::product("LAMP-0001", "Oak Desk Lamp", 4999, &lamps, 5, t);
    let b = super::product("LAMP-0002", "Paper Pendant", 1299, &lamps, 1, t);
    stores.catalog.insert_product(&a).await.unwrap();
    stores.catalog.insert_product(&b).await.unwrap();
    (a.id, b.id)
}

fn line(product_id: Uuid, quantity: i64) -> OrderLine {
    OrderLine {
        product_id,
        quantity,
    }
}

fn placed(items: Vec<OrderLine>) -> Envelope<OrderPlaced> {
    Envelope::new(
        "orders",
        OrderPlaced {
            order_id: Uuid::now_v7(),
            user_id: Uuid::now_v7(),
            items,
            currency: "EUR".into(),
        },
        EventMeta {
            correlation_id: Some(format!("c-{}", Uuid::now_v7())),
            causation_id: None,
            traceparent: None,
        },
    )
}

fn paid(order_id: Uuid) -> Envelope<OrderPaid> {
    Envelope::new(
        "orders",
        OrderPaid {
            order_id,
            payment_id: Uuid::now_v7(),
        },
        EventMeta::default(),
    )
}

fn cancelled(order_id: Uuid, restock: bool) -> Envelope<OrderCancelled> {
    Envelope::new(
        "orders",
        OrderCancelled {
            order_id,
            reason: "test".into(),
            refund: restock,
            restock,
            items: Vec::new(),
        },
        EventMeta::default(),
    )
}

/// `(stock on hand, reserved)` of a product.
async fn stock(stores: &Stores, id: Uuid) -> (i32, i32) {
    let found = stores.catalog.products_by_ids(&[id]).await.unwrap();
    (found[0].stock_on_hand, found[0].reserved)
}

/// Claims every pending event, marks them published and returns them.
async fn publish(stores: &Stores) -> Vec<RawEnvelope> {
    let outbox = stores.ledger.outbox();
    let claim = outbox.claim(100, StdDuration::from_secs(30)).await.unwrap();
    let events = claim.events().to_vec();
    let mut settlement = Settlement::default();
    for event in &events {
        settlement.published(event.id);
    }
    claim.settle(settlement).await.unwrap();
    events
}

fn only<P: Event>(events: &[RawEnvelope]) -> Envelope<P> {
    assert_eq!(events.len(), 1, "{events:?}");
    events[0].decode::<P>().unwrap()
}

async fn orders_are_reserved_all_or_nothing_and_each_event_applies_once(stores: Stores) {
    let (a, b) = two_products(&stores).await;
    let ledger = &stores.ledger;
    let ttl = Duration::seconds(TTL);

    // Lines of one product are merged; the event is applied once.
    let first = placed(vec![line(a, 2), line(b, 1), line(a, 1)]);
    assert_eq!(ledger.reserve(&first, ttl).await.unwrap(), Applied::Done);
    assert_eq!(
        ledger.reserve(&first, ttl).await.unwrap(),
        Applied::Duplicate
    );
    assert_eq!(stock(&stores, a).await, (5, 3));
    assert_eq!(stock(&stores, b).await, (1, 1));
    let reserved = only::<StockReserved>(&publish(&stores).await);
    assert_eq!(reserved.payload.order_id, first.payload.order_id);
    assert_eq!(reserved.source, "products");
    assert_eq!(reserved.causation_id, Some(first.id));
    assert_eq!(reserved.correlation_id, first.correlation_id);
    let lines: Vec<(Uuid, i64, Money)> = reserved
        .payload
        .lines
        .iter()
        .map(|l| (l.product_id, l.quantity, l.unit_price))
        .collect();
    let mut expected = vec![
        (a, 3, Money::new(4999, Currency::EUR)),
        (b, 1, Money::new(1299, Currency::EUR)),
    ];
    expected.sort_by_key(|l| l.0);
    assert_eq!(lines, expected);
    assert!(reserved.payload.expires_at > chrono::Utc::now() + Duration::seconds(TTL - 60));

    // B is gone: nothing of the second order is reserved, A included.
    let second = placed(vec![line(a, 1), line(b, 1)]);
    assert_eq!(ledger.reserve(&second, ttl).await.unwrap(), Applied::Done);
    assert_eq!(stock(&stores, a).await, (5, 3));
    assert_eq!(stock(&stores, b).await, (1, 1));
    let rejected = only::<StockRejected>(&publish(&stores).await);
    assert_eq!(
        rejected.payload,
        StockRejected {
            order_id: second.payload.order_id,
            lines: vec![RejectedLine {
                product_id: b,
                requested: 1,
                available: 0
            }],
        }
    );
    assert_eq!(
        ledger.reserve(&second, ttl).await.unwrap(),
        Applied::Duplicate
    );
    assert!(publish(&stores).await.is_empty());

    // Cancelling releases what the first order held.
    let cancel = cancelled(first.payload.order_id, false);
    assert_eq!(ledger.cancel(&cancel).await.unwrap(), Applied::Done);
    assert_eq!(ledger.cancel(&cancel).await.unwrap(), Applied::Duplicate);
    assert_eq!(stock(&stores, a).await, (5, 0));
    assert_eq!(stock(&stores, b).await, (1, 0));
    let released = only::<StockReleased>(&publish(&stores).await);
    assert_eq!(released.payload.reason, ReleaseReason::Cancelled);
    assert_eq!(released.causation_id, Some(cancel.id));

    // Cancelled before it was placed here: the late order.placed holds nothing.
    let late = placed(vec![line(a, 1)]);
    let early_cancel = cancelled(late.payload.order_id, false);
    assert_eq!(ledger.cancel(&early_cancel).await.unwrap(), Applied::Done);
    assert_eq!(ledger.reserve(&late, ttl).await.unwrap(), Applied::Done);
    assert_eq!(stock(&stores, a).await, (5, 0));
    assert!(publish(&stores).await.is_empty());

    // An unknown product is short too, with nothing available.
    let ghost = Uuid::now_v7();
    let unknown = placed(vec![line(ghost, 1)]);
    assert_eq!(ledger.reserve(&unknown, ttl).await.unwrap(), Applied::Done);
    let rejected = only::<StockRejected>(&publish(&stores).await);
    assert_eq!(rejected.payload.lines[0].available, 0);

    // Invalid lines are a permanent error, and are not recorded as applied.
    let empty = placed(Vec::new());
    let err = ledger.reserve(&empty, ttl).await.unwrap_err();
    assert!(matches!(err, HandlerError::Permanent(_)), "{err}");
    assert!(ledger.reserve(&empty, ttl).await.is_err());
}

async fn payment_sells_cancellation_restocks_and_lapsed_reservations_are_released(stores: Stores) {
    let (a, _) = two_products(&stores).await;
    let ledger = &stores.ledger;
    let outbox = ledger.outbox();

    // Paid: the held units are sold; cancelled after payment: restocked.
    let order = placed(vec![line(a, 2)]);
    ledger
        .reserve(&order, Duration::seconds(TTL))
        .await
        .unwrap();
    let pay = paid(order.payload.order_id);
    assert_eq!(ledger.commit(&pay).await.unwrap(), Applied::Done);
    assert_eq!(ledger.commit(&pay).await.unwrap(), Applied::Duplicate);
    assert_eq!(stock(&stores, a).await, (3, 0));
    let refund = cancelled(order.payload.order_id, true);
    assert_eq!(ledger.cancel(&refund).await.unwrap(), Applied::Done);
    assert_eq!(stock(&stores, a).await, (5, 0));
    only::<StockReserved>(&publish(&stores).await);

    // A failed publish gives the event back for the next claim.
    let lapsing = placed(vec![line(a, 4)]);
    ledger
        .reserve(&lapsing, Duration::seconds(-1))
        .await
        .unwrap();
    let claimed = outbox.claim(100, StdDuration::from_secs(30)).await.unwrap();
    assert_eq!(claimed.events().len(), 1);
    let again = outbox.claim(100, StdDuration::from_secs(30)).await.unwrap();
    assert!(
        again.events().is_empty(),
        "a claimed event is not claimed twice"
    );
    again.settle(Settlement::default()).await.unwrap();
    let mut failed = Settlement::default();
    failed.release(claimed.events()[0].id, "broker down");
    claimed.settle(failed).await.unwrap();
    only::<StockReserved>(&publish(&stores).await);

    // Past its expiry the reservation is released, once.
    assert_eq!(stock(&stores, a).await, (5, 4));
    assert_eq!(ledger.expire_due(100).await.unwrap(), 1);
    assert_eq!(ledger.expire_due(100).await.unwrap(), 0);
    assert_eq!(stock(&stores, a).await, (5, 0));
    let expired = only::<StockReleased>(&publish(&stores).await);
    assert_eq!(expired.payload.order_id, lapsing.payload.order_id);
    assert_eq!(expired.payload.reason, ReleaseReason::Expired);

    // Paid after it lapsed: sold from what is available, if there is enough.
    let late_pay = paid(lapsing.payload.order_id);
    assert_eq!(ledger.commit(&late_pay).await.unwrap(), Applied::Done);
    assert_eq!(stock(&stores, a).await, (1, 0));
    assert!(publish(&stores).await.is_empty());

    let short = placed(vec![line(a, 1)]);
    ledger.reserve(&short, Duration::seconds(-1)).await.unwrap();
    assert_eq!(ledger.expire_due(100).await.unwrap(), 1);
    let other = placed(vec![line(a, 1)]);
    ledger
        .reserve(&other, Duration::seconds(TTL))
        .await
        .unwrap();
    publish(&stores).await;
    assert_eq!(
        ledger.commit(&paid(short.payload.order_id)).await.unwrap(),
        Applied::Done
    );
    assert_eq!(stock(&stores, a).await, (1, 1), "nothing sold");
    let rejected = only::<StockRejected>(&publish(&stores).await);
    assert_eq!(
        rejected.payload.lines,
        vec![RejectedLine {
            product_id: a,
            requested: 1,
            available: 0
        }]
    );

    // A payment for an order not reserved here yet waits for the reservation.
    let err = ledger.commit(&paid(Uuid::now_v7())).await.unwrap_err();
    assert!(matches!(err, HandlerError::Transient(_)), "{err}");

    // Published events are pruned once old enough.
    assert!(outbox.prune(StdDuration::from_secs(3600)).await.unwrap() == 0);
    assert!(outbox.prune(StdDuration::ZERO).await.unwrap() > 0);
}

async fn saga_events_in_any_order_never_sell_the_stock_of_a_cancelled_order(stores: Stores) {
    let (a, _) = two_products(&stores).await;
    let ledger = &stores.ledger;
    let ttl = Duration::seconds(TTL);

    // The cancellation of a paid order overtakes order.paid: the hold is
    // released, and the late payment sells nothing.
    let overtaken = placed(vec![line(a, 2)]);
    let id = overtaken.payload.order_id;
    ledger.reserve(&overtaken, ttl).await.unwrap();
    assert_eq!(stock(&stores, a).await, (5, 2));
    ledger.cancel(&cancelled(id, true)).await.unwrap();
    assert_eq!(stock(&stores, a).await, (5, 0));
    assert_eq!(ledger.commit(&paid(id)).await.unwrap(), Applied::Done);
    assert_eq!(stock(&stores, a).await, (5, 0), "nothing sold");

    // The hold lapsed, the paid order is cancelled, then the payment lands.
    let lapsed = placed(vec![line(a, 1)]);
    let id = lapsed.payload.order_id;
    ledger
        .reserve(&lapsed, Duration::seconds(-1))
        .await
        .unwrap();
    assert_eq!(ledger.expire_due(100).await.unwrap(), 1);
    ledger.cancel(&cancelled(id, true)).await.unwrap();
    ledger.commit(&paid(id)).await.unwrap();
    assert_eq!(stock(&stores, a).await, (5, 0), "nothing sold");

    // Paid before it was placed here: applied once the reservation exists.
    let early = placed(vec![line(a, 1)]);
    let pay = paid(early.payload.order_id);
    assert!(matches!(
        ledger.commit(&pay).await.unwrap_err(),
        HandlerError::Transient(_)
    ));
    ledger.reserve(&early, ttl).await.unwrap();
    assert_eq!(ledger.commit(&pay).await.unwrap(), Applied::Done);
    assert_eq!(stock(&stores, a).await, (4, 0), "sold once placed");
    ledger
        .cancel(&cancelled(early.payload.order_id, true))
        .await
        .unwrap();
    assert_eq!(stock(&stores, a).await, (5, 0), "restocked");

    // Cancelled first, then paid, then placed: nothing held, nothing sold.
    let late = placed(vec![line(a, 3)]);
    let id = late.payload.order_id;
    ledger.cancel(&cancelled(id, true)).await.unwrap();
    ledger.commit(&paid(id)).await.unwrap();
    ledger.reserve(&late, ttl).await.unwrap();
    assert_eq!(stock(&stores, a).await, (5, 0));
}

/// Lapsed reservations that cannot be released (a product that no longer
/// holds their units, unreadable lines) are skipped and looked at again
/// later, behind the others, which are still released. The stores are broken
/// by hand, so each has its own test.
mod broken_reservations {
    use std::sync::Arc;

    use chrono::Duration;
    use events::catalogue::StockReleased;
    use products::stock::Stock;

    use super::{line, only, placed, publish, stock, two_products, Stores};

    mod postgres {
        use super::*;
        use products::store::postgres::PgCatalogStore;
        use testkit::fresh_database_url;

        /// On PostgreSQL every lapsed reservation of a sweep shares one transaction:
        /// one that cannot be released (its product no longer holds its units, or its
        /// lines are unreadable) is skipped and looked at again an hour later, behind
        /// the others, which are still released.
        #[tokio::test]
        async fn a_broken_lapsed_reservation_never_holds_up_the_others() {
            let store = Arc::new(
                PgCatalogStore::connect(&fresh_database_url("products"), 3)
                    .await
                    .expect("postgres store"),
            );
            let stores = Stores {
                catalog: store.clone(),
                ledger: Stock::new(store.clone()),
            };
            let (a, b) = two_products(&stores).await;
            let unheld = placed(vec![line(a, 1)]);
            let unreadable = placed(vec![line(a, 1)]);
            let sound = placed(vec![line(b, 1)]);
            for (order, lapsed) in [(&unheld, -30), (&unreadable, -20), (&sound, -1)] {
                stores
                    .ledger
                    .reserve(order, Duration::seconds(lapsed))
                    .await
                    .unwrap();
            }
            sqlx::query("UPDATE products SET reserved = 0 WHERE id = $1")
                .bind(a)
                .execute(store.pool())
                .await
                .unwrap();
            sqlx::query("UPDATE reservations SET lines = '\"garbage\"' WHERE order_id = $1")
                .bind(unreadable.payload.order_id)
                .execute(store.pool())
                .await
                .unwrap();
            publish(&stores).await;

            assert_eq!(stores.ledger.expire_due(100).await.unwrap(), 1);
            assert_eq!(stock(&stores, b).await, (1, 0));
            let released = only::<StockReleased>(&publish(&stores).await);
            assert_eq!(released.payload.order_id, sound.payload.order_id);
            let postponed: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM reservations WHERE status = 'HELD' AND expires_at > now() + interval '50 minutes'",
            )
            .fetch_one(store.pool())
            .await
            .unwrap();
            assert_eq!(postponed, 2, "both broken ones wait behind the others");
            assert_eq!(stores.ledger.expire_due(100).await.unwrap(), 0);
        }
    }

    mod mongodb {
        use ::mongodb::bson::{doc, Document};

        use super::*;

        /// On MongoDB each lapsed reservation has its own transaction.
        #[tokio::test]
        async fn a_broken_lapsed_reservation_never_holds_up_the_others() {
            let Ok(url) = std::env::var("MONGODB_URL") else {
                eprintln!("skipped: set MONGODB_URL to run the store contract on MongoDB");
                return;
            };
            let name = super::super::super::mongo_database();
            let (catalog, ledger) = products::store::mongo::connect(&url, &name)
                .await
                .expect("mongodb store");
            let stores = Stores {
                catalog: Arc::new(catalog),
                ledger: Stock::new(Arc::new(ledger)),
            };
            let (a, b) = two_products(&stores).await;
            let unheld = placed(vec![line(a, 1)]);
            let sound = placed(vec![line(b, 1)]);
            for (order, lapsed) in [(&unheld, -30), (&sound, -1)] {
                stores
                    .ledger
                    .reserve(order, Duration::seconds(lapsed))
                    .await
                    .unwrap();
            }
            let database = ::mongodb::Client::with_uri_str(&url)
                .await
                .unwrap()
                .database(&name);
            database
                .collection::<Document>("products")
                .update_one(
                    doc! { "_id": a.to_string() },
                    doc! { "$set": { "reserved": 0 } },
                )
                .await
                .unwrap();
            publish(&stores).await;

            assert_eq!(stores.ledger.expire_due(100).await.unwrap(), 1);
            assert_eq!(stock(&stores, b).await, (1, 0));
            let released = only::<StockReleased>(&publish(&stores).await);
            assert_eq!(released.payload.order_id, sound.payload.order_id);
            let later = chrono::Utc::now() + Duration::minutes(50);
            let postponed = database
                .collection::<Document>("reservations")
                .count_documents(doc! {
                    "status": "HELD",
                    "expires_at": { "$gt": ::mongodb::bson::DateTime::from_millis(later.timestamp_millis()) },
                })
                .await
                .unwrap();
            assert_eq!(postponed, 1, "the broken one waits behind the others");
            assert_eq!(stores.ledger.expire_due(100).await.unwrap(), 0);
        }
    }
}
