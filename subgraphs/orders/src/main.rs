//! Runs the orders service: `ORDERS_*` variables configure it.

use orders::config::Config;
use orders::startup::Service;

/// mimalloc, as users and the router (README "Performance").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _telemetry = platform::telemetry::init("orders");
    let config: Config = platform::config::load("ORDERS")?;
    Service::build(config).await?.run_until_stopped().await?;
    Ok(())
}
