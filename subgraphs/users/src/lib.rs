//! The users service: accounts, credentials, access and refresh tokens,
//! addresses and roles; the `User` entity of the supergraph.

pub mod app;
pub mod config;
pub mod credentials;
pub mod domain;
pub mod error;
pub mod graphql;
pub mod rest;
pub mod startup;
pub mod store;
