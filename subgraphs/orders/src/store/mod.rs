//! The orders database: the only module with SQL.

use chrono::{DateTime, Utc};
use platform::{Currency, Error, Money, Result};
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::{CartLine, Order, OrderItem, OrderStatus, ShippingAddress, StatusChange};
use crate::error::{OrderError, OrderResult};

/// The migrations of the orders database.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

const ORDER_COLUMNS: &str =
    "id, number, user_id, status, currency, total_amount, shipping_address, \
     payment_token, request_hash, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct OrderRow {
    id: Uuid,
    number: i64,
    user_id: Uuid,
    status: String,
    currency: String,
    total_amount: i64,
    shipping_address: Json<ShippingAddress>,
    payment_token: String,
    request_hash: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl OrderRow {
    fn into_order(self) -> Result<(Order, String)> {
        let status = OrderStatus::parse(&self.status).ok_or_else(|| {
            Error::Internal(anyhow::anyhow!("unknown order status {}", self.status))
        })?;
        Ok((
            Order {
                id: self.id,
                number: self.number,
                user_id: self.user_id,
                status,
                total: Money::new(self.total_amount, Currency::parse(&self.currency)?),
                shipping_address: self.shipping_address.0,
                payment_token: self.payment_token,
                created_at: self.created_at,
                updated_at: self.updated_at,
            },
            self.request_hash,
        ))
    }
}

fn orders(rows: Vec<OrderRow>) -> Result<Vec<Order>> {
    rows.into_iter()
        .map(|r| r.into_order().map(|(o, _)| o))
        .collect()
}

#[derive(sqlx::FromRow)]
struct ItemRow {
    order_id: Uuid,
    product_id: Uuid,
    sku: String,
    name: String,
    quantity: i32,
    unit_price: i64,
    line_total: i64,
    currency: String,
}

/// A new order to insert.
#[derive(Debug, Clone)]
pub struct NewOrder {
    /// Its id.
    pub id: Uuid,
    /// The customer.
    pub user_id: Uuid,
    /// Sum of the lines.
    pub total: Money,
    /// Where to.
    pub shipping_address: ShippingAddress,
    /// Card token.
    pub payment_token: String,
    /// The client's key.
    pub idempotency_key: String,
    /// A hash of the request, to tell a retry from a different request.
    pub request_hash: String,
    /// Its lines.
    pub items: Vec<OrderItem>,
}

/// Orders and carts in PostgreSQL.
#[derive(Debug, Clone)]
pub struct OrderStore {
    pool: PgPool,
}

impl OrderStore {
    /// A store over a migrated pool.
    pub fn new(pool: PgPool) -> Self {
        OrderStore { pool }
    }

