//! The test kit for end-to-end tests: starts the four services (in this
//! process, each on a free port with a fresh database, all on one private
//! exchange of the real RabbitMQ) and the real router (as a child process, on
//! the committed supergraph and config), and talks to the router over HTTP.
//!
//! Each subgraph sits behind a small counting proxy, so a test can see how
//! many requests (and `_entities` requests) the router sent to it.

// A test kit: a failure to set up is a failed test, so it may panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod live;
pub mod processes;
pub mod proxy;
pub mod router;
pub mod shop;
pub mod story;

pub use proxy::Traffic;
pub use router::{repo_root, router_binary, spawn_router, spawn_router_with};
pub use shop::{RunningService, Shop, ShopOptions, ADMIN_EMAIL, ADMIN_PASSWORD};
pub use story::{
    create_product, create_product_in, place_order, register_customer, token, wait_for_status,
};
