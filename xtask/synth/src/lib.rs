//! `cargo xtask synth`: renders each environment's stack and writes (or checks) `build/<env>/main.tf.json`, with
//! the bootstrap root and the diagram beside it.
//!
//! Its own crate, depending on the stacks and little else, because synth is the task run after every edit to the
//! catalog: the edit recompiles route-registry, stacks and this crate, and nothing of the task runner's other
//! tasks (their services, benchmarks and dependencies). `cargo xtask` runs this crate's binary, which runs synth
//! itself and hands every other task to the task runner (`xtask/`), which runs synth through this library too.
//! The workspace facts both binaries need (where the workspace is, whether the binary was built from it) live here
//! for the same reason.

#![allow(clippy::print_stdout, reason = "a command-line tool: its output is the product")]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use stacks::{Env, Issuer, Target};

/// The options of `cargo xtask synth`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The environment to synthesize: dev, tst, stg or prd.
    #[arg(required_unless_present = "all", conflicts_with = "all", value_parser = parse_env)]
    pub env: Option<Env>,
    /// Synthesize all four environments.
    #[arg(long)]
    pub all: bool,
    /// Do not write: fail if a committed file differs from what synth produces.
    #[arg(long)]
    pub check: bool,
    /// Write under this folder instead of build/ (one sub-folder per environment).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Trust the local development issuer (`cargo xtask dev-token`) instead of Okta; dev and tst only.
    #[arg(long)]
    pub dev_issuer: bool,
    /// Render stg or prd although their settings still hold example values (the committed goldens are such
    /// examples): `terraform plan` of the result stops with a precondition naming the settings to fill in.
    #[arg(long)]
    pub example: bool,
    /// Accept that this resource is destroyed and replaced rather than moved (repeatable), when synth reports it
    /// as a likely rename: e.g. `--accept-replacement aws_apigatewayv2_route.get_old_path`.
    #[arg(long = "accept-replacement", value_name = "ADDRESS")]
    pub accept_replacement: Vec<String>,
}

/// What `cargo xtask --help` says of synth, and `cargo xtask synth --help` at its top.
pub const ABOUT: &str = "Write build/<env>/main.tf.json for one environment or all four (stg and prd need \
                         --example while their settings hold example values)";

/// The longer help of `cargo xtask synth --help`.
pub const LONG_ABOUT: &str = "Write build/<env>/main.tf.json for one environment or all four (stg and prd need \
    --example while their settings hold example values).\n\n\
    Each folder is a complete Terraform root module: `terraform -chdir=build/dev init` then `plan`/`apply`. Synth \
    compares with the committed output and refuses likely renames (a resource type losing addresses while gaining \
    others) unless each is declared as a move or accepted with --accept-replacement.";

impl Args {
    /// `synth --all --check --example`: the goldens, as the test command holds them.
    pub fn check_all() -> Args {
        Args {
            env: None,
            all: true,
            check: true,
            out: None,
            dev_issuer: false,
            example: true,
            accept_replacement: Vec::new(),
        }
    }
}

pub fn parse_env(s: &str) -> Result<Env, String> {
    s.parse::<Env>().map_err(|e| e.to_string())
}

/// The development issuer as synth and the local tools know it (`support/dev-issuer`), refused for stg and prd. Its
/// JWKS URL is under `.invalid`: a stack that trusted it by mistake could never fetch its keys (locally the API serves
/// them itself).
pub fn dev_issuer() -> Issuer {
    Issuer::Development { issuer: dev_issuer::ISSUER.to_owned(), jwks_url: format!("{}/v1/keys", dev_issuer::ISSUER) }
}

/// Synthesizes the catalog's modules.
pub fn run(args: &Args) -> Result<()> {
    run_with(args, None)
}

