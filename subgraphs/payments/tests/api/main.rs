//! The payments service's integration tests: one binary, each test on its own
//! fresh PostgreSQL database (and, for the saga, its own exchange and queues).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod charges;
mod entities;
mod helpers;
mod query_count;
mod refunds;
mod rest;
mod saga;
mod schema;
