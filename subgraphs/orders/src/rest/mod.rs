//! The REST fallback (Bearer token required): `POST /api/v1/orders`
//! (`Idempotency-Key` header), `GET /api/v1/orders`, `GET /api/v1/orders/{id}`,
//! `POST /api/v1/orders/{id}/cancel`. Same use cases as GraphQL; errors are
//! problem details.

use platform::money::MoneyJson;
use platform::openapi::BearerAuth;
use std::sync::Arc;

use axum::extract::{FromRef, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use platform::auth::{JwtVerifier, SignedIn};
use platform::http::JsonBody;
use platform::pagination::{encode_cursor, PageRequest};
use platform::{Error, Result};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};
use uuid::Uuid;

use crate::app::{Orders, PlaceOrder};
use crate::domain::{CartQuantity, Order, OrderItem, PaymentToken, ShippingAddress};

#[derive(Clone, FromRef)]
struct RestState {
    orders: Orders,
    verifier: Arc<JwtVerifier>,
}

/// The REST routes.
pub fn routes(orders: Orders, verifier: Arc<JwtVerifier>) -> Router {
    Router::new()
        .route("/api/v1/orders", post(place).get(list))
        .route("/api/v1/orders/{id}", get(one))
        .route("/api/v1/orders/{id}/cancel", post(cancel))
        .with_state(RestState { orders, verifier })
        .merge(platform::http::openapi_router(ApiDoc::openapi()))
}

/// The orders REST API (OpenAPI 3.1). Every route needs a Bearer token.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Shop orders",
        description = "Placing and following orders (Bearer token required)"
    ),
    paths(place, list, one, cancel),
    components(schemas(
        OrderJson,
        ItemJson,
        MoneyJson,
        OrderList,
        PlaceOrderBody,
        AddressBody,
        LineBody,
        CancelBody,
        ShippingAddress,
        platform::error::Problem
    )),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

/// A page of orders.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderList {
    /// Newest first.
    pub items: Vec<OrderJson>,
    /// Pass as `after` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// An order line in JSON.
#[derive(Debug, Serialize, ToSchema)]
pub struct ItemJson {
    /// Product.
    pub product_id: Uuid,
    /// SKU.
    pub sku: String,
    /// Name.
    pub name: String,
    /// Quantity.
    pub quantity: i32,
    /// Unit price.
    pub unit_price: MoneyJson,
    /// Line total.
    pub line_total: MoneyJson,
}

/// An order in JSON.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderJson {
    /// Id.
    pub id: Uuid,
    /// Number.
    pub number: String,
    /// Status.
    pub status: &'static str,
    /// Total.
    pub total: MoneyJson,
    /// Lines.
    pub items: Vec<ItemJson>,
    /// Address.
    pub shipping_address: ShippingAddress,
    /// Placed (UTC).
    pub created_at: DateTime<Utc>,
    /// Changed (UTC).
    pub updated_at: DateTime<Utc>,
}

async fn to_json(orders: &Orders, list: Vec<Order>) -> Result<Vec<OrderJson>> {
    let ids: Vec<Uuid> = list.iter().map(|o| o.id).collect();
    let items: Vec<OrderItem> = orders.store().items_of(&ids).await?;
    Ok(list
        .into_iter()
        .map(|o| OrderJson {
            id: o.id,
            number: o.display_number(),
            status: o.status.as_str(),
            total: o.total.into(),
            items: items
                .iter()
                .filter(|i| i.order_id == o.id)
                .map(|i| ItemJson {
                    product_id: i.product_id,
                    sku: i.sku.clone(),
                    name: i.name.clone(),
                    quantity: i.quantity,
                    unit_price: i.unit_price.into(),
                    line_total: i.line_total.into(),
                })
                .collect(),
            shipping_address: o.shipping_address,
            created_at: o.created_at,
            updated_at: o.updated_at,
        })
        .collect())
}

/// The body of `POST /api/v1/orders`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaceOrderBody {
    /// Where to ship.
    pub shipping_address: AddressBody,
    /// Card token: `tok_` and 1 to 100 letters, digits or `_`.
    #[schema(
        max_length = 10000,
        pattern = r"^[\t\n\r \xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*tok_[A-Za-z0-9_]{1,100}[\t\n\r \xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$"
    )]
    pub payment_token: String,
    /// Lines, 1 to 50 (lines of the same product are added up); the
    /// cart when absent.
    #[schema(min_items = 1, max_items = 50)]
    pub items: Option<Vec<LineBody>>,
}

