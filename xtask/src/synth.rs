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
    /// Print this process's peak resident memory at the end (for benchmarks).
    #[arg(long, hide = true)]
    report_peak_rss: bool,
}

/// `synth --all --check`, for the test command.
pub fn run_check_all() -> Result<()> {
    run(&Args { env: None, all: true, check: true, out: None, dev_issuer: false, report_peak_rss: false })
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
    let mut stale = Vec::new();
    for env in envs {
        let start = Instant::now();
        let issuer = if args.dev_issuer { Issuer::Development } else { Issuer::Okta };
        let synthesized =
            stacks::synth_with_issuer(env, &Target::Aws, issuer).with_context(|| format!("synth of {env} failed"))?;
        let path = out_root.join(env.as_str()).join("main.tf.json");
        let shown = display_path(&path);
        if args.check {
            let committed = std::fs::read_to_string(&path).unwrap_or_default();
            if committed != synthesized.text {
                stale.push(shown);
            } else {
                println!("{shown}: up to date ({} resources)", synthesized.resource_count);
            }
            continue;
        }
        write_if_changed(&path, &synthesized.text)?;
        println!(
            "wrote {shown}: {} resources in {}. Next: terraform -chdir={} init && terraform -chdir={} plan",
            synthesized.resource_count,
            human(start.elapsed()),
            display_path(path.parent().unwrap_or(&path)),
            display_path(path.parent().unwrap_or(&path)),
        );
    }
    if !stale.is_empty() {
        bail!(
            "{} differ from what synth produces: {}. Run `cargo xtask synth --all` and commit the result",
            stale.len(),
            stale.join(", ")
        );
    }
    if args.report_peak_rss {
        println!("peak_rss_kib={}", crate::bench::peak_rss_kib(std::process::id()).unwrap_or(0));
    }
    Ok(())
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
