//! The services orders calls: products, for price quotes.

pub mod products;