/// An address in a request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressBody {
    /// Recipient: 1 to 100 characters once trimmed.
    #[schema(
        max_length = 10000,
        pattern = r"^[\t\n\r \xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*[^\x00-\x20\x7F-\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000](?:[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]{0,98}[^\x00-\x20\x7F-\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000])?[\t\n\r \xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$"
    )]
    pub name: String,
    /// Street: 1 to 200 characters once trimmed.
    #[schema(
        max_length = 10000,
        pattern = r"^[\t\n\r \xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*[^\x00-\x20\x7F-\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000](?:[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]{0,198}[^\x00-\x20\x7F-\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000])?[\t\n\r \xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$"
    )]
    pub line1: String,
    /// More: up to 200 characters once trimmed (blank: none).
    #[schema(
        max_length = 10000,
        pattern = r"^[\t\n\r \xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*(?:[^\x00-\x20\x7F-\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000](?:[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]{0,198}[^\x00-\x20\x7F-\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000])?)?[\t\n\r \xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$"
    )]
    pub line2: Option<String>,
    /// City: 1 to 100 characters once trimmed.
    #[schema(
        max_length = 10000,
        pattern = r"^[\t\n\r \xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*[^\x00-\x20\x7F-\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000](?:[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]{0,98}[^\x00-\x20\x7F-\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000])?[\t\n\r \xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$"
    )]
    pub city: String,
    /// Postal code: 1 to 20 characters once trimmed.
    #[schema(
        max_length = 10000,
        pattern = r"^[\t\n\r \xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*[^\x00-\x20\x7F-\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000](?:[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]{0,18}[^\x00-\x20\x7F-\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000])?[\t\n\r \xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$"
    )]
    pub postal_code: String,
    /// ISO 3166-1 alpha-2 country code, any case.
    #[schema(
        max_length = 10000,
        pattern = r"^[\t\n\r \xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*[A-Za-z]{2}[\t\n\r \xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$"
    )]
    pub country: String,
}

/// A line in a request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineBody {
    /// Product.
    #[schema(
        format = "uuid",
        pattern = r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"
    )]
    pub product_id: String,
    /// Quantity, 1 to 100 (lines of the same product are added up; the sum
    /// must stay within 1 to 100 too).
    #[schema(minimum = 1, maximum = 100)]
    pub quantity: i64,
}

/// Places an order (the cart, or the given items); a retry with the same
/// `Idempotency-Key` returns the same order.
#[utoipa::path(post, path = "/api/v1/orders", request_body = PlaceOrderBody,
    security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header, pattern = r"^[\x21-\x7E]{1,100}$",
        description = "Unique per order attempt: 1 to 100 visible ASCII characters")),
    responses(
        (status = 201, body = OrderJson),
        (status = 400, body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 401, body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 404, body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 409, body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 413, body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 415, body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 422, body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 503, body = platform::error::Problem, content_type = "application/problem+json"),
    ))]
async fn place(
    State(state): State<RestState>,
    SignedIn(viewer): SignedIn,
    headers: HeaderMap,
    JsonBody(body): JsonBody<PlaceOrderBody>,
) -> Result<(StatusCode, Json<OrderJson>)> {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| Error::invalid("the Idempotency-Key header is required"))?
        .to_string();
    let a = &body.shipping_address;
    let request = PlaceOrder {
        shipping_address: ShippingAddress::parse(
            &a.name,
            &a.line1,
            a.line2.as_deref(),
            &a.city,
            &a.postal_code,
            &a.country,
        )
        .map_err(|e| e.at("shipping_address"))?,
        payment_token: PaymentToken::parse(&body.payment_token)
            .map_err(|e| e.at("payment_token"))?,
        // Quantities are bounded here, at the edge, before anything adds them up.
        items: body
            .items
            .map(|items| {
                if items.len() > crate::domain::checkout::MAX_LINES {
                    return Err(Error::invalid_field(
                        "items",
                        format!(
                            "an order has at most {} lines",
                            crate::domain::checkout::MAX_LINES
                        ),
                    ));
                }
                items
                    .into_iter()
                    .map(|l| {
                        let quantity = CartQuantity::parse(l.quantity)?;
                        Ok((l.product_id, i64::from(quantity.get())))
                    })
                    .collect::<Result<Vec<_>>>()
            })
            .transpose()?,
    };
    let order = state.orders.place_order(&viewer, request, &key).await?;
    let json = to_json(&state.orders, vec![order])
        .await?
        .pop()
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("order vanished")))?;
    Ok((StatusCode::CREATED, Json(json)))
}