/// Synthesizes `modules` instead of the catalog when given (the synth scaling benchmark's synthetic catalogs, which
/// stand for an account whose Lambda quota was raised to fit them).
pub fn run_with(args: &Args, modules: Option<&[route_registry::Module]>) -> Result<()> {
    let envs: Vec<Env> = match args.env {
        Some(env) => vec![env],
        None => Env::ALL.to_vec(),
    };
    let out_root = args.out.clone().unwrap_or_else(|| workspace_root().join("build"));
    // Check every environment before writing any, so a refused rename leaves all of build/ as it was.
    let mut stale = Vec::new();
    let mut rendered = Vec::new();
    for env in envs {
        let start = Instant::now();
        let issuer = if args.dev_issuer { dev_issuer() } else { Issuer::Okta };
        let options = stacks::Options { issuer, example: args.example };
        let synthesized = match modules {
            Some(modules) => {
                let mut settings = env.settings();
                let c = &mut settings.reserved_concurrency;
                c.account = c.account.max(c.account_for(stacks::triggers::module_functions(modules)));
                stacks::synth_catalog(settings, &Target::Aws, &options, modules)
            }
            None => stacks::synth_with(env, &Target::Aws, &options),
        }
        .with_context(|| format!("synth of {env} failed"))?;
        let bootstrap = stacks::bootstrap::synth(env, &Target::Aws, false)?;
        let path = out_root.join(env.as_str()).join("main.tf.json");
        let bootstrap_path = out_root.join("bootstrap").join(env.as_str()).join("main.tf.json");
        // The picture of what was synthesized, next to it (README and ARCHITECTURE.md link to dev's).
        let diagram = stacks::diagram::markdown(env.as_str(), &serde_json::from_str(&synthesized.text)?);
        let diagram_path = out_root.join(env.as_str()).join("diagram.md");
        if args.check {
            for (path, text) in [(&path, &synthesized.text), (&bootstrap_path, &bootstrap), (&diagram_path, &diagram)] {
                if std::fs::read_to_string(path).ok().as_deref() != Some(text.as_str()) {
                    stale.push(display_path(path));
                }
            }
            if stale.is_empty() {
                println!("{}: up to date ({} resources)", display_path(&path), synthesized.resource_count);
            }
            continue;
        }
        if args.out.is_none() {
            if let Ok(committed) = std::fs::read_to_string(&path) {
                stacks::renames::guard(&committed, &synthesized.text, &args.accept_replacement)
                    .map_err(|e| anyhow::anyhow!("{env}: {e}"))?;
            }
        }
        rendered.push((env, path, synthesized, bootstrap_path, bootstrap, diagram_path, diagram, start));
    }
    for (env, path, synthesized, bootstrap_path, bootstrap, diagram_path, diagram, start) in rendered {
        write_if_changed(&path, &synthesized.text)?;
        write_if_changed(&bootstrap_path, &bootstrap)?;
        write_if_changed(&diagram_path, &diagram)?;
        let dir = display_path(path.parent().unwrap_or(&path));
        let example = if synthesized.example {
            " (an EXAMPLE: terraform plan refuses it until the settings are real)"
        } else {
            ""
        };
        println!(
            "wrote {}: {} resources in {}{example}. Next: cargo xtask bootstrap {env} (once), terraform -chdir={dir} init && terraform -chdir={dir} plan",
            display_path(&path),
            synthesized.resource_count,
            human(start.elapsed()),
        );
    }
    if !stale.is_empty() {
        bail!(
            "{} differ from what synth produces: {}. Run `cargo xtask synth --all --example` and commit the result",
            stale.len(),
            stale.join(", ")
        );
    }
    Ok(())
}

/// The variables `cargo run` sets for the program it runs (this one, or the task runner): they describe that program,
/// not the builds it starts.
const RUN_VARIABLES: &[&str] = &[
    "CARGO_MANIFEST_DIR",
    "CARGO_MANIFEST_PATH",
    "CARGO_MANIFEST_LINKS",
    "CARGO_PKG_NAME",
    "CARGO_PKG_VERSION",
    "CARGO_PKG_VERSION_MAJOR",
    "CARGO_PKG_VERSION_MINOR",
    "CARGO_PKG_VERSION_PATCH",
    "CARGO_PKG_VERSION_PRE",
    "CARGO_PKG_AUTHORS",
    "CARGO_PKG_DESCRIPTION",
    "CARGO_PKG_HOMEPAGE",
    "CARGO_PKG_REPOSITORY",
    "CARGO_PKG_LICENSE",
    "CARGO_PKG_LICENSE_FILE",
    "CARGO_PKG_RUST_VERSION",
    "CARGO_PKG_README",
    "CARGO_CRATE_NAME",
    "CARGO_BIN_NAME",
    "CARGO_PRIMARY_PACKAGE",
];

/// The cargo arguments that build the task runner: the whole workspace's feature set, so its dependencies are the
/// very builds `cargo test --workspace` makes and uses (`cargo run --package xtask` resolved xtask's features alone:
/// 33 crates, tokio and the HTTP and AWS stacks among them, built a second time in a fresh clone; BENCHMARKS.md, "CI").
pub const TASK_RUNNER_BUILD: [&str; 5] = ["build", "--quiet", "--workspace", "--bin", "xtask"];

