//! `cargo xtask check-iam`: reads each environment's synthesized `build/<env>/main.tf.json` (hand edits included)
//! and reports what `stacks::iam_check` finds there, the least-privilege rules held against the catalog; with
//! `--cross-check`, checkov's full check set over a plan document of the same stacks, every failure covered by a
//! written suppression and a canary that must fail.

use anyhow::{bail, Context, Result};
use serde_json::Value;
use stacks::iam_check::check;
use stacks::Env;

use crate::workspace_root;

/// checkov, in its own virtualenv (installed on first use).
pub fn checkov() -> Result<std::path::PathBuf> {
    checkov::ensure()
}
use xtask_synth::parse_env;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The environment to check (default: all four).
    #[arg(value_parser = parse_env)]
    env: Option<Env>,
    /// Also run checkov's full check set (installed in its own virtualenv under target/tools) over the same stacks
    /// and fail on any failed check that xtask/checkov-suppressions.txt does not cover (`CHECK_ID RESOURCES reason`).
    #[arg(long)]
    cross_check: bool,
}

impl Args {
    /// Every environment, with the checkov cross-check (the test command).
    pub fn all_with_cross_check() -> Args {
        Args { env: None, cross_check: true }
    }
}

pub fn run(args: &Args) -> Result<()> {
    let envs: Vec<Env> = args.env.map(|e| vec![e]).unwrap_or_else(|| Env::ALL.to_vec());
    let mut findings = Vec::new();
    let mut docs = Vec::new();
    for env in &envs {
        let path = workspace_root().join("build").join(env.as_str()).join("main.tf.json");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}: run `cargo xtask synth {env}` first", path.display()))?;
        let doc: Value = serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
        findings.extend(check(*env, &doc));
        docs.push((env.as_str(), doc));
    }
    for f in &findings {
        println!("{f}");
    }
    if !findings.is_empty() {
        bail!(
            "{} IAM finding(s): fix the stack (or the hand edit) so each function is granted only what it declares",
            findings.len()
        );
    }
    let names: Vec<&str> = envs.iter().map(|e| e.as_str()).collect();
    println!("check-iam: {}: no findings", names.join(", "));
    if args.cross_check {
        crate::util::step("checkov, full check set over a plan document of each environment", || {
            checkov::cross_check(&docs)
        })?;
    }
    Ok(())
}

/// The same stacks through checkov's full check set, over a plan document (checkov runs its IAM checks only on
/// Terraform plan JSON, not on `*.tf.json`). Every failed check must be covered by a suppression that names the
/// check, the resources and the reason; a suppression that covers nothing any more is an error too.
mod checkov {
    use std::path::Path;
    use std::process::Command;

    use anyhow::{bail, Context, Result};
    use serde_json::{json, Value};

    use stacks::iam_check::inject_bad_statement;

    use crate::workspace_root;

    /// Pinned: its behaviour on plan documents is what this cross-check relies on.
    const CHECKOV: &str = "checkov==3.3.30";

    /// checkov in its own virtualenv, installed on first use.
    pub(crate) fn ensure() -> Result<std::path::PathBuf> {
        crate::util::python_tool("checkov", CHECKOV, "checkov")
    }

    /// A minimal plan document (`terraform_version` + `planned_values`) with every resource's configured values.
    pub fn plan_document(doc: &Value) -> Value {
        let mut resources = Vec::new();
        for (ty, by_name) in doc["resource"].as_object().into_iter().flatten() {
            for (name, block) in by_name.as_object().into_iter().flatten() {
                let mut values = block.clone();
                if let Some(m) = values.as_object_mut() {
                    for meta in ["//", "depends_on", "lifecycle", "provider"] {
                        m.remove(meta);
                    }
                }
                resources.push(json!({
                    "address": format!("{ty}.{name}"),
                    "mode": "managed",
                    "type": ty,
                    "name": name,
                    "provider_name": "registry.terraform.io/hashicorp/aws",
                    "schema_version": 0,
                    "values": values,
                }));
            }
        }
        json!({
            "format_version": "1.2",
            "terraform_version": "1.11.4",
            "planned_values": { "root_module": { "resources": resources } },
        })
    }

