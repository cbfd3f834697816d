//! Runs the users service: `USERS_*` variables configure it.

use users::config::Config;
use users::startup::Service;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _telemetry = platform::telemetry::init("users");
    let config: Config = platform::config::load("USERS")?;
    Service::build(config).await?.run_until_stopped().await?;
    Ok(())
}
