//! The unit of work of a service on PostgreSQL: its changes, the events they
//! cause (written to the outbox) and, when it applies a consumed event, that
//! event's inbox record, committed together or not at all. Every use case that
//! announces something and every handler that applies an event goes through
//! one, so no path can change state without its events, or apply an event
//! twice.
//!
//! It dereferences to the transaction, so the store's functions take it as
//! they take a transaction.

use std::ops::{Deref, DerefMut};

use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::catalogue::Event;
use crate::envelope::{EventMeta, RawEnvelope};

/// One transaction of `source` (the service), and what caused it.
pub struct UnitOfWork {
    tx: Transaction<'static, Postgres>,
    source: &'static str,
    cause: EventMeta,
}

impl UnitOfWork {
    /// A unit of work started by a request (its events carry the request's
    /// correlation id and trace).
    pub async fn begin(pool: &PgPool, source: &'static str) -> sqlx::Result<UnitOfWork> {
        Ok(UnitOfWork {
            tx: pool.begin().await?,
            source,
            cause: EventMeta::default(),
        })
    }

    /// A unit of work applying `event` for `source`, or `None` when the inbox
    /// says it was applied already. The events it publishes are caused by
    /// `event` (its correlation id, trace and id as their causation).
    pub async fn applying(
        pool: &PgPool,
        source: &'static str,
        event: &RawEnvelope,
    ) -> sqlx::Result<Option<UnitOfWork>> {
        let tx = crate::consumer::begin_once(pool, source, event).await?;
        Ok(tx.map(|tx| UnitOfWork {
            tx,
            source,
            cause: EventMeta::caused_by(event),
        }))
    }

    /// [`UnitOfWork::applying`] when there is a cause, else
    /// [`UnitOfWork::begin`] (a use case called by a request or by an event).
    pub async fn caused_by(
        pool: &PgPool,
        source: &'static str,
        cause: Option<&RawEnvelope>,
    ) -> sqlx::Result<Option<UnitOfWork>> {
        match cause {
            Some(event) => Self::applying(pool, source, event).await,
            None => Self::begin(pool, source).await.map(Some),
        }
    }

    /// Writes `payload` to the outbox, to be published once this commits.
    pub async fn publish<P: Event>(&mut self, payload: P) -> platform::Result<Uuid> {
        crate::outbox::enqueue(&mut self.tx, self.source, payload, self.cause.clone()).await
    }

    /// Commits the changes, the events and the inbox record together.
    pub async fn commit(self) -> sqlx::Result<()> {
        self.tx.commit().await
    }

    /// Gives everything up.
    pub async fn rollback(self) -> sqlx::Result<()> {
        self.tx.rollback().await
    }
}

impl Deref for UnitOfWork {
    type Target = Transaction<'static, Postgres>;

    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl DerefMut for UnitOfWork {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}
