//! The saga inspector's view from one service: the events of an order this
//! service published (with their outbox state), the ones it handled (its
//! inbox) and the copies its consumer dead-lettered, and replaying one.
//!
//! Every service of the saga serves this on `/internal/v1/saga/*` (admin
//! token; not routed by Kong); the orders service asks each one and merges the
//! answers into `Query.orderEvents` (see `orders::inspector`).

use std::sync::Arc;

use axum::extract::{FromRef, State};
use axum::routing::post;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use platform::auth::{AdminOnly, JwtVerifier};
use platform::http::JsonBody;
use platform::{Error, Result};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use uuid::Uuid;

use crate::envelope::RawEnvelope;
use crate::outbox::PgOutbox;
use crate::topology::{Topology, SUBSCRIPTIONS};

/// Where an event stands in its publisher's outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxState {
    /// Written, not yet confirmed by the broker.
    Pending,
    /// Confirmed by the broker.
    Published,
    /// Given up on after repeated refusals; waits for an operator.
    Parked,
}

/// An event of the order, as its publisher's outbox has it (or, for a
/// dead-lettered copy, as the copy says).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrailEvent {
    /// The event id.
    pub id: Uuid,
    /// The routing key.
    pub kind: String,
    /// The publishing service.
    pub source: String,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// The event that caused it.
    pub causation_id: Option<Uuid>,
    /// The request's correlation id.
    pub correlation_id: Option<String>,
    /// W3C trace context.
    pub traceparent: Option<String>,
}

impl From<&RawEnvelope> for TrailEvent {
    fn from(e: &RawEnvelope) -> Self {
        TrailEvent {
            id: e.id,
            kind: e.kind.clone(),
            source: e.source.clone(),
            occurred_at: e.occurred_at,
            causation_id: e.causation_id,
            correlation_id: e.correlation_id.clone(),
            traceparent: e.traceparent.clone(),
        }
    }
}

/// An event in this service's outbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Published {
    /// The event.
    pub event: TrailEvent,
    /// Its outbox state.
    pub state: OutboxState,
    /// Publish attempts so far.
    pub attempts: i32,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When the broker confirmed it.
    pub published_at: Option<DateTime<Utc>>,
}

/// An event this service's consumer applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Handled {
    /// The event id.
    pub event_id: Uuid,
    /// When it was applied.
    pub processed_at: DateTime<Utc>,
}

/// What one service knows about an order's events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceTrail {
    /// The service.
    pub service: String,
    /// The order's events it published.
    pub published: Vec<Published>,
    /// Of the events asked about, those its consumer applied.
    pub handled: Vec<Handled>,
    /// The order's events in its dead-letter queue.
    pub dead_lettered: Vec<TrailEvent>,
    /// Why the dead-letter queue could not be read, if it could not.
    pub broker_error: Option<String>,
}

/// What a trail request asks: an order, and the events (published anywhere)
/// whose handling here is wanted.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrailRequest {
    /// The order.
    pub order_id: Uuid,
    /// Event ids to look up in the inbox (at most [`MAX_EVENT_IDS`]).
    #[serde(default)]
    pub event_ids: Vec<Uuid>,
    /// Only the inbox: skip the outbox and the dead-letter queue (the second
    /// round of the inspector, which has them from the first).
    #[serde(default)]
    pub only_handled: bool,
}

/// Replaying one event.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReplayRequest {
    /// The event.
    pub event_id: Uuid,
}

/// What a replay did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replayed {
    /// A parked outbox row was put back in line.
    pub unparked: bool,
    /// Dead-lettered copies sent back to this service's consumer.
    pub redelivered: usize,
}

/// The most event ids one trail request may ask about.
pub const MAX_EVENT_IDS: usize = 500;
/// The most dead letters read per request.
const MAX_DEAD_LETTERS: usize = 1000;

/// The services consuming `kind`.
pub fn consumers_of(kind: &str) -> Vec<&'static str> {
    SUBSCRIPTIONS
        .iter()
        .filter(|(_, keys)| keys.contains(&kind))
        .map(|(service, _)| *service)
        .collect()
}

/// One service's inspector.
#[derive(Clone)]
pub struct Inspector {
    pool: PgPool,
    amqp_url: String,
    topology: Topology,
    service: String,
}

impl Inspector {
    /// The inspector of `service`, over its database and broker.
    pub fn new(pool: PgPool, amqp_url: &str, prefix: &str, service: &str) -> Self {
        Inspector {
            pool,
            amqp_url: amqp_url.into(),
            topology: Topology::with_prefix(prefix),
            service: service.into(),
        }
    }

