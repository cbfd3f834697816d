//! Contract tests of the deployment files: what Kong, Docker Compose and the
//! composition tool are given must match what the code really does.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod composition;
mod deployment;
mod kubernetes;
mod observability;
mod offline;
mod openapi;
