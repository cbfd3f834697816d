//! Shared plumbing for every subgraph service: configuration, telemetry, the HTTP
//! bootstrap (GraphQL, GraphiQL, health, graceful shutdown), JWT verification and
//! guards, the error type with its GraphQL and REST mappings, cursor pagination,
//! money, and PostgreSQL pools with migrations.
//!
//! Nothing here knows about a particular service: a service crate depends on this
//! crate (and on `events`), never on another service.

pub mod auth;
pub mod config;
pub mod context;
pub mod db;
pub mod error;
pub mod graphql;
pub mod http;
pub mod input;
pub mod metrics;
pub mod money;
pub mod openapi;
pub mod pagination;
pub mod service;
pub mod telemetry;
pub mod workers;

pub use error::{Error, Result};
pub use money::{Currency, Money};
