//! The orders service: carts, orders and the order state machine that drives
//! the saga, extending the supergraph's `User` with `orders`.

pub mod app;
pub mod clients;
pub mod config;
pub mod domain;
pub mod error;
pub mod graphql;
pub mod inspector;
pub mod live;
pub mod rest;
pub mod saga;
pub mod startup;
pub mod store;
