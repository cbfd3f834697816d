//! The envelope every event travels in: its identity, type, version, time,
//! origin and trace context around a typed payload.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::catalogue::Event;

/// Where an event comes from and what caused it: carried from a request or from
/// the event being handled to the events it causes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventMeta {
    /// The id shared by everything one client request set in motion.
    pub correlation_id: Option<String>,
    /// The id of the event that caused this one.
    pub causation_id: Option<Uuid>,
    /// W3C trace context of the cause.
    pub traceparent: Option<String>,
}

impl EventMeta {
    /// The metadata of an event caused by `cause`: same correlation and trace,
    /// causation = the cause's id.
    pub fn caused_by<P>(cause: &Envelope<P>) -> Self {
        EventMeta {
            correlation_id: cause.correlation_id.clone(),
            causation_id: Some(cause.id),
            traceparent: cause.traceparent.clone(),
        }
    }
}

/// An event on the wire. `P` is a typed payload or [`serde_json::Value`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<P = serde_json::Value> {
    /// UUID v7; also the AMQP `message_id` and the inbox key.
    pub id: Uuid,
    /// The routing key, e.g. `order.placed`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The payload's schema version.
    pub version: u32,
    /// When the state change happened (UTC).
    pub occurred_at: DateTime<Utc>,
    /// The service that published it.
    pub source: String,
    /// See [`EventMeta::correlation_id`].
    pub correlation_id: Option<String>,
    /// See [`EventMeta::causation_id`].
    pub causation_id: Option<Uuid>,
    /// See [`EventMeta::traceparent`].
    pub traceparent: Option<String>,
    /// The event itself.
    pub payload: P,
}

/// An envelope whose payload has not been interpreted yet.
pub type RawEnvelope = Envelope<serde_json::Value>;

impl<P: Event> Envelope<P> {
    /// A new envelope for `payload` from `source`. A correlation id or trace
    /// context that is not valid (whatever a caller or a foreign event sent) is
    /// dropped here, so none reaches an outbox, a log or an AMQP property.
    pub fn new(source: &str, payload: P, meta: EventMeta) -> Self {
        let meta = EventMeta {
            correlation_id: meta
                .correlation_id
                .filter(|id| platform::http::is_valid_correlation_id(id)),
            causation_id: meta.causation_id,
            traceparent: meta
                .traceparent
                .filter(|tp| platform::http::is_valid_traceparent(tp)),
        };
        Envelope {
            id: Uuid::now_v7(),
            kind: P::TYPE.to_string(),
            version: P::VERSION,
            occurred_at: Utc::now(),
            source: source.to_string(),
            correlation_id: meta.correlation_id,
            causation_id: meta.causation_id,
            traceparent: meta.traceparent,
            payload,
        }
    }

    /// The same envelope with a JSON payload, as stored in an outbox.
    pub fn into_raw(self) -> Result<RawEnvelope, serde_json::Error> {
        Ok(Envelope {
            id: self.id,
            kind: self.kind,
            version: self.version,
            occurred_at: self.occurred_at,
            source: self.source,
            correlation_id: self.correlation_id,
            causation_id: self.causation_id,
            traceparent: self.traceparent,
            payload: serde_json::to_value(self.payload)?,
        })
    }
}

/// Why an envelope could not be read as a given event.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The envelope names another event type.
    #[error("expected a {expected} event, got {actual}")]
    WrongType {
        /// The type asked for.
        expected: &'static str,
        /// The type found.
        actual: String,
    },
    /// A version this code does not understand.
    #[error("{kind} version {version} is not supported (at most {supported})")]
    UnsupportedVersion {
        /// The event type.
        kind: String,
        /// The version found.
        version: u32,
        /// The newest version this code reads.
        supported: u32,
    },
    /// The payload does not match the type.
    #[error("malformed {kind} payload: {source}")]
    Malformed {
        /// The event type.
        kind: String,
        /// The parse error.
        source: serde_json::Error,
    },
}

impl RawEnvelope {
    /// Reads the payload as `P`, checking type and version.
    pub fn decode<P: Event>(&self) -> Result<Envelope<P>, DecodeError> {
        if self.kind != P::TYPE {
            return Err(DecodeError::WrongType {
                expected: P::TYPE,
                actual: self.kind.clone(),
            });
        }
        if self.version > P::VERSION || self.version == 0 {
            return Err(DecodeError::UnsupportedVersion {
                kind: self.kind.clone(),
                version: self.version,
                supported: P::VERSION,
            });
        }
        let payload = serde_json::from_value(self.payload.clone()).map_err(|source| {
            DecodeError::Malformed {
                kind: self.kind.clone(),
                source,
            }
        })?;
        Ok(Envelope {
            id: self.id,
            kind: self.kind.clone(),
            version: self.version,
            occurred_at: self.occurred_at,
            source: self.source.clone(),
            correlation_id: self.correlation_id.clone(),
            causation_id: self.causation_id,
            traceparent: self.traceparent.clone(),
            payload,
        })
    }
}
