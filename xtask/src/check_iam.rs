//! `cargo xtask check-iam`: least-privilege rules over the synthesized `*.tf.json` (not the Rust model, so a
//! hand-edited or raw-expression policy is judged too). Each finding reads `env · address · statement · rule · why`.
//!
//! What a function may use is read from its `"//"` property: the stacks write it there as `stacks::uses::DeclaredUses`
//! (JSON) from the same catalog declaration that produced the grants, and this reads it back with the same type.
//! Each action is reported under the first rule it breaks, so one mistake gives one finding.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use anyhow::{bail, Context, Result};
use serde_json::Value;
use stacks::Env;

use crate::synth::parse_env;
use crate::workspace_root;

/// Action globs that are acceptable, with the reason. Empty: nothing in this platform needs one.
pub const ACTION_GLOB_ALLOWLIST: &[(&str, &str)] = &[];

/// Actions AWS does not scope by resource, so `Resource: "*"` is the only possible grant.
pub const RESOURCE_STAR_ALLOWLIST: &[(&str, &str)] = &[
    ("xray:PutTraceSegments", "X-Ray has no resource-level permissions"),
    ("xray:PutTelemetryRecords", "X-Ray has no resource-level permissions"),
    ("cloudwatch:PutMetricData", "scoped by the cloudwatch:namespace condition, not by resource"),
];

/// Prefixes of actions that let a principal gain privileges; never on a Lambda role.
pub const ESCALATION_PREFIXES: &[&str] = &[
    "iam:PassRole",
    "iam:Create",
    "iam:Put",
    "iam:Attach",
    "iam:Update",
    "iam:Add",
    "iam:Set",
    "iam:Delete",
    "iam:Detach",
    "iam:Remove",
    "sts:AssumeRole",
    "lambda:UpdateFunction",
    "lambda:CreateFunction",
    "lambda:AddPermission",
    "lambda:CreateEventSourceMapping",
    "lambda:PutFunction",
];

/// IAM resource types this checker cannot see into; their presence is a finding.
const UNVERIFIABLE_TYPES: &[&str] = &[
    "aws_iam_policy",
    "aws_iam_role_policy_attachment",
    "aws_iam_policy_attachment",
    "aws_iam_user",
    "aws_iam_user_policy",
    "aws_iam_group_policy",
    "aws_iam_role_policies_exclusive",
];

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    pub env: String,
    pub address: String,
    pub statement: String,
    pub rule: &'static str,
    pub why: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} · {} · {} · {} · {}", self.env, self.address, self.statement, self.rule, self.why)
    }
}

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
        findings.extend(check(env.as_str(), &doc));
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

    use crate::workspace_root;

    /// Pinned: its behaviour on plan documents is what this cross-check relies on.
    const CHECKOV: &str = "checkov==3.3.30";

    /// checkov in its own virtualenv, installed on first use.
    fn ensure() -> Result<std::path::PathBuf> {
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
        let canary =
            run_checkov(&bin, &plan_document(&super::inject_bad_statement(first)), &dir.join("canary.plan.json"))?;
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

/// org_profiles' policy with one statement that breaks several rules (`s3:*`, `iam:PassRole` on `*`).
pub fn inject_bad_statement(doc: &Value) -> Value {
    let mut doc = doc.clone();
    let slot = &mut doc["resource"]["aws_iam_role_policy"]["org_profiles"]["policy"];
    if let Some(mut policy) = slot.as_str().and_then(|s| serde_json::from_str::<Value>(s).ok()) {
        if let Some(statements) = policy["Statement"].as_array_mut() {
            statements
                .push(serde_json::json!({"Effect": "Allow", "Action": ["s3:*", "iam:PassRole"], "Resource": "*"}));
        }
        *slot = Value::String(policy.to_string());
    }
    doc
}

/// `"${aws_x.name.attr}"` → `("aws_x", "name", "attr")` when the whole string is one reference.
fn whole_ref(s: &str) -> Option<(&str, &str, &str)> {
    let inner = s.strip_prefix("${")?.strip_suffix('}')?;
    let mut parts = inner.split('.');
    let (ty, name, attr) = (parts.next()?, parts.next()?, parts.next()?);
    (parts.next().is_none() && ty.starts_with("aws_")).then_some((ty, name, attr))
}

fn as_list(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items.iter().filter_map(|i| i.as_str().map(str::to_owned)).collect(),
        _ => Vec::new(),
    }
}

