//! The preview rehearsal, on the deploy rehearsal's emulator while dev is deployed there (`cargo xtask deploy-local`
//! starts it beside its own later steps): two previews up beside dev, each one's requests through its own local API
//! reaching its own database, a sweep that removes only the expired one, the other brought down, and an `up` that
//! fails halfway brought down cleanly. Every step lists the account's named resources (functions, roles, log
//! groups, queues, buckets, secrets, key aliases, alarms, schedules, APIs, topics, dashboards) before and after: at
//! the end the account holds exactly what it held before the first preview, dev's resources never changed, and no
//! database branch is left. The Supabase exchanges are then held to Supabase's published document.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use stacks::{Env, Preview, Settings};
use standins::supabase::{Databases, DbAccess, SupabaseStandin};

use super::{declared_names, inventory, parse, Item, Previews};
use crate::aws::Aws;
use crate::beside::Beside;
use crate::services::Postgres;
use crate::supabase::Branches;
use crate::util::{human, step};

/// Each branch is its own PostgreSQL cluster on 127.0.0.1, as each Supabase branch is its own instance.
#[derive(Default)]
struct Clusters(Mutex<BTreeMap<String, Postgres>>);

impl Databases for Clusters {
    fn create(&self, reference: &str) -> Result<DbAccess, String> {
        let pg = Postgres::start().map_err(|e| format!("{e:#}"))?;
        let port = pg.port();
        self.0.lock().map_err(|e| e.to_string())?.insert(reference.to_owned(), pg);
        Ok(DbAccess { host: "127.0.0.1".into(), port, user: "postgres".into(), password: "local-branch".into() })
    }

    fn remove(&self, reference: &str) -> Result<(), String> {
        // Dropping the guard stops the cluster and removes its folder.
        self.0.lock().map_err(|e| e.to_string())?.remove(reference);
        Ok(())
    }
}

const TOKEN: &str = "local-supabase-access-token";

/// Where the rehearsal's previews go: the emulator, the CodeDeploy and Supabase stand-ins, the packages' copy.
#[derive(Debug, Clone, clap::Args)]
pub struct On {
    #[arg(long)]
    endpoint: String,
    #[arg(long)]
    codedeploy: String,
    #[arg(long)]
    supabase: String,
    #[arg(long)]
    project: String,
    #[arg(long)]
    root: PathBuf,
}

impl On {
    pub fn previews(&self) -> Result<Previews> {
        Ok(Previews {
            aws: Aws::emulated("us-east-1", &self.codedeploy, &self.endpoint)?,
            branches: Branches::new(&self.supabase, TOKEN, &self.project, Duration::from_millis(100))?,
            emulator: Some((self.endpoint.clone(), self.codedeploy.clone(), self.root.clone())),
            build: false,
            poll: Duration::from_millis(100),
        })
    }

    /// `cargo xtask preview rehearse-up <name>` on these, beside the caller, its output to its own log.
    fn up_beside(&self, name: &str, days: u32) -> Result<Beside> {
        let mut cmd = crate::beside::task(&["preview", "rehearse-up", name, "--days", &days.to_string()])?;
        cmd.args(["--endpoint", &self.endpoint, "--codedeploy", &self.codedeploy, "--supabase", &self.supabase])
            .args(["--project", &self.project])
            .arg("--root")
            .arg(&self.root);
        Beside::start(&format!("cargo xtask preview up {name}"), &format!("preview-{name}"), cmd)
    }
}

/// Waits for an `up` run beside, then prints its output; its result.
fn finish(up: Beside) -> Result<Duration> {
    let log = up.log().to_path_buf();
    let result = up.wait();
    for line in std::fs::read_to_string(&log).unwrap_or_default().lines() {
        println!("    : {line}");
    }
    result
}

fn counts(items: &BTreeSet<Item>) -> String {
    let mut by: BTreeMap<&str, usize> = BTreeMap::new();
    for i in items {
        *by.entry(i.kind).or_default() += 1;
    }
    by.iter().map(|(k, n)| format!("{n} {k}")).collect::<Vec<_>>().join(", ")
}

fn of(items: &BTreeSet<Item>, names: &[String]) -> BTreeSet<Item> {
    items.iter().filter(|i| names.iter().any(|n| stacks::review::rehearsal::is_declared(&i.name, n))).cloned().collect()
}

fn names_of(stage: &str) -> Result<Vec<String>> {
    let settings = match stage {
        "dev" => Env::Dev.settings(),
        name => Settings::for_preview(Preview { name: parse(name)?, expires: String::new() }, None),
    };
    declared_names(&settings)
}

