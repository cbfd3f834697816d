//! The orders service's integration tests: one binary, each test on its own
//! fresh PostgreSQL database. Prices come from a fixed in-memory catalogue
//! behind the service's `Catalog` port; the HTTP adapter to the real products
//! service is exercised by the workspace's end-to-end tests (and here against
//! a closed port).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cart;
mod catalog;
mod checkout;
mod entities;
mod helpers;
mod lifecycle;
mod live;
mod query_count;
mod saga;
mod schema;
