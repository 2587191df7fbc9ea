//! Running Terraform: finding the binary and an offline provider mirror, `init` and `validate`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use stacks::Env;

use crate::util::{exec, step};
use crate::workspace_root;
use xtask_synth::{display_path, parse_env, write_if_changed};

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// The environment to validate (default: all four).
    #[arg(value_parser = parse_env)]
    env: Option<Env>,
    /// (Re)write the committed provider lock files (`.terraform.lock.hcl` next to each root module) from the
    /// provider mirror, instead of requiring them.
    #[arg(long)]
    lock: bool,
}

impl ValidateArgs {
    pub fn all() -> Self {
        ValidateArgs { env: None, lock: false }
    }
}

/// The root modules of an environment: the platform and its bootstrap module.
fn roots(env: Env) -> [PathBuf; 2] {
    let build = workspace_root().join("build");
    [build.join(env.as_str()), build.join("bootstrap").join(env.as_str())]
}

/// Writes a root module's provider lock file (`terraform providers lock`, from the mirror when there is one).
fn write_lock(root: &Path) -> Result<()> {
    let mut cmd = terraform()?;
    cmd.arg(format!("-chdir={}", root.display())).args(["providers", "lock", "-no-color", "-platform=linux_amd64"]);
    if let Some(mirror) = find_mirror() {
        cmd.arg(format!("-fs-mirror={}", mirror.display()));
    }
    cmd.stdout(std::process::Stdio::null());
    exec(&mut cmd).with_context(|| format!("terraform providers lock failed in {}", display_path(root)))
}

/// Copies a root module's committed lock file into `dir`, where it is used read-only: a provider whose checksum is
/// not in it is refused.
pub fn use_lock(root: &Path, dir: &Path) -> Result<()> {
    let lock = root.join(".terraform.lock.hcl");
    let text = std::fs::read_to_string(&lock).with_context(|| {
        format!(
            "{} is missing: run `cargo xtask validate --lock` and commit it (it pins the provider checksums)",
            display_path(&lock)
        )
    })?;
    write_if_changed(&dir.join(".terraform.lock.hcl"), &text)
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

/// `terraform init` in `dir`, offline from the mirror when there is one; with a lock file in `dir`, read-only.
pub fn init(dir: &Path, backend: bool) -> Result<()> {
    let mut cmd = terraform()?;
    cmd.arg(format!("-chdir={}", dir.display())).args(["init", "-input=false", "-no-color"]);
    if dir.join(".terraform.lock.hcl").is_file() {
        cmd.arg("-lockfile=readonly");
    }
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
    for env in envs {
        for (i, root) in roots(env).iter().enumerate() {
            let source = root.join("main.tf.json");
            if !source.is_file() {
                bail!("{} does not exist: run `cargo xtask synth --all --example` first", display_path(&source));
            }
            if args.lock {
                step(&format!("terraform providers lock {}", display_path(root)), || write_lock(root))?;
            }
            // Validate a copy under target/, so build/ keeps only what synth wrote (and the lock file).
            let kind = if i == 0 { "platform" } else { "bootstrap" };
            let dir = crate::target_dir().join("terraform-validate").join(kind).join(env.as_str());
            let text = std::fs::read_to_string(&source).with_context(|| format!("cannot read {}", source.display()))?;
            write_if_changed(&dir.join("main.tf.json"), &text)?;
            use_lock(root, &dir)?;
            step(&format!("terraform validate {}", display_path(root)), || {
                init(&dir, false)?;
                let mut cmd = terraform()?;
                cmd.arg(format!("-chdir={}", dir.display())).args(["validate", "-no-color"]);
                exec(&mut cmd).with_context(|| format!("terraform rejected {}", display_path(&source)))
            })?;
        }
    }
    Ok(())
}