    /// This service's part of the order's trail.
    pub async fn trail(&self, request: &TrailRequest) -> Result<ServiceTrail> {
        if request.event_ids.len() > MAX_EVENT_IDS {
            return Err(Error::invalid(format!(
                "at most {MAX_EVENT_IDS} event ids per request"
            )));
        }
        let handled = sqlx::query_as::<_, (Uuid, DateTime<Utc>)>(
            "SELECT event_id, processed_at FROM inbox WHERE consumer = $1 AND event_id = ANY($2)",
        )
        .bind(&self.service)
        .bind(&request.event_ids)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|(event_id, processed_at)| Handled {
            event_id,
            processed_at,
        })
        .collect();
        if request.only_handled {
            return Ok(ServiceTrail {
                service: self.service.clone(),
                published: Vec::new(),
                handled,
                dead_lettered: Vec::new(),
                broker_error: None,
            });
        }
        let rows: Vec<OutboxRow> = sqlx::query_as(
            "SELECT envelope, published_at, parked_at, attempts, last_error FROM outbox
             WHERE envelope->'payload'->>'order_id' = $1 ORDER BY seq",
        )
        .bind(request.order_id.to_string())
        .fetch_all(&self.pool)
        .await?;
        let published = rows
            .into_iter()
            .filter_map(|row| {
                let envelope: RawEnvelope = serde_json::from_value(row.envelope).ok()?;
                Some(Published {
                    event: TrailEvent::from(&envelope),
                    state: match (row.published_at, row.parked_at) {
                        (Some(_), _) => OutboxState::Published,
                        (None, Some(_)) => OutboxState::Parked,
                        (None, None) => OutboxState::Pending,
                    },
                    attempts: row.attempts,
                    last_error: row.last_error,
                    published_at: row.published_at,
                })
            })
            .collect();
        let (dead_lettered, broker_error) = if self.consumes() {
            match self.dead_letters(request.order_id).await {
                Ok(letters) => (letters, None),
                Err(e) => {
                    tracing::warn!(error = %e, "reading the dead-letter queue failed");
                    (
                        Vec::new(),
                        Some("the dead-letter queue could not be read".into()),
                    )
                }
            }
        } else {
            (Vec::new(), None)
        };
        Ok(ServiceTrail {
            service: self.service.clone(),
            published,
            handled,
            dead_lettered,
            broker_error,
        })
    }

    /// Replays event `id`: puts it back in line if this service parked it in
    /// its outbox, and sends its dead-lettered copies back to this service's
    /// consumer.
    pub async fn replay(&self, id: Uuid) -> Result<Replayed> {
        let unparked = PgOutbox::new(self.pool.clone()).unpark(Some(id)).await? > 0;
        let redelivered = if self.consumes() {
            let conn = self.connect().await?;
            let n = crate::dlq::replay(&conn, &self.topology, &self.service, Some(id))
                .await
                .map_err(broker_unavailable)?;
            let _ = conn.close(200, "replayed".into()).await;
            n
        } else {
            0
        };
        tracing::info!(event = %id, unparked, redelivered, "saga event replayed by an operator");
        Ok(Replayed {
            unparked,
            redelivered,
        })
    }

    fn consumes(&self) -> bool {
        SUBSCRIPTIONS.iter().any(|(s, _)| *s == self.service)
    }

    async fn connect(&self) -> Result<lapin::Connection> {
        let name = format!("{}{}-inspector", self.topology.prefix(), self.service);
        crate::amqp::connect(&self.amqp_url, &name)
            .await
            .map_err(broker_unavailable)
    }

    async fn dead_letters(&self, order: Uuid) -> Result<Vec<TrailEvent>> {
        let conn = self.connect().await?;
        let letters = crate::dlq::list(&conn, &self.topology, &self.service, MAX_DEAD_LETTERS)
            .await
            .map_err(broker_unavailable);
        let _ = conn.close(200, "listed".into()).await;
        let wanted = order.to_string();
        Ok(letters?
            .iter()
            .filter_map(|letter| letter.event.as_ref())
            .filter(|e| e.payload.get("order_id").and_then(|v| v.as_str()) == Some(&wanted))
            .map(TrailEvent::from)
            .collect())
    }
}

fn broker_unavailable(e: lapin::Error) -> Error {
    tracing::warn!(error = %e, "the broker is unavailable to the inspector");
    Error::Unavailable("the broker is unavailable; try again shortly".into())
}

#[derive(sqlx::FromRow)]
struct OutboxRow {
    envelope: serde_json::Value,
    published_at: Option<DateTime<Utc>>,
    parked_at: Option<DateTime<Utc>>,
    attempts: i32,
    last_error: Option<String>,
}

#[derive(Clone, FromRef)]
struct RouteState {
    inspector: Inspector,
    verifier: Arc<JwtVerifier>,
}

/// `POST /internal/v1/saga/trail` and `POST /internal/v1/saga/replay`, for
/// admins only. Internal: the orders service calls them; Kong routes neither.
pub fn routes(inspector: Inspector, verifier: Arc<JwtVerifier>) -> Router {
    Router::new()
        .route("/internal/v1/saga/trail", post(trail))
        .route("/internal/v1/saga/replay", post(replay))
        .with_state(RouteState {
            inspector,
            verifier,
        })
}

async fn trail(
    State(state): State<RouteState>,
    _: AdminOnly,
    JsonBody(request): JsonBody<TrailRequest>,
) -> Result<Json<ServiceTrail>> {
    Ok(Json(state.inspector.trail(&request).await?))
}

async fn replay(
    State(state): State<RouteState>,
    _: AdminOnly,
    JsonBody(request): JsonBody<ReplayRequest>,
) -> Result<Json<Replayed>> {
    Ok(Json(state.inspector.replay(request.event_id).await?))
}
