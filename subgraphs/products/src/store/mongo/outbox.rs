//! The relay's view of the `outbox` collection (see [`MongoOutbox`]).

use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use events::outbox::{Claim, OutboxStore, Settlement};
use events::RawEnvelope;
use futures::StreamExt;
use mongodb::bson::{doc, Bson, Document};
use mongodb::change_stream::event::ChangeStreamEvent;
use mongodb::change_stream::ChangeStream;
use mongodb::options::ReturnDocument;
use mongodb::{Collection, Database};
use tokio::sync::Mutex;
use uuid::Uuid;

use super::documents::{bson_date, stored_envelope, INBOX, OUTBOX};

/// The relay's view of the `outbox` collection. Claims take a lease one
/// document at a time (`find_one_and_update` is atomic per document), so
/// relays running side by side never publish the same event concurrently; a
/// crashed relay's documents become claimable when their lease runs out.
/// [`OutboxStore::wait`] watches the collection for inserts (a change stream),
/// polling when change streams are not available.
pub struct MongoOutbox {
    outbox: Collection<Document>,
    inbox: Collection<Document>,
    inserts: Mutex<Inserts>,
}

/// The change stream that wakes [`MongoOutbox::wait`].
#[derive(Default)]
struct Inserts {
    stream: Option<ChangeStream<ChangeStreamEvent<Document>>>,
    /// Whether opening a stream failed already (warned once, then polling).
    failed: bool,
}

impl MongoOutbox {
    /// The outbox of `database`.
    pub fn new(database: &Database) -> Self {
        MongoOutbox {
            outbox: database.collection(OUTBOX),
            inbox: database.collection(INBOX),
            inserts: Mutex::new(Inserts::default()),
        }
    }
}

#[async_trait]
impl OutboxStore for MongoOutbox {
    async fn claim(&self, limit: i64, lease: Duration) -> anyhow::Result<Box<dyn Claim>> {
        let lease = chrono::Duration::from_std(lease)?;
        let mut events = Vec::new();
        while (events.len() as i64) < limit {
            let now = Utc::now();
            let claimed = self
                .outbox
                .find_one_and_update(
                    doc! {
                        "published_at": Bson::Null,
                        "parked_at": Bson::Null,
                        "$or": [
                            { "lease_until": Bson::Null },
                            { "lease_until": { "$lt": bson_date(now) } },
                        ],
                    },
                    doc! {
                        "$set": { "lease_until": bson_date(now + lease) },
                        "$inc": { "attempts": 1 },
                    },
                )
                .sort(doc! { "published_at": 1, "_id": 1 })
                .return_document(ReturnDocument::After)
                .await?;
            let Some(claimed) = claimed else {
                break;
            };
            match stored_envelope(&claimed) {
                Ok(envelope) => events.push(envelope),
                Err(e) => {
                    // Keep it leased, so it is looked at again only after the lease.
                    let id = claimed.get("_id").cloned().unwrap_or(Bson::Null);
                    tracing::error!(event = %id, error = %e, "unreadable outbox document");
                    self.outbox
                        .update_one(
                            doc! { "_id": id },
                            doc! { "$set": { "last_error": format!("unreadable: {e}") } },
                        )
                        .await?;
                }
            }
        }
        Ok(Box::new(MongoClaim {
            outbox: self.outbox.clone(),
            events,
        }))
    }

    async fn wait(&self, timeout: Duration) {
        let mut inserts = self.inserts.lock().await;
        if inserts.stream.is_none() {
            let opened = self
                .outbox
                .watch()
                .pipeline([doc! { "$match": { "operationType": "insert" } }])
                .await;
            match opened {
                Ok(stream) => inserts.stream = Some(stream),
                Err(e) if !inserts.failed => {
                    inserts.failed = true;
                    tracing::warn!(error = %e, "cannot watch the outbox; polling");
                }
                Err(e) => tracing::debug!(error = %e, "cannot watch the outbox; polling"),
            }
        }
        let Some(stream) = inserts.stream.as_mut() else {
            drop(inserts);
            tokio::time::sleep(timeout).await;
            return;
        };
        // The stream keeps a pending fetch across calls, so a timeout loses nothing.
        match tokio::time::timeout(timeout, stream.next()).await {
            Ok(Some(Ok(_))) | Err(_) => {}
            Ok(Some(Err(e))) => {
                tracing::warn!(error = %e, "outbox change stream lost");
                inserts.stream = None;
            }
            Ok(None) => inserts.stream = None,
        }
    }

