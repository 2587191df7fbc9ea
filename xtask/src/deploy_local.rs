//! `cargo xtask deploy-local`: the deploy rehearsal, from an empty account to a running platform and back, on a
//! local AWS emulator (moto). It bootstraps dev's state bucket in the emulator (`cargo xtask bootstrap`), synthesizes
//! dev for the emulator into `build/local/` (never `build/dev`) with its real S3 backend pointed at the emulator and
//! lockfile locking on, applies it, requires a second plan to show no changes, checks what was created against the
//! catalog and the stacks' promises, rehearses a rename (a function and routes renamed in a scratch copy: the plan
//! must move, never destroy), then destroys everything and stops the emulator, also when a step fails.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::Value;
use stacks::review::rehearsal;
use stacks::{Env, Target};

use standins::codedeploy::{CodeDeployStandin, Options};

use crate::deploy;
use crate::services::free_port;
use crate::terraform::{init, terraform};
use crate::util::{exec, human, step};
use crate::workspace_root;

#[derive(Debug, Default, clap::Args)]
pub struct Args {
    /// Keep the emulator's resources (skip `terraform destroy`); the emulator still stops.
    #[arg(long)]
    no_destroy: bool,
    /// Skip the preview rehearsal (`cargo xtask preview`'s up, sweep and down beside dev).
    #[arg(long)]
    no_previews: bool,
    /// Only plan dev for the emulator at this URL against its state, and print what the plan does (the rename
    /// rehearsal and the scaffold check run this in a scratch copy).
    #[arg(long, hide = true, value_name = "URL")]
    plan_against: Option<String>,
    /// A scratch copy with a scaffolded module (the scaffold check's): its stack is planned against this rehearsal's
    /// state, which must add the module's resources and destroy nothing.
    #[arg(skip)]
    scaffold: Option<PathBuf>,
    /// Only bootstrap dev's state bucket in the emulator at this URL (the test command runs it beside its earlier
    /// steps, in the emulator it then hands to the rehearsal).
    #[arg(long, hide = true, value_name = "URL")]
    bootstrap_only: Option<String>,
    /// An emulator the caller runs, where dev's state bucket is already bootstrapped.
    #[arg(skip)]
    bootstrapped: Option<String>,
}

impl Args {
    /// The rehearsal, with the scaffold check's copy planned against its state.
    pub fn with_scaffold(scaffold: &crate::new_module::Scaffold) -> Args {
        Args { scaffold: Some(scaffold.copy.clone()), ..Args::default() }
    }

    /// The rehearsal in an emulator the caller started and bootstrapped (`--bootstrap-only`).
    pub fn in_bootstrapped(mut self, endpoint: &str) -> Args {
        self.bootstrapped = Some(endpoint.to_owned());
        self
    }
}

/// Bootstraps dev's state bucket in the emulator at `endpoint`; a second run must change nothing.
fn bootstrap_dev(endpoint: &str) -> Result<()> {
    let target = Target::Emulator { endpoint: endpoint.to_owned(), state: stacks::EmulatorState::S3 };
    crate::bootstrap::bootstrap(Env::Dev, &target)?;
    crate::bootstrap::bootstrap(Env::Dev, &target)
}

