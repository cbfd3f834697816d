//! The products service's integration tests: one binary, each test on its own
//! fresh PostgreSQL database (and, for the store contract, its own MongoDB
//! database when `MONGODB_URL` is set).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admin;
mod browse;
mod contract;
mod entities;
mod helpers;
mod query_count;
mod rest;
mod saga;
mod schema;
mod seed;
