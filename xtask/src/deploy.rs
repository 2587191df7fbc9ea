//! `cargo xtask deploy <env>`: from this commit to a running environment, each step printed with its time.
//!
//! 1. build the reproducible Lambda packages (`cargo xtask build`); where the environment enforces code signing
//!    (prd), the apply uploads and signs them with the stack's profile (`stacks::signing`);
//! 2. synth the environment and `terraform init` its S3 backend;
//! 3. `terraform plan` to a saved plan, summarized by resource type (create, update, replace, destroy); a plan
//!    that destroys or replaces anything holding data ([`DATA_HOLDING`]) is refused without `--allow-data-loss`;
//! 4. migrations: the lint over the new files, then the pending ones applied, before any code that needs them
//!    (the lint is what keeps them safe for the version still running);
//! 5. `terraform apply` of exactly the saved plan (skipped when it changes nothing);
//! 6. the pre-traffic check: each new version is invoked with the catalog's probes (`module_runtime::pre_traffic`:
//!    every route without a token refused, a queue's empty batch, a checking run, the authorizer's denial) before it
//!    takes any traffic; a version that answers one wrongly is not released;
//!    then one CodeDeploy deployment per function whose alias does not serve its newest version (Terraform publishes
//!    versions and never moves an alias after creating it: `lifecycle.ignore_changes`), all started together,
//!    waited on, each reported; CodeDeploy shifts traffic as the environment's configuration says and rolls back
//!    by itself on an alarm;
//! 7. a smoke test: every route called through the deployed API without a token is refused (401), so the API, its
//!    routes and the authorizer's alias answer;
//! 8. the record of what is deployed (commit, versions, deployments, migrations, plan) in the state bucket, which
//!    `cargo xtask deploy status <env>` prints.
//!
//! Run again with nothing changed, every step finds nothing to do and nothing is written. A failed step stops the
//! run, says what it left, and what to run next; a deployment still running from an interrupted run is waited on,
//! not doubled.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use stacks::{Env, Settings, Target};

use crate::aws::Aws;
use crate::terraform::{init, terraform};
use crate::util::{human, step};
use crate::workspace_root;
use xtask_synth::{parse_env, write_if_changed};

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    action: Option<Action>,
    /// The environment to deploy (dev, tst, stg, prd).
    #[arg(value_parser = parse_env)]
    env: Option<Env>,
    /// Apply a plan that destroys or replaces a resource holding data (a bucket, a queue, a key, a secret, a log
    /// group); without it such a plan is refused before anything changes.
    #[arg(long)]
    allow_data_loss: bool,
    /// The environment's database, for its migrations (default: $DATABASE_URL).
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
    /// Deploy without running migrations (when the database is migrated by another road; the record says so).
    #[arg(long, conflicts_with = "database_url")]
    no_migrate: bool,
    /// Stop after the plan and its summary: nothing is migrated, applied or released (a pull request's plan).
    #[arg(long)]
    plan_only: bool,
    /// With --plan-only: also write the plan as pull-request comments into DIR (1.md, 2.md, …), each under GitHub's
    /// limit of 65,536 characters a comment.
    #[arg(long, value_name = "DIR", requires = "plan_only")]
    comments: Option<PathBuf>,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Print the record of the last deploy of an environment: commit, time, each function's version and deployment.
    Status {
        #[arg(value_parser = parse_env)]
        env: Env,
    },
}

/// Resource types whose destruction loses data nothing else holds: refused in a plan without `--allow-data-loss`.
pub const DATA_HOLDING: &[(&str, &str)] = &[
    ("aws_s3_bucket", "its objects (résumés, documents, state)"),
    ("aws_sqs_queue", "the messages in it"),
    ("aws_kms_key", "everything encrypted or signed with it"),
    ("aws_secretsmanager_secret", "the secret's value"),
    ("aws_cloudwatch_log_group", "its logs"),
];

/// Where a deploy goes: AWS, or the emulator of the deploy rehearsal with a CodeDeploy stand-in.
#[derive(Debug, Clone)]
pub enum Place {
    Aws,
    Emulator { endpoint: String, codedeploy: String, dir: PathBuf },
}

/// What a deploy is told.
#[derive(Debug, Clone)]
pub struct Request {
    /// The environment's settings row, or a preview's (`Settings::for_preview`).
    pub settings: Settings,
    pub place: Place,
    pub allow_data_loss: bool,
    /// The database to migrate; `None` with `no_migrate`.
    pub database_url: Option<String>,
    pub build: bool,
    /// How often a deployment is asked how it goes.
    pub poll: Duration,
    /// Stop after the plan (`Some`), writing it as comments into the folder when one is given.
    pub plan_only: Option<Option<PathBuf>>,
}