    /// One accepted failure: a check, the resources it covers (addresses; a trailing `*` matches a prefix; an `env:`
    /// prefix limits an entry to one environment) and why.
    #[derive(Debug)]
    pub struct Suppression {
        pub check: String,
        pub resources: Vec<String>,
        pub reason: String,
    }

    impl Suppression {
        pub fn covers(&self, check: &str, env: &str, resource: &str) -> bool {
            self.check == check
                && self.resources.iter().any(|r| {
                    let r = match r.split_once(':') {
                        Some((only, rest)) if only == env => rest,
                        Some(_) => return false,
                        None => r.as_str(),
                    };
                    match r.strip_suffix('*') {
                        Some(prefix) => resource.starts_with(prefix),
                        None => resource == r,
                    }
                })
        }
    }

    /// xtask/checkov-suppressions.txt: `CHECK_ID RESOURCES reason`, RESOURCES comma-separated.
    pub fn parse_suppressions(text: &str, file: &str) -> Result<Vec<Suppression>> {
        let mut out = Vec::new();
        for (n, line) in text.lines().enumerate().map(|(n, l)| (n + 1, l.trim())) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut parts = line.splitn(3, char::is_whitespace);
            let (check, resources, reason) = (parts.next(), parts.next(), parts.next().map(str::trim));
            match (check, resources, reason) {
                (Some(check), Some(resources), Some(reason)) if check.starts_with("CKV") && !reason.is_empty() => {
                    out.push(Suppression {
                        check: check.to_owned(),
                        resources: resources.split(',').map(str::to_owned).collect(),
                        reason: reason.to_owned(),
                    });
                }
                _ => bail!(
                    "{file}:{n}: expected `CHECK_ID RESOURCES reason` (e.g. `CKV_AWS_117 aws_lambda_function.* nothing private to reach`), got `{line}`"
                ),
            }
        }
        Ok(out)
    }

    fn suppressions() -> Result<Vec<Suppression>> {
        let path = workspace_root().join("xtask/checkov-suppressions.txt");
        let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        parse_suppressions(&text, &path.display().to_string())
    }

    /// One checkov run's results.
    struct Report {
        /// `(check id, resource)` of each failed check.
        failed: Vec<(String, String)>,
        passed: usize,
        /// Passed checks on IAM resources (a report without any means the plan was not read as a plan).
        iam_passed: usize,
    }

    /// Every check of checkov's full set over one plan document.
    fn run_checkov(bin: &Path, plan: &Value, file: &Path) -> Result<Report> {
        std::fs::create_dir_all(file.parent().unwrap_or(Path::new(".")))?;
        std::fs::write(file, serde_json::to_string_pretty(plan)?)?;
        let out = Command::new(bin)
            .args(["--compact", "--framework", "terraform_plan", "--output", "json", "--skip-download", "-f"])
            .arg(file)
            .output()
            .with_context(|| format!("cannot run {}", bin.display()))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let report: Value = serde_json::from_str(&text).with_context(|| {
            format!("checkov did not print a JSON report: {}", String::from_utf8_lossy(&out.stderr))
        })?;
        let reports = match report {
            Value::Array(items) => items,
            single => vec![single],
        };
        let mut result = Report { failed: Vec::new(), passed: 0, iam_passed: 0 };
        for r in &reports {
            for check in r["results"]["failed_checks"].as_array().into_iter().flatten() {
                let resource = check["resource"].as_str().unwrap_or_default().to_owned();
                result.failed.push((check["check_id"].as_str().unwrap_or_default().to_owned(), resource));
            }
            let passed = r["results"]["passed_checks"].as_array().map(Vec::as_slice).unwrap_or_default();
            result.passed += passed.len();
            result.iam_passed +=
                passed.iter().filter(|c| c["resource"].as_str().is_some_and(|r| r.starts_with("aws_iam"))).count();
        }
        Ok(result)
    }

    /// Counts per environment, for the report (README's security section quotes them).
    pub fn cross_check(docs: &[(&str, Value)]) -> Result<()> {
        let bin = ensure()?;
        let suppressions = suppressions()?;
        let dir = crate::target_dir().join("check-iam");
        let mut failures = Vec::new();
        let mut used = vec![false; suppressions.len()];
        for (env, doc) in docs {
            let report = run_checkov(&bin, &plan_document(doc), &dir.join(format!("{env}.plan.json")))?;
            if report.iam_passed == 0 {
                bail!("checkov ran no IAM check on {env}: the plan document is not being read as a plan");
            }
            let mut accepted = 0;
            for (check, resource) in &report.failed {
                match suppressions.iter().position(|s| s.covers(check, env, resource)) {
                    Some(i) => {
                        used[i] = true;
                        accepted += 1;
                    }
                    None => failures.push(format!("{env} · {resource} · {check}")),
                }
            }
            println!(
                "    checkov {env}: {} checks passed, {} failed: {accepted} accepted with a written reason, {} not",
                report.passed,
                report.failed.len(),
                report.failed.len() - accepted
            );
        }
        for (s, _) in suppressions.iter().zip(&used).filter(|(_, u)| **u) {
            println!("    accepted {} ({}): {}", s.check, s.resources.join(", "), s.reason);
        }
        // The canary: the same deliberately bad statement the unit tests inject must fail checkov too.
        let (_, first) = docs.first().context("no environment to check")?;
        let canary = run_checkov(&bin, &plan_document(&inject_bad_statement(first)), &dir.join("canary.plan.json"))?;
        let canary_failures: Vec<_> = canary
            .failed
            .iter()
            .filter(|(c, r)| r.starts_with("aws_iam") && !suppressions.iter().any(|s| s.covers(c, "dev", r)))
            .collect();
        if canary_failures.is_empty() {
            bail!(
                "checkov passed a deliberately bad policy (iam:PassRole and s3:* on *): the cross-check is not working"
            );
        }
        println!(
            "    checkov canary: the injected bad policy fails {} IAM check(s), as it must",
            canary_failures.len()
        );
        if !failures.is_empty() {
            bail!(
                "checkov found {} failed check(s) without a suppression:\n{}\nFix the stack, or add `CHECK_ID RESOURCES reason` to xtask/checkov-suppressions.txt if the check does not apply",
                failures.len(),
                failures.join("\n")
            );
        }
        let stale: Vec<&str> =
            suppressions.iter().zip(&used).filter(|(_, u)| !**u).map(|(s, _)| s.check.as_str()).collect();
        if !stale.is_empty() {
            bail!("xtask/checkov-suppressions.txt lists checks that no longer fail: {}; remove them", stale.join(", "));
        }
        Ok(())
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suppressions_name_check_resources_and_reason() {
        let text = "# comment\nCKV_AWS_117 aws_lambda_function.* no VPC needed\nCKV_AWS_338 dev:aws_cloudwatch_log_group.a,aws_s3_bucket.b short\n";
        let s = checkov::parse_suppressions(text, "f").unwrap();
        assert_eq!(s.len(), 2);
        assert!(s[0].covers("CKV_AWS_117", "prd", "aws_lambda_function.org_orgs"));
        assert!(!s[0].covers("CKV_AWS_116", "prd", "aws_lambda_function.org_orgs"));
        assert!(s[1].covers("CKV_AWS_338", "dev", "aws_cloudwatch_log_group.a"));
        assert!(!s[1].covers("CKV_AWS_338", "prd", "aws_cloudwatch_log_group.a"), "limited to dev");
        assert!(s[1].covers("CKV_AWS_338", "prd", "aws_s3_bucket.b"));
        for bad in ["CKV_AWS_117 aws_lambda_function.*", "CKV_AWS_117", "not-a-check x reason"] {
            let err = checkov::parse_suppressions(bad, "f").unwrap_err().to_string();
            assert!(err.contains("expected `CHECK_ID RESOURCES reason`"), "{err}");
        }
    }
}
