//! The checks the real tools can make offline on this machine (no Docker engine,
//! no Kong): `deck validate`, `docker-compose config`, and the supergraph check.

use std::process::Command;

use e2e::repo_root;

fn run(program: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(program)
        .args(args)
        .current_dir(repo_root())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} (scripts/test installs it): {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn deck_validates_the_kong_config() {
    let (ok, out) = run("deck", &["validate", "-s", "kong/kong.yml"]);
    assert!(ok, "deck validate failed:\n{out}");
}

#[test]
fn docker_compose_accepts_compose_yml() {
    let env = crate::deployment::compose_env_file();
    let env = env.to_string_lossy();
    let (ok, out) = run(
        "docker-compose",
        &["--env-file", &env, "-f", "compose.yml", "config", "-q"],
    );
    assert!(ok, "docker-compose config failed:\n{out}");
}