pub fn run(args: &Args) -> Result<()> {
    if let Some(Action::Status { env }) = &args.action {
        return status(*env);
    }
    let Some(env) = args.env else {
        bail!("which environment? `cargo xtask deploy <dev|tst|stg|prd>` (or `cargo xtask deploy status <env>`)")
    };
    let database_url = match (&args.database_url, args.no_migrate || args.plan_only) {
        (_, true) => None,
        (Some(url), false) => Some(url.clone()),
        (None, false) => Some(std::env::var("DATABASE_URL").map_err(|_| {
            anyhow::anyhow!(
                "no database for {env}'s migrations: pass --database-url postgres://… (or set DATABASE_URL), or \
                 --no-migrate when the database is migrated by another road"
            )
        })?),
    };
    deploy(&Request {
        settings: env.settings(),
        place: Place::Aws,
        allow_data_loss: args.allow_data_loss,
        database_url,
        build: true,
        poll: Duration::from_secs(5),
        plan_only: args.plan_only.then(|| args.comments.clone()),
    })
    .map(drop)
}

/// What a deploy did.
#[derive(Debug, Default)]
pub struct Outcome {
    pub plan: PlanSummary,
    pub applied: bool,
    pub migrations: Vec<String>,
    pub releases: Vec<Released>,
    /// New versions the pre-traffic check refused (each with the probe and the answer); they were not released.
    pub refused: Vec<String>,
}

impl Outcome {
    /// Nothing changed anywhere.
    pub fn nothing(&self) -> bool {
        !self.applied && self.migrations.is_empty() && self.releases.is_empty() && self.refused.is_empty()
    }
}