/// `?first=&after=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct PageQuery {
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    first: Option<i32>,
    /// The `next_cursor` of the previous page.
    #[param(
        max_length = 10000,
        pattern = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$"
    )]
    after: Option<String>,
}

/// The caller's orders, newest first.
#[utoipa::path(get, path = "/api/v1/orders", params(PageQuery), security(("bearer" = [])),
    responses(
        (status = 200, body = OrderList),
        (status = 400, body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 401, body = platform::error::Problem, content_type = "application/problem+json"),
    ))]
async fn list(
    State(state): State<RestState>,
    SignedIn(viewer): SignedIn,
    query: std::result::Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>> {
    let Query(q) = query.map_err(|e| Error::invalid(e.body_text()))?;
    let page = PageRequest::<Uuid>::parse(q.first, q.after)?;
    let mut rows = state
        .orders
        .orders_of(&viewer, viewer.user_id, &page)
        .await?;
    let next = if rows.len() > page.first {
        rows.truncate(page.first);
        rows.last().map(|o| encode_cursor(o.id))
    } else {
        None
    };
    let items = to_json(&state.orders, rows).await?;
    Ok(Json(
        serde_json::json!({ "items": items, "next_cursor": next }),
    ))
}

/// One of the caller's orders.
#[utoipa::path(get, path = "/api/v1/orders/{id}", params(("id" = String, Path, format = "uuid", pattern = r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$", description = "Order id")), security(("bearer" = [])),
    responses(
        (status = 200, body = OrderJson),
        (status = 400, body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 401, body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 404, body = platform::error::Problem, content_type = "application/problem+json"),
    ))]
async fn one(
    State(state): State<RestState>,
    SignedIn(viewer): SignedIn,
    Path(id): Path<String>,
) -> Result<Json<OrderJson>> {
    let order = state.orders.order_for(&viewer, &id).await?;
    let json = to_json(&state.orders, vec![order])
        .await?
        .pop()
        .ok_or_else(|| Error::not_found("order", &id))?;
    Ok(Json(json))
}

/// The optional body of a cancellation.
#[derive(Debug, Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelBody {
    /// Why: up to 500 characters once trimmed (blank: "cancelled by the customer").
    #[schema(
        max_length = 10000,
        pattern = r"^[\t\n\r \xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*(?:[^\x00-\x20\x7F-\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000](?:[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]{0,498}[^\x00-\x20\x7F-\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000])?)?[\t\n\r \xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$"
    )]
    pub reason: Option<String>,
}

/// Cancels an order: before payment the stock is released, after payment it
/// is refunded and restocked.
#[utoipa::path(post, path = "/api/v1/orders/{id}/cancel", params(("id" = String, Path, format = "uuid", pattern = r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$", description = "Order id")), security(("bearer" = [])),
    request_body(content = Option<CancelBody>, content_type = "application/json", description = "Optional reason"),
    responses(
        (status = 200, body = OrderJson),
        (status = 400, body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 401, body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 404, body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 409, body = platform::error::Problem, content_type = "application/problem+json"),
    ))]
async fn cancel(
    State(state): State<RestState>,
    SignedIn(viewer): SignedIn,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<OrderJson>> {
    // The body is optional: none, `null`, or `{"reason": "..."}`.
    let body: CancelBody = if body.iter().all(u8::is_ascii_whitespace) {
        CancelBody::default()
    } else {
        // Checked like every JSON body (platform::input): no control characters.
        let value: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| Error::invalid(format!("invalid JSON body: {e}")))?;
        platform::input::check_json("body", &value).map_err(|r| r.into_error())?;
        if value.is_null() {
            CancelBody::default()
        } else {
            serde_json::from_value(value)
                .map_err(|e| Error::invalid(format!("invalid JSON body: {e}")))?
        }
    };
    let reason = body.reason;
    let order = state
        .orders
        .cancel_order(&viewer, &id, reason.as_deref())
        .await?;
    let json = to_json(&state.orders, vec![order])
        .await?
        .pop()
        .ok_or_else(|| Error::not_found("order", &id))?;
    Ok(Json(json))
}
