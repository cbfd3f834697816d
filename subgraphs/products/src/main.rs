//! Runs the products service: `PRODUCTS_*` variables configure it.

use products::config::Config;

/// mimalloc, as users and the router (README "Performance").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let profile = platform::config::Profile::from_env();
    let _telemetry = platform::telemetry::init(products::config::NAME, profile);
    let config = Config::load(profile)?;
    products::startup::build(config)
        .await?
        .run_until_stopped()
        .await?;
    Ok(())
}
