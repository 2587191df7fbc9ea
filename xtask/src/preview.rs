//! `cargo xtask preview`: a whole platform per change, made from dev's settings under a name (`pr-7`), isolated from
//! dev and the other previews, costed, and removed without a trace.
//!
//! - `up <name>`: checks the name (never dev, tst, stg or prd: [`PreviewName::parse`]) and the account's limit
//!   (dev's `max_previews`), writes the preview's record first (so a preview that fails halfway is listed and can be
//!   brought down), makes its database (a Supabase branch of dev's project, through the Management API; migrated
//!   from `migrations/` and seeded with the demo data), then deploys it through the same path as
//!   `cargo xtask deploy` (its own state key, names, tags), and prints its API, expiry and idle monthly cost.
//! - `down <name>`: `terraform destroy` of what its state holds (its buckets are emptied: `force_destroy`), then
//!   deletes what Terraform leaves (log groups written after the plan), checks every name the preview deploys
//!   against the account and fails naming anything still there, deletes the database branch and every object under
//!   its prefix of the state bucket (state, lock, records). Safe to run again; works on a half-made preview.
//! - `list`: each preview with its status, age, expiry and monthly cost; `sweep`: `down` for each expired one, and
//!   only those (`up <name> --days N` renews one).
//!
//! Where: AWS with the environment's credentials and `SUPABASE_ACCESS_TOKEN`, or (the rehearsal) the emulator with
//! the CodeDeploy and Supabase stand-ins.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use stacks::preview::{state_prefix, PreviewDatabase};
use stacks::{Env, Preview, PreviewName, Settings, Target};

use crate::aws::Aws;
use crate::deploy::{self, Place};
use crate::supabase::Branches;
use crate::terraform::{init, terraform};
use crate::util::{human, step};

mod rehearsal;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Bring a preview up (or update it): its database branch, migrated and seeded, and the whole platform under its
    /// name, deployed as `cargo xtask deploy` deploys; prints its API URL, expiry and monthly cost.
    Up {
        /// The preview's name: 2-12 lowercase letters, digits and hyphens (e.g. pr-123); never an environment's.
        name: String,
        /// Expire this many days from now (a new preview: 7 days; an existing one keeps its expiry unless given).
        #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(1..=90))]
        days: Option<u32>,
        /// Also write what a pull-request comment says of it (API, expiry, cost, how to remove it) to FILE.
        #[arg(long, value_name = "FILE")]
        comment: Option<PathBuf>,
    },
    /// Remove a preview and everything it made (resources, leftover log groups, database branch, state), then list
    /// what is left of it (nothing, or the command fails naming it).
    Down { name: String },
    /// Every preview of the account: status, age, expiry, monthly cost, API.
    List,
    /// Remove every expired preview, and only those.
    Sweep {
        /// Say which would be removed, remove nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// The preview rehearsal, on the deploy rehearsal's emulator beside dev (`cargo xtask deploy-local` runs it).
    #[command(hide = true)]
    Rehearse {
        #[arg(long)]
        endpoint: String,
        #[arg(long)]
        codedeploy: String,
    },
    /// One `up` of the rehearsal, on its emulator and stand-ins (the rehearsal runs several at once).
    #[command(hide = true)]
    RehearseUp {
        name: String,
        #[arg(long)]
        days: u32,
        #[command(flatten)]
        on: rehearsal::On,
    },
}

pub fn run(args: &Args) -> Result<()> {
    match &args.action {
        Action::Rehearse { endpoint, codedeploy } => return rehearsal::run(endpoint, codedeploy),
        Action::RehearseUp { name, days, on } => return on.previews()?.up(&parse(name)?, Some(*days)).map(drop),
        _ => {}
    }
    let dev = Env::Dev.settings();
    // `list` reads only the state bucket: it needs no Supabase token.
    let branches = match &args.action {
        Action::List => Branches::new("https://api.supabase.com", "", "", Duration::ZERO)?,
        _ => Branches::from_environment(&dev.supabase_url)?,
    };
    let previews = Previews {
        aws: Aws::from_environment(dev.region)?,
        branches,
        emulator: None,
        build: true,
        poll: Duration::from_secs(5),
    };
    match &args.action {
        Action::Up { name, days, comment } => {
            let name = parse(name)?;
            let up = previews.up(&name, *days)?;
            if let Some(file) = comment {
                std::fs::write(file, up.comment(&name)).with_context(|| format!("cannot write {}", file.display()))?;
            }
            Ok(())
        }
        Action::Down { name } => previews.down(&parse(name)?).map(drop),
        Action::List => {
            print!("{}", previews.list_text()?);
            Ok(())
        }
        Action::Sweep { dry_run } => previews.sweep(*dry_run).map(drop),
        Action::Rehearse { .. } | Action::RehearseUp { .. } => unreachable!("handled above"),
    }
}