    /// The pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// A user's cart, oldest line first.
    pub async fn cart(&self, user_id: Uuid) -> Result<Vec<CartLine>> {
        let rows: Vec<(Uuid, i32)> =
            sqlx::query_as("SELECT product_id, quantity FROM cart_items WHERE user_id = $1 ORDER BY added_at, product_id")
                .bind(user_id)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .into_iter()
            .map(|(product_id, quantity)| CartLine {
                product_id,
                quantity,
            })
            .collect())
    }

    /// Adds to a line (creating it); the new quantity must stay within 1..=100
    /// and the cart within `max_lines` lines (checked atomically).
    pub async fn add_to_cart(
        &self,
        user_id: Uuid,
        product_id: Uuid,
        quantity: i32,
        max_lines: i64,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        // Serialise changes to one user's cart.
        lock_user(&mut tx, user_id).await?;
        let (lines, existing): (i64, Option<i32>) = sqlx::query_as(
            "SELECT count(*), max(quantity) FILTER (WHERE product_id = $2) FROM cart_items WHERE user_id = $1",
        )
        .bind(user_id)
        .bind(product_id)
        .fetch_one(&mut *tx)
        .await?;
        let total = existing.unwrap_or(0) + quantity;
        if total > 100 {
            return Err(Error::invalid(format!(
                "at most 100 of one product, the cart would hold {total}"
            )));
        }
        if existing.is_none() && lines >= max_lines {
            return Err(Error::invalid(format!(
                "a cart holds at most {max_lines} different products"
            )));
        }
        sqlx::query(
            "INSERT INTO cart_items (user_id, product_id, quantity) VALUES ($1, $2, $3)
             ON CONFLICT (user_id, product_id) DO UPDATE SET quantity = cart_items.quantity + EXCLUDED.quantity",
        )
        .bind(user_id)
        .bind(product_id)
        .bind(quantity)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Sets a line's quantity; `NOT_FOUND` if the product is not in the cart.
    pub async fn set_cart_quantity(
        &self,
        user_id: Uuid,
        product_id: Uuid,
        quantity: i32,
    ) -> Result<()> {
        let done = sqlx::query(
            "UPDATE cart_items SET quantity = $3 WHERE user_id = $1 AND product_id = $2",
        )
        .bind(user_id)
        .bind(product_id)
        .bind(quantity)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(OrderError::CartItemNotFound(product_id).into());
        }
        Ok(())
    }

    /// Removes a line; `NOT_FOUND` if it is not there.
    pub async fn remove_from_cart(&self, user_id: Uuid, product_id: Uuid) -> Result<()> {
        let done = sqlx::query("DELETE FROM cart_items WHERE user_id = $1 AND product_id = $2")
            .bind(user_id)
            .bind(product_id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(OrderError::CartItemNotFound(product_id).into());
        }
        Ok(())
    }

    /// The order placed with this key, with its request hash.
    pub async fn order_by_key(&self, user_id: Uuid, key: &str) -> Result<Option<(Order, String)>> {
        let row: Option<OrderRow> = sqlx::query_as(&format!(
            "SELECT {ORDER_COLUMNS} FROM orders WHERE user_id = $1 AND idempotency_key = $2"
        ))
        .bind(user_id)
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        row.map(OrderRow::into_order).transpose()
    }

    /// Orders by id (one query).
    pub async fn orders_by_ids(&self, ids: &[Uuid]) -> Result<Vec<Order>> {
        let rows: Vec<OrderRow> = sqlx::query_as(&format!(
            "SELECT {ORDER_COLUMNS} FROM orders WHERE id = ANY($1)"
        ))
        .bind(ids)
        .fetch_all(&self.pool)
        .await?;
        orders(rows)
    }

    /// A page of a user's orders, newest first, after `after` (an order id).
    pub async fn orders_of_user(
        &self,
        user_id: Uuid,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<Order>> {
        let rows: Vec<OrderRow> = sqlx::query_as(&format!(
            "SELECT {ORDER_COLUMNS} FROM orders WHERE user_id = $1 AND ($2::uuid IS NULL OR id < $2)
             ORDER BY id DESC LIMIT $3"
        ))
        .bind(user_id)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        orders(rows)
    }

    /// A page of all orders (optionally in one status), newest first.
    pub async fn all_orders(
        &self,
        status: Option<OrderStatus>,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<Order>> {
        let rows: Vec<OrderRow> = sqlx::query_as(&format!(
            "SELECT {ORDER_COLUMNS} FROM orders WHERE ($1::text IS NULL OR status = $1)
             AND ($2::uuid IS NULL OR id < $2) ORDER BY id DESC LIMIT $3"
        ))
        .bind(status.map(|s| s.as_str()))
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        orders(rows)
    }

    /// The lines of these orders (one query).
    pub async fn items_of(&self, order_ids: &[Uuid]) -> Result<Vec<OrderItem>> {
        let rows: Vec<ItemRow> = sqlx::query_as(
            "SELECT i.order_id, i.product_id, i.sku, i.name, i.quantity, i.unit_price, i.line_total, o.currency
             FROM order_items i JOIN orders o ON o.id = i.order_id
             WHERE i.order_id = ANY($1) ORDER BY i.order_id, i.line_no",
        )
        .bind(order_ids)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                let currency = Currency::parse(&row.currency)?;
                Ok(OrderItem {
                    order_id: row.order_id,
                    product_id: row.product_id,
                    sku: row.sku,
                    name: row.name,
                    quantity: row.quantity,
                    unit_price: Money::new(row.unit_price, currency),
                    line_total: Money::new(row.line_total, currency),
                })
            })
            .collect()
    }

    /// The status history of these orders, oldest first (one query).
    pub async fn history_of(&self, order_ids: &[Uuid]) -> Result<Vec<StatusChange>> {
        let rows: Vec<(Uuid, String, Option<String>, DateTime<Utc>)> = sqlx::query_as(
            "SELECT order_id, status, reason, at FROM order_status_history WHERE order_id = ANY($1) ORDER BY order_id, id",
        )
        .bind(order_ids)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(order_id, status, reason, at)| {
                let status = OrderStatus::parse(&status)
                    .ok_or_else(|| Error::Internal(anyhow::anyhow!("unknown status {status}")))?;
                Ok(StatusChange {
                    order_id,
                    status,
                    reason,
                    at,
                })
            })
            .collect()
    }
}

