//! Runs the products service: `PRODUCTS_*` variables configure it.

use products::config::Config;
use products::startup::Service;

/// mimalloc, as users and the router (README "Performance").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _telemetry = platform::telemetry::init("products");
    let config: Config = platform::config::load("PRODUCTS")?;
    Service::build(config).await?.run_until_stopped().await?;
    Ok(())
}