/// A checked name, or the reason and the fix.
pub fn parse(name: &str) -> Result<PreviewName> {
    PreviewName::parse(name).map_err(|e| anyhow::anyhow!("{e}"))
}

/// Where previews go, and how.
pub struct Previews {
    pub aws: Aws,
    pub branches: Branches,
    /// The emulator's endpoint, the CodeDeploy stand-in's, and a folder holding `build/local-<name>/` for each
    /// preview's root module and `target/lambda/` with the packages they deploy (a copy: the deploy rehearsal beside
    /// rewrites the workspace's packages while it releases).
    pub emulator: Option<(String, String, PathBuf)>,
    pub build: bool,
    pub poll: Duration,
}

/// Where a preview's root module is written for the emulator: `<root>/build/local-<name>/`, two levels under a
/// folder that holds the packages as the workspace does (`target/lambda/`), as every root module's package paths
/// expect.
pub fn emulator_dir(root: &std::path::Path, name: &str) -> PathBuf {
    root.join("build").join(format!("local-{name}"))
}

/// A preview's record in the state bucket (`previews/<name>/preview.json`).
pub fn record_key(name: &PreviewName) -> String {
    format!("{}preview.json", state_prefix(name))
}

/// The branch of a preview's database: named after the preview, so it is found again without the record.
pub fn branch_name(name: &PreviewName) -> String {
    format!("preview-{name}")
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// What `up` did.
#[derive(Debug)]
pub struct Up {
    pub api: String,
    pub expires: String,
    pub monthly_usd: f64,
}

impl Up {
    /// The pull request's comment.
    pub fn comment(&self, name: &PreviewName) -> String {
        format!(
            "### Preview `{name}`\n\n| | |\n|---|---|\n| API | {} |\n| expires | {} (each push renews it for 7 days) |\n\
             | cost | ${:.2} a month while idle (cost model) |\n\nIt shares dev's identity provider and audience: a token \
             that works on dev works here. It comes down when this pull request closes \
             (`cargo xtask preview down {name}`).\n",
            self.api, self.expires, self.monthly_usd
        )
    }
}

impl Previews {
    fn bucket(&self) -> String {
        Env::Dev.settings().backend.bucket
    }

    fn place(&self, name: &PreviewName) -> Place {
        match &self.emulator {
            None => Place::Aws,
            Some((endpoint, codedeploy, root)) => Place::Emulator {
                endpoint: endpoint.clone(),
                codedeploy: codedeploy.clone(),
                dir: emulator_dir(root, name.as_str()),
            },
        }
    }

    fn dir(&self, settings: &Settings) -> PathBuf {
        match &self.emulator {
            None => deploy::stage_dir(settings),
            Some((_, _, root)) => emulator_dir(root, &settings.stage),
        }
    }

    fn target(&self) -> Target {
        match &self.emulator {
            None => Target::Aws,
            Some((endpoint, _, _)) => Target::Emulator { endpoint: endpoint.clone(), state: stacks::EmulatorState::S3 },
        }
    }

    /// Every preview's record, by name.
    pub fn records(&self) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        for key in self.aws.list_objects(&self.bucket(), "previews/")? {
            if key.ends_with("/preview.json") {
                if let Some(body) = self.aws.get_object(&self.bucket(), &key)? {
                    out.push(serde_json::from_slice(&body).with_context(|| format!("{key} is not JSON"))?);
                }
            }
        }
        Ok(out)
    }

    pub fn record(&self, name: &PreviewName) -> Result<Option<Value>> {
        self.aws
            .get_object(&self.bucket(), &record_key(name))?
            .map(|b| serde_json::from_slice(&b))
            .transpose()
            .context("the preview's record is not JSON")
    }

    pub fn write(&self, name: &PreviewName, record: &Value) -> Result<()> {
        self.aws.put_object(&self.bucket(), &record_key(name), serde_json::to_vec_pretty(record)?)
    }

    /// Brings a preview up, or updates it.
    pub fn up(&self, name: &PreviewName, days: Option<u32>) -> Result<Up> {
        let start = Instant::now();
        let dev = Env::Dev.settings();
        let existing = self.record(name)?;
        if existing.is_none() {
            admit(name, &self.records()?, dev.max_previews)?;
        }
        let expires = match (days, &existing) {
            (None, Some(r)) => r["expires"].as_str().unwrap_or_default().to_owned(),
            (days, _) => route_registry::time::rfc3339(now() + u64::from(days.unwrap_or(7)) * 86_400),
        };
        let mut record = existing.clone().unwrap_or_else(
            || json!({"name": name.as_str(), "created": route_registry::time::rfc3339(now()), "status": "creating"}),
        );
        record["expires"] = json!(expires);
        step(
            &format!("1. record {name} in s3://{}/{} (before anything is made)", self.bucket(), record_key(name)),
            || self.write(name, &record),
        )?;
        let database = step("2. its database: a Supabase branch of dev's project, migrated and seeded", || {
            let branch = match self.branches.find(&branch_name(name))? {
                Some(b) => b,
                None => self.branches.create(&branch_name(name))?,
            };
            let reference = branch["project_ref"].as_str().context("the branch has no project_ref")?.to_owned();
            record["branch"] = json!({"id": branch["id"], "ref": reference});
            self.write(name, &record)?;
            let database = self.branches.database(&reference, Duration::from_secs(600))?;
            let applied = crate::db::migrate(&database.url, &crate::db::default_dir())?;
            crate::db::configure(&database.url, Env::Dev)?;
            crate::dev::seed_demo(&database.url, &|_, _, _| None)?;
            println!("    branch {reference}: {} migration(s) applied, demo data seeded", applied.len());
            Ok(database)
        })?;
        let settings = Settings::for_preview(
            Preview { name: name.clone(), expires: expires.clone() },
            Some(PreviewDatabase {
                supabase_url: database.api_url.clone(),
                publishable_key: database.publishable_key.clone(),
            }),
        );
        let request = deploy::Request {
            settings: settings.clone(),
            place: self.place(name),
            allow_data_loss: false,
            // Migrated above, on the branch.
            database_url: None,
            build: self.build,
            poll: self.poll,
            plan_only: None,
        };
        step(
            &format!("3. deploy {name} (dev's settings under its name; the same path as `cargo xtask deploy`)"),
            || deploy::deploy(&request),
        )?;
        let api = output(&self.dir(&settings), "api_endpoint")?;
        let monthly_usd = idle_cost(&settings)?;
        record["status"] = json!("up");
        record["api"] = json!(api);
        record["monthly_usd"] = json!((monthly_usd * 100.0).round() / 100.0);
        self.write(name, &record)?;
        println!(
            "preview {name}: up in {}\n  API      {api}\n  expires  {expires} (renew: cargo xtask preview up {name} --days N)\n  \
             cost     ${monthly_usd:.2} a month idle (cost model: its keys, secrets, alarms, dashboard and database branch)\n  \
             remove   cargo xtask preview down {name}",
            human(start.elapsed())
        );
        Ok(Up { api, expires, monthly_usd })
    }

    /// Removes a preview and everything it made; what is left of it afterwards (nothing, or an error).
    pub fn down(&self, name: &PreviewName) -> Result<Vec<String>> {
        let start = Instant::now();
        let record = self.record(name)?;
        let branch = self.branches.find(&branch_name(name)).unwrap_or_else(|e| {
            println!("    cannot list the database branches ({e:#}); the record's branch is used");
            None
        });
        let state_key = format!("{}terraform.tfstate", state_prefix(name));
        let has_state = self.aws.get_object(&self.bucket(), &state_key)?.is_some();
        if record.is_none() && branch.is_none() && !has_state {
            bail!("there is no preview named {name}: `cargo xtask preview list` shows them");
        }
        let expires = record.as_ref().and_then(|r| r["expires"].as_str()).unwrap_or("1970-01-01T00:00:00Z").to_owned();
        let settings = Settings::for_preview(Preview { name: name.clone(), expires }, None);
        let dir = self.dir(&settings);
        if has_state {
            step(&format!("1. terraform destroy {name} (buckets emptied first: force_destroy)"), || {
                deploy::synth_into(&settings, &self.target(), &dir)?;
                init(&dir, true)?;
                let mut cmd = terraform()?;
                cmd.arg(format!("-chdir={}", dir.display()))
                    // No refresh: what the state holds is deleted (the provider skips what is already gone), and the
                    // listings after it are the proof; reading every resource first would only double the calls.
                    .args(["destroy", "-auto-approve", "-input=false", "-no-color", "-refresh=false"])
                    .stdout(std::process::Stdio::null());
                crate::util::exec(&mut cmd).with_context(|| {
                    format!("terraform destroy of {name} stopped part-way; run `cargo xtask preview down {name}` again")
                })
            })?;
        } else {
            println!("==> 1. terraform destroy: {name} has no state (it failed before its first apply)");
        }
        let names = declared_names(&settings)?;
        let left = step("2. what Terraform leaves: log groups written after the plan, deleted", || {
            let found = inventory(&self.aws)?;
            let mut left = Vec::new();
            for item in
                found.iter().filter(|i| names.iter().any(|n| stacks::review::rehearsal::is_declared(&i.name, n)))
            {
                match item {
                    Item { kind: "log group", name } => {
                        self.aws.json_call(
                            "logs",
                            "1.1",
                            "Logs_20140328.DeleteLogGroup",
                            &json!({"logGroupName": name}),
                        )?;
                        println!("    deleted log group {name}");
                    }
                    other => left.push(other.to_string()),
                }
            }
            Ok(left)
        })?;
        if !left.is_empty() {
            bail!(
                "{name} is not gone: {} of its resources are still in the account:\n  {}\nIts record and branch are kept; \
                 remove these (or find why destroy left them) and run `cargo xtask preview down {name}` again",
                left.len(),
                left.join("\n  ")
            );
        }
        let reference = branch
            .as_ref()
            .and_then(|b| b["project_ref"].as_str())
            .or_else(|| record.as_ref().and_then(|r| r["branch"]["ref"].as_str()))
            .map(str::to_owned);
        step("3. its database branch, deleted", || {
            match &reference {
                Some(r) => {
                    self.branches.delete(r)?;
                    println!("    branch {r} ({}) deleted", branch_name(name));
                }
                None => println!("    it has none"),
            }
            Ok(())
        })?;
        step(&format!("4. its state, lock and records (s3://{}/{})", self.bucket(), state_prefix(name)), || {
            let keys = self.aws.list_objects(&self.bucket(), &state_prefix(name))?;
            for key in &keys {
                self.aws.delete_object(&self.bucket(), key)?;
            }
            println!("    {} object(s) deleted", keys.len());
            Ok(())
        })?;
        let after = inventory(&self.aws)?;
        let still: Vec<String> = after
            .iter()
            .filter(|i| names.iter().any(|n| stacks::review::rehearsal::is_declared(&i.name, n)))
            .map(Item::to_string)
            .collect();
        if !still.is_empty() {
            bail!("{name} came back while it was removed (something still invokes it?): {}", still.join(", "));
        }
        println!(
            "preview {name}: down in {}; of its {} names, none is left in the account (KMS keys wait out AWS's 7-day \
             deletion window, without an alias and at no cost)",
            human(start.elapsed()),
            names.len()
        );
        Ok(still)
    }

    /// The previews as a table.
    pub fn list_text(&self) -> Result<String> {
        let records = self.records()?;
        if records.is_empty() {
            return Ok("no previews (bring one up: cargo xtask preview up <name>)\n".to_owned());
        }
        let now = now() as i64;
        let mut out =
            format!("{:<13} {:<9} {:>6} {:<24} {:>9}  {}\n", "NAME", "STATUS", "AGE", "EXPIRES", "$/MONTH", "API");
        for r in &records {
            let at = |k: &str| r[k].as_str().and_then(route_registry::time::parse_rfc3339).unwrap_or(now);
            let age = (now - at("created")).max(0);
            let left = at("expires") - now;
            let expires = if left <= 0 {
                "expired".to_owned()
            } else {
                format!("in {}d {}h", left / 86_400, left % 86_400 / 3600)
            };
            out.push_str(&format!(
                "{:<13} {:<9} {:>5}h {:<24} {:>9}  {}\n",
                r["name"].as_str().unwrap_or("?"),
                r["status"].as_str().unwrap_or("?"),
                age / 3600,
                expires,
                r["monthly_usd"].as_f64().map_or("?".to_owned(), |c| format!("{c:.2}")),
                r["api"].as_str().unwrap_or("-"),
            ));
        }
        Ok(out)
    }

    /// Brings every expired preview down; the names removed.
    pub fn sweep(&self, dry_run: bool) -> Result<Vec<String>> {
        let now = now() as i64;
        let mut expired = Vec::new();
        let mut kept = 0;
        for r in self.records()? {
            let name = r["name"].as_str().unwrap_or_default();
            match r["expires"].as_str().and_then(route_registry::time::parse_rfc3339) {
                Some(at) if at <= now => expired.push(parse(name)?),
                _ => kept += 1,
            }
        }
        println!("sweep: {} expired, {kept} kept", expired.len());
        let mut removed = Vec::new();
        let mut failed = Vec::new();
        for name in expired {
            if dry_run {
                println!("    would bring {name} down");
                continue;
            }
            match self.down(&name) {
                Ok(_) => removed.push(name.to_string()),
                Err(e) => failed.push(format!("{name}: {e:#}")),
            }
        }
        if !failed.is_empty() {
            bail!("sweep: {} removed, {} not:\n  {}", removed.len(), failed.len(), failed.join("\n  "));
        }
        Ok(removed)
    }
}