fn blocks<'a>(doc: &'a Value, ty: &str) -> Vec<(&'a str, &'a Value)> {
    doc["resource"][ty].as_object().map(|m| m.iter().map(|(k, v)| (k.as_str(), v)).collect()).unwrap_or_default()
}

use stacks::uses::DeclaredUses as Declared;

/// Every finding for one environment's document.
pub fn check(env: &str, doc: &Value) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut finding = |address: &str, statement: &str, rule: &'static str, why: String| {
        out.push(Finding {
            env: env.to_owned(),
            address: address.to_owned(),
            statement: statement.to_owned(),
            rule,
            why,
        });
    };

    for ty in UNVERIFIABLE_TYPES {
        for (name, _) in blocks(doc, ty) {
            finding(
                &format!("{ty}.{name}"),
                "-",
                "unverifiable-iam",
                format!("{ty} is not allowed: grant through one inline aws_iam_role_policy per function role"),
            );
        }
    }

    // Functions, their roles and declared uses.
    let roles: BTreeSet<&str> = blocks(doc, "aws_iam_role").into_iter().map(|(n, _)| n).collect();
    let mut role_users: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut declared_by_role: BTreeMap<String, Declared> = BTreeMap::new();
    for (name, f) in blocks(doc, "aws_lambda_function") {
        let address = format!("aws_lambda_function.{name}");
        let role =
            f["role"].as_str().and_then(whole_ref).filter(|(ty, r, _)| *ty == "aws_iam_role" && roles.contains(r));
        let Some((_, role_name, _)) = role else {
            finding(
                &address,
                "-",
                "role-not-in-stack",
                "the function's role must be an aws_iam_role of this stack".into(),
            );
            continue;
        };
        role_users.entry(role_name.to_owned()).or_default().push(address.clone());
        match stacks::uses::read(&f["//"]) {
            Some(Ok(d)) => {
                declared_by_role.insert(role_name.to_owned(), d);
            }
            Some(Err(why)) => finding(
                &address,
                "-",
                "undeclared-uses",
                format!("the function's declared uses cannot be read ({why}), so its grants cannot be checked"),
            ),
            None => finding(
                &address,
                "-",
                "undeclared-uses",
                "the function carries no declared uses, so its grants cannot be checked".into(),
            ),
        }
    }

    // Roles: trust policy, one function each.
    for (name, role) in blocks(doc, "aws_iam_role") {
        let address = format!("aws_iam_role.{name}");
        if role.get("managed_policy_arns").is_some() || role.get("inline_policy").is_some() {
            finding(
                &address,
                "-",
                "unverifiable-iam",
                "managed or role-embedded policies are not allowed on function roles".into(),
            );
        }
        match role_users.get(name).map(Vec::len).unwrap_or(0) {
            0 => finding(&address, "-", "orphan-role", "no function uses this role; remove it".into()),
            1 => {}
            n => finding(
                &address,
                "-",
                "shared-role",
                format!("{n} functions share this role: {}", role_users[name].join(", ")),
            ),
        }
        let trust: Option<Value> = role["assume_role_policy"].as_str().and_then(|s| serde_json::from_str(s).ok());
        let statements = trust.as_ref().map(|t| as_statements(&t["Statement"])).unwrap_or_default();
        let ok = statements.len() == 1 && {
            let s = statements[0];
            s["Effect"] == "Allow"
                && as_list(s.get("Action")) == ["sts:AssumeRole"]
                && s["Principal"].as_object().is_some_and(|p| p.len() == 1)
                && as_list(s["Principal"].get("Service")) == ["lambda.amazonaws.com"]
                && s.get("Condition").is_none_or(|c| c.as_object().is_some_and(|m| m.is_empty()))
        };
        if !ok {
            finding(
                &address,
                "trust",
                "trust-policy",
                "the trust policy must be one statement letting only lambda.amazonaws.com assume the role".into(),
            );
        }
    }

    // Inline policies: every statement against the function's declared uses.
    for (name, policy) in blocks(doc, "aws_iam_role_policy") {
        let address = format!("aws_iam_role_policy.{name}");
        let role =
            policy["role"].as_str().and_then(whole_ref).filter(|(ty, _, _)| *ty == "aws_iam_role").map(|(_, r, _)| r);
        let Some(role) = role.filter(|r| role_users.contains_key(*r)) else {
            finding(
                &address,
                "-",
                "role-not-in-stack",
                "the policy must attach to a function role of this stack".into(),
            );
            continue;
        };
        // A role already reported as shared, or whose function declares nothing, has no single declaration to
        // compare with; its finding stands for the policy too.
        if role_users[role].len() > 1 {
            continue;
        }
        let Some(declared) = declared_by_role.get(role) else { continue };
        let declared = Some(declared);
        let parsed: Option<Value> = policy["policy"].as_str().and_then(|s| serde_json::from_str(s).ok());
        let Some(parsed) = parsed else {
            finding(
                &address,
                "-",
                "unparseable-policy",
                "the policy is not a literal JSON document (a raw expression?), so it cannot be checked".into(),
            );
            continue;
        };
        for (i, s) in as_statements(&parsed["Statement"]).into_iter().enumerate() {
            let label = s["Sid"].as_str().map(str::to_owned).unwrap_or_else(|| format!("#{i}"));
            let allow = s["Effect"] == "Allow";
            if !allow {
                continue;
            }
            if s.get("NotAction").is_some() || s.get("NotResource").is_some() {
                finding(
                    &address,
                    &label,
                    "not-action",
                    "NotAction/NotResource with Allow grants everything not listed".into(),
                );
                continue;
            }
            let actions = as_list(s.get("Action"));
            let resources = as_list(s.get("Resource"));
            let star = resources.iter().any(|r| r == "*");
            if star && !actions.iter().all(|a| RESOURCE_STAR_ALLOWLIST.iter().any(|(x, _)| x == a)) {
                finding(
                    &address,
                    &label,
                    "wildcard-resource",
                    "Resource \"*\" for actions AWS scopes by resource".into(),
                );
            }
            let specific: Vec<&String> = resources.iter().filter(|r| *r != "*").collect();
            for action in &actions {
                if action == "*" || action.ends_with(":*") {
                    finding(&address, &label, "wildcard-action", format!("`{action}` grants a whole service"));
                } else if action.contains(['*', '?']) && !ACTION_GLOB_ALLOWLIST.iter().any(|(x, _)| x == action) {
                    finding(
                        &address,
                        &label,
                        "action-glob",
                        format!("`{action}` is a glob that is not in the allowlist"),
                    );
                } else if ESCALATION_PREFIXES.iter().any(|p| action.starts_with(p)) {
                    finding(
                        &address,
                        &label,
                        "privilege-escalation",
                        format!("`{action}` lets the function widen its own or another principal's rights"),
                    );
                } else if action == "logs:CreateLogStream" || action == "logs:PutLogEvents" {
                    let own = declared.map(|d| d.log_group.clone()).filter(|g| !g.is_empty());
                    for r in &specific {
                        let target = whole_ref_prefix(r);
                        if target.is_none() || target != own {
                            finding(
                                &address,
                                &label,
                                "foreign-log-group",
                                format!(
                                    "`{action}` on {r}: only the function's own log group ({}) is allowed",
                                    own.as_deref().unwrap_or("none declared")
                                ),
                            );
                        }
                    }
                } else if action == "secretsmanager:GetSecretValue" {
                    for r in &specific {
                        let target = whole_ref(r).map(|(t, n, _)| format!("{t}.{n}"));
                        let ok = target.as_ref().is_some_and(|t| {
                            t.starts_with("aws_secretsmanager_secret.")
                                && declared.is_some_and(|d| d.secrets.contains(t))
                        });
                        if !ok {
                            finding(
                                &address,
                                &label,
                                "undeclared-secret",
                                format!("`{action}` on {r}, which the function does not declare"),
                            );
                        }
                    }
                } else if action == "s3:GetObject" || action == "s3:PutObject" {
                    for r in &specific {
                        let ok = declared.is_some_and(|d| {
                            d.documents.iter().any(|o| {
                                let allowed = if action == "s3:GetObject" { o.read } else { o.write };
                                allowed && **r == format!("${{{}.arn}}/{}*", o.bucket, o.prefix)
                            })
                        });
                        if !ok {
                            finding(
                                &address,
                                &label,
                                "undeclared-object-access",
                                format!(
                                    "`{action}` on {r}, which is not a prefix the function declares for that access"
                                ),
                            );
                        }
                    }
                } else if action == "kms:Decrypt" {
                    let via_service = s["Condition"]["StringEquals"]["kms:ViaService"].is_string()
                        || s["Condition"]["StringEquals"]["kms:ViaService"].is_array();
                    for r in &specific {
                        let key = whole_ref(r).map(|(t, n, _)| format!("{t}.{n}"));
                        let ok = key.is_some_and(|k| declared.is_some_and(|d| d.keys.contains(&k))) && via_service;
                        if !ok {
                            finding(
                                &address,
                                &label,
                                "undeclared-key",
                                format!("`{action}` on {r}: only a declared key, and only through a service (kms:ViaService)"),
                            );
                        }
                    }
                } else if action.starts_with("xray:") {
                    if !declared.is_some_and(|d| d.tracing) {
                        finding(
                            &address,
                            &label,
                            "undeclared-use",
                            format!("`{action}` but the function does not trace"),
                        );
                    }
                } else {
                    finding(
                        &address,
                        &label,
                        "undeclared-use",
                        format!("`{action}` is not needed by anything the function declares"),
                    );
                }
            }
        }
    }

    // Invoke permissions: API Gateway of this stack only.
    let apis: BTreeSet<&str> = blocks(doc, "aws_apigatewayv2_api").into_iter().map(|(n, _)| n).collect();
    for (name, p) in blocks(doc, "aws_lambda_permission") {
        let address = format!("aws_lambda_permission.{name}");
        if p["principal"] != "apigateway.amazonaws.com" {
            finding(
                &address,
                "-",
                "permission-principal",
                format!("principal {} may invoke the function; only apigateway.amazonaws.com may", p["principal"]),
            );
        }
        if p["action"] != "lambda:InvokeFunction" {
            finding(
                &address,
                "-",
                "permission-action",
                format!("action {} instead of lambda:InvokeFunction", p["action"]),
            );
        }
        let source = p["source_arn"].as_str().unwrap_or("");
        let under_api =
            apis.iter().any(|api| source.starts_with(&format!("${{aws_apigatewayv2_api.{api}.execution_arn}}/")));
        if !under_api {
            finding(
                &address,
                "-",
                "permission-source",
                format!("source_arn `{source}` is not under this API's execution ARN"),
            );
        }
    }
    out.sort();
    out
}

