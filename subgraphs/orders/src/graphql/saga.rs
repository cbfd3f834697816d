//! The saga inspector's GraphQL types (administrators).

use async_graphql::{Enum, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};

use crate::inspector::{Delivery, DeliveryState, OrderTrail, SagaEvent};

/// Where an event stands in its publisher's outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum OutboxState {
    /// Written with the change that caused it; not yet confirmed by the broker.
    Pending,
    /// Confirmed by the broker.
    Published,
    /// Given up on after repeated refusals by the broker: waits for a replay.
    Parked,
    /// Not known: only a dead-lettered copy was seen, or the publisher did not answer.
    Unknown,
}

/// An order's saga across the services, for "where is this order stuck?".
pub struct OrderEventsObject(pub OrderTrail);

#[Object(name = "OrderEvents")]
impl OrderEventsObject {
    /// The order.
    async fn order_id(&self) -> ID {
        ID(self.0.order_id.to_string())
    }

    /// Its events across orders, products and payments, causes before their
    /// effects.
    async fn events(&self) -> Vec<SagaEventObject> {
        self.0.events.iter().cloned().map(SagaEventObject).collect()
    }

    /// Services that did not answer: their part is missing.
    async fn unavailable(&self) -> &[String] {
        &self.0.unavailable
    }

    /// The first thing the saga waits on, in words (an event not yet
    /// published, parked, not yet handled or dead-lettered by a consumer);
    /// null when nothing is pending.
    async fn waiting_on(&self) -> Option<&str> {
        self.0.waiting_on.as_deref()
    }
}

/// One event of an order's saga.
pub struct SagaEventObject(pub SagaEvent);

#[Object(name = "SagaEvent")]
impl SagaEventObject {
    /// The event id.
    async fn id(&self) -> ID {
        ID(self.0.event.id.to_string())
    }

    /// Its type (the routing key, e.g. `order.placed`).
    async fn r#type(&self) -> &str {
        &self.0.event.kind
    }

    /// The service that published it.
    async fn service(&self) -> &str {
        &self.0.event.source
    }

    /// When the change it announces happened (UTC).
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.0.event.occurred_at
    }

    /// The event that caused it.
    async fn caused_by(&self) -> Option<ID> {
        self.0.event.causation_id.map(|id| ID(id.to_string()))
    }

    /// The correlation id of the request that started it all.
    async fn correlation_id(&self) -> Option<&str> {
        self.0.event.correlation_id.as_deref()
    }

    /// The W3C trace id, to open the trace.
    async fn trace_id(&self) -> Option<&str> {
        self.0
            .event
            .traceparent
            .as_deref()
            .and_then(platform::http::trace_id)
    }

    /// Its state in the publisher's outbox.
    async fn outbox(&self) -> OutboxState {
        match self.0.outbox.as_ref().map(|o| o.state) {
            Some(events::trail::OutboxState::Pending) => OutboxState::Pending,
            Some(events::trail::OutboxState::Published) => OutboxState::Published,
            Some(events::trail::OutboxState::Parked) => OutboxState::Parked,
            None => OutboxState::Unknown,
        }
    }

    /// Publish attempts so far.
    async fn publish_attempts(&self) -> i32 {
        self.0.outbox.as_ref().map_or(0, |o| o.attempts)
    }

    /// Why the last publish attempt failed.
    async fn last_error(&self) -> Option<&str> {
        self.0.outbox.as_ref().and_then(|o| o.last_error.as_deref())
    }

    /// When the broker confirmed it.
    async fn published_at(&self) -> Option<DateTime<Utc>> {
        self.0.outbox.as_ref().and_then(|o| o.published_at)
    }

    /// One per service consuming its type.
    async fn deliveries(&self) -> Vec<DeliveryObject> {
        self.0.deliveries.iter().map(DeliveryObject::from).collect()
    }
}

/// How one consumer stands with an event.
#[derive(SimpleObject)]
#[graphql(name = "EventDelivery")]
pub struct DeliveryObject {
    /// The consuming service.
    pub consumer: String,
    /// Handled, waiting, dead-lettered, or unknown (the service did not answer).
    pub state: DeliveryState,
    /// When it was handled (UTC).
    pub handled_at: Option<DateTime<Utc>>,
}

impl From<&Delivery> for DeliveryObject {
    fn from(d: &Delivery) -> Self {
        DeliveryObject {
            consumer: d.consumer.clone(),
            state: d.state,
            handled_at: d.handled_at,
        }
    }
}

/// What a replay did.
#[derive(SimpleObject)]
#[graphql(name = "SagaReplay")]
pub struct ReplayObject {
    /// A parked outbox row of the event was put back in line.
    pub unparked: bool,
    /// Dead-lettered copies sent back to the service's consumer.
    pub redelivered: i32,
}

impl From<events::trail::Replayed> for ReplayObject {
    fn from(r: events::trail::Replayed) -> Self {
        ReplayObject {
            unparked: r.unparked,
            redelivered: i32::try_from(r.redelivered).unwrap_or(i32::MAX),
        }
    }
}
