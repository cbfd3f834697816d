//! The payments service: charges orders through a card provider (simulated),
//! refunds them, and extends the supergraph's `Order` with its `payment`.

pub mod app;
pub mod clients;
pub mod config;
pub mod domain;
pub mod error;
pub mod graphql;
pub mod rest;
pub mod saga;
pub mod startup;
pub mod store;