/// A Terraform output of an applied root module.
fn output(dir: &std::path::Path, name: &str) -> Result<String> {
    let out = terraform()?.arg(format!("-chdir={}", dir.display())).args(["output", "-raw", name]).output()?;
    if !out.status.success() {
        bail!("terraform output {name}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// A month of the preview left idle, from the cost model.
pub fn idle_cost(settings: &Settings) -> Result<f64> {
    let doc: Value = serde_json::from_str(
        &stacks::synth_settings(settings.clone(), &Target::Aws, &stacks::Options::default())?.text,
    )?;
    let profile = stacks::cost::Profile::idle_preview();
    Ok(stacks::cost::estimate_settings(settings, &profile, &doc, &stacks::cost::PRICES).total)
}

/// Every name a preview deploys (from its synth for AWS: the emulator's leaves some out, never adds).
pub fn declared_names(settings: &Settings) -> Result<Vec<String>> {
    let doc: Value = serde_json::from_str(
        &stacks::synth_settings(settings.clone(), &Target::Aws, &stacks::Options::default())?.text,
    )?;
    Ok(stacks::review::rehearsal::deployed_names(&doc).into_iter().map(|(_, n)| n).collect())
}

/// One named thing in the account.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Item {
    pub kind: &'static str,
    pub name: String,
}

impl std::fmt::Display for Item {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kind, self.name)
    }
}

