//! The two test tiers. The hermetic tier is every test target that needs nothing started: a bare
//! `cargo test --workspace` runs it, on any machine, and it is a green-or-red answer in minutes. The service tier is
//! the test targets that need PostgreSQL and PostgREST: each is declared `test = false` in its package's manifest (so
//! a bare `cargo test` leaves it out, where it would fail for want of a database), and `cargo xtask test` and
//! `cargo xtask ci` run them by name with the services started. Nothing is skipped: a target is in one tier or the
//! other, and the test command runs both.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::util::cargo;

/// A test target of a workspace package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub package: String,
    pub name: String,
    /// Its source file, relative to the workspace root.
    pub source: String,
}

/// The service tier: every `[[test]]` target with `test = false`, in package order.
pub fn service_targets(root: &Path) -> Result<Vec<Target>> {
    Ok(test_targets(root)?.into_iter().filter(|(_, runs_by_default)| !runs_by_default).map(|(t, _)| t).collect())
}

/// Every test target of the workspace with whether a bare `cargo test` runs it.
pub fn test_targets(root: &Path) -> Result<Vec<(Target, bool)>> {
    let out = cargo()
        .current_dir(root)
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .output()
        .context("cannot run cargo metadata")?;
    if !out.status.success() {
        bail!("cargo metadata failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let meta: Value = serde_json::from_slice(&out.stdout).context("cargo metadata printed no JSON")?;
    let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let mut found = Vec::new();
    for package in meta["packages"].as_array().into_iter().flatten() {
        for target in package["targets"].as_array().into_iter().flatten() {
            let is_test = target["kind"].as_array().is_some_and(|k| k.iter().any(|k| k == "test"));
            if !is_test {
                continue;
            }
            let source = target["src_path"].as_str().unwrap_or_default();
            let source = Path::new(source).strip_prefix(&root).unwrap_or(Path::new(source)).display().to_string();
            let t = Target {
                package: package["name"].as_str().unwrap_or_default().to_owned(),
                name: target["name"].as_str().unwrap_or_default().to_owned(),
                source,
            };
            found.push((t, target["test"].as_bool().unwrap_or(true)));
        }
    }
    Ok(found)
}

/// Test totals summed over every test binary.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    pub passed: u64,
    pub failed: u64,
}

impl std::ops::AddAssign for Counts {
    fn add_assign(&mut self, other: Counts) {
        self.passed += other.passed;
        self.failed += other.failed;
    }
}

/// The variables through which the service tier finds the services; the hermetic tier runs without them, so a test
/// that needs a service and sits in the wrong tier fails there instead of passing on a developer's machine.
pub const SERVICE_VARIABLES: &[&str] = &["CAREER_TEST_DATABASE_URL", "CAREER_TEST_POSTGREST_URL", "OKTA_CONTRACT_LOG"];

/// The hermetic tier: `cargo test --workspace`, with no service variable set.
pub fn hermetic(root: &Path) -> Result<Counts> {
    cargo_test(root, &["--workspace".into()], &[])
}

/// The service tier: each service target by name, with the services' variables.
pub fn services(root: &Path, env: &[(&'static str, String)]) -> Result<Counts> {
    let targets = service_targets(root)?;
    if targets.is_empty() {
        bail!("no test target is declared `test = false`: the service tier is empty, which cannot be right");
    }
    let mut args = vec!["--workspace".to_owned()];
    for t in &targets {
        if !args.iter().any(|a| a == &t.name) {
            args.extend(["--test".to_owned(), t.name.clone()]);
        }
    }
    cargo_test(root, &args, env)
}

/// The `--test NAME` arguments that select the service tier, for other cargo commands (clippy lints these targets
/// too, which `--all-targets` leaves out with them).
pub fn service_target_args(root: &Path) -> Result<Vec<String>> {
    let mut args: Vec<String> = Vec::new();
    for t in service_targets(root)? {
        if !args.contains(&t.name) {
            args.extend(["--test".to_owned(), t.name]);
        }
    }
    Ok(args)
}

/// Runs `cargo test ARGS` with `env` (and no other service variable), echoing its output, and sums the
/// `test result:` lines.
pub fn cargo_test(root: &Path, args: &[String], env: &[(&'static str, String)]) -> Result<Counts> {
    let mut cmd = cargo();
    cmd.current_dir(root).arg("test").args(args);
    for v in SERVICE_VARIABLES {
        cmd.env_remove(v);
    }
    let mut child = cmd
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
        return Err(crate::ci::failed_build(format!(
            "cargo test failed ({status}): {} passed, {} failed",
            counts.passed, counts.failed
        )));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_totals_are_read_from_cargo_lines() {
        assert_eq!(number_before("ok. 17 passed; 0 failed; 0 ignored", " passed"), 17);
        assert_eq!(number_before("FAILED. 3 passed; 2 failed; 0 ignored", " failed"), 2);
    }

    /// The service tier is what the manifests declare, and each of its targets reads a service variable (directly or
    /// through its crate's shared test helpers): a target in the wrong tier is caught here or by the hermetic run.
    #[test]
    fn the_service_tier_is_the_targets_that_need_services() {
        let root = crate::workspace_root();
        let all = test_targets(&root).unwrap();
        let service: Vec<&Target> = all.iter().filter(|(_, default)| !default).map(|(t, _)| t).collect();
        assert!(service.iter().any(|t| t.package == "org-module" && t.name == "database"), "{service:?}");
        assert!(service.iter().any(|t| t.package == "local-api" && t.name == "e2e"), "{service:?}");
        let reads_services = |t: &Target| {
            let source = std::fs::read_to_string(root.join(&t.source)).unwrap();
            let helpers = Path::new(&t.source).parent().unwrap().join("common/mod.rs");
            let helpers = std::fs::read_to_string(root.join(helpers)).unwrap_or_default();
            SERVICE_VARIABLES.iter().any(|v| source.contains(v))
                || (source.contains("services()") && SERVICE_VARIABLES.iter().any(|v| helpers.contains(v)))
        };
        for t in &service {
            assert!(
                reads_services(t),
                "{} ({}) is in the service tier but reads no service variable",
                t.name,
                t.package
            );
        }
        for (t, default) in &all {
            if *default {
                assert!(!reads_services(t), "{} ({}) needs services: declare it `test = false`", t.name, t.package);
            }
        }
    }
}
