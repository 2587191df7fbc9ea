//! `cargo xtask synth`: renders each environment's stack and writes (or checks) `build/<env>/main.tf.json`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use stacks::{Env, Issuer, Target};

use crate::util::human;
use crate::workspace_root;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The environment to synthesize: dev, tst, stg or prd.
    #[arg(required_unless_present = "all", conflicts_with = "all", value_parser = parse_env)]
    env: Option<Env>,
    /// Synthesize all four environments.
    #[arg(long)]
    all: bool,
    /// Do not write: fail if a committed file differs from what synth produces.
    #[arg(long)]
    check: bool,
    /// Write under this folder instead of build/ (one sub-folder per environment).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Trust the local development issuer (`cargo xtask dev-token`) instead of Okta; dev and tst only.
    #[arg(long)]
    dev_issuer: bool,
    /// Render stg or prd although their settings still hold example values (the committed goldens are such
    /// examples): `terraform plan` of the result stops with a precondition naming the settings to fill in.
    #[arg(long)]
    example: bool,
    /// Print this process's CPU time and peak resident memory at the end (for benchmarks).
    #[arg(long, hide = true)]
    report_usage: bool,
    /// Accept that this resource is destroyed and replaced rather than moved (repeatable), when synth reports it
    /// as a likely rename: e.g. `--accept-replacement aws_apigatewayv2_route.get_old_path`.
    #[arg(long = "accept-replacement", value_name = "ADDRESS")]
    accept_replacement: Vec<String>,
    /// Synthesize this many copies of org-module instead of the catalog (the synth scaling benchmark).
    #[arg(long, hide = true)]
    synthetic_modules: Option<usize>,
}

/// `synth --all --check`, for the test command.
pub fn run_check_all() -> Result<()> {
    run(&Args {
        env: None,
        all: true,
        check: true,
        out: None,
        dev_issuer: false,
        example: true,
        report_usage: false,
        accept_replacement: Vec::new(),
        synthetic_modules: None,
    })
}

pub fn parse_env(s: &str) -> Result<Env, String> {
    s.parse::<Env>().map_err(|e| e.to_string())
}

pub fn run(args: &Args) -> Result<()> {
    let envs: Vec<Env> = match args.env {
        Some(env) => vec![env],
        None => Env::ALL.to_vec(),
    };
    let out_root = args.out.clone().unwrap_or_else(|| workspace_root().join("build"));
    // Check every environment before writing any, so a refused rename leaves all of build/ as it was.
    let synthetic = args.synthetic_modules.map(synthetic_catalog);
    let mut stale = Vec::new();
    let mut rendered = Vec::new();
    for env in envs {
        let start = Instant::now();
        let issuer = if args.dev_issuer { crate::dev::issuer() } else { Issuer::Okta };
        let options = stacks::Options { issuer, example: args.example };
        let synthesized = match &synthetic {
            Some(modules) => {
                // A synthetic catalog stands for an account whose Lambda quota was raised to fit it.
                let mut settings = env.settings();
                let c = &mut settings.reserved_concurrency;
                let functions = modules.iter().map(|m| m.functions.len() as u32).sum::<u32>();
                c.account = c.account.max(stacks::env::UNRESERVED + c.authorizer + c.module_function * functions);
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
    if args.report_usage {
        let pid = std::process::id();
        println!("cpu_ns={}", crate::bench::cpu_time(pid).unwrap_or_default().as_nanos());
        println!("peak_rss_kib={}", crate::bench::peak_rss_kib(pid).unwrap_or(0));
    }
    Ok(())
}

/// `n` copies of org-module under other names (`m0-module` …, routes under `/m0/…`), for the synth scaling
/// benchmark. The catalog's types hold `&'static` data (they are constants), so the copies are leaked: once, in a
/// benchmark process that exits right after.
fn synthetic_catalog(n: usize) -> Vec<route_registry::Module> {
    use route_registry::{modules::org, Function, Module, Route, Use};
    fn leak(s: String) -> &'static str {
        Box::leak(s.into_boxed_str())
    }
    (0..n)
        .map(|i| {
            let name = leak(format!("m{i}-module"));
            let copy = |f: &Function| Function { module: name, binary: leak(format!("m{i}-{}", f.name)), ..*f };
            // The queue-fed functions first: the copies of their producers send to the copies, not to org-module.
            let consumers: &'static [Function] =
                Box::leak(org::FUNCTIONS.iter().filter(|f| f.queues().count() == 0).map(copy).collect());
            let functions: Vec<Function> = org::FUNCTIONS
                .iter()
                .map(|f| {
                    let uses: Vec<Use> = f
                        .uses
                        .iter()
                        .map(|u| match u {
                            Use::Queue(to) => match consumers.iter().find(|c| c.name == to.name) {
                                Some(c) => Use::Queue(c),
                                None => *u,
                            },
                            other => *other,
                        })
                        .collect();
                    Function { uses: Box::leak(uses.into_boxed_slice()), ..copy(f) }
                })
                .collect();
            let functions: &'static [Function] = Box::leak(functions.into_boxed_slice());
            let routes: Vec<Route> = org::ROUTES
                .iter()
                .map(|r| {
                    let at = org::FUNCTIONS.iter().position(|f| *f == r.function).unwrap_or(0);
                    Route { path: leak(format!("/m{i}{}", r.path)), function: functions[at], ..*r }
                })
                .collect();
            Module {
                name,
                summary: org::MODULE.summary,
                functions,
                routes: Box::leak(routes.into_boxed_slice()),
                service_functions: org::MODULE.service_functions,
                renamed: &[],
            }
        })
        .collect()
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