/// A moto server on 127.0.0.1; killed on drop.
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Moto {
    pub fn start(log: &Path) -> Result<Moto> {
        let bin = moto_bin()?;
        let port = free_port()?;
        let log_file = std::fs::File::create(log)?;
        let child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .stdin(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        let mut moto = Moto { child, endpoint: format!("http://127.0.0.1:{port}") };
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = moto.child.try_wait()? {
                bail!("moto exited during start-up ({status}); see {}", log.display());
            }
            if Instant::now() > deadline {
                bail!("moto did not listen on 127.0.0.1:{port} within 60 s; see {}", log.display());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(moto)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `moto_server`: from target/tools/moto, else PATH, else installed into target/tools/moto.
pub fn moto_bin() -> Result<PathBuf> {
    let in_venv = workspace_root().join("target/tools/moto/bin/moto_server");
    if in_venv.is_file() {
        return Ok(in_venv);
    }
    let on_path = std::env::var_os("PATH")
        .and_then(|p| std::env::split_paths(&p).map(|d| d.join("moto_server")).find(|p| p.is_file()));
    if let Some(bin) = on_path {
        if Command::new(&bin)
            .arg("--help")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
        {
            return Ok(bin);
        }
    }
    crate::util::python_tool("moto", "moto[server]==5.2.1", "moto_server")
}

pub fn run(args: &Args) -> Result<()> {
    if let Some(endpoint) = &args.plan_against {
        return plan_only(endpoint);
    }
    if let Some(endpoint) = &args.bootstrap_only {
        return step("2. bootstrap dev's state bucket in the emulator", || bootstrap_dev(endpoint));
    }
    let start = Instant::now();
    let root = workspace_root();
    let dir = root.join("build/local");
    std::fs::create_dir_all(&dir)?;
    let own = match &args.bootstrapped {
        Some(_) => None,
        None => Some(step("1. start moto (AWS emulator on 127.0.0.1)", || Moto::start(&dir.join("moto.log")))?),
    };
    let endpoint = match (&own, &args.bootstrapped) {
        (Some(moto), _) => moto.endpoint.clone(),
        (None, Some(endpoint)) => endpoint.clone(),
        (None, None) => bail!("no emulator"),
    };
    let codedeploy = step("1. start the CodeDeploy stand-in (it moves the emulator's aliases)", || {
        let options = Options { minute: Duration::from_millis(50), lambda_endpoint: Some(endpoint.clone()) };
        Ok(CodeDeployStandin::start(options)?)
    })?;
    // Always through cargo, which rebuilds only what changed: zips found in the shared target directory may come from
    // another checkout (the scaffold check's copy writes there too).
    step("1. cargo xtask build (the Lambda packages, rebuilt where stale)", || {
        crate::build::run(&crate::build::Args::default())
    })?;
    match &args.bootstrapped {
        None => step("2. bootstrap dev's state bucket in the emulator", || bootstrap_dev(&endpoint))?,
        Some(_) => println!("==> 2. bootstrap dev's state bucket in the emulator: done beside the earlier steps"),
    }
    let request = deploy::Request {
        settings: Env::Dev.settings(),
        place: deploy::Place::Emulator {
            endpoint: endpoint.clone(),
            codedeploy: codedeploy.url.clone(),
            dir: dir.clone(),
        },
        allow_data_loss: false,
        // The emulator runs no function, so no smoke test could tell a migration's effect on the running version:
        // migrations are rehearsed by the test command's migration step and the service tier.
        database_url: None,
        build: false,
        poll: Duration::from_millis(100),
        plan_only: None,
    };

    let rehearsal = (|| -> Result<()> {
        step("3. cargo xtask deploy dev, on the emulator (synth, init, saved plan, apply, releases, record)", || {
            deploy::deploy(&request).map(drop)
        })?;
        // Previews beside dev, in this emulator, while the next steps run (they mostly wait on the emulator and on
        // the provider's own waits, so the two-core machine has room).
        let previews = match args.no_previews {
            true => None,
            false => Some(crate::beside::Beside::start(
                "the preview rehearsal: two previews beside dev, a sweep, a down, a failed up brought down",
                "previews",
                {
                    let mut cmd = crate::beside::task(&["preview", "rehearse", "--endpoint", &endpoint])?;
                    cmd.args(["--codedeploy", &codedeploy.url]);
                    cmd
                },
            )?),
        };
        step("4. terraform plan -detailed-exitcode (must show no changes)", || no_drift(&dir))?;
        step("5. check what was created", || verify(&dir))?;
        step("5. deploy again with nothing changed: nothing to do", || {
            let again = deploy::deploy(&request)?;
            if !again.nothing() {
                bail!("a second deploy with nothing changed changed something: {again:?}");
            }
            Ok(())
        })?;
        step(
            "5. releases through CodeDeploy, one stopped by an alarm and rolled back, then resumed; no drift",
            || release_rehearsal(&request, &codedeploy, &dir),
        )?;
        step("5. the CodeDeploy exchanges, against CodeDeploy's published model (botocore)", || {
            codedeploy_contract(&codedeploy)
        })?;
        step("6. rename a function and three routes in a scratch copy: plan moves, never destroys", || {
            rename_rehearsal(&endpoint)
        })?;
        if let Some(copy) = &args.scaffold {
            step("7. the scaffolded module's stack, planned against this state: it adds, destroys nothing", || {
                scaffold_plan(copy, &endpoint)
            })?;
        }
        if let Some(previews) = previews {
            let log = previews.log().to_path_buf();
            let waited = previews.wait();
            // Its steps, as it printed them.
            for line in std::fs::read_to_string(&log).unwrap_or_default().lines() {
                println!("    | {line}");
            }
            let took = waited?;
            println!("==> 7. the preview rehearsal beside the steps above: done in {}", human(took));
        }
        Ok(())
    })();

    let destroyed = if args.no_destroy {
        println!("    --no-destroy: leaving the resources in the emulator (which stops now)");
        Ok(())
    } else {
        step("8. terraform destroy", || tf(&dir, &["destroy", "-auto-approve", "-input=false", "-no-color"]))
    };
    drop(codedeploy);
    drop(own);
    rehearsal?;
    destroyed?;
    for (ty, why) in stacks::provider::EMULATOR_OMITS {
        // A resource type is left out everywhere; an attribute or a check is named with its owner.
        let every = if ty.starts_with("aws_") { "every " } else { "" };
        println!("    not rehearsed: {every}{ty} ({why})");
    }
    for (what, why) in stacks::bootstrap::EMULATOR_OMITS {
        println!("    not rehearsed: {what} ({why})");
    }
    for (what, why) in NOT_REHEARSED {
        println!("    not rehearsed: {what} ({why})");
    }
    println!("deploy-local: applied, no drift, verified and destroyed in {}", human(start.elapsed()));
    Ok(())
}

/// The hidden `--plan-against`: plan this checkout's dev against the emulator's state, print the plan's verdict.
fn plan_only(endpoint: &str) -> Result<()> {
    let dir = workspace_root().join("build/local");
    std::fs::create_dir_all(&dir)?;
    let target = Target::Emulator { endpoint: endpoint.to_owned(), state: stacks::EmulatorState::S3 };
    deploy::synth_into(&Env::Dev.settings(), &target, &dir)?;
    init(&dir, true)?;
    let out = terraform()?
        .arg(format!("-chdir={}", dir.display()))
        .args(["plan", "-input=false", "-no-color", "-lock=false"])
        .output()
        .context("cannot run terraform plan")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!("terraform plan failed:\n{}{}", text, String::from_utf8_lossy(&out.stderr));
    }
    // A pure move prints "has moved to"; a move that also updates the resource prints "(moved from …)" under it.
    let moved = text.lines().filter(|l| l.contains("has moved to") || l.contains("(moved from")).count();
    let summary = text.lines().find(|l| l.starts_with("Plan:")).unwrap_or("Plan: nothing").to_owned();
    println!("plan-verdict moved={moved} {summary}");
    for line in text.lines().filter(|l| {
        ["has moved to", "(moved from", "must be replaced", "will be destroyed", "will be created", "updated in-place"]
            .iter()
            .any(|m| l.contains(m))
    }) {
        println!("plan-detail {}", line.trim());
    }
    Ok(())
}

/// Renames `org-orgs` to `org-organizations` and `/profiles/me` to `/profiles/self` in a scratch copy of the
/// workspace: synth there must first refuse the likely renames, then, with the renames declared in the catalog,
/// plan against the emulator's state must move every affected resource and destroy none.
fn rename_rehearsal(endpoint: &str) -> Result<()> {
    let copy = std::env::temp_dir().join(format!("career-rename-{}", std::process::id()));
    let _cleanup = crate::util::RemoveOnDrop(copy.clone());
    crate::util::copy_workspace(&workspace_root(), &copy, "rename")?;
    let catalog = copy.join("lambdas/route-registry/src/modules/org.rs");
    let text = std::fs::read_to_string(&catalog)?;
    let (binary, path) = ("binary: \"org-orgs\"", "\"/profiles/me\"");
    if text.matches(binary).count() != 1 || text.matches(path).count() != 3 {
        bail!("the rename rehearsal expects org-orgs and three /profiles/me routes in {}", catalog.display());
    }
    let renamed = text.replace(binary, "binary: \"org-organizations\"").replace(path, "\"/profiles/self\"");
    std::fs::write(&catalog, &renamed)?;
    // The copy's stack refers to packages next to it (`<copy>/target/lambda`): the same zips (one per module, so the
    // renamed function's package keeps its path).
    copy_packages(&copy)?;
    let xtask = |args: &[&str]| {
        xtask_synth::task_runner(Some(&copy), &crate::target_dir())?
            .args(args)
            .output()
            .context("cannot run xtask in the scratch copy")
    };
    let refused = xtask(&["synth", "dev"])?;
    let said = String::from_utf8_lossy(&refused.stderr);
    if refused.status.success() || !said.contains("likely renames") {
        bail!("synth in the scratch copy did not refuse the undeclared renames:\n{said}");
    }
    println!("    undeclared: synth refused ({} likely renames listed)", said.matches("gone while").count());
    let declared = renamed.replace(
        "    renamed: &[],",
        "    renamed: &[\n        crate::Rename::Function { from: \"org-orgs\", to: \"org-organizations\" },\n        crate::Rename::Route { from: \"GET /profiles/me\", to: \"GET /profiles/self\" },\n        crate::Rename::Route { from: \"PUT /profiles/me\", to: \"PUT /profiles/self\" },\n        crate::Rename::Route { from: \"DELETE /profiles/me\", to: \"DELETE /profiles/self\" },\n    ],",
    );
    std::fs::write(&catalog, declared)?;
    let planned = xtask(&["deploy-local", "--plan-against", endpoint])?;
    let out = String::from_utf8_lossy(&planned.stdout);
    if !planned.status.success() {
        bail!("plan in the scratch copy failed:\n{out}{}", String::from_utf8_lossy(&planned.stderr));
    }
    let verdict = out.lines().find_map(|l| l.strip_prefix("plan-verdict ")).unwrap_or("none").to_owned();
    let moved: usize = verdict
        .split_whitespace()
        .next()
        .and_then(|m| m.strip_prefix("moved="))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    println!("    declared: {verdict}");
    if !verdict.contains(" 0 to destroy") && verdict.contains("to destroy") {
        bail!("the rename would destroy resources:\n{out}");
    }
    // The function's role, policy, log group, Lambda, integration, permission and four alarms, and three routes.
    if moved < 13 {
        bail!("the plan moved {moved} resources, expected 13:\n{out}");
    }
    Ok(())
}

/// Plans the scaffold check's copy (this checkout plus a new module) against the emulator's state: every resource the
/// copy's stack has and this one lacks is created, nothing is destroyed or replaced, and what is updated in place is
/// named. The plan reads a package's hash only; the new module's package is a stand-in (this checkout's org-module
/// package under the new module's path), since its arm64 build would be a second release build of the workspace.
fn scaffold_plan(copy: &Path, endpoint: &str) -> Result<()> {
    copy_packages(copy)?;
    let stand_in = route_registry::all_functions()
        .find(|f| f.module == "org-module")
        .context("the catalog has no org-module function to lend its package")?;
    let to = copy.join(stacks::names::PACKAGES_DIR).join(crate::new_module::SCAFFOLDED).join("bootstrap.zip");
    std::fs::create_dir_all(to.parent().unwrap_or(copy))?;
    std::fs::copy(crate::build::zip_path(&stand_in), &to)?;
    let planned = xtask_synth::task_runner(Some(copy), &crate::target_dir())?
        .args(["deploy-local", "--plan-against", endpoint])
        .output()
        .context("cannot run xtask in the scratch copy")?;
    let out = String::from_utf8_lossy(&planned.stdout);
    if !planned.status.success() {
        bail!("plan in the scaffold copy failed:\n{out}{}", String::from_utf8_lossy(&planned.stderr));
    }
    let addresses = |dir: &Path| -> Result<std::collections::BTreeSet<String>> {
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("build/local/main.tf.json"))?)?;
        Ok(doc["resource"]
            .as_object()
            .into_iter()
            .flatten()
            .flat_map(|(ty, blocks)| blocks.as_object().into_iter().flatten().map(move |(n, _)| format!("{ty}.{n}")))
            .collect())
    };
    let ours = addresses(&workspace_root())?;
    let new: Vec<String> = addresses(copy)?.difference(&ours).cloned().collect();
    let details: Vec<&str> = out.lines().filter_map(|l| l.strip_prefix("plan-detail ")).collect();
    let created: Vec<&str> = details.iter().filter(|l| l.contains("will be created")).copied().collect();
    let problems: Vec<&str> = details
        .iter()
        .filter(|l| ["must be replaced", "will be destroyed", "has moved to"].iter().any(|m| l.contains(m)))
        .copied()
        .collect();
    if !problems.is_empty() {
        bail!("adding a module would replace, destroy or move what exists:\n{}", problems.join("\n"));
    }
    let missing: Vec<&String> =
        new.iter().filter(|a| !created.iter().any(|c| c.contains(&format!("# {a} ")))).collect();
    if created.len() != new.len() || !missing.is_empty() {
        bail!(
            "the plan creates {} resources, the new module has {} ({} not planned: {:?}):\n{out}",
            created.len(),
            new.len(),
            missing.len(),
            missing
        );
    }
    let updated: Vec<&str> = details.iter().filter(|l| l.contains("updated in-place")).copied().collect();
    println!("    {} resources of {} created, nothing destroyed or replaced", new.len(), crate::new_module::SCAFFOLDED);
    for line in updated {
        println!("    shared, updated in place: {}", line.trim_start_matches("# ").split(' ').next().unwrap_or(line));
    }
    Ok(())
}

/// Copies every package this checkout built into a scratch copy's `target/lambda`, where its stacks refer to them.
pub fn copy_packages(copy: &Path) -> Result<()> {
    for package in crate::build::packages() {
        let Some(f) = route_registry::all_functions().find(|f| f.package() == package) else { continue };
        let zip = crate::build::zip_path(&f);
        let to = copy.join(stacks::names::zip_path(&f));
        std::fs::create_dir_all(to.parent().unwrap_or(copy))?;
        std::fs::copy(&zip, &to).with_context(|| format!("cannot copy {}", zip.display()))?;
    }
    Ok(())
}

fn tf(dir: &Path, args: &[&str]) -> Result<()> {
    let mut cmd = terraform()?;
    cmd.arg(format!("-chdir={}", dir.display())).args(args).stdout(Stdio::null());
    exec(&mut cmd).with_context(|| format!("terraform {} failed; its messages above name the resource", args[0]))
}

fn no_drift(dir: &Path) -> Result<()> {
    let mut cmd = terraform()?;
    let out = cmd
        .arg(format!("-chdir={}", dir.display()))
        .args(["plan", "-detailed-exitcode", "-input=false", "-no-color"])
        .output()
        .context("cannot run terraform plan")?;
    match out.status.code() {
        Some(0) => Ok(()),
        Some(2) => {
            let text = String::from_utf8_lossy(&out.stdout);
            let changes: Vec<&str> = text.lines().filter(|l| l.trim_start().starts_with("# ")).collect();
            bail!(
                "drift: a plan right after apply wants changes (a bug in the DSL or the stacks):\n{}\n{text}",
                changes.join("\n")
            )
        }
        _ => bail!("terraform plan failed:\n{}", String::from_utf8_lossy(&out.stderr)),
    }
}

/// The applied state, checked against the registry and the stacks' promises (`stacks::review::rehearsal`).
fn verify(dir: &Path) -> Result<()> {
    let mut cmd = terraform()?;
    let out = cmd.arg(format!("-chdir={}", dir.display())).args(["show", "-json"]).output()?;
    if !out.status.success() {
        bail!("terraform show failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let state: Value = serde_json::from_slice(&out.stdout).context("terraform show printed no JSON")?;
    let applied = rehearsal::Applied::new(&state);
    let routes: Vec<&route_registry::Route> = route_registry::all_routes().collect();
    let functions: Vec<route_registry::Function> = route_registry::all_functions().collect();
    let problems = rehearsal::verify(&applied, &Env::Dev.settings(), &routes, &functions);
    if !problems.is_empty() {
        bail!("the emulator's resources differ from what the stacks promise:\n{}", problems.join("\n"));
    }
    println!("    {}", rehearsal::summary(&applied, &functions));
    Ok(())
}

/// What the deploy does on AWS that the rehearsal cannot show on the emulator.
const NOT_REHEARSED: &[(&str, &str)] = &[
    (
        "CodeDeploy itself",
        "moto creates deployments but never shifts traffic; a stand-in held to botocore's codedeploy model shifts \
         the emulator's aliases, watches alarms the rehearsal sets, and rolls back",
    ),
    ("the alarms' own evaluation", "moto runs no function and keeps no metric; the rehearsal puts an alarm in ALARM"),
    (
        "the pre-traffic check's invocations",
        "moto runs functions only in Docker, absent here; the probes are tested against the real handlers (local-api's \
         pre_traffic test), the check's decisions with a stand-in invoker (deploy::tests)",
    ),
    ("migrations during deploy", "no function runs on the emulator to prove the running version still works"),
    (
        "the smoke test through the API",
        "moto does not serve the HTTP API's execute-api endpoint; the local API's tests send every route through the \
         real authorizer",
    ),
    ("the pipeline's roles in use", "moto does not evaluate IAM policies; check-iam holds them (pipeline_check)"),
];

/// Rewrites a package with a zip comment: the same code under another hash, so Terraform publishes a new version.
fn variant(zip: &[u8], comment: &str) -> Result<Vec<u8>> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip))?;
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for i in 0..archive.len() {
        writer.raw_copy_file(archive.by_index_raw(i)?)?;
    }
    writer.set_comment(comment.to_owned())?;
    Ok(writer.finish()?.into_inner())
}

