//! The saga inspector: where is this order stuck?
//!
//! An order's saga runs through orders, products and payments, each with its
//! own outbox, inbox and dead-letter queue. The inspector asks each service for
//! its part (`events::trail`, over `/internal/v1/saga/trail` with the admin's
//! token; orders' own part directly), in two rounds: first the events each
//! published and its dead letters, then (inboxes only) which of all those
//! events each consumer handled. It merges
//! them into one list in causal order (a cause before its effects), each event
//! with its outbox state and, per consumer, handled, waiting or dead-lettered,
//! and names the first thing the saga waits on.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use events::trail::{
    consumers_of, Inspector, OutboxState, Published, ReplayRequest, Replayed, ServiceTrail,
    TrailEvent, TrailRequest,
};
use platform::auth::BearerToken;
use platform::{Error, Result};
use uuid::Uuid;

use crate::error::OrderError;

/// How a consumer stands with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
pub enum DeliveryState {
    /// Applied (in the consumer's inbox).
    Handled,
    /// Not applied yet: in flight, queued, or waiting for a redelivery.
    Waiting,
    /// Given up on by the consumer: in its dead-letter queue.
    DeadLettered,
    /// The consumer's service did not answer the inspector.
    Unknown,
}

/// One consumer's handling of an event.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// The consuming service.
    pub consumer: String,
    /// Where it stands.
    pub state: DeliveryState,
    /// When it was applied.
    pub handled_at: Option<DateTime<Utc>>,
}

/// One event of the order, across services.
#[derive(Debug, Clone, PartialEq)]
pub struct SagaEvent {
    /// The event.
    pub event: TrailEvent,
    /// Its publisher's outbox row (`None`: only a dead-lettered copy was seen,
    /// or the publisher did not answer).
    pub outbox: Option<Published>,
    /// One per consumer of its kind.
    pub deliveries: Vec<Delivery>,
}

/// An order's saga as every service sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderTrail {
    /// The order.
    pub order_id: Uuid,
    /// Its events in causal order.
    pub events: Vec<SagaEvent>,
    /// Services that did not answer (their part is missing).
    pub unavailable: Vec<String>,
    /// The first thing the saga waits on, in words (`None`: nothing).
    pub waiting_on: Option<String>,
}

/// The services of the saga, besides orders.
const PEERS: [&str; 2] = ["products", "payments"];

/// The inspector, in the orders service.
#[derive(Clone)]
pub struct SagaInspector {
    local: Inspector,
    peers: Vec<(&'static str, String)>,
    http: reqwest::Client,
}

impl SagaInspector {
    /// Orders' own inspector, and the peers `config` names (products and
    /// payments), each call bounded by the quote timeout.
    pub fn for_config(local: Inspector, config: &crate::config::Config) -> anyhow::Result<Self> {
        let timeout = Duration::from_millis(config.quote_timeout_ms);
        let urls = [config.products_url.as_str(), config.payments_url.as_str()];
        let http = reqwest::Client::builder().timeout(timeout).build()?;
        let peers = PEERS
            .into_iter()
            .zip(urls)
            .map(|(name, url)| (name, url.trim_end_matches('/').to_string()))
            .collect();
        Ok(SagaInspector { local, peers, http })
    }

    /// The order's events across the services (the caller is an admin; their
    /// token goes to the peers, which check it again).
    pub async fn order_events(&self, token: &BearerToken, order_id: Uuid) -> Result<OrderTrail> {
        let first = self.ask_all(token, order_id, &[], false).await?;
        let mut ids: Vec<Uuid> = first
            .values()
            .flatten()
            .flat_map(|t| {
                t.published
                    .iter()
                    .map(|p| p.event.id)
                    .chain(t.dead_lettered.iter().map(|e| e.id))
            })
            .collect();
        ids.sort();
        ids.dedup();
        ids.truncate(events::trail::MAX_EVENT_IDS);
        // Round two asks only the inboxes; a service silent in either round is
        // unavailable.
        let second = self.ask_all(token, order_id, &ids, true).await?;
        let trails = first
            .into_iter()
            .map(|(service, published)| {
                let handled = second.get(&service).cloned().flatten();
                let trail = published
                    .zip(handled)
                    .map(|(published, handled)| ServiceTrail {
                        handled: handled.handled,
                        ..published
                    });
                (service, trail)
            })
            .collect();
        Ok(merge(order_id, &trails))
    }

    /// Replays event `id` at `service`: unparks it if that service's outbox
    /// parked it, and redelivers its dead-lettered copies to that service.
    pub async fn replay(&self, token: &BearerToken, service: &str, id: Uuid) -> Result<Replayed> {
        if service == crate::config::NAME {
            return self.local.replay(id).await;
        }
        let (_, url) = self
            .peers
            .iter()
            .find(|(name, _)| *name == service)
            .ok_or_else(|| {
                Error::invalid_field(
                    "service",
                    format!("no such service in the saga: {service} (orders, products, payments)"),
                )
            })?;
        let response = self
            .http
            .post(format!("{url}/internal/v1/saga/replay"))
            .headers(platform::telemetry::outgoing_headers())
            .bearer_auth(token.secret())
            .json(&ReplayRequest { event_id: id })
            .send()
            .await
            .map_err(|e| unreachable(service, &e.to_string()))?;
        if !response.status().is_success() {
            return Err(unreachable(service, &response.status().to_string()));
        }
        response
            .json::<Replayed>()
            .await
            .map_err(|e| unreachable(service, &e.to_string()))
    }

