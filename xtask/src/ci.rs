//! `cargo xtask ci`: the one test command (README, `.ci/run`). Every step must pass; none is skipped silently.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::util::{cargo, exec, human, step};
use crate::{services, synth, terraform, workspace_root};

#[derive(Debug, clap::Args)]
pub struct Args {}

#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// Arguments for `cargo test` (e.g. `-p org-module --test database`); default `--workspace`.
    #[arg(last = true)]
    cargo_args: Vec<String>,
}

/// `cargo xtask test`: the services, then `cargo test` with their addresses.
pub fn test(args: &TestArgs) -> Result<()> {
    let root = workspace_root();
    let services = services::Stack::start()?;
    let cargo_args: Vec<String> =
        if args.cargo_args.is_empty() { vec!["--workspace".into()] } else { args.cargo_args.clone() };
    let counts = step("cargo test", || cargo_test(&root, &cargo_args, &services.test_env()))?;
    drop(services);
    println!("test: {} passed, {} failed", counts.passed, counts.failed);
    Ok(())
}

pub fn run(_args: &Args) -> Result<()> {
    let start = Instant::now();
    let root = workspace_root();
    step("tidy: every .rs file opens with a //! paragraph", || tidy(&root))?;
    step("cargo fmt --check", || exec(cargo().current_dir(&root).args(["fmt", "--all", "--", "--check"])))?;
    step("cargo clippy --all-targets -D warnings", || {
        exec(cargo().current_dir(&root).args([
            "clippy",
            "--quiet",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]))
    })?;
    // Real services for the integration tests; dropped (stopped, removed) when this function returns, also on error.
    let services = services::Stack::start()?;
    let counts = step("cargo test --workspace", || cargo_test(&root, &["--workspace".into()], &services.test_env()))?;
    drop(services);
    step("synth --all --check (goldens match)", synth::run_check_all)?;
    crate::check_iam::run(&crate::check_iam::Args::all_with_cross_check())?;
    crate::openapi::run()?;
    crate::fuzz::run(&crate::fuzz::Args::default())?;
    terraform::validate(&terraform::ValidateArgs::all())?;
    crate::new_module::check()?;
    // Builds the Lambda packages first when they are missing (cargo-lambda, arm64), so the size budget is checked too.
    crate::deploy_local::run(&crate::deploy_local::Args::default())?;
    println!("ci: all steps passed in {}", human(start.elapsed()));
    // The closing line: the workspace's test totals.
    println!("ci: {} passed, {} failed", counts.passed, counts.failed);
    Ok(())
}

/// Test totals summed over every test binary.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    pub passed: u64,
    pub failed: u64,
}

/// Runs `cargo test ARGS`, echoing its output, and sums the `test result:` lines.
fn cargo_test(root: &Path, args: &[String], env: &[(&'static str, String)]) -> Result<Counts> {
    let mut child = cargo()
        .current_dir(root)
        .arg("test")
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot start cargo test")?;
    let mut counts = Counts::default();
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines() {
            let line = line?;
            println!("{line}");
            if let Some(rest) = line.strip_prefix("test result: ") {
                counts.passed += number_before(rest, " passed");
                counts.failed += number_before(rest, " failed");
            }
        }
    }
    let status = child.wait()?;
    if !status.success() {
        bail!("cargo test failed ({status}): {} passed, {} failed", counts.passed, counts.failed);
    }
    if counts.passed == 0 {
        bail!("cargo test ran no test");
    }
    Ok(counts)
}

/// `number_before("ok. 17 passed; 0 failed", " passed")` → 17.
fn number_before(text: &str, label: &str) -> u64 {
    text.split(';')
        .find_map(|part| part.trim().trim_start_matches("ok. ").trim_start_matches("FAILED. ").strip_suffix(label))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// House rule: every Rust file starts with a `//!` paragraph saying what it is (and is not).
fn tidy(root: &Path) -> Result<()> {
    let mut missing = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if path.is_dir() {
                if !matches!(name, "target" | ".git" | "build" | "node_modules") {
                    stack.push(path);
                }
            } else if name.ends_with(".rs") {
                let text = std::fs::read_to_string(&path)?;
                if !text.trim_start().starts_with("//!") {
                    missing.push(path.strip_prefix(root).unwrap_or(&path).display().to_string());
                }
            }
        }
    }
    if !missing.is_empty() {
        missing.sort();
        bail!("these files lack a leading //! doc paragraph: {}", missing.join(", "));
    }
    Ok(())
}