/// The account's named resources of every kind the platform deploys: functions, roles, log groups, queues, buckets,
/// secrets, key aliases, alarms, dashboards, schedule groups and schedules, APIs, topics; every page of each listing.
pub fn inventory(aws: &Aws) -> Result<BTreeSet<Item>> {
    let mut out = BTreeSet::new();
    let mut add = |kind: &'static str, names: Vec<String>| {
        out.extend(names.into_iter().map(|name| Item { kind, name }));
    };
    add(
        "function",
        rest_pages(aws, "lambda", "/2015-03-31/functions/", "Functions", "FunctionName", "Marker", "NextMarker")?,
    );
    add("role", query_pages(aws, "iam", &[("Action", "ListRoles"), ("Version", "2010-05-08")], "RoleName", "Marker")?);
    add(
        "log group",
        json_pages(aws, "logs", "Logs_20140328.DescribeLogGroups", "logGroups", "logGroupName", "nextToken")?,
    );
    let queues = json_pages(aws, "sqs", "AmazonSQS.ListQueues", "QueueUrls", "", "NextToken")?;
    add("queue", queues.iter().filter_map(|u| u.rsplit('/').next().map(str::to_owned)).collect());
    add("bucket", crate::aws::xml_values(&aws.list_buckets()?, "Name"));
    add("secret", json_pages(aws, "secretsmanager", "secretsmanager.ListSecrets", "SecretList", "Name", "NextToken")?);
    add("key alias", json_pages(aws, "kms", "TrentService.ListAliases", "Aliases", "AliasName", "Marker")?);
    let monitoring = |action: &'static str| [("Action", action), ("Version", "2010-08-01")];
    add("alarm", query_pages(aws, "monitoring", &monitoring("DescribeAlarms"), "AlarmName", "NextToken")?);
    add("dashboard", query_pages(aws, "monitoring", &monitoring("ListDashboards"), "DashboardName", "NextToken")?);
    add(
        "schedule group",
        rest_pages(aws, "scheduler", "/schedule-groups", "ScheduleGroups", "Name", "NextToken", "NextToken")?,
    );
    add("schedule", rest_pages(aws, "scheduler", "/schedules", "Schedules", "Name", "NextToken", "NextToken")?);
    // API Gateway v2 names its members in lower case.
    add("API", rest_pages(aws, "apigateway", "/v2/apis", "items", "name", "nextToken", "nextToken")?);
    let topics =
        query_pages(aws, "sns", &[("Action", "ListTopics"), ("Version", "2010-03-31")], "TopicArn", "NextToken")?;
    add("topic", topics.iter().filter_map(|a| a.rsplit(':').next().map(str::to_owned)).collect());
    Ok(out)
}

