//! The shop's load tool (issue 13): work in progress.

fn main() -> anyhow::Result<()> {
    Ok(())
}
