//! Subscription clients, as a frontend would use them: GraphQL over
//! Server-Sent Events (`testkit::SseSubscription`) and over
//! WebSocket (graphql-transport-ws).

pub use testkit::SseSubscription;

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

/// One subscription over WebSocket (graphql-transport-ws); the token goes in
/// the `connection_init` payload, as browsers cannot set headers on a socket.
pub struct WsSubscription {
    socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    /// Whether the server sent `complete`.
    pub completed: bool,
}

impl WsSubscription {
    /// Connects to `url` (`ws://.../graphql`), initialises and subscribes.
    pub async fn start(url: &str, token: &str, query: &str, variables: Value) -> Self {
        let mut request =
            tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(url)
                .expect("ws url");
        request.headers_mut().insert(
            "sec-websocket-protocol",
            "graphql-transport-ws".parse().expect("header"),
        );
        let (mut socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .expect("ws connect");
        let init = json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {token}")}});
        socket
            .send(Message::text(init.to_string()))
            .await
            .expect("init");
        loop {
            let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
                .await
                .expect("ack in time")
                .expect("open")
                .expect("message");
            if let Message::Text(text) = message {
                let v: Value = serde_json::from_str(&text).expect("json");
                if v["type"] == "connection_ack" {
                    break;
                }
                panic!("expected connection_ack, got {v}");
            }
        }
        let subscribe = json!({"id": "1", "type": "subscribe", "payload": {"query": query, "variables": variables}});
        socket
            .send(Message::text(subscribe.to_string()))
            .await
            .expect("subscribe");
        WsSubscription {
            socket,
            completed: false,
        }
    }

    /// The next response (`next` payload, or an `error` message's errors as
    /// `{"errors": [...]}`), or `None` at `complete`, close or after `wait`.
    pub async fn next(&mut self, wait: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let message = tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .ok()??
                .ok()?;
            let text = match message {
                Message::Text(text) => text,
                Message::Close(_) => return None,
                _ => continue,
            };
            let v: Value = serde_json::from_str(&text).ok()?;
            match v["type"].as_str() {
                Some("next") => return Some(v["payload"].clone()),
                Some("error") => return Some(json!({"errors": v["payload"]})),
                Some("complete") => {
                    self.completed = true;
                    return None;
                }
                Some("ping") => {
                    let _ = self
                        .socket
                        .send(Message::text(json!({"type": "pong"}).to_string()))
                        .await;
                }
                _ => {}
            }
        }
    }
}
