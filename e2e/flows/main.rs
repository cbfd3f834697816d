//! End-to-end flows through the router: the four services and the real router,
//! real PostgreSQL and RabbitMQ, only HTTP from the outside.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod browse;
mod checkout;
mod errors;
mod fan_out;
mod faults;
mod hostile_input;
mod inspector;
mod lifecycle;
mod live;
mod logs;
mod metrics;
mod replicas;
mod saga;
mod security;
mod storefront;
mod traces;
