//! The REST fallback: `GET /api/v1/payments/{id}` and
//! `GET /api/v1/payments?order_id=...` (Bearer token; the customer or an admin).

use platform::money::MoneyJson;
use platform::openapi::BearerAuth;
use std::sync::Arc;

use axum::extract::{FromRef, Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use platform::auth::{JwtVerifier, SignedIn};
use platform::{Error, Result};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::app::Payments;
use crate::domain::Payment;

#[derive(Clone, FromRef)]
struct RestState {
    payments: Payments,
    verifier: Arc<JwtVerifier>,
}

/// The REST routes, with their OpenAPI document at `/api/v1/openapi.json`.
pub fn routes(payments: Payments, verifier: Arc<JwtVerifier>) -> Router {
    Router::new()
        .route("/api/v1/payments", get(by_order))
        .route("/api/v1/payments/{id}", get(by_id))
        .with_state(RestState { payments, verifier })
        .merge(platform::http::openapi_router(ApiDoc::openapi()))
}

/// The payments REST API (OpenAPI 3.1).
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Shop payments",
        description = "Payments of orders (Bearer token: the customer or an admin)"
    ),
    paths(by_id, by_order),
    components(schemas(PaymentJson, MoneyJson, PaymentList, platform::error::Problem)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

/// A list of payments.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentList {
    /// The payments (at most one per order).
    pub items: Vec<PaymentJson>,
}

/// A payment in JSON.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentJson {
    /// Id.
    pub id: String,
    /// The order.
    pub order_id: String,
    /// Amount.
    pub amount: MoneyJson,
    /// `PENDING`, `SUCCEEDED`, `FAILED`, `PARTIALLY_REFUNDED`, `REFUNDED`.
    pub status: &'static str,
    /// Card brand.
    pub card_brand: Option<String>,
    /// Card last four digits.
    pub card_last4: Option<String>,
    /// Why it failed.
    pub failure_reason: Option<String>,
    /// Refunded so far.
    pub refunded_amount: MoneyJson,
    /// Created (UTC).
    pub created_at: DateTime<Utc>,
    /// Updated (UTC).
    pub updated_at: DateTime<Utc>,
}

impl From<Payment> for PaymentJson {
    fn from(p: Payment) -> Self {
        PaymentJson {
            id: p.id.to_string(),
            order_id: p.order_id.to_string(),
            amount: p.amount.into(),
            status: p.status.as_str(),
            card_brand: p.card.as_ref().map(|c| c.brand.clone()),
            card_last4: p.card.as_ref().map(|c| c.last4.clone()),
            failure_reason: p.failure_reason,
            refunded_amount: platform::Money::new(p.refunded, p.amount.currency).into(),
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

/// `?order_id=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ByOrder {
    /// The order whose payment to find (its UUID).
    #[param(
        required = true,
        format = "uuid",
        pattern = r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"
    )]
    order_id: Option<String>,
}

/// A payment by id.
#[utoipa::path(get, path = "/api/v1/payments/{id}", params(("id" = String, Path, format = "uuid", pattern = r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$", description = "Payment id")), security(("bearer" = [])),
    responses(
        (status = 200, body = PaymentJson),
        (status = 400, body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 401, body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 404, body = platform::error::Problem, content_type = "application/problem+json"),
    ))]
async fn by_id(
    State(state): State<RestState>,
    SignedIn(viewer): SignedIn,
    Path(id): Path<String>,
) -> Result<Json<PaymentJson>> {
    Ok(Json(state.payments.payment_for(&viewer, &id).await?.into()))
}

/// The payment of an order.
#[utoipa::path(get, path = "/api/v1/payments", params(ByOrder), security(("bearer" = [])),
    responses(
        (status = 200, body = PaymentList),
        (status = 400, body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 401, body = platform::error::Problem, content_type = "application/problem+json"),
    ))]
async fn by_order(
    State(state): State<RestState>,
    SignedIn(viewer): SignedIn,
    query: std::result::Result<Query<ByOrder>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>> {
    let Query(query) = query.map_err(|e| Error::invalid(e.body_text()))?;
    let order_id = query
        .order_id
        .ok_or_else(|| Error::invalid("the order_id query parameter is required"))?;
    let payment = state
        .payments
        .payment_of_order_for(&viewer, &order_id)
        .await?;
    let items: Vec<PaymentJson> = payment.into_iter().map(PaymentJson::from).collect();
    Ok(Json(serde_json::json!({ "items": items })))
}
