//! The shop's federation router: hive-router serving `schema/supergraph.graphql`
//! with the configuration in `router.config.yaml` (see the README there), plus
//! two plugins of our own: [`tokens::RefuseBadTokens`] and
//! [`errors::ClientErrors`].
// ntex's middleware types nest deeply.
#![recursion_limit = "256"]

mod errors;
mod tokens;

use hive_router::{
    configure_global_allocator, error::RouterInitError, init_rustls_crypto_provider,
    router_entrypoint, PluginRegistry, RouterGlobalAllocator,
};

configure_global_allocator!();

#[hive_router::main]
async fn main() -> Result<(), RouterInitError> {
    init_rustls_crypto_provider();
    router_entrypoint(
        PluginRegistry::new()
            .register::<tokens::RefuseBadTokens>()
            .register::<errors::ClientErrors>(),
    )
    .await
}
