//! Lists and replays dead-lettered events.
//!
//! ```text
//! events-dlq list <service> [limit]      show up to `limit` (default 20) messages
//! events-dlq replay <service> [event-id] republish all (or one) to the events exchange
//! events-dlq declare                      declare the exchanges and queues (idempotent)
//! events-dlq provision                    create or update each service's own broker
//!                                         user with least privilege (see below)
//! events-dlq outbox list <database-url>   show the parked events of a service's outbox
//! events-dlq outbox retry <database-url> [event-id]
//!                                         put parked events (all, or one) back in line
//! events-dlq delete-prefixed <prefix>     delete the queues and exchanges named on
//!                                         standard input that start with <prefix>
//!                                         (test topologies; never an unprefixed name)
//! ```
//! The broker is `AMQP_URL` (default: the local RabbitMQ); `EVENTS_PREFIX` selects a
//! prefixed topology (tests).
//!
//! `provision` talks to the management API at `RABBITMQ_MANAGEMENT_URL` (default
//! `http://127.0.0.1:15672`) as `RABBITMQ_ADMIN_USER` / `RABBITMQ_ADMIN_PASSWORD`
//! (default guest/guest), on the virtual host `RABBITMQ_VHOST` (default `/`); each
//! service's password comes from `EVENTS_<SERVICE>_PASSWORD`.

use events::permissions::{self, Management};
use events::{dlq, Topology};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let url = std::env::var("AMQP_URL").unwrap_or_else(|_| platform::config::default_amqp_url());
    let topology = Topology::with_prefix(std::env::var("EVENTS_PREFIX").unwrap_or_default());
    let usage = "usage: events-dlq list <service> [limit] | replay <service> [event-id] | declare | provision | delete-prefixed <prefix> | outbox list|retry <database-url> [event-id]";
    match args.first().map(String::as_str) {
        Some("provision") => {
            let env = |name: &str, default: &str| {
                std::env::var(name).unwrap_or_else(|_| default.to_string())
            };
            let management = Management {
                url: env("RABBITMQ_MANAGEMENT_URL", "http://127.0.0.1:15672"),
                user: env("RABBITMQ_ADMIN_USER", "guest"),
                password: env("RABBITMQ_ADMIN_PASSWORD", "guest"),
                vhost: env("RABBITMQ_VHOST", "/"),
            };
            let grants = permissions::grants(&topology);
            permissions::provision(&management, &grants, |service| {
                let var = format!("EVENTS_{}_PASSWORD", service.to_uppercase());
                std::env::var(&var).map_err(|_| anyhow::anyhow!("{var} is not set"))
            })
            .await?;
            for grant in &grants {
                println!("provisioned broker user {}", grant.user);
            }
            return Ok(());
        }
        Some("outbox") => return outbox(&args[1..], usage).await,
        Some("declare") => {
            let conn = events::amqp::connect(&url, "events-declare").await?;
            topology.declare(&conn.create_channel().await?).await?;
            println!("declared {} and the service queues", topology.exchange());
            let _ = conn.close(200, "done".into()).await;
            return Ok(());
        }
        Some("delete-prefixed") => {
            let prefix = args
                .get(1)
                .filter(|p| p.len() >= 2)
                .ok_or_else(|| anyhow::anyhow!(usage))?;
            let conn = events::amqp::connect(&url, "events-cleanup").await?;
            let mut channel = conn.create_channel().await?;
            let mut deleted = 0;
            for line in std::io::stdin().lines() {
                let name = line?.trim().to_string();
                if !name.starts_with(prefix.as_str()) {
                    continue;
                }
                // The name is a queue or an exchange; a failed delete closes the
                // channel, so open another for the next attempt.
                if channel
                    .queue_delete(name.clone().into(), Default::default())
                    .await
                    .is_err()
                {
                    channel = conn.create_channel().await?;
                }
                if channel
                    .exchange_delete(name.into(), Default::default())
                    .await
                    .is_err()
                {
                    channel = conn.create_channel().await?;
                }
                deleted += 1;
            }
            println!("deleted {deleted} test queue(s) and exchange(s)");
            return Ok(());
        }
        _ => {}
    }
    let (command, service) = match (args.first(), args.get(1)) {
        (Some(c), Some(s)) => (c.as_str(), s.as_str()),
        _ => anyhow::bail!(usage),
    };
    if Topology::keys_of(service).is_empty() {
        anyhow::bail!("{service} consumes no events; known: products, orders, payments");
    }
    let conn = events::amqp::connect(&url, "events-dlq").await?;
    // Idempotent: makes sure the queues exist even before any service ran.
    topology.declare(&conn.create_channel().await?).await?;
    match command {
        "list" => {
            let limit = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(20);
            let letters = dlq::list(&conn, &topology, service, limit).await?;
            for letter in &letters {
                match &letter.event {
                    Some(e) => println!(
                        "{}  {}  from {} at {}",
                        e.id, e.kind, e.source, e.occurred_at
                    ),
                    None => println!(
                        "(not an event)  {} bytes on {}",
                        letter.body.len(),
                        letter.routing_key
                    ),
                }
            }
            println!("{} message(s)", letters.len());
        }
        "replay" => {
            let only = args.get(2).map(|s| s.parse()).transpose()?;
            let n = dlq::replay(&conn, &topology, service, only).await?;
            println!("replayed {n} event(s)");
        }
        _ => anyhow::bail!(usage),
    }
    let _ = conn.close(200, "done".into()).await;
    Ok(())
}

/// `outbox list|retry <database-url> [event-id]`: parked outbox events.
async fn outbox(args: &[String], usage: &str) -> anyhow::Result<()> {
    let (Some(command), Some(url)) = (args.first(), args.get(1)) else {
        anyhow::bail!("{usage}");
    };
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await?;
    let outbox = events::outbox::PgOutbox::new(pool);
    match command.as_str() {
        "list" => {
            let parked = outbox.parked(1000).await?;
            for e in &parked {
                println!(
                    "{}  {}  {} attempts, parked at {}: {}",
                    e.id,
                    e.routing_key,
                    e.attempts,
                    e.parked_at,
                    e.last_error.as_deref().unwrap_or("-")
                );
            }
            println!("{} parked event(s)", parked.len());
        }
        "retry" => {
            let only = args.get(2).map(|s| s.parse()).transpose()?;
            let n = outbox.unpark(only).await?;
            println!("{n} event(s) back in line");
        }
        _ => anyhow::bail!("{usage}"),
    }
    Ok(())
}