/// Builds a task runner, then answers a command that runs it, without the variables `cargo run` would have set (as
/// [`cargo`] does). `dir` is a scratch copy of the workspace to build and run in, with `CARGO_TARGET_DIR` = `target`
/// for both; `None` is the current directory's workspace, whose target directory `target` must be. The binary is
/// `<target>/debug/xtask`.
pub fn task_runner(dir: Option<&Path>, target: &Path) -> Result<std::process::Command> {
    let mut build = cargo();
    build.args(TASK_RUNNER_BUILD);
    if let Some(dir) = dir {
        build.current_dir(dir).env("CARGO_TARGET_DIR", target);
    }
    let status = build.status().with_context(|| format!("cannot run {build:?}: is cargo on PATH?"))?;
    if !status.success() {
        bail!("the task runner did not build ({status}): the errors are above");
    }
    let mut cmd = std::process::Command::new(target.join("debug").join("xtask"));
    for v in RUN_VARIABLES {
        cmd.env_remove(v);
    }
    if let Some(dir) = dir {
        cmd.current_dir(dir).env("CARGO_TARGET_DIR", target);
    }
    Ok(cmd)
}

/// A `cargo` command with the cargo that started this program (`$CARGO`), and without the variables `cargo run`
/// set for this program. Build scripts that declare `rerun-if-env-changed=CARGO_PKG_NAME` (ring's does, and with it
/// every crate above ring) would otherwise rebuild whenever a build is started by another program than the last one
/// (the task runner, the synth binary, a scratch copy's task runner at another version, a shell), and each would undo
/// the other's builds in the shared target directory.
pub fn cargo() -> std::process::Command {
    let mut cmd = std::process::Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    for v in RUN_VARIABLES {
        cmd.env_remove(v);
    }
    cmd
}

/// Writes only when the content changed, so unchanged outputs keep their timestamps.
pub fn write_if_changed(path: &Path, text: &str) -> Result<()> {
    if std::fs::read_to_string(path).ok().as_deref() == Some(text) {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// A path relative to the current directory when it is below it (shorter, and what users type).
pub fn display_path(path: &Path) -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    path.strip_prefix(&cwd).unwrap_or(path).display().to_string()
}

/// `1.2 s`, `35 ms`.
pub fn human(d: Duration) -> String {
    if d.as_secs_f64() >= 1.0 {
        format!("{:.1} s", d.as_secs_f64())
    } else {
        format!("{} ms", d.as_millis())
    }
}

/// The workspace root: the nearest folder at or above the current directory whose `Cargo.toml` declares a
/// `[workspace]` (what `cargo locate-project --workspace` finds). Found at run time, never compiled in, so a binary
/// built in one checkout and run from another (a shared target directory, a git worktree, a scratch copy) acts on
/// the checkout it is run in.
pub fn workspace_root() -> PathBuf {
    let start = std::env::current_dir().unwrap_or_default();
    start
        .ancestors()
        .find(|dir| {
            std::fs::read_to_string(dir.join("Cargo.toml")).is_ok_and(|t| t.lines().any(|l| l.trim() == "[workspace]"))
        })
        .map(PathBuf::from)
        .unwrap_or(start)
}

/// Refuses to run a binary compiled from another checkout of this workspace (`built` is the root of the checkout
/// it was compiled from): with a shared target directory, cargo cannot tell two checkouts' builds of the same
/// package version apart, so `cargo xtask` in one may run the other's binary, with the other's catalog compiled in.
pub fn built_here(built: &Path) -> Result<()> {
    let here = workspace_root();
    let canonical = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    // Outside a checkout (run from elsewhere) there is nothing to compare; a checkout that built this binary and is
    // gone since (a scratch copy) is still another checkout.
    if !here.join("xtask/Cargo.toml").is_file() || canonical(built) == canonical(&here) {
        return Ok(());
    }
    bail!(
        "this binary was built from {} but runs in {}: the two checkouts share a target directory, so cargo cannot \
         tell their builds apart and this binary carries the other checkout's code. Give this checkout a target \
         directory of its own (unset CARGO_TARGET_DIR or point it elsewhere) and run the command again",
        built.display(),
        here.display()
    )
}
