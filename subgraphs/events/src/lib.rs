//! The event side of the platform: the contract every service publishes and
//! consumes ([`envelope`], [`catalogue`]), the AMQP [`topology`], the
//! transactional [`outbox`] and its [`relay`] (publisher confirms), and the
//! [`consumer`] with its inbox, retries and dead-lettering ([`dlq`] lists and
//! replays what was dead-lettered; [`trail`] is one service's part of the saga
//! inspector).
//!
//! Guarantees: an event is written in the same transaction as the state change
//! that caused it and published at least once; a consumer applies it at most
//! once (the inbox), so together every event is applied exactly once.

pub mod amqp;
pub mod catalogue;
pub mod consumer;
pub mod dlq;
pub mod envelope;
pub mod outbox;
pub mod permissions;
pub mod relay;
pub mod topology;
pub mod trail;
pub mod unit_of_work;
pub mod workers;

pub use catalogue::Event;
pub use envelope::{Envelope, EventMeta, RawEnvelope};
pub use topology::Topology;
pub use unit_of_work::UnitOfWork;

/// Migrations for the outbox and inbox tables; a service runs them beside its
/// own (`platform::db::connect_with`).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
