//! The security suite: what an attacker tries after authentication holds,
//! against the running services and router. Run it alone with
//! `cargo nextest run -p e2e --test e2e -E 'test(/security::/)'`.
//!
//! - `sign_in`: password guessing is slowed, then locked (per account and per
//!   address), one request carries one sign-in, and a bad token is refused at
//!   the router before any subgraph.
//! - `cost`: a query over the cost limit is refused before any subgraph.
//! - `trusted_documents`: the production profile runs only the manifest's
//!   operations; development runs any.
//! - `keys`: a rotation invalidates no valid token; an unknown key opens nothing.
//! - `least_privilege`: the whole saga runs with a database role and a broker
//!   user per service, each confined to its own data and events.

mod cost;
mod keys;
mod least_privilege;
mod sign_in;
mod trusted_documents;
