//! Runs the users service: `USERS_*` variables configure it.

use users::config::Config;

/// mimalloc gives memory back to the system (glibc's malloc kept the
/// password hashes' 19 MiB buffers: README "Performance").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let profile = platform::config::Profile::from_env();
    let _telemetry = platform::telemetry::init(users::config::NAME, profile);
    let config = Config::load(profile)?;
    users::startup::build(config)
        .await?
        .run_until_stopped()
        .await?;
    Ok(())
}
