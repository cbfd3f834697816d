//! The products side of the order saga on the real RabbitMQ: the test plays the
//! orders service, publishing order events and reading what products answers
//! from the orders queue (its own prefixed exchange and queues).

use std::time::Duration;

use events::catalogue::{
    OrderCancelled, OrderLine, OrderPaid, OrderPlaced, ReleaseReason, StockRejected, StockReleased,
    StockReserved,
};
use events::{Event, RawEnvelope};
use serde_json::json;
use testkit::bus::TestBus;
use uuid::Uuid;

use crate::helpers::{product_input, spawn_app_with, test_config, TestApp};

const WAIT: Duration = Duration::from_secs(10);

struct Saga {
    app: TestApp,
    bus: TestBus,
    category: String,
}

async fn saga_with_ttl(ttl_secs: u64) -> Saga {
    let bus = TestBus::new().await;
    let mut config = test_config();
    config.service.event_workers = true;
    config.service.events_prefix = bus.prefix();
    config.reservation_ttl_secs = ttl_secs;
    config.reservation_sweep_ms = 100;
    let app = spawn_app_with(config).await;
    let category = app
        .create_category(&format!("c{}", &Uuid::now_v7().simple().to_string()[20..]))
        .await;
    Saga { app, bus, category }
}

async fn saga() -> Saga {
    saga_with_ttl(900).await
}

impl Saga {
    async fn product(&self, sku: &str, price: i64, stock: i32) -> Uuid {
        let id = self
            .app
            .create_product(product_input(sku, sku, price, &self.category, stock))
            .await;
        id.parse().expect("uuid")
    }

    async fn available(&self, id: Uuid) -> i64 {
        let res = self
            .app
            .anonymous(
                "query($id: ID!) { product(id: $id) { availableQuantity } }",
                json!({"id": id}),
            )
            .await;
        res["data"]["product"]["availableQuantity"]
            .as_i64()
            .unwrap_or_else(|| panic!("{res}"))
    }

    async fn on_hand(&self, id: Uuid) -> (i32, i32) {
        let p = self
            .app
            .store
            .products_by_ids(&[id])
            .await
            .expect("store")
            .pop()
            .expect("product");
        (p.stock_on_hand, p.reserved)
    }

    async fn place(&self, lines: &[(Uuid, i64)]) -> Uuid {
        let order_id = Uuid::now_v7();
        self.bus
            .publish(
                "orders",
                OrderPlaced {
                    order_id,
                    user_id: Uuid::now_v7(),
                    items: lines
                        .iter()
                        .map(|(p, q)| OrderLine {
                            product_id: *p,
                            quantity: *q,
                        })
                        .collect(),
                    currency: "EUR".into(),
                },
            )
            .await;
        order_id
    }

    /// The next event products sent to orders.
    async fn reply(&self) -> RawEnvelope {
        self.bus
            .next_for("orders", WAIT)
            .await
            .expect("products answered")
    }
}

#[tokio::test]
async fn an_order_in_stock_is_reserved_at_the_current_price() {
    let s = saga().await;
    let lamp = s.product("LAMP-1", 2500, 5).await;
    let order = s.place(&[(lamp, 2)]).await;
    let reply = s.reply().await;
    let reserved = reply.decode::<StockReserved>().expect("stock.reserved");
    assert_eq!(reserved.payload.order_id, order);
    assert_eq!(reserved.payload.lines.len(), 1);
    assert_eq!(reserved.payload.lines[0].unit_price.amount, 2500);
    assert!(
        reserved.causation_id.is_some(),
        "caused by the order.placed event"
    );
    assert_eq!(s.available(lamp).await, 3);
    assert_eq!(s.on_hand(lamp).await, (5, 2));
}

#[tokio::test]
async fn an_order_short_of_one_line_reserves_nothing() {
    let s = saga().await;
    let lamp = s.product("LAMP-2", 2500, 5).await;
    let rug = s.product("RUG-2", 9900, 1).await;
    let order = s.place(&[(lamp, 2), (rug, 3)]).await;
    let rejected = s
        .reply()
        .await
        .decode::<StockRejected>()
        .expect("stock.rejected");
    assert_eq!(rejected.payload.order_id, order);
    assert_eq!(
        rejected.payload.lines.len(),
        1,
        "only the short line is named"
    );
    assert_eq!(rejected.payload.lines[0].product_id, rug);
    assert_eq!(
        (
            rejected.payload.lines[0].requested,
            rejected.payload.lines[0].available
        ),
        (3, 1)
    );
    assert_eq!(
        s.on_hand(lamp).await,
        (5, 0),
        "the lamp was not held either"
    );
    assert_eq!(s.on_hand(rug).await, (1, 0));
}

