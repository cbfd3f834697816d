//! The users service's integration tests: one binary, each test on its own
//! fresh PostgreSQL database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod accounts;
mod admin;
mod helpers;
mod query_count;
mod rest;
mod schema;
mod throttle;
mod tokens;
