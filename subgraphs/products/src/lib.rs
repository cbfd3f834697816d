//! The products service: the catalogue subgraph (products, categories, stock) over
//! PostgreSQL or MongoDB, with a REST fallback and the internal price quote.

pub mod app;
pub mod config;
pub mod domain;
pub mod error;
pub mod graphql;
pub mod rest;
pub mod saga;
pub mod seed;
pub mod startup;
pub mod stock;
pub mod store;