/// Pages are bounded: a listing that keeps answering with a next page is an error, not a loop.
const MAX_PAGES: usize = 200;

fn strings(v: &Value, list: &str, field: &str) -> Vec<String> {
    v[list]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| if field.is_empty() { i.as_str() } else { i[field].as_str() }.map(str::to_owned))
        .collect()
}

/// Every page of a JSON 1.0/1.1 listing (`token` names the request's and the answer's page token alike).
fn json_pages(aws: &Aws, service: &str, target: &str, list: &str, field: &str, token: &str) -> Result<Vec<String>> {
    let version = if service == "sqs" { "1.0" } else { "1.1" };
    let (mut out, mut next) = (Vec::new(), None::<String>);
    for _ in 0..MAX_PAGES {
        let body = next.as_ref().map_or_else(|| json!({}), |t| json!({ token: t }));
        let page = aws.json_call(service, version, target, &body)?;
        out.extend(strings(&page, list, field));
        // KMS names its next page `NextMarker` and says `Truncated`.
        next = page[token].as_str().or_else(|| page["NextMarker"].as_str()).map(str::to_owned);
        if next.is_none() {
            return Ok(out);
        }
    }
    bail!("{target} kept answering with another page after {MAX_PAGES}")
}

/// Every page of a REST JSON listing: `param` is the query parameter of the page token, `answer` its field.
fn rest_pages(
    aws: &Aws,
    service: &str,
    path: &str,
    list: &str,
    field: &str,
    param: &str,
    answer: &str,
) -> Result<Vec<String>> {
    let (mut out, mut next) = (Vec::new(), None::<String>);
    for _ in 0..MAX_PAGES {
        let url = match &next {
            None => path.to_owned(),
            Some(t) => format!("{path}?{param}={}", crate::aws::encode(t)),
        };
        let page = aws.rest_get(service, &url)?;
        out.extend(strings(&page, list, field));
        next =
            page[answer].as_str().or_else(|| page["nextToken"].as_str()).filter(|t| !t.is_empty()).map(str::to_owned);
        if next.is_none() {
            return Ok(out);
        }
    }
    bail!("{path} kept answering with another page after {MAX_PAGES}")
}