pub fn run(endpoint: &str, codedeploy: &str) -> Result<()> {
    let start = Instant::now();
    let clusters = Arc::new(Clusters::default());
    let supabase =
        step("1. start the Supabase Management API stand-in (branches are PostgreSQL clusters on 127.0.0.1)", || {
            Ok(SupabaseStandin::start(TOKEN, clusters.clone())?)
        })?;
    let root = crate::target_dir().join("previews-emulator");
    let _ = std::fs::remove_dir_all(&root);
    step("1. a copy of the packages for the previews (the deploy rehearsal beside rewrites the workspace's)", || {
        crate::deploy_local::copy_packages(&root)
    })?;
    let on = On {
        endpoint: endpoint.to_owned(),
        codedeploy: codedeploy.to_owned(),
        supabase: supabase.url.clone(),
        project: supabase.project_ref.clone(),
        root,
    };
    let result = rehearse(&on, &supabase);
    let contract =
        step("8. the Supabase exchanges, against Supabase's published Management API document", || contract(&supabase));
    result?;
    contract?;
    for (what, why) in NOT_REHEARSED {
        println!("    not rehearsed: {what} ({why})");
    }
    println!("preview rehearsal: done in {}", human(start.elapsed()));
    Ok(())
}

const NOT_REHEARSED: &[(&str, &str)] = &[
    (
        "Supabase itself",
        "no Supabase is reachable here: the stand-in speaks the published document's five operations, each branch a \
         PostgreSQL cluster",
    ),
    (
        "requests through a preview's API Gateway",
        "moto does not serve execute-api; each preview's requests go through the local API on the preview's own database",
    ),
    ("the pipeline's preview jobs", "GitHub Actions does not run here; `cargo xtask workflows` holds the files"),
];

