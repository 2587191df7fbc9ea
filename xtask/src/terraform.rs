//! Running Terraform: finding the binary and an offline provider mirror, `init` and `validate`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use stacks::Env;

use crate::synth::{display_path, parse_env, write_if_changed};
use crate::util::{exec, step};
use crate::workspace_root;

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// The environment to validate (default: all four).
    #[arg(value_parser = parse_env)]
    env: Option<Env>,
}

impl ValidateArgs {
    pub fn all() -> Self {
        ValidateArgs { env: None }
    }
}

/// Where an offline copy of the providers may live, in search order after `TF_PROVIDER_MIRROR`.
const MIRROR_CANDIDATES: &[&str] = &[
    "/opt/tf-plugins",
    "~/.terraform.d/plugins",
    "/usr/share/terraform/plugins",
    "/usr/local/share/terraform/plugins",
];

/// A provider mirror root: a folder holding `registry.terraform.io/hashicorp/aws/<version>/<os_arch>/`.
pub fn find_mirror() -> Option<PathBuf> {
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
    let from_env = std::env::var_os("TF_PROVIDER_MIRROR").map(PathBuf::from);
    let candidates = from_env.into_iter().chain(MIRROR_CANDIDATES.iter().map(|c| match c.strip_prefix("~/") {
        Some(rest) => home.join(rest),
        None => PathBuf::from(c),
    }));
    candidates.into_iter().find(|root| root.join("registry.terraform.io/hashicorp/aws").is_dir())
}

/// A `terraform` command, or a clear error saying how to get one.
pub fn terraform() -> Result<Command> {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|dir| dir.join("terraform").is_file()))
        .unwrap_or(false);
    if !found {
        bail!("terraform was not found on PATH. Install Terraform 1.10 or newer (the stacks need `use_lockfile`), then run this again");
    }
    let mut cmd = Command::new("terraform");
    // A CLI configuration file that does not exist only produces warnings; drop the setting in that case.
    if let Some(cfg) = std::env::var_os("TF_CLI_CONFIG_FILE") {
        if !Path::new(&cfg).exists() {
            cmd.env_remove("TF_CLI_CONFIG_FILE");
        }
    }
    cmd.env("TF_IN_AUTOMATION", "1").env("CHECKPOINT_DISABLE", "1");
    Ok(cmd)
}

/// `terraform init` in `dir`, offline from the mirror when there is one.
pub fn init(dir: &Path, backend: bool) -> Result<()> {
    let mut cmd = terraform()?;
    cmd.arg(format!("-chdir={}", dir.display())).args(["init", "-input=false", "-no-color"]);
    if !backend {
        cmd.arg("-backend=false");
    }
    match find_mirror() {
        Some(mirror) => {
            cmd.arg(format!("-plugin-dir={}", mirror.display()));
        }
        None => {
            println!("    no offline provider mirror found (set TF_PROVIDER_MIRROR to use one): downloading providers")
        }
    }
    cmd.stdout(std::process::Stdio::null());
    exec(&mut cmd).context("terraform init failed: see the messages above")
}

pub fn validate(args: &ValidateArgs) -> Result<()> {
    let envs: Vec<Env> = args.env.map(|e| vec![e]).unwrap_or_else(|| Env::ALL.to_vec());
    let build = workspace_root().join("build");
    for env in envs {
        let source = build.join(env.as_str()).join("main.tf.json");
        if !source.is_file() {
            bail!("{} does not exist: run `cargo xtask synth {env}` first", display_path(&source));
        }
        // Validate a copy under target/, so build/<env> keeps only what synth wrote.
        let dir = workspace_root().join("target/terraform-validate").join(env.as_str());
        let text = std::fs::read_to_string(&source).with_context(|| format!("cannot read {}", source.display()))?;
        write_if_changed(&dir.join("main.tf.json"), &text)?;
        step(&format!("terraform validate {env}"), || {
            init(&dir, false)?;
            let mut cmd = terraform()?;
            cmd.arg(format!("-chdir={}", dir.display())).args(["validate", "-no-color"]);
            exec(&mut cmd).with_context(|| format!("terraform rejected {}", display_path(&source)))
        })?;
    }
    Ok(())
}