#[tokio::test]
async fn payment_sells_the_reserved_units_and_a_later_cancellation_restocks_them() {
    let s = saga().await;
    let lamp = s.product("LAMP-3", 2500, 5).await;
    let order = s.place(&[(lamp, 2)]).await;
    s.reply().await.decode::<StockReserved>().expect("reserved");
    s.bus
        .publish(
            "orders",
            OrderPaid {
                order_id: order,
                payment_id: Uuid::now_v7(),
            },
        )
        .await;
    wait_until(|| async { s.on_hand(lamp).await == (3, 0) }).await;
    assert_eq!(s.available(lamp).await, 3);

    s.bus
        .publish(
            "orders",
            OrderCancelled {
                order_id: order,
                reason: "customer asked".into(),
                refund: true,
                restock: true,
                items: vec![OrderLine {
                    product_id: lamp,
                    quantity: 2,
                }],
            },
        )
        .await;
    wait_until(|| async { s.on_hand(lamp).await == (5, 0) }).await;
}

#[tokio::test]
async fn cancelling_an_unpaid_order_releases_its_reservation() {
    let s = saga().await;
    let lamp = s.product("LAMP-4", 2500, 5).await;
    let order = s.place(&[(lamp, 4)]).await;
    s.reply().await.decode::<StockReserved>().expect("reserved");
    assert_eq!(s.available(lamp).await, 1);
    s.bus
        .publish(
            "orders",
            OrderCancelled {
                order_id: order,
                reason: "payment failed".into(),
                refund: false,
                restock: false,
                items: vec![],
            },
        )
        .await;
    let released = s
        .reply()
        .await
        .decode::<StockReleased>()
        .expect("stock.released");
    assert_eq!(released.payload.reason, ReleaseReason::Cancelled);
    assert_eq!(s.available(lamp).await, 5);
}

#[tokio::test]
async fn an_unpaid_reservation_expires_and_is_released() {
    let s = saga_with_ttl(1).await;
    let lamp = s.product("LAMP-5", 2500, 5).await;
    let order = s.place(&[(lamp, 5)]).await;
    // The whole stock is reserved; no read of the stock in between: on a busy
    // machine the one-second TTL may already have run out by then.
    let reserved = s.reply().await.decode::<StockReserved>().expect("reserved");
    assert_eq!(reserved.payload.order_id, order);
    let released = s
        .reply()
        .await
        .decode::<StockReleased>()
        .expect("stock.released after the TTL");
    assert_eq!(
        (released.payload.order_id, released.payload.reason),
        (order, ReleaseReason::Expired)
    );
    assert_eq!(s.available(lamp).await, 5);
}

#[tokio::test]
async fn the_same_order_placed_event_delivered_twice_reserves_once() {
    let s = saga().await;
    let lamp = s.product("LAMP-6", 2500, 5).await;
    let raw = s
        .bus
        .publish(
            "orders",
            OrderPlaced {
                order_id: Uuid::now_v7(),
                user_id: Uuid::now_v7(),
                items: vec![OrderLine {
                    product_id: lamp,
                    quantity: 2,
                }],
                currency: "EUR".into(),
            },
        )
        .await;
    s.bus.publish_raw(&raw).await;
    s.reply().await.decode::<StockReserved>().expect("reserved");
    assert!(
        s.bus
            .next_for("orders", Duration::from_secs(1))
            .await
            .is_none(),
        "one answer only"
    );
    assert_eq!(s.on_hand(lamp).await, (5, 2));
}

#[tokio::test]
async fn fifty_orders_for_the_last_ten_units_reserve_exactly_ten() {
    let s = saga().await;
    let lamp = s.product("LAMP-7", 2500, 10).await;
    let mut orders = Vec::new();
    for _ in 0..50 {
        orders.push(s.place(&[(lamp, 1)]).await);
    }
    let replies = s.bus.drain_for("orders", 50, Duration::from_secs(30)).await;
    assert_eq!(replies.len(), 50, "every order answered");
    let reserved = replies
        .iter()
        .filter(|e| e.kind == StockReserved::TYPE)
        .count();
    let rejected = replies
        .iter()
        .filter(|e| e.kind == StockRejected::TYPE)
        .count();
    assert_eq!((reserved, rejected), (10, 40));
    assert_eq!(s.on_hand(lamp).await, (10, 10));
    assert_eq!(s.available(lamp).await, 0);
}

async fn wait_until<F, Fut>(mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..200 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("condition not reached in 10 s");
}
