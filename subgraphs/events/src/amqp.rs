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

/// The AMQP properties of an envelope: persistent, JSON, `message_id` = event id,
/// `type` = routing key, correlation id and trace context as headers.
pub fn properties(envelope: &RawEnvelope) -> BasicProperties {
    let mut headers = FieldTable::default();
    if let Some(id) = &envelope.correlation_id {
        headers.insert(
            CORRELATION_HEADER.into(),
            AMQPValue::LongString(id.clone().into()),
        );
    }
    if let Some(tp) = &envelope.traceparent {
        headers.insert(
            TRACEPARENT_HEADER.into(),
            AMQPValue::LongString(tp.clone().into()),
        );
    }
    let mut props = BasicProperties::default()
        .with_content_type("application/json".into())
        .with_delivery_mode(2)
        .with_message_id(envelope.id.to_string().into())
        .with_type(envelope.kind.clone().into())
        .with_app_id(envelope.source.clone().into())
        .with_timestamp(envelope.occurred_at.timestamp().max(0) as u64)
        .with_headers(headers);
    if let Some(id) = &envelope.correlation_id {
        props = props.with_correlation_id(ShortString::from(id.clone()));
    }
    props
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
