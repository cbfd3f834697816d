//! Connecting to RabbitMQ and moving envelopes in and out of AMQP messages.

use std::time::Duration;

use lapin::options::ConfirmSelectOptions;
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};

use crate::envelope::RawEnvelope;

/// The AMQP header carrying the correlation id.
pub const CORRELATION_HEADER: &str = "x-correlation-id";
/// The AMQP header carrying W3C trace context.
pub const TRACEPARENT_HEADER: &str = "traceparent";

/// Opens a named connection (the name shows in the broker's connection list).
pub async fn connect(url: &str, name: &str) -> lapin::Result<Connection> {
    let props = ConnectionProperties::default().with_connection_name(name.to_string().into());
    Connection::connect(url, props).await
}

/// A channel with publisher confirms enabled.
pub async fn confirm_channel(conn: &Connection) -> lapin::Result<Channel> {
    let channel = conn.create_channel().await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    Ok(channel)
}

/// Backoff between reconnection attempts: 100 ms doubling to 5 s.
pub fn reconnect_delay(attempt: u32) -> Duration {
    let ms = 100u64.saturating_mul(1u64 << attempt.min(6));
    Duration::from_millis(ms.min(5_000))
}

/// Why an envelope cannot become an AMQP message: a name longer than an AMQP
/// short string (255 bytes). Never retried: the event itself is at fault.
#[derive(Debug, thiserror::Error)]
#[error("{field} is longer than 255 bytes ({len} bytes)")]
pub struct PropertyError {
    /// The envelope field.
    pub field: &'static str,
    /// Its length.
    pub len: usize,
}

/// `value` as an AMQP short string, or why not.
pub fn short(field: &'static str, value: &str) -> Result<ShortString, PropertyError> {
    ShortString::try_new(value).map_err(|_| PropertyError {
        field,
        len: value.len(),
    })
}

/// The envelope's correlation id, if it is a valid one (see
/// [`platform::http::is_valid_correlation_id`]); anything else is dropped.
pub fn correlation_id(envelope: &RawEnvelope) -> Option<&str> {
    envelope
        .correlation_id
        .as_deref()
        .filter(|id| platform::http::is_valid_correlation_id(id))
}

/// The envelope's `traceparent`, if it is a valid one.
pub fn traceparent(envelope: &RawEnvelope) -> Option<&str> {
    envelope
        .traceparent
        .as_deref()
        .filter(|tp| platform::http::is_valid_traceparent(tp))
}

/// The AMQP properties of an envelope: persistent, JSON, `message_id` = event id,
/// `type` = routing key, correlation id and trace context as headers (only
/// when valid: no value from outside can make a property too long).
pub fn properties(envelope: &RawEnvelope) -> Result<BasicProperties, PropertyError> {
    let mut headers = FieldTable::default();
    let correlation = correlation_id(envelope);
    if let Some(id) = correlation {
        headers.insert(
            CORRELATION_HEADER.into(),
            AMQPValue::LongString(id.to_string().into()),
        );
    }
    if let Some(tp) = traceparent(envelope) {
        headers.insert(
            TRACEPARENT_HEADER.into(),
            AMQPValue::LongString(tp.to_string().into()),
        );
    }
    let mut props = BasicProperties::default()
        .with_content_type(short("content_type", "application/json")?)
        .with_delivery_mode(2)
        .with_message_id(short("id", &envelope.id.to_string())?)
        .with_type(short("type", &envelope.kind)?)
        .with_app_id(short("source", &envelope.source)?)
        .with_timestamp(envelope.occurred_at.timestamp().max(0) as u64)
        .with_headers(headers);
    if let Some(id) = correlation {
        props = props.with_correlation_id(short("correlation_id", id)?);
    }
    Ok(props)
}

/// A string header of a message, if present.
pub fn header(props: &BasicProperties, name: &str) -> Option<String> {
    let headers = props.headers().as_ref()?;
    match headers.inner().get(name)? {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope() -> RawEnvelope {
        serde_json::from_value(serde_json::json!({
            "id": uuid::Uuid::now_v7(),
            "type": "order.placed",
            "source": "orders",
            "version": 1,
            "occurred_at": "2026-11-26T10:00:00Z",
            "payload": {},
        }))
        .unwrap_or_else(|e| panic!("envelope: {e}"))
    }

    #[test]
    fn an_oversized_or_odd_correlation_id_is_dropped_not_a_panic() {
        let mut e = envelope();
        e.correlation_id = Some("a".repeat(300));
        e.traceparent = Some("not a traceparent".into());
        let props = properties(&e).unwrap_or_else(|e| panic!("{e}"));
        assert!(props.correlation_id().is_none());
        assert!(header(&props, CORRELATION_HEADER).is_none());
        assert!(header(&props, TRACEPARENT_HEADER).is_none());
        e.correlation_id = Some("req-1".into());
        let props = properties(&e).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(header(&props, CORRELATION_HEADER).as_deref(), Some("req-1"));
    }

    #[test]
    fn an_oversized_routing_key_is_an_error_not_a_panic() {
        let mut e = envelope();
        e.kind = "k".repeat(256);
        let err = properties(&e).err().map(|e| e.field);
        assert_eq!(err, Some("type"));
    }
}
