//! Runs the payments service: `PAYMENTS_*` variables configure it.

use payments::config::Config;

/// mimalloc, as users and the router (README "Performance").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let profile = platform::config::Profile::from_env();
    let _telemetry = platform::telemetry::init(payments::config::NAME, profile);
    let config = Config::load(profile)?;
    payments::startup::build(config)
        .await?
        .run_until_stopped()
        .await?;
    Ok(())
}