/// `"${aws_x.y.arn}:*"` or `"${aws_x.y.arn}"` → `aws_x.y`.
fn whole_ref_prefix(r: &str) -> Option<String> {
    let trimmed = r.strip_suffix(":*").unwrap_or(r);
    whole_ref(trimmed).filter(|(_, _, attr)| *attr == "arn").map(|(t, n, _)| format!("{t}.{n}"))
}

fn as_statements(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(items) => items.iter().collect(),
        Value::Object(_) => vec![v],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dev() -> Value {
        let text = std::fs::read_to_string(workspace_root().join("build/dev/main.tf.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    fn rules(doc: &Value) -> Vec<(String, &'static str)> {
        check("dev", doc).into_iter().map(|f| (f.address, f.rule)).collect()
    }

    /// Adds a statement to org_profiles' policy.
    fn with_statement(statement: Value) -> Value {
        let mut doc = dev();
        let slot = &mut doc["resource"]["aws_iam_role_policy"]["org_profiles"]["policy"];
        let mut policy: Value = serde_json::from_str(slot.as_str().unwrap()).unwrap();
        policy["Statement"].as_array_mut().unwrap().push(statement);
        *slot = Value::String(policy.to_string());
        doc
    }

    const P: &str = "aws_iam_role_policy.org_profiles";

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

    #[test]
    fn the_canary_statement_is_a_finding_here_too() {
        let rules: Vec<&str> = check("dev", &inject_bad_statement(&dev())).into_iter().map(|f| f.rule).collect();
        assert_eq!(rules, ["privilege-escalation", "wildcard-action", "wildcard-resource"]);
    }

    #[test]
    fn the_real_stacks_have_no_findings() {
        for env in Env::ALL {
            let text = std::fs::read_to_string(workspace_root().join(format!("build/{env}/main.tf.json"))).unwrap();
            let findings = check(env.as_str(), &serde_json::from_str(&text).unwrap());
            assert!(findings.is_empty(), "{env}: {findings:#?}");
        }
    }

    #[test]
    fn one_bad_statement_per_rule_gives_exactly_that_finding() {
        let bucket = "arn:aws:s3:::career-dev-documents/*";
        let cases = [
            (json!({"Effect": "Allow", "Action": "s3:*", "Resource": bucket}), "wildcard-action"),
            (json!({"Effect": "Allow", "Action": ["s3:Get*"], "Resource": bucket}), "action-glob"),
            (json!({"Effect": "Allow", "Action": ["logs:PutLogEvents"], "Resource": "*"}), "wildcard-resource"),
            (
                json!({"Effect": "Allow", "Action": ["iam:PassRole"], "Resource": "arn:aws:iam::123456789012:role/admin"}),
                "privilege-escalation",
            ),
            (
                json!({"Effect": "Allow", "Action": ["sts:AssumeRole"], "Resource": "arn:aws:iam::123456789012:role/admin"}),
                "privilege-escalation",
            ),
            (
                json!({"Effect": "Allow", "Action": ["logs:PutLogEvents"], "Resource": "${aws_cloudwatch_log_group.org_orgs.arn}:*"}),
                "foreign-log-group",
            ),
            (
                json!({"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": "${aws_secretsmanager_secret.okta_api_token.arn}"}),
                "undeclared-secret",
            ),
            (json!({"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": bucket}), "undeclared-object-access"),
            (
                json!({"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": "arn:aws:sqs:us-east-1:123456789012:q"}),
                "undeclared-use",
            ),
            (json!({"Effect": "Allow", "NotAction": ["iam:*"], "Resource": "*"}), "not-action"),
        ];
        for (statement, rule) in cases {
            let doc = with_statement(statement.clone());
            assert_eq!(rules(&doc), [(P.to_owned(), rule)], "{statement}");
        }
        // A Deny statement is never a finding.
        assert!(rules(&with_statement(json!({"Effect": "Deny", "Action": "*", "Resource": "*"}))).is_empty());
    }

    #[test]
    fn roles_permissions_and_unverifiable_policies() {
        let mut doc = dev();
        doc["resource"]["aws_iam_role"]["org_orgs"]["assume_role_policy"] = json!(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#
        );
        assert_eq!(rules(&doc), [("aws_iam_role.org_orgs".to_owned(), "trust-policy")]);

        // Two functions on one role (the other role and its policy removed).
        let mut doc = dev();
        doc["resource"]["aws_lambda_function"]["org_orgs"]["role"] = json!("${aws_iam_role.org_members.arn}");
        doc["resource"]["aws_iam_role"].as_object_mut().unwrap().remove("org_orgs");
        doc["resource"]["aws_iam_role_policy"].as_object_mut().unwrap().remove("org_orgs");
        assert_eq!(rules(&doc), [("aws_iam_role.org_members".to_owned(), "shared-role")]);

        let mut doc = dev();
        doc["resource"]["aws_lambda_permission"]["org_orgs_api"]["principal"] = json!("events.amazonaws.com");
        assert_eq!(rules(&doc), [("aws_lambda_permission.org_orgs_api".to_owned(), "permission-principal")]);
        let mut doc = dev();
        doc["resource"]["aws_lambda_permission"]["org_orgs_api"]["source_arn"] =
            json!("arn:aws:execute-api:us-east-1:*:*/*");
        assert_eq!(rules(&doc), [("aws_lambda_permission.org_orgs_api".to_owned(), "permission-source")]);

        let mut doc = dev();
        doc["resource"]["aws_iam_role_policy"]["org_orgs"]["policy"] =
            json!("${data.aws_iam_policy_document.orgs.json}");
        assert_eq!(rules(&doc), [("aws_iam_role_policy.org_orgs".to_owned(), "unparseable-policy")]);

        let mut doc = dev();
        doc["resource"]["aws_iam_role_policy_attachment"] = json!({"admin": {"role": "${aws_iam_role.org_orgs.name}", "policy_arn": "arn:aws:iam::aws:policy/AdministratorAccess"}});
        assert_eq!(rules(&doc), [("aws_iam_role_policy_attachment.admin".to_owned(), "unverifiable-iam")]);

        let mut doc = dev();
        doc["resource"]["aws_lambda_function"]["org_orgs"].as_object_mut().unwrap().remove("//");
        assert_eq!(rules(&doc), [("aws_lambda_function.org_orgs".to_owned(), "undeclared-uses")]);
        let mut doc = dev();
        doc["resource"]["aws_lambda_function"]["org_orgs"]["//"]["declared_uses"]["anything"] = json!(true);
        assert_eq!(rules(&doc), [("aws_lambda_function.org_orgs".to_owned(), "undeclared-uses")]);
    }

    /// A function that declares a documents prefix may get exactly that access; any other prefix or access is a
    /// finding.
    #[test]
    fn document_access_follows_the_declared_prefix() {
        let declare = |doc: &mut Value, read: bool, write: bool| {
            doc["resource"]["aws_lambda_function"]["org_profiles"]["//"]["declared_uses"]["documents"] =
                json!([{"bucket": "aws_s3_bucket.documents", "prefix": "profiles/", "read": read, "write": write}]);
        };
        let granted = |action: &str, prefix: &str| json!({"Effect": "Allow", "Action": [action], "Resource": format!("${{aws_s3_bucket.documents.arn}}/{prefix}*")});
        let mut doc = with_statement(granted("s3:GetObject", "profiles/"));
        declare(&mut doc, true, false);
        assert!(rules(&doc).is_empty(), "{:?}", rules(&doc));
        let mut doc = with_statement(granted("s3:PutObject", "profiles/"));
        declare(&mut doc, true, false);
        assert_eq!(rules(&doc), [(P.to_owned(), "undeclared-object-access")], "write was not declared");
        let mut doc = with_statement(granted("s3:GetObject", "resumes/"));
        declare(&mut doc, true, true);
        assert_eq!(rules(&doc), [(P.to_owned(), "undeclared-object-access")], "another prefix");
        let key = json!({"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": "${aws_kms_key.platform.arn}"});
        assert_eq!(rules(&with_statement(key)), [(P.to_owned(), "undeclared-key")], "no kms:ViaService");
    }
}