fn rehearse(on: &On, supabase: &SupabaseStandin) -> Result<()> {
    let previews = &on.previews()?;
    let aws = &previews.aws;
    let (dev_names, pr7_names, pr8_names, pr9_names) =
        (names_of("dev")?, names_of("pr-7")?, names_of("pr-8")?, names_of("pr-9")?);
    let before = step("2. the account before any preview (dev is deployed)", || {
        let items = inventory(aws)?;
        println!("    {} named resources: {}", items.len(), counts(&items));
        Ok(items)
    })?;
    let dev_before = of(&before, &dev_names);
    if dev_before.len() < 50 || !of(&before, &pr7_names).is_empty() {
        bail!(
            "the account should hold dev ({} of its names found) and no preview before the rehearsal",
            dev_before.len()
        );
    }
    step("2. the guard: no preview command can name an environment", || {
        for env in ["dev", "tst", "stg", "prd"] {
            match parse(env) {
                Ok(_) => bail!("`preview up {env}` would be accepted"),
                Err(e) => println!("    `preview up {env}` refused before anything is touched: {e}"),
            }
        }
        Ok(())
    })?;
    let (pr7, pr8, pr9) = (parse("pr-7")?, parse("pr-8")?, parse("pr-9")?);
    // pr-9's `up` fails halfway: its functions' log groups exist before it starts, as a function's late writes leave
    // them (outside Terraform), so none of its functions can be made while the rest is; `down` must delete them too.
    let blockers: Vec<String> = {
        let settings = Settings::for_preview(Preview { name: pr9.clone(), expires: String::new() }, None);
        let doc: Value = serde_json::from_str(
            &stacks::synth_settings(settings, &stacks::Target::Aws, &stacks::Options::default())?.text,
        )?;
        doc["resource"]["aws_cloudwatch_log_group"]
            .as_object()
            .into_iter()
            .flat_map(|groups| groups.values().filter_map(|g| g["name"].as_str().map(str::to_owned)))
            .filter(|name| name.starts_with("/aws/lambda/"))
            .collect()
    };
    step("3. cargo xtask preview up pr-7, pr-8 and pr-9 at once (pr-9's functions' log groups made first)", || {
        for name in &blockers {
            aws.json_call("logs", "1.1", "Logs_20140328.CreateLogGroup", &json!({ "logGroupName": name }))?;
        }
        let [seven, eight, nine] = [on.up_beside("pr-7", 7)?, on.up_beside("pr-8", 1)?, on.up_beside("pr-9", 1)?];
        let (took7, took8) = (finish(seven)?, finish(eight)?);
        let said = match finish(nine) {
            Ok(_) => bail!("pr-9 came up although its functions' log groups were taken"),
            Err(e) => format!("{e:#}"),
        };
        println!(
            "    pr-7 up in {}, pr-8 up in {} (at once, beside dev's rehearsal); pr-9 failed as it should ({})",
            human(took7),
            human(took8),
            first_line(&said)
        );
        Ok(())
    })?;
    let record = |name: &stacks::PreviewName| -> Result<Value> {
        previews.record(name)?.with_context(|| format!("no record of {name}"))
    };
    for name in [&pr7, &pr8] {
        let r = record(name)?;
        println!(
            "    {name}: API {}, expires {}, ${:.2} a month idle",
            r["api"].as_str().unwrap_or("?"),
            r["expires"].as_str().unwrap_or("?"),
            r["monthly_usd"].as_f64().unwrap_or(f64::NAN)
        );
    }
    let database = |name: &stacks::PreviewName| -> Result<String> {
        let r = record(name)?;
        let reference = r["branch"]["ref"].as_str().with_context(|| format!("{name}'s record names no branch"))?;
        Ok(previews.branches.database(reference, Duration::from_secs(30))?.url)
    };
    let (db7, db8) = (database(&pr7)?, database(&pr8)?);
    let all = step("3. the account with the previews up", || {
        let items = inventory(aws)?;
        let (a, b, c) = (of(&items, &pr7_names), of(&items, &pr8_names), of(&items, &pr9_names));
        println!(
            "    {} named resources: pr-7 {}, pr-8 {}, the half-made pr-9 {} (with the {} log groups made before it); \
             dev's unchanged",
            items.len(),
            a.len(),
            b.len(),
            c.len(),
            blockers.len()
        );
        if a.len() < 50 || b.len() < 50 || !a.is_disjoint(&b) || of(&items, &dev_names) != dev_before {
            bail!("the previews' resources are not each their own beside dev's: pr-7 {}, pr-8 {}", a.len(), b.len());
        }
        Ok(items)
    })?;
    step("4. requests through each preview's API (the local API on its database): each reaches its own", || {
        requests(&[(&pr7, &db7), (&pr8, &db8)])
    })?;
    step(
        "5. the half-made pr-9 is listed; `preview down pr-9` removes what it made and the log groups made outside it",
        || {
            let listed = previews.list_text()?;
            print!("{listed}");
            if !listed.lines().any(|l| l.starts_with("pr-9 ") && l.contains("creating")) {
                bail!("the half-made pr-9 is not listed as creating");
            }
            let made = of(&all, &pr9_names).len().saturating_sub(blockers.len());
            previews.down(&pr9)?;
            let items = inventory(aws)?;
            let expected: BTreeSet<Item> = all.difference(&of(&all, &pr9_names)).cloned().collect();
            if items != expected {
                bail!("after pr-9's down the account differs from before it minus pr-9: {}", diff(&expected, &items));
            }
            println!(
                "    the {made} resources pr-9 made and the {} log groups made outside it are gone; pr-7's, pr-8's and \
                 dev's untouched",
                blockers.len()
            );
            Ok(items)
        },
    )
    .and_then(|both| {
        step("6. pr-8's expiry passes (its record's expiry set an hour back); sweep removes it, and only it", || {
            let mut expired = record(&pr8)?;
            expired["expires"] = json!(route_registry::time::rfc3339(super::now() - 3600));
            previews.write(&pr8, &expired)?;
            let removed = previews.sweep(false)?;
            if removed != ["pr-8"] {
                bail!("sweep removed {removed:?}, not just the expired pr-8");
            }
            let items = inventory(aws)?;
            let expected: BTreeSet<Item> = both.difference(&of(&both, &pr8_names)).cloned().collect();
            if items != expected {
                bail!("after the sweep the account differs from before minus pr-8: {}", diff(&expected, &items));
            }
            println!("    pr-8's {} resources gone; pr-7's and dev's untouched", of(&both, &pr8_names).len());
            print!("{}", previews.list_text()?);
            Ok(())
        })
    })?;
    step("7. cargo xtask preview down pr-7: the account as it was before the previews", || {
        previews.down(&pr7)?;
        let items = inventory(aws)?;
        if items != before {
            bail!("after pr-7's down the account differs from before the previews: {}", diff(&before, &items));
        }
        if !supabase.branch_names().is_empty() {
            bail!("database branches are left: {:?}", supabase.branch_names());
        }
        println!("    {} named resources, the same as before the first preview; no database branch left", items.len());
        Ok(())
    })
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

fn diff(expected: &BTreeSet<Item>, found: &BTreeSet<Item>) -> String {
    let extra: Vec<String> = found.difference(expected).map(Item::to_string).collect();
    let missing: Vec<String> = expected.difference(found).map(Item::to_string).collect();
    format!("left over: {extra:?}; missing: {missing:?}")
}

/// alice, through each preview's local API, makes an organization; each preview's database holds its own and not
/// the other's, and the demo data of each is there.
fn requests(previews: &[(&stacks::PreviewName, &String)]) -> Result<()> {
    let token = crate::devtoken::mint("alice@example.com", Some("alice@example.com"), &[], Env::Dev, 3600)?;
    for (name, url) in previews {
        let port = crate::services::free_port()?;
        let local = crate::dev::Local::start(crate::dev::Options {
            port,
            database_url: Some((*url).clone()),
            quiet: true,
            ..crate::dev::Options::default()
        })?;
        let org = format!("Made in {name}");
        let made = json!({ "name": org }).to_string();
        let (status, body) = crate::dev::curl(&format!("{}/organizations", local.url), &token, "POST", Some(&made))?;
        if status != 201 {
            bail!("POST /organizations through {name}'s API answered {status}: {body}");
        }
        let (status, body) = crate::dev::curl(&format!("{}/organizations", local.url), &token, "GET", None)?;
        if status != 200 || !body.contains(&org) || !body.contains("Acme") {
            bail!("GET /organizations through {name}'s API: {status} {body}");
        }
        println!("    {name}: alice made \"{org}\" (201) and lists it beside the demo data's Acme (200)");
    }
    for (name, url) in previews {
        let mut db = postgres::Client::connect(url, postgres::NoTls)?;
        let orgs: Vec<String> = db.query("SELECT name FROM org ORDER BY name", &[])?.iter().map(|r| r.get(0)).collect();
        let own = format!("Made in {name}");
        let others: Vec<&String> = orgs.iter().filter(|o| o.starts_with("Made in") && **o != own).collect();
        if !orgs.contains(&own) || !others.is_empty() {
            bail!("{name}'s database holds {orgs:?}: it should hold its own organization and no other preview's");
        }
        println!(
            "    {name}'s database: {} organizations, its own and the demo's, none of the other preview's",
            orgs.len()
        );
    }
    Ok(())
}

/// Validates the stand-in's exchanges with openapi-core, and a hand-made bad one that must be refused.
fn contract(supabase: &SupabaseStandin) -> Result<()> {
    let mut lines: Vec<String> =
        supabase.exchanges().iter().map(|x| serde_json::to_string(x).unwrap_or_default()).collect();
    let ours = lines.len();
    for entry in std::fs::read_dir(crate::supabase::contract_dir()).into_iter().flatten().flatten() {
        lines.extend(std::fs::read_to_string(entry.path())?.lines().map(str::to_owned));
    }
    let spec: PathBuf = crate::workspace_root().join("xtask/contracts/supabase-management-api.json");
    let check =
        |input: &str| crate::contract::exchanges(&spec, "https://api.supabase.com", "Supabase's Management API", input);
    let (ok, said) = check(&lines.join("\n"))?;
    if !ok {
        bail!("the Supabase client or stand-in left Supabase's published document:\n{said}");
    }
    let ops: BTreeSet<String> = supabase
        .exchanges()
        .iter()
        .map(|x| format!("{} {}", x.method, x.path.split('/').take(3).collect::<Vec<_>>().join("/")))
        .collect();
    println!(
        "    {} ({ours} exchanges of this rehearsal, {} of the client's tests: {})",
        said.trim(),
        lines.len() - ours,
        ops.into_iter().collect::<Vec<_>>().join(", ")
    );
    // A creation without its required branch name, and an answer without its required fields: both refused.
    let bad = [
        json!({"method": "POST", "path": format!("/v1/projects/{}/branches", supabase.project_ref), "query": "",
               "headers": {"authorization": "Bearer", "content-type": "application/json"}, "body": {"persistent": false},
               "status": 201, "response_headers": {}, "response": {"id": "x"}, "fault": false}),
        json!({"method": "GET", "path": "/v1/branches/abcdefghijklmnopqrst", "query": "",
               "headers": {"authorization": "Bearer"}, "body": null, "status": 200,
               "response_headers": {"content-type": "application/json"}, "response": {"ref": "x"}, "fault": false}),
    ];
    for b in bad {
        let (ok, _) = check(&b.to_string())?;
        if ok {
            bail!("the contract check accepted a hand-made exchange that breaks the document: {b}");
        }
    }
    println!("    and two hand-made exchanges that break it (a creation without branch_name, a config without db_host) are refused");
    Ok(())
}