    /// Every service's trail (`None` for one that did not answer).
    async fn ask_all(
        &self,
        token: &BearerToken,
        order_id: Uuid,
        event_ids: &[Uuid],
        only_handled: bool,
    ) -> Result<BTreeMap<String, Option<ServiceTrail>>> {
        let request = TrailRequest {
            order_id,
            event_ids: event_ids.to_vec(),
            only_handled,
        };
        let peers = futures::future::join_all(
            self.peers
                .iter()
                .map(|(name, url)| self.ask_peer(token, name, url, &request)),
        );
        let (own, peers) = tokio::join!(self.local.trail(&request), peers);
        let mut trails = BTreeMap::new();
        trails.insert(crate::config::NAME.to_string(), Some(own?));
        for ((name, _), trail) in self.peers.iter().zip(peers) {
            trails.insert(name.to_string(), trail);
        }
        Ok(trails)
    }

    async fn ask_peer(
        &self,
        token: &BearerToken,
        name: &str,
        url: &str,
        request: &TrailRequest,
    ) -> Option<ServiceTrail> {
        let answer = async {
            let response = self
                .http
                .post(format!("{url}/internal/v1/saga/trail"))
                .headers(platform::telemetry::outgoing_headers())
                .bearer_auth(token.secret())
                .json(request)
                .send()
                .await?
                .error_for_status()?;
            response.json::<ServiceTrail>().await
        };
        match answer.await {
            Ok(trail) => Some(trail),
            Err(e) => {
                tracing::warn!(service = name, error = %e, "a saga service did not answer the inspector");
                None
            }
        }
    }
}

fn unreachable(service: &str, why: &str) -> Error {
    tracing::warn!(service, %why, "replay request failed");
    OrderError::ServiceUnavailable(service.to_string()).into()
}

/// Merges the services' trails into one causal list.
pub fn merge(order_id: Uuid, trails: &BTreeMap<String, Option<ServiceTrail>>) -> OrderTrail {
    let unavailable: Vec<String> = trails
        .iter()
        .filter(|(_, t)| t.is_none())
        .map(|(name, _)| name.clone())
        .collect();
    let answered: Vec<&ServiceTrail> = trails.values().flatten().collect();
    let mut events: HashMap<Uuid, SagaEvent> = HashMap::new();
    for trail in &answered {
        for published in &trail.published {
            events.insert(
                published.event.id,
                SagaEvent {
                    event: published.event.clone(),
                    outbox: Some(published.clone()),
                    deliveries: Vec::new(),
                },
            );
        }
    }
    let mut dead: HashSet<(Uuid, &str)> = HashSet::new();
    for trail in &answered {
        for letter in &trail.dead_lettered {
            dead.insert((letter.id, trail.service.as_str()));
            events.entry(letter.id).or_insert_with(|| SagaEvent {
                event: letter.clone(),
                outbox: None,
                deliveries: Vec::new(),
            });
        }
    }
    let handled: HashMap<(Uuid, &str), DateTime<Utc>> = answered
        .iter()
        .flat_map(|t| {
            t.handled
                .iter()
                .map(move |h| ((h.event_id, t.service.as_str()), h.processed_at))
        })
        .collect();
    for event in events.values_mut() {
        event.deliveries = consumers_of(&event.event.kind)
            .into_iter()
            .map(|consumer| {
                let key = (event.event.id, consumer);
                let state = if handled.contains_key(&key) {
                    DeliveryState::Handled
                } else if dead.contains(&key) {
                    DeliveryState::DeadLettered
                } else if unavailable.iter().any(|u| u == consumer) {
                    DeliveryState::Unknown
                } else {
                    DeliveryState::Waiting
                };
                Delivery {
                    consumer: consumer.to_string(),
                    state,
                    handled_at: handled.get(&key).copied(),
                }
            })
            .collect();
    }
    let events = causal_order(events.into_values().collect());
    let waiting_on = waiting_on(&events, &unavailable);
    OrderTrail {
        order_id,
        events,
        unavailable,
        waiting_on,
    }
}

/// Causes before their effects; otherwise by time, then id.
fn causal_order(mut events: Vec<SagaEvent>) -> Vec<SagaEvent> {
    events.sort_by_key(|e| (e.event.occurred_at, e.event.id));
    let ids: HashSet<Uuid> = events.iter().map(|e| e.event.id).collect();
    let mut placed: HashSet<Uuid> = HashSet::new();
    let mut ordered = Vec::with_capacity(events.len());
    while !events.is_empty() {
        // The earliest event whose cause is placed or not in the list.
        let next = events
            .iter()
            .position(|e| {
                e.event
                    .causation_id
                    .is_none_or(|c| placed.contains(&c) || !ids.contains(&c))
            })
            .unwrap_or(0);
        let event = events.remove(next);
        placed.insert(event.event.id);
        ordered.push(event);
    }
    ordered
}

/// The first thing the saga waits on, in causal order.
fn waiting_on(events: &[SagaEvent], unavailable: &[String]) -> Option<String> {
    for e in events {
        let what = format!("{} {} (from {})", e.event.kind, e.event.id, e.event.source);
        match &e.outbox {
            Some(row) if row.state == OutboxState::Parked => {
                return Some(format!(
                    "{what} is parked in the outbox of {} after {} attempts ({}); replay it at {}",
                    e.event.source,
                    row.attempts,
                    row.last_error.as_deref().unwrap_or("no error recorded"),
                    e.event.source
                ))
            }
            Some(row) if row.state == OutboxState::Pending => {
                return Some(format!("{what} is not published yet"))
            }
            _ => {}
        }
        for d in &e.deliveries {
            match d.state {
                DeliveryState::DeadLettered => {
                    return Some(format!(
                        "{what} was dead-lettered by {}; replay it at {}",
                        d.consumer, d.consumer
                    ))
                }
                DeliveryState::Waiting => {
                    return Some(format!("{what} is not handled by {} yet", d.consumer))
                }
                DeliveryState::Unknown | DeliveryState::Handled => {}
            }
        }
    }
    (!unavailable.is_empty()).then(|| format!("{} did not answer", unavailable.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use events::trail::Handled;

    fn event(kind: &str, source: &str, cause: Option<Uuid>, at: i64) -> TrailEvent {
        TrailEvent {
            id: Uuid::now_v7(),
            kind: kind.into(),
            source: source.into(),
            occurred_at: DateTime::from_timestamp(1_800_000_000 + at, 0).unwrap_or_default(),
            causation_id: cause,
            correlation_id: None,
            traceparent: None,
        }
    }

    fn published(event: &TrailEvent, state: OutboxState) -> Published {
        Published {
            event: event.clone(),
            state,
            attempts: if state == OutboxState::Parked { 10 } else { 1 },
            last_error: (state == OutboxState::Parked).then(|| "NOT_FOUND - no exchange".into()),
            published_at: None,
        }
    }

    fn trail(service: &str, published: Vec<Published>, handled: &[&TrailEvent]) -> ServiceTrail {
        ServiceTrail {
            service: service.into(),
            published,
            handled: handled
                .iter()
                .map(|e| Handled {
                    event_id: e.id,
                    processed_at: e.occurred_at,
                })
                .collect(),
            dead_lettered: Vec::new(),
            broker_error: None,
        }
    }

    #[test]
    fn a_parked_event_is_where_the_saga_waits_and_causes_come_first() {
        let order = Uuid::now_v7();
        let placed = event("order.placed", "orders", None, 0);
        // Same second as its cause and a smaller id: causal order still puts it after.
        let mut reserved = event("stock.reserved", "products", Some(placed.id), 0);
        reserved.id = Uuid::nil();
        let requested = event("payment.requested", "orders", Some(reserved.id), 1);
        let trails = BTreeMap::from([
            (
                "orders".to_string(),
                Some(trail(
                    "orders",
                    vec![
                        published(&placed, OutboxState::Published),
                        published(&requested, OutboxState::Parked),
                    ],
                    &[&reserved],
                )),
            ),
            (
                "products".to_string(),
                Some(trail(
                    "products",
                    vec![published(&reserved, OutboxState::Published)],
                    &[&placed],
                )),
            ),
            ("payments".to_string(), None),
        ]);
        let merged = merge(order, &trails);
        let kinds: Vec<&str> = merged
            .events
            .iter()
            .map(|e| e.event.kind.as_str())
            .collect();
        assert_eq!(
            kinds,
            ["order.placed", "stock.reserved", "payment.requested"]
        );
        assert_eq!(merged.unavailable, ["payments"]);
        assert_eq!(merged.events[0].deliveries[0].state, DeliveryState::Handled);
        assert_eq!(merged.events[2].deliveries[0].state, DeliveryState::Unknown);
        let waiting = merged.waiting_on.unwrap_or_default();
        assert!(
            waiting.starts_with("payment.requested")
                && waiting.contains("parked in the outbox of orders after 10 attempts")
                && waiting.contains("no exchange"),
            "{waiting}"
        );
    }

    #[test]
    fn a_settled_saga_waits_on_nothing() {
        let placed = event("order.placed", "orders", None, 0);
        let trails = BTreeMap::from([
            (
                "orders".to_string(),
                Some(trail(
                    "orders",
                    vec![published(&placed, OutboxState::Published)],
                    &[],
                )),
            ),
            (
                "products".to_string(),
                Some(trail("products", vec![], &[&placed])),
            ),
        ]);
        assert_eq!(merge(Uuid::now_v7(), &trails).waiting_on, None);
    }
}