/// Every page of a query (XML) listing; `token` is the page token's element and parameter.
fn query_pages(aws: &Aws, service: &str, params: &[(&str, &str)], tag: &str, token: &str) -> Result<Vec<String>> {
    let (mut out, mut next) = (Vec::new(), None::<String>);
    for _ in 0..MAX_PAGES {
        let mut all = params.to_vec();
        if let Some(t) = &next {
            all.push((token, t.as_str()));
        }
        let page = aws.query(service, &all)?;
        out.extend(crate::aws::xml_values(&page, tag));
        next = crate::aws::xml_values(&page, token).into_iter().next().filter(|t| !t.is_empty());
        if next.is_none() {
            return Ok(out);
        }
    }
    bail!("{} kept answering with another page after {MAX_PAGES}", params.first().map_or("", |p| p.1))
}

/// The admission rule of a new preview: refused beyond the account's limit, naming the previews it holds.
pub fn admit(name: &PreviewName, records: &[Value], max: u32) -> Result<()> {
    if records.iter().any(|r| r["name"] == name.as_str()) || records.len() < max as usize {
        return Ok(());
    }
    let names: Vec<String> = records
        .iter()
        .map(|r| format!("{} (expires {})", r["name"].as_str().unwrap_or("?"), r["expires"].as_str().unwrap_or("?")))
        .collect();
    bail!(
        "the account holds {} previews, dev's limit (max_previews in stacks/settings/src/env.rs): {}. Bring one down \
         (`cargo xtask preview down <name>`) or sweep the expired ones (`cargo xtask preview sweep`), then run this again",
        records.len(),
        names.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_refuses_a_new_preview_naming_the_others_and_lets_existing_ones_update() {
        let records: Vec<Value> =
            (1..=5).map(|n| json!({"name": format!("pr-{n}"), "expires": "2026-12-14T00:00:00Z"})).collect();
        let refused = admit(&parse("pr-6").unwrap(), &records, 5).unwrap_err().to_string();
        assert!(
            refused.contains("holds 5 previews") && refused.contains("pr-1 (expires 2026-12-14T00:00:00Z)"),
            "{refused}"
        );
        assert!(
            refused.contains("cargo xtask preview down") && refused.contains("cargo xtask preview sweep"),
            "{refused}"
        );
        admit(&parse("pr-3").unwrap(), &records, 5).expect("an existing preview is updated, not refused");
        admit(&parse("pr-6").unwrap(), &records[..4], 5).expect("under the limit");
    }

    #[test]
    fn the_pull_requests_comment_gives_the_url_expiry_cost_and_how_to_remove_it() {
        let up = Up {
            api: "https://abc.execute-api.us-east-1.amazonaws.com".into(),
            expires: "2026-12-14T00:00:00Z".into(),
            monthly_usd: 37.8,
        };
        let text = up.comment(&parse("pr-7").unwrap());
        for part in
            ["`pr-7`", "https://abc.execute-api", "2026-12-14T00:00:00Z", "$37.80", "cargo xtask preview down pr-7"]
        {
            assert!(text.contains(part), "{part} missing from {text}");
        }
    }

    #[test]
    fn leftovers_are_matched_by_the_exact_names_a_preview_declares() {
        use stacks::review::rehearsal::is_declared;
        assert!(is_declared("pr-1-org-module-orgs", "pr-1-org-module-orgs"));
        assert!(is_declared("career-pr-1-documents-123456789012", "career-pr-1-documents-"));
        // Another preview whose name starts with this one's is never taken for it.
        assert!(!is_declared("pr-1-x-org-module-orgs", "pr-1-org-module-orgs"));
        assert!(!is_declared("career-pr-1-documents-x", "career-pr-1-documents-"));
        let names = declared_names(&Settings::for_preview(
            Preview { name: parse("pr-1").unwrap(), expires: String::new() },
            None,
        ))
        .unwrap();
        assert!(names.len() > 100 && names.iter().all(|n| n.contains("pr-1") || n.contains("pr_1")), "{names:?}");
    }

    #[test]
    fn the_guard_speaks_before_anything_is_touched() {
        for env in ["dev", "tst", "stg", "prd"] {
            let e = parse(env).unwrap_err().to_string();
            assert!(e.contains("is an environment"), "{e}");
        }
        assert!(parse("PR_7").unwrap_err().to_string().contains("lowercase letters"));
    }
}