pub fn deploy(request: &Request) -> Result<Outcome> {
    let start = Instant::now();
    let settings = &request.settings;
    // What messages name: the environment (`dev`) or the preview (`pr-7`), and the command that deploys it again.
    let env = &settings.stage;
    let again = rerun(settings);
    let (dir, aws) = match &request.place {
        Place::Aws => (stage_dir(settings), Aws::from_environment(settings.region)?),
        Place::Emulator { endpoint, codedeploy, dir } => {
            (dir.clone(), Aws::emulated(settings.region, codedeploy, endpoint)?)
        }
    };
    let mut outcome = Outcome::default();
    if request.build {
        step("1. build the Lambda packages (reproducible zips)", || crate::build::run(&crate::build::Args::default()))?;
    }
    step(&format!("2. synth {env} and terraform init (S3 state in {})", settings.backend.bucket), || {
        let target = match &request.place {
            Place::Aws => Target::Aws,
            Place::Emulator { endpoint, .. } => {
                Target::Emulator { endpoint: endpoint.clone(), state: stacks::EmulatorState::S3 }
            }
        };
        synth_into(settings, &target, &dir)?;
        init(&dir, true)
    })?;
    let plan_file = dir.join("release.tfplan");
    let mut refreshed = Value::Null;
    let changes = step("3. terraform plan (saved) and its summary", || {
        let changes = plan(&dir, &plan_file)?;
        let planned = show_json(&dir, Some(&plan_file))?;
        outcome.plan = summarize(&planned);
        refreshed = planned["prior_state"].clone();
        print!("{}", outcome.plan.render());
        if let Some(Some(folder)) = &request.plan_only {
            write_comments(&dir, &plan_file, env, &outcome.plan, folder)?;
        }
        outcome.plan.refuse(request.allow_data_loss)?;
        Ok(changes)
    })?;
    if request.plan_only.is_some() {
        println!("deploy {env} --plan-only: planned in {}; nothing changed", human(start.elapsed()));
        return Ok(outcome);
    }
    if let Some(url) = &request.database_url {
        outcome.migrations = step("4. migrations: lint the new files, apply the pending ones", || {
            crate::migration_lint::run(&crate::db::default_dir())?;
            let applied = crate::db::migrate(url, &crate::db::default_dir())?;
            crate::db::configure(url, settings.env)?;
            println!("    {}", if applied.is_empty() { "database up to date".to_owned() } else { applied.join(", ") });
            Ok(applied)
        })?;
    } else {
        println!("==> 4. migrations: not run (--no-migrate); the record says so");
    }
    if changes {
        step("5. terraform apply (the saved plan)", || {
            let mut cmd = terraform()?;
            cmd.arg(format!("-chdir={}", dir.display()))
                .args(["apply", "-input=false", "-no-color", "-auto-approve"])
                .arg(&plan_file)
                .stdout(std::process::Stdio::null());
            crate::util::exec(&mut cmd).with_context(|| {
                format!(
                    "terraform apply stopped part-way: what it applied stays (the state says what), nothing was \
                     released. Run `{again}` again: it plans from where apply stopped"
                )
            })
        })?;
        outcome.applied = true;
    } else {
        println!("==> 5. terraform apply: the plan changes nothing");
    }
    // The aliases as they are: the state an apply wrote starts from the plan's refreshed state; without an apply the
    // stored state may predate the last release, the plan's refreshed state does not.
    let pending = releases(&if changes { show_json(&dir, None)? } else { refreshed });
    let app = format!("{}-lambda", settings.name_prefix);
    if let Place::Emulator { .. } = request.place {
        step("6. register the CodeDeploy application and groups the synth declares in the stand-in", || {
            register(&aws, settings)
        })?;
    }
    let pending = match (&request.place, pending.is_empty()) {
        (_, true) => pending,
        // The emulator runs no function (moto needs Docker for it): the check is tested against the real handlers
        // (local-api's pre_traffic test) and, with a stand-in invoker, here (deploy::tests).
        (Place::Emulator { .. }, false) => pending,
        (Place::Aws, false) => {
            let checked = step("6. pre-traffic check: each new version answers the catalog's probes", || {
                Ok(pre_traffic_check(&aws, settings, &pending))
            })?;
            outcome.refused = checked.refused;
            checked.passed
        }
    };
    if pending.is_empty() && outcome.refused.is_empty() {
        println!("==> 6. releases: every alias serves its function's newest version");
    } else if !pending.is_empty() {
        outcome.releases = step(&format!("6. release {} function(s) through CodeDeploy", pending.len()), || {
            release_all(&aws, &app, &pending, request.poll)
        })?;
    }
    if outcome.nothing() {
        println!("deploy {env}: nothing to do, nothing changed ({})", human(start.elapsed()));
        return Ok(outcome);
    }
    let smoke = match request.place {
        Place::Emulator { .. } => {
            println!("==> 7. smoke test: not on the emulator (moto does not serve the API's execute-api endpoint)");
            Ok(())
        }
        Place::Aws => {
            step("7. smoke test: through the API, every route without a token is refused", || smoke_test(&aws, &dir))
        }
    };
    step("8. record what is deployed (state bucket)", || record(&aws, settings, &outcome, request))?;
    if let Err(e) = smoke {
        bail!(
            "{e:#}\nThe releases stand (their alarms still watch them; the record says which versions serve). Find \
             why the API refuses or answers wrongly, fix, and run `{again}` again"
        );
    }
    if !outcome.refused.is_empty() {
        bail!(
            "the pre-traffic check refused {} new version(s), which took no traffic (their aliases serve the versions \
             they served):\n  {}\nFix them and run `{again}` again",
            outcome.refused.len(),
            outcome.refused.join("\n  ")
        );
    }
    let failed: Vec<&Released> = outcome.releases.iter().filter(|r| r.status != "Succeeded").collect();
    if !failed.is_empty() {
        let lines: Vec<String> = failed.iter().map(|r| format!("  {}", r.describe())).collect();
        bail!(
            "{} of {} release(s) did not succeed; each was stopped and its alias serves the previous version:\n{}\n\
             The other functions and the infrastructure are deployed (the record says which versions serve). Fix the \
             cause and run `{again}` again: it releases only what does not serve its newest version",
            failed.len(),
            outcome.releases.len(),
            lines.join("\n")
        );
    }
    println!("deploy {env}: done in {}", human(start.elapsed()));
    Ok(outcome)
}

/// Synthesizes `env` for `target` into `dir`: for AWS what `cargo xtask synth <env>` writes (the environment's Okta
/// issuer); for an emulator (the rehearsal, its rename and scaffold plans) the development issuer, its S3 state in
/// the emulator, and the committed lock file.
pub fn synth_into(settings: &Settings, target: &Target, dir: &Path) -> Result<()> {
    let options = match target {
        Target::Aws => stacks::Options::default(),
        Target::Emulator { .. } => stacks::Options { issuer: xtask_synth::dev_issuer(), example: false },
    };
    std::fs::create_dir_all(dir)?;
    write_if_changed(&dir.join("main.tf.json"), &stacks::synth_settings(settings.clone(), target, &options)?.text)?;
    if target.is_emulator() {
        // Each rehearsal's emulator listens on another port: the backend's settings cached by the last init are stale.
        let _ = std::fs::remove_file(dir.join(".terraform/terraform.tfstate"));
    }
    if target.is_emulator() || settings.preview.is_some() {
        crate::terraform::use_lock(&workspace_root().join("build").join(settings.env.as_str()), dir)?;
    }
    Ok(())
}

/// Where a stage's root module is written for AWS: `build/<env>/` (committed), a preview's `build/preview-<name>/`
/// (ignored by git; two levels under the root as every root module, whose package paths are relative to it).
pub fn stage_dir(settings: &Settings) -> PathBuf {
    match settings.preview_name() {
        None => workspace_root().join("build").join(settings.env.as_str()),
        Some(name) => workspace_root().join("build").join(format!("preview-{name}")),
    }
}