/// Inserts an order with its lines and first history entry. `None` when the
/// user already has an order with this idempotency key (a concurrent retry).
pub async fn insert_order(conn: &mut PgConnection, order: &NewOrder) -> Result<Option<Order>> {
    let row: Option<OrderRow> = sqlx::query_as(&format!(
        "INSERT INTO orders (id, user_id, status, currency, total_amount, shipping_address, payment_token,
                             idempotency_key, request_hash)
         VALUES ($1, $2, 'PENDING', $3, $4, $5, $6, $7, $8)
         ON CONFLICT (user_id, idempotency_key) DO NOTHING
         RETURNING {ORDER_COLUMNS}"
    ))
    .bind(order.id)
    .bind(order.user_id)
    .bind(order.total.currency.as_str())
    .bind(order.total.amount)
    .bind(Json(&order.shipping_address))
    .bind(&order.payment_token)
    .bind(&order.idempotency_key)
    .bind(&order.request_hash)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    for (line_no, item) in order.items.iter().enumerate() {
        sqlx::query(
            "INSERT INTO order_items (order_id, line_no, product_id, sku, name, quantity, unit_price, line_total)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(order.id)
        .bind(line_no as i32)
        .bind(item.product_id)
        .bind(&item.sku)
        .bind(&item.name)
        .bind(item.quantity)
        .bind(item.unit_price.amount)
        .bind(item.line_total.amount)
        .execute(&mut *conn)
        .await?;
    }
    record_status(conn, order.id, OrderStatus::Pending, Some("placed")).await?;
    Ok(Some(row.into_order()?.0))
}

/// Empties a user's cart of these products.
pub async fn remove_cart_lines(
    conn: &mut PgConnection,
    user_id: Uuid,
    product_ids: &[Uuid],
) -> Result<()> {
    sqlx::query("DELETE FROM cart_items WHERE user_id = $1 AND product_id = ANY($2)")
        .bind(user_id)
        .bind(product_ids)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Locks an order for a status change.
pub async fn lock_order(conn: &mut PgConnection, id: Uuid) -> Result<Option<Order>> {
    let row: Option<OrderRow> = sqlx::query_as(&format!(
        "SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| r.into_order().map(|(o, _)| o)).transpose()
}

/// Moves a locked order from `from` to `to` and records it in the history.
pub async fn change_status(
    conn: &mut PgConnection,
    id: Uuid,
    from: OrderStatus,
    to: OrderStatus,
    reason: Option<&str>,
) -> OrderResult<()> {
    let placed_at: Option<chrono::DateTime<chrono::Utc>> = sqlx::query_scalar(
        "UPDATE orders SET status = $3, updated_at = now() WHERE id = $1 AND status = $2
         RETURNING created_at",
    )
    .bind(id)
    .bind(from.as_str())
    .bind(to.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    let Some(placed_at) = placed_at else {
        return Err(OrderError::ChangedMeanwhile { id, from });
    };
    if from != to {
        record_status(conn, id, to, reason).await?;
        // The saga's end: paid, or cancelled before it was (counted in the
        // transaction; a rare rollback counts once too many).
        if matches!(to, OrderStatus::Paid | OrderStatus::Cancelled) && from != OrderStatus::Paid {
            let took = (chrono::Utc::now() - placed_at)
                .to_std()
                .unwrap_or_default();
            metrics::histogram!("order_saga_duration_seconds", "outcome" => to.as_str())
                .record(took.as_secs_f64());
        }
    }
    Ok(())
}

/// Records `status` in the order's history and counts it
/// (`orders_status_changes_total{status}`).
async fn record_status(
    conn: &mut PgConnection,
    id: Uuid,
    status: OrderStatus,
    reason: Option<&str>,
) -> Result<()> {
    metrics::counter!("orders_status_changes_total", "status" => status.as_str()).increment(1);
    sqlx::query("INSERT INTO order_status_history (order_id, status, reason) VALUES ($1, $2, $3)")
        .bind(id)
        .bind(status.as_str())
        .bind(reason)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The lines of one order inside a transaction.
pub async fn items_in(conn: &mut PgConnection, order_id: Uuid) -> Result<Vec<(Uuid, i32)>> {
    Ok(sqlx::query_as(
        "SELECT product_id, quantity FROM order_items WHERE order_id = $1 ORDER BY line_no",
    )
    .bind(order_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// Serialises a user's checkouts (and cart changes) until the transaction ends.
pub async fn lock_user(conn: &mut PgConnection, user_id: Uuid) -> Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1::text))")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// How many of a user's orders are open and unpaid (PENDING or AWAITING_PAYMENT).
pub async fn count_open_unpaid(conn: &mut PgConnection, user_id: Uuid) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT count(*) FROM orders WHERE user_id = $1 AND status IN ('PENDING', 'AWAITING_PAYMENT')",
    )
    .bind(user_id)
    .fetch_one(&mut *conn)
    .await?)
}

/// Adds a refund to a locked order's refunded total (never beyond its total:
/// an "already refunded" announcement repeats an amount already counted) and
/// returns the new refunded total.
pub async fn add_refunded(conn: &mut PgConnection, order_id: Uuid, amount: i64) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "UPDATE orders SET refunded_amount = LEAST(total_amount, refunded_amount + $2)
         WHERE id = $1 RETURNING refunded_amount",
    )
    .bind(order_id)
    .bind(amount.max(0))
    .fetch_one(&mut *conn)
    .await?)
}