    async fn prune(&self, age: Duration) -> anyhow::Result<u64> {
        let cutoff = Utc::now() - chrono::Duration::from_std(age)?;
        let done = self
            .outbox
            .delete_many(doc! { "published_at": { "$lt": bson_date(cutoff) } })
            .await?;
        let inbox_cutoff =
            Utc::now() - chrono::Duration::from_std(events::outbox::INBOX_RETENTION)?;
        let inbox = self
            .inbox
            .delete_many(doc! { "processed_at": { "$lt": bson_date(inbox_cutoff) } })
            .await?;
        Ok(done.deleted_count + inbox.deleted_count)
    }

    async fn backlog(&self) -> anyhow::Result<events::outbox::Backlog> {
        let pending = self
            .outbox
            .count_documents(doc! { "published_at": Bson::Null })
            .await?;
        let parked = self
            .outbox
            .count_documents(
                doc! { "published_at": Bson::Null, "parked_at": { "$ne": Bson::Null } },
            )
            .await?;
        let oldest = self
            .outbox
            .find_one(doc! { "published_at": Bson::Null, "parked_at": Bson::Null })
            .sort(doc! { "created_at": 1 })
            .await?
            .and_then(|d| d.get_datetime("created_at").ok().copied());
        let oldest_pending_secs = oldest
            .map(|t| (Utc::now().timestamp_millis() - t.timestamp_millis()) as f64 / 1000.0)
            .unwrap_or(0.0)
            .max(0.0);
        Ok(events::outbox::Backlog {
            pending: i64::try_from(pending).unwrap_or(i64::MAX),
            parked: i64::try_from(parked).unwrap_or(i64::MAX),
            oldest_pending_secs,
        })
    }
}

/// A batch leased by [`MongoOutbox::claim`], settled document by document.
struct MongoClaim {
    outbox: Collection<Document>,
    events: Vec<RawEnvelope>,
}

#[async_trait]
impl Claim for MongoClaim {
    fn events(&self) -> &[RawEnvelope] {
        &self.events
    }

    async fn settle(self: Box<Self>, settlement: Settlement) -> anyhow::Result<Vec<Uuid>> {
        // Document by document: one that cannot be recorded is logged and
        // claimable again after its lease; the others are still recorded.
        mark_published_events(&self.outbox, &settlement.published).await?;
        for (id, error) in &settlement.released {
            if let Err(e) = release_event(&self.outbox, *id, error).await {
                tracing::warn!(event = %id, error = %e, "cannot give the event back");
            }
        }
        let mut parked = Vec::new();
        for d in &settlement.deferred {
            match defer_event(&self.outbox, d.id, &d.error, d.permanent).await {
                Ok(true) => parked.push(d.id),
                Ok(false) => {}
                Err(e) => tracing::warn!(event = %d.id, error = %e, "cannot defer the event"),
            }
        }
        Ok(parked)
    }
}

async fn mark_published_events(outbox: &Collection<Document>, ids: &[Uuid]) -> anyhow::Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = ids.iter().map(Uuid::to_string).collect();
    outbox
        .update_many(
            doc! { "_id": { "$in": ids } },
            doc! { "$set": {
                "published_at": bson_date(Utc::now()),
                "lease_until": Bson::Null,
                "last_error": Bson::Null,
            } },
        )
        .await?;
    Ok(())
}

async fn release_event(outbox: &Collection<Document>, id: Uuid, error: &str) -> anyhow::Result<()> {
    outbox
        .update_one(
            doc! { "_id": id.to_string() },
            doc! { "$set": { "lease_until": Bson::Null, "last_error": error } },
        )
        .await?;
    Ok(())
}

async fn defer_event(
    outbox: &Collection<Document>,
    id: Uuid,
    error: &str,
    permanent: bool,
) -> anyhow::Result<bool> {
    let current = outbox.find_one(doc! { "_id": id.to_string() }).await?;
    let attempts = current
        .and_then(|d| d.get_i32("attempts").ok())
        .unwrap_or(events::outbox::MAX_PUBLISH_ATTEMPTS);
    let park = permanent || attempts >= events::outbox::MAX_PUBLISH_ATTEMPTS;
    let delay = chrono::Duration::from_std(events::outbox::publish_retry_delay(attempts))?;
    let now = Utc::now();
    let parked_at = if park {
        Bson::from(bson_date(now))
    } else {
        Bson::Null
    };
    outbox
        .update_one(
            doc! { "_id": id.to_string() },
            doc! { "$set": {
                "last_error": error,
                "lease_until": bson_date(now + delay),
                "parked_at": parked_at,
            } },
        )
        .await?;
    Ok(park)
}