/// Puts a package back as it was when dropped.
struct Restore(PathBuf, Vec<u8>);

impl Drop for Restore {
    fn drop(&mut self) {
        let _ = std::fs::write(&self.0, &self.1);
    }
}

/// org-module's package changed, released with one of its functions' first watched alarm in ALARM: that release
/// stops and rolls back while the others go out, and the deploy fails saying which and what to run; the plan after
/// shows no drift; with the alarm back to OK, the deploy run again releases that one function and nothing else.
fn release_rehearsal(request: &deploy::Request, codedeploy: &CodeDeployStandin, dir: &Path) -> Result<()> {
    let settings = Env::Dev.settings();
    let org: Vec<route_registry::Function> =
        route_registry::all_functions().filter(|f| f.module == "org-module").collect();
    let first = org.first().context("the catalog has no org-module function")?;
    let victim = stacks::names::function_name(&settings, first);
    let zip = crate::build::zip_path(first);
    let original = std::fs::read(&zip).with_context(|| format!("cannot read {}", zip.display()))?;
    let _restore = Restore(zip.clone(), original.clone());
    let app = format!("{}-lambda", settings.name_prefix);
    let group = crate::aws::Aws::emulated("us-east-1", &codedeploy.url, "http://127.0.0.1:9")?.codedeploy(
        "GetDeploymentGroup",
        &serde_json::json!({"applicationName": app, "deploymentGroupName": victim}),
    )?;
    let alarm = group["deploymentGroupInfo"]["alarmConfiguration"]["alarms"][0]["name"]
        .as_str()
        .context("the group watches no alarm")?
        .to_owned();
    std::fs::write(&zip, variant(&original, "release 1")?)?;
    codedeploy.set_alarm(&alarm, true);
    let failed = deploy::deploy(request);
    codedeploy.set_alarm(&alarm, false);
    let said = match failed {
        Ok(o) => bail!("a release with {alarm} in ALARM succeeded: {o:?}"),
        Err(e) => format!("{e:#}"),
    };
    let others = org.len() - 1;
    let expected = format!("1 of {} release(s) did not succeed", org.len());
    if !said.contains(&expected)
        || !said.contains(&victim)
        || !said.contains("ALARM_ACTIVE")
        || !said.contains("run `cargo xtask deploy dev` again")
    {
        bail!("the failed deploy does not say which release stopped, why, and what to run: {said}");
    }
    println!(
        "    {alarm} in ALARM: {victim} stopped and rolled back, {others} others released; the deploy failed saying so"
    );
    no_drift(dir)?;
    println!("    the plan after the releases and the rollback shows no drift");
    let again = deploy::deploy(request)?;
    let released: Vec<&str> = again.releases.iter().map(|r| r.pending.function.as_str()).collect();
    if released != [victim.as_str()] || again.releases.iter().any(|r| r.status != "Succeeded") || again.applied {
        bail!("run again with the alarm OK, the deploy should release {victim} alone: {again:?}");
    }
    println!("    run again with the alarm OK: {victim} released, nothing else applied or released");
    let aws = crate::aws::Aws::emulated("us-east-1", &codedeploy.url, endpoint_of(request)?)?;
    print!("{}", deploy::status_text(&aws, &Env::Dev.settings())?);
    Ok(())
}

