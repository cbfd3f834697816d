//! Least privilege on the broker: one RabbitMQ user per service, derived from
//! the topology ([`PUBLISHERS`], [`SUBSCRIPTIONS`]) so the permissions can never
//! drift from what the code publishes and consumes.
//!
//! A service's user may configure nothing (the operator declares the topology),
//! write only to `commerce.events` (and only the routing keys it publishes) and
//! to `commerce.retry` (only its own retry key), and read only its own queue.
//! So a foothold in orders cannot announce a `payment.succeeded`, nor read the
//! payments queue. [`provision`] applies the grants through RabbitMQ's
//! management HTTP API (`events-dlq provision`).

use serde_json::json;

use crate::topology::{Topology, PUBLISHERS, SUBSCRIPTIONS};

/// What one service's broker user may do (RabbitMQ permission regexes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The service, and the user's name under the topology's prefix.
    pub service: &'static str,
    /// The user name: `<prefix><service>`.
    pub user: String,
    /// Resources the user may declare or delete: none.
    pub configure: String,
    /// Exchanges the user may publish to.
    pub write: String,
    /// Queues the user may consume from.
    pub read: String,
    /// Per topic exchange, the routing keys the user may publish.
    pub topics: Vec<(String, String)>,
}

/// Every service's grant under `topology` (services that publish, consume or
/// both).
pub fn grants(topology: &Topology) -> Vec<Grant> {
    PUBLISHERS
        .iter()
        .map(|(service, keys)| {
            let consumes = SUBSCRIPTIONS.iter().any(|(s, _)| s == service);
            Grant {
                service,
                user: format!("{}{service}", topology.prefix()),
                configure: "^$".into(),
                write: any_of([topology.exchange(), topology.retry_exchange()]),
                // Its queue, and its dead letters (the saga inspector lists
                // and replays them).
                read: if consumes {
                    any_of([topology.queue(service), topology.dead_letter_queue(service)])
                } else {
                    "^$".into()
                },
                topics: vec![
                    (
                        topology.exchange(),
                        any_of(keys.iter().map(|k| k.to_string())),
                    ),
                    (
                        topology.retry_exchange(),
                        if consumes {
                            any_of([Topology::retry_key(service)])
                        } else {
                            "^$".into()
                        },
                    ),
                ],
            }
        })
        .collect()
}

/// A regex matching exactly one of `names`.
fn any_of(names: impl IntoIterator<Item = String>) -> String {
    let names: Vec<String> = names.into_iter().map(|n| escape(&n)).collect();
    format!("^({})$", names.join("|"))
}

/// `name` with regex metacharacters escaped (names are letters, digits, `.`,
/// `_` and `-`; escaping every non-alphanumeric is always safe).
fn escape(name: &str) -> String {
    name.chars()
        .flat_map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                vec![c]
            } else {
                vec!['\\', c]
            }
        })
        .collect()
}

/// Where and as whom to apply the grants.
#[derive(Debug, Clone)]
pub struct Management {
    /// The management API's base URL, e.g. `http://127.0.0.1:15672`.
    pub url: String,
    /// An administrator of the broker.
    pub user: String,
    /// Its password.
    pub password: String,
    /// The virtual host the services use.
    pub vhost: String,
}

/// Creates (or updates) each service's user with `password_of(service)` and
/// sets its permissions and topic permissions on `management.vhost`.
pub async fn provision(
    management: &Management,
    grants: &[Grant],
    password_of: impl Fn(&str) -> anyhow::Result<String>,
) -> anyhow::Result<()> {
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()?;
    let vhost = encode(&management.vhost);
    let put = |path: String, body: serde_json::Value| {
        let request = http
            .put(format!(
                "{}/api/{path}",
                management.url.trim_end_matches('/')
            ))
            .basic_auth(&management.user, Some(&management.password))
            .json(&body);
        async move {
            let response = request.send().await?;
            let status = response.status();
            if !status.is_success() {
                let text = response.text().await.unwrap_or_default();
                anyhow::bail!("PUT /api/{path}: {status} {text}");
            }
            Ok(())
        }
    };
    for grant in grants {
        let user = encode(&grant.user);
        put(
            format!("users/{user}"),
            json!({ "password": password_of(grant.service)?, "tags": "" }),
        )
        .await?;
        put(
            format!("permissions/{vhost}/{user}"),
            json!({ "configure": grant.configure, "write": grant.write, "read": grant.read }),
        )
        .await?;
        for (exchange, write) in &grant.topics {
            put(
                format!("topic-permissions/{vhost}/{user}"),
                json!({ "exchange": exchange, "write": write, "read": "^$" }),
            )
            .await?;
        }
    }
    Ok(())
}

/// Deletes the users of `grants` (tests clean up with it); missing ones are fine.
pub async fn remove(management: &Management, grants: &[Grant]) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    for grant in grants {
        http.delete(format!(
            "{}/api/users/{}",
            management.url.trim_end_matches('/'),
            encode(&grant.user)
        ))
        .basic_auth(&management.user, Some(&management.password))
        .send()
        .await?;
    }
    Ok(())
}

/// Percent-encodes a path segment (the default vhost is `/`).
fn encode(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payments_alone_may_announce_payments_and_each_reads_only_its_own_queues() {
        let grants = grants(&Topology::with_prefix("t_x."));
        let payments = grants.iter().find(|g| g.service == "payments");
        let orders = grants.iter().find(|g| g.service == "orders");
        let users = grants.iter().find(|g| g.service == "users");
        let (Some(payments), Some(orders), Some(users)) = (payments, orders, users) else {
            panic!("a grant per publishing service: {grants:?}");
        };
        assert_eq!(
            payments.topics[0],
            (
                "t_x.commerce.events".to_string(),
                r"^(payment\.succeeded|payment\.failed|payment\.refunded)$".to_string()
            )
        );
        assert!(!orders.topics[0].1.contains("payment\\.succeeded"));
        assert_eq!(orders.read, r"^(t_x\.orders\.events|t_x\.orders\.dlq)$");
        assert_eq!(orders.topics[1].1, r"^(orders\.retry)$");
        assert_eq!(users.read, "^$", "users consumes nothing");
        assert!(grants.iter().all(|g| g.configure == "^$"));
        assert_eq!(payments.user, "t_x.payments");
    }

    #[test]
    fn the_default_vhost_is_encoded() {
        assert_eq!(encode("/"), "%2F");
        assert_eq!(encode("t_x.orders"), "t_x.orders");
    }
}