/// The command that deploys this stage again.
pub fn rerun(settings: &Settings) -> String {
    match settings.preview_name() {
        None => format!("cargo xtask deploy {}", settings.env),
        Some(name) => format!("cargo xtask preview up {name}"),
    }
}

/// GitHub's limit on a comment's body, in characters.
pub const COMMENT_LIMIT: usize = 65_536;

/// The plan as pull-request comments: the summary, then `terraform show` of the saved plan in a code block, split at
/// line boundaries so that each comment (its heading and fences included) stays under [`COMMENT_LIMIT`].
fn write_comments(dir: &Path, plan: &Path, env: &str, summary: &PlanSummary, folder: &Path) -> Result<()> {
    let out = terraform()?
        .arg(format!("-chdir={}", dir.display()))
        .args(["show", "-no-color"])
        .arg(plan)
        .output()
        .context("cannot run terraform show")?;
    if !out.status.success() {
        bail!("terraform show failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let parts = comments(env, &summary.render(), &String::from_utf8_lossy(&out.stdout), COMMENT_LIMIT);
    let _ = std::fs::remove_dir_all(folder);
    std::fs::create_dir_all(folder)?;
    for (i, part) in parts.iter().enumerate() {
        std::fs::write(folder.join(format!("{}.md", i + 1)), part)?;
    }
    println!("    {} comment(s) in {}", parts.len(), folder.display());
    Ok(())
}

/// Splits a plan into comments of at most `limit` characters.
pub fn comments(env: &str, summary: &str, plan: &str, limit: usize) -> Vec<String> {
    let (head, fence_open, fence_close) = (format!("### terraform plan: {env}"), "```diff\n", "```\n");
    // Room for the heading with its part number ("(part 999 of 999)"), the fences and the summary in the first.
    let overhead = head.chars().count() + 24 + fence_open.len() + fence_close.len();
    let mut bodies: Vec<String> = vec![format!("{summary}\n")];
    let mut current = String::new();
    let budget = |first: bool| limit.saturating_sub(overhead + if first { summary.chars().count() + 1 } else { 0 });
    for line in plan.lines() {
        // A line longer than a whole comment is cut (terraform prints none that long; a huge policy might).
        let line: String = line.chars().take(budget(false).saturating_sub(1)).collect();
        let first = bodies.len() == 1;
        if current.chars().count() + line.chars().count() + 1 > budget(first) {
            let done = std::mem::take(&mut current);
            let last = bodies.len() - 1;
            bodies[last].push_str(&format!("{fence_open}{done}{fence_close}"));
            bodies.push(String::new());
        }
        current.push_str(&line);
        current.push('\n');
    }
    let last = bodies.len() - 1;
    bodies[last].push_str(&format!("{fence_open}{current}{fence_close}"));
    let n = bodies.len();
    bodies
        .into_iter()
        .enumerate()
        .map(|(i, body)| match n {
            1 => format!("{head}\n\n{body}"),
            _ => format!("{head} (part {} of {n})\n\n{body}", i + 1),
        })
        .collect()
}

/// `terraform plan -out`; whether it changes anything.
fn plan(dir: &Path, out: &Path) -> Result<bool> {
    let output = terraform()?
        .arg(format!("-chdir={}", dir.display()))
        .args(["plan", "-input=false", "-no-color", "-detailed-exitcode"])
        .arg(format!("-out={}", out.display()))
        .output()
        .context("cannot run terraform plan")?;
    match output.status.code() {
        Some(0) => Ok(false),
        Some(2) => Ok(true),
        _ => bail!(
            "terraform plan failed; nothing was changed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}

/// `terraform show -json` of a saved plan, or of the state.
fn show_json(dir: &Path, plan: Option<&Path>) -> Result<Value> {
    let mut cmd = terraform()?;
    cmd.arg(format!("-chdir={}", dir.display())).args(["show", "-json"]);
    if let Some(plan) = plan {
        cmd.arg(plan);
    }
    let out = cmd.output().context("cannot run terraform show")?;
    if !out.status.success() {
        bail!("terraform show failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    serde_json::from_slice(&out.stdout).context("terraform show printed no JSON")
}

/// A plan, by resource type, and what it would lose.
#[derive(Debug, Default, PartialEq)]
pub struct PlanSummary {
    /// Per type: created, updated in place, replaced, destroyed.
    pub by_type: BTreeMap<String, [usize; 4]>,
    /// Resources holding data that the plan destroys or replaces, with what would be lost.
    pub losses: Vec<String>,
}

/// Summarizes `terraform show -json <plan>`.
pub fn summarize(plan: &Value) -> PlanSummary {
    let mut summary = PlanSummary::default();
    for change in plan["resource_changes"].as_array().into_iter().flatten() {
        if change["mode"] != "managed" {
            continue;
        }
        let actions: Vec<&str> =
            change["change"]["actions"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        let ty = change["type"].as_str().unwrap_or_default().to_owned();
        let slot = match actions.as_slice() {
            ["create"] => 0,
            ["update"] => 1,
            ["delete", "create"] | ["create", "delete"] => 2,
            ["delete"] => 3,
            _ => continue,
        };
        summary.by_type.entry(ty.clone()).or_default()[slot] += 1;
        if slot >= 2 {
            if let Some((_, what)) = DATA_HOLDING.iter().find(|(t, _)| *t == ty) {
                let verb = if slot == 2 { "replaced" } else { "destroyed" };
                summary
                    .losses
                    .push(format!("{} would be {verb}, losing {what}", change["address"].as_str().unwrap_or(&ty)));
            }
        }
    }
    summary
}

impl PlanSummary {
    /// The table a deploy prints: one line per type with a change, then the totals.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut totals = [0usize; 4];
        for (ty, counts) in &self.by_type {
            let parts: Vec<String> = ["create", "update", "replace", "destroy"]
                .iter()
                .zip(counts)
                .filter(|(_, n)| **n > 0)
                .map(|(what, n)| format!("{n} {what}"))
                .collect();
            out.push_str(&format!("    {ty:45} {}\n", parts.join(", ")));
            for (t, n) in totals.iter_mut().zip(counts) {
                *t += n;
            }
        }
        out.push_str(&format!(
            "    plan: {} to create, {} to update, {} to replace, {} to destroy\n",
            totals[0], totals[1], totals[2], totals[3]
        ));
        out
    }

    /// Refuses a plan that loses data, unless allowed.
    pub fn refuse(&self, allowed: bool) -> Result<()> {
        if self.losses.is_empty() {
            return Ok(());
        }
        if allowed {
            println!("    --allow-data-loss: going on although\n      {}", self.losses.join("\n      "));
            return Ok(());
        }
        bail!(
            "the plan loses data, so nothing was applied:\n  {}\nIf a rename caused it, declare it in the catalog \
             (`renamed:`), which moves instead of replacing. If the loss is intended, run again with --allow-data-loss",
            self.losses.join("\n  ")
        )
    }
}

/// A function whose alias does not serve its newest version.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    pub function: String,
    pub alias: String,
    pub current: String,
    pub target: String,
}

/// From `terraform show -json` of the state: each function with its alias where the two differ.
pub fn releases(state: &Value) -> Vec<Pending> {
    let resources: Vec<&Value> = state["values"]["root_module"]["resources"].as_array().into_iter().flatten().collect();
    let of = |ty: &str| -> BTreeMap<String, &Value> {
        resources
            .iter()
            .filter(|r| r["type"] == ty && r["mode"] == "managed")
            .map(|r| (r["name"].as_str().unwrap_or_default().to_owned(), &r["values"]))
            .collect()
    };
    let functions = of("aws_lambda_function");
    let mut pending = Vec::new();
    for (local, alias) in of("aws_lambda_alias") {
        let Some(function) = functions.get(&local) else { continue };
        let target = function["version"].as_str().unwrap_or_default();
        let current = alias["function_version"].as_str().unwrap_or_default();
        if !target.is_empty() && target != "$LATEST" && current != target {
            pending.push(Pending {
                function: function["function_name"].as_str().unwrap_or_default().to_owned(),
                alias: alias["name"].as_str().unwrap_or_default().to_owned(),
                current: current.to_owned(),
                target: target.to_owned(),
            });
        }
    }
    pending
}

/// Invokes a version of a function (Lambda's Invoke; a stand-in in tests).
pub trait Invoke {
    /// The payload, and whether Lambda reported a function error.
    fn invoke(&self, function: &str, version: &str, event: &Value) -> Result<(Value, bool)>;
}

impl Invoke for Aws {
    fn invoke(&self, function: &str, version: &str, event: &Value) -> Result<(Value, bool)> {
        Aws::invoke(self, function, version, event)
    }
}

/// What the pre-traffic check let through and what it refused.
#[derive(Debug, Default)]
pub struct Checked {
    pub passed: Vec<Pending>,
    pub refused: Vec<String>,
}

/// Invokes each pending function's new version with the catalog's probes (`module_runtime::pre_traffic`) before it
/// takes any traffic; a version that answers one wrongly, or cannot be invoked, is not released.
pub fn pre_traffic_check(invoker: &dyn Invoke, settings: &Settings, pending: &[Pending]) -> Checked {
    let mut checked = Checked::default();
    for p in pending {
        let Some(f) = route_registry::all_functions().find(|f| stacks::names::function_name(settings, f) == p.function)
        else {
            checked.refused.push(format!("{}: not a function of the catalog", p.function));
            continue;
        };
        let probes = module_runtime::pre_traffic::probes(&f);
        let problems: Vec<String> = probes
            .iter()
            .filter_map(|probe| match invoker.invoke(&p.function, &p.target, &probe.event) {
                Ok((payload, failed)) => module_runtime::pre_traffic::judge(probe, &payload, failed).err(),
                Err(e) => Some(format!("{}: cannot invoke: {e:#}", probe.what)),
            })
            .collect();
        match problems.is_empty() {
            true => {
                println!("    {} version {}: {} probe(s) answered right", p.function, p.target, probes.len());
                checked.passed.push(p.clone());
            }
            false => {
                println!("    {} version {}: REFUSED ({})", p.function, p.target, problems.join("; "));
                checked.refused.push(format!("{} version {}: {}", p.function, p.target, problems.join("; ")));
            }
        }
    }
    checked
}

/// The AppSpec of a release (JSON, which CodeDeploy takes as it takes YAML).
pub fn appspec(p: &Pending) -> String {
    json!({
        "version": 0.0,
        "Resources": [{p.function.clone(): {"Type": "AWS::Lambda::Function", "Properties": {
            "Name": p.function, "Alias": p.alias, "CurrentVersion": p.current, "TargetVersion": p.target}}}],
    })
    .to_string()
}

/// A release as it ended.
#[derive(Debug, Clone)]
pub struct Released {
    pub pending: Pending,
    pub deployment: String,
    pub status: String,
    pub error: Option<String>,
    pub rollback: Option<String>,
    pub took: Duration,
}

impl Released {
    pub fn describe(&self) -> String {
        let p = &self.pending;
        let mut line = format!(
            "{}: {} {} (version {} → {}) in {}",
            p.function,
            self.deployment,
            self.status,
            p.current,
            p.target,
            human(self.took)
        );
        if let Some(e) = &self.error {
            line.push_str(&format!(": {e}"));
        }
        if let Some(r) = &self.rollback {
            line.push_str(&format!("; rolled back by {r}"));
        }
        line
    }
}

const ACTIVE: [&str; 5] = ["Created", "Queued", "InProgress", "Baking", "Ready"];

/// Starts one deployment per pending function, then waits on them all.
pub fn release_all(aws: &Aws, app: &str, pending: &[Pending], poll: Duration) -> Result<Vec<Released>> {
    let mut started = Vec::new();
    for p in pending {
        let id = start(aws, app, p)?;
        println!("    {}: {id} started (version {} → {})", p.function, p.current, p.target);
        started.push((p.clone(), id, Instant::now()));
    }
    wait_all(aws, &started, poll)
}

/// Waits on started deployments until each has ended, printing each change of status.
pub fn wait_all(aws: &Aws, started: &[(Pending, String, Instant)], poll: Duration) -> Result<Vec<Released>> {
    let mut done: Vec<Released> = Vec::new();
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    // CodeDeploy ends a deployment by itself (succeeded, or stopped on an alarm and rolled back); the bound here only
    // keeps a lost one from holding the run: an hour covers the slowest configuration (linear, 10 × 1 min) many
    // times over.
    let deadline = Instant::now() + Duration::from_secs(3600);
    while done.len() < started.len() {
        std::thread::sleep(poll);
        for (p, id, began) in started {
            if done.iter().any(|r| &r.deployment == id) {
                continue;
            }
            let info = aws.codedeploy("GetDeployment", &json!({"deploymentId": id}))?["deploymentInfo"].clone();
            let status = info["status"].as_str().unwrap_or("Unknown").to_owned();
            if seen.get(id) != Some(&status) {
                println!("    {}: {id} {status} ({})", p.function, human(began.elapsed()));
                seen.insert(id.clone(), status.clone());
            }
            if ACTIVE.contains(&status.as_str()) && Instant::now() < deadline {
                continue;
            }
            if ACTIVE.contains(&status.as_str()) {
                let _ = aws.codedeploy("StopDeployment", &json!({"deploymentId": id, "autoRollbackEnabled": true}));
            }
            done.push(Released {
                pending: p.clone(),
                deployment: id.clone(),
                status,
                error: info["errorInformation"]["message"]
                    .as_str()
                    .map(|m| format!("{} {m}", info["errorInformation"]["code"].as_str().unwrap_or_default())),
                rollback: info["rollbackInfo"]["rollbackDeploymentId"].as_str().map(str::to_owned),
                took: began.elapsed(),
            });
        }
    }
    for r in &done {
        println!("    {}", r.describe());
    }
    Ok(done)
}

/// Creates a function's deployment; one already running for its group (an interrupted deploy) is waited on first.
fn start(aws: &Aws, app: &str, p: &Pending) -> Result<String> {
    let body = json!({
        "applicationName": app,
        "deploymentGroupName": p.function,
        "revision": {"revisionType": "AppSpecContent", "appSpecContent": {"content": appspec(p)}},
        "description": format!("cargo xtask deploy: {} version {} → {}", p.function, p.current, p.target),
    });
    match aws.codedeploy("CreateDeployment", &body) {
        Ok(answer) => answer["deploymentId"].as_str().map(str::to_owned).context("CreateDeployment answered no id"),
        Err(e) if crate::aws::code(&e) == Some("DeploymentLimitExceededException") => {
            let active = aws.codedeploy(
                "ListDeployments",
                &json!({"applicationName": app, "deploymentGroupName": p.function, "includeOnlyStatuses": ACTIVE}),
            )?;
            let id = active["deployments"][0].as_str().context("no active deployment listed")?.to_owned();
            println!("    {}: {id} is still running (an earlier deploy): waiting on it instead", p.function);
            Ok(id)
        }
        Err(e) => Err(e),
    }
}

/// The emulator holds no CodeDeploy resources (moto's GetApplication answers its time as a string, which the
/// provider cannot read): the application and groups that dev's synth for AWS declares are made in the stand-in,
/// with their configuration and alarms as declared.
fn register(aws: &Aws, settings: &Settings) -> Result<()> {
    let doc: Value = serde_json::from_str(
        &stacks::synth_settings(settings.clone(), &Target::Aws, &stacks::Options::default())?.text,
    )?;
    let resources = &doc["resource"];
    let resolve = |v: &Value| -> String {
        let s = v.as_str().unwrap_or_default();
        // `${aws_cloudwatch_metric_alarm.<local>.alarm_name}` → that alarm's declared name.
        s.strip_prefix("${aws_cloudwatch_metric_alarm.")
            .and_then(|r| r.strip_suffix(".alarm_name}"))
            .and_then(|local| resources["aws_cloudwatch_metric_alarm"][local]["alarm_name"].as_str())
            .unwrap_or(s)
            .to_owned()
    };
    let ok_if_exists = |r: Result<Value>| match r {
        Err(e) if crate::aws::code(&e).is_some_and(|c| c.ends_with("AlreadyExistsException")) => Ok(()),
        other => other.map(drop),
    };
    for app in resources["aws_codedeploy_app"].as_object().into_iter().flat_map(|o| o.values()) {
        ok_if_exists(
            aws.codedeploy("CreateApplication", &json!({"applicationName": app["name"], "computePlatform": "Lambda"})),
        )?;
    }
    let app = format!("{}-lambda", settings.name_prefix);
    let mut count = 0;
    // A nested block is rendered as an object (a list of one in some renderings).
    let block = |v: &Value| -> Value {
        if v.is_array() {
            v[0].clone()
        } else {
            v.clone()
        }
    };
    for g in resources["aws_codedeploy_deployment_group"].as_object().into_iter().flat_map(|o| o.values()) {
        let (alarm_config, rollback) = (block(&g["alarm_configuration"]), block(&g["auto_rollback_configuration"]));
        let alarms: Vec<Value> =
            alarm_config["alarms"].as_array().into_iter().flatten().map(|a| json!({"name": resolve(a)})).collect();
        let name = g["deployment_group_name"].clone();
        if alarms.is_empty() || rollback["enabled"] != true {
            bail!("dev's synth declares {name} without alarms or automatic rollback: {g}");
        }
        ok_if_exists(aws.codedeploy(
            "CreateDeploymentGroup",
            &json!({
                "applicationName": app,
                "deploymentGroupName": name,
                "deploymentConfigName": g["deployment_config_name"],
                "serviceRoleArn": format!("arn:aws:iam::000000000000:role/{}-deploy", name.as_str().unwrap_or_default()),
                "alarmConfiguration": {"enabled": alarm_config["enabled"], "alarms": alarms},
                "autoRollbackConfiguration": {"enabled": rollback["enabled"], "events": rollback["events"]},
                "deploymentStyle": {"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
            }),
        ))?;
        count += 1;
    }
    println!("    {app}: {count} deployment groups");
    Ok(())
}

/// Every route of the catalog, called through the deployed API without a token, must be refused with 401 by the
/// authorizer: the API, its routes and the authorizer's alias answer.
fn smoke_test(aws: &Aws, dir: &Path) -> Result<()> {
    let out = terraform()?
        .arg(format!("-chdir={}", dir.display()))
        .args(["output", "-raw", "api_endpoint"])
        .output()
        .context("cannot run terraform output")?;
    let base = String::from_utf8_lossy(&out.stdout).trim().trim_end_matches('/').to_owned();
    if !out.status.success() || base.is_empty() {
        bail!("the smoke test found no api_endpoint output: {}", String::from_utf8_lossy(&out.stderr));
    }
    let mut wrong = Vec::new();
    let routes: Vec<&route_registry::Route> = route_registry::all_routes().collect();
    for r in &routes {
        let path = module_runtime::pre_traffic::concrete_path(r.path);
        let status = aws.status_of(r.method.as_str(), &format!("{base}{path}"))?;
        if status != 401 {
            wrong.push(format!("{} {path}: {status}", r.method));
        }
    }
    if !wrong.is_empty() {
        bail!(
            "the smoke test failed: routes called without a token answered other than 401:\n  {}",
            wrong.join("\n  ")
        );
    }
    println!("    {base}: {} routes refused without a token (401)", routes.len());
    Ok(())
}

/// Where a stage's deploy records live in the state bucket: `deploys/<env>/`, a preview's under its own prefix (so
/// that `preview down` removes them with it).
fn record_prefix(settings: &Settings) -> String {
    match settings.preview_name() {
        None => format!("deploys/{}/", settings.env),
        Some(name) => format!("{}deploys/", stacks::preview::state_prefix(name)),
    }
}

fn record_key(settings: &Settings) -> String {
    format!("{}latest.json", record_prefix(settings))
}

fn commit() -> (String, bool) {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .current_dir(workspace_root())
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let head = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let dirty = git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    (head, dirty)
}

fn record(aws: &Aws, settings: &Settings, outcome: &Outcome, request: &Request) -> Result<()> {
    let bucket = &settings.backend.bucket;
    let key = record_key(settings);
    let previous: Option<Value> = aws.get_object(bucket, &key)?.and_then(|b| serde_json::from_slice(&b).ok());
    let mut functions: serde_json::Map<String, Value> =
        previous.as_ref().and_then(|p| p["functions"].as_object().cloned()).unwrap_or_default();
    for r in &outcome.releases {
        let serving = if r.status == "Succeeded" { &r.pending.target } else { &r.pending.current };
        functions.insert(
            r.pending.function.clone(),
            json!({"version": serving, "deployment": r.deployment, "status": r.status,
                   "previous": r.pending.current, "error": r.error}),
        );
    }
    let (head, dirty) = commit();
    let at = route_registry::time::rfc3339(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
    );
    let doc = json!({
        "env": settings.stage,
        "commit": head,
        "dirty": dirty,
        "at": at,
        "plan": outcome.plan.by_type.iter().map(|(t, c)| (t.clone(), json!(c))).collect::<serde_json::Map<_, _>>(),
        "applied": outcome.applied,
        "migrations": if request.database_url.is_some() { json!(outcome.migrations) } else { json!("not run (--no-migrate)") },
        "functions": functions,
    });
    let body = serde_json::to_vec_pretty(&doc)?;
    aws.put_object(bucket, &format!("{}history/{at}-{head}.json", record_prefix(settings)), body.clone())?;
    aws.put_object(bucket, &key, body)?;
    println!("    s3://{bucket}/{key}: commit {head}{}", if dirty { " (with uncommitted changes)" } else { "" });
    Ok(())
}

/// `deploy status <env>`.
fn status(env: Env) -> Result<()> {
    let aws = Aws::from_environment(env.settings().region)?;
    print!("{}", status_text(&aws, &env.settings())?);
    Ok(())
}

pub fn status_text(aws: &Aws, settings: &Settings) -> Result<String> {
    let (bucket, key, env) = (&settings.backend.bucket, record_key(settings), &settings.stage);
    let Some(body) = aws.get_object(bucket, &key)? else {
        bail!("{env} has no deploy record in s3://{bucket}/{key}: it was never deployed with `{}`", rerun(settings))
    };
    let doc: Value = serde_json::from_slice(&body).context("the deploy record is not JSON")?;
    let mut out = format!(
        "{env}: commit {}{} deployed at {}; migrations: {}\n",
        doc["commit"].as_str().unwrap_or("?"),
        if doc["dirty"] == true { " (with uncommitted changes)" } else { "" },
        doc["at"].as_str().unwrap_or("?"),
        match &doc["migrations"] {
            Value::Array(a) if a.is_empty() => "none pending".to_owned(),
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "),
            other => other.as_str().unwrap_or("?").to_owned(),
        }
    );
    for (name, f) in doc["functions"].as_object().into_iter().flatten() {
        out.push_str(&format!(
            "  {name:40} version {:>4}  {} {}{}\n",
            f["version"].as_str().unwrap_or("?"),
            f["deployment"].as_str().unwrap_or("?"),
            f["status"].as_str().unwrap_or("?"),
            f["error"].as_str().map(|e| format!(": {e}")).unwrap_or_default()
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