fn endpoint_of(request: &deploy::Request) -> Result<&str> {
    match &request.place {
        deploy::Place::Emulator { endpoint, .. } => Ok(endpoint),
        deploy::Place::Aws => bail!("the rehearsal runs on the emulator"),
    }
}

/// Where the deploy tests leave the stand-in's exchanges for the contract check.
pub fn contract_dir() -> PathBuf {
    crate::target_dir().join("codedeploy-contract")
}

/// Every CodeDeploy exchange of this rehearsal and of the deploy tests (when they ran first, as in the test command),
/// validated by botocore against CodeDeploy's model, with the Python that moto runs on.
fn codedeploy_contract(codedeploy: &CodeDeployStandin) -> Result<()> {
    let mut lines: Vec<String> = codedeploy.exchanges().iter().map(standins::codedeploy::Exchange::to_line).collect();
    let ours = lines.len();
    for entry in std::fs::read_dir(contract_dir()).into_iter().flatten().flatten() {
        lines.extend(std::fs::read_to_string(entry.path())?.lines().map(str::to_owned));
    }
    let moto = moto_bin()?;
    let python = ["python3", "python"]
        .iter()
        .map(|p| moto.with_file_name(p))
        .find(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("python3"));
    let mut child = Command::new(&python)
        .args(["-c", include_str!("deploy/codedeploy_contract.py")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {}", python.display()))?;
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write;
        stdin.write_all(lines.join("\n").as_bytes())?;
    }
    let out = child.wait_with_output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!("the CodeDeploy exchanges break CodeDeploy's model:\n{text}{}", String::from_utf8_lossy(&out.stderr));
    }
    println!("    {} ({ours} from this rehearsal, the rest from the deploy tests)", text.trim());
    Ok(())
}
