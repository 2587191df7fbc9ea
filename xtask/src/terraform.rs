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
    write_if_changed(&dir.join(".terraform.lock.hcl"), &read_lock(root)?)
}

/// A root module's committed lock file.
fn read_lock(root: &Path) -> Result<String> {
    let lock = root.join(".terraform.lock.hcl");
    std::fs::read_to_string(&lock).with_context(|| {
        format!(
            "{} is missing: run `cargo xtask validate --lock` and commit it (it pins the provider checksums)",
            display_path(&lock)
        )
    })
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

/// `cargo xtask validate`: every root module of the chosen environments, validated in one Terraform run. Each root
/// is copied under `target/terraform-validate/` (so `build/` keeps only what synth wrote and the lock file) and
/// called as a child module of one scratch root: the provider's schema (most of a validation's time) is loaded once
/// instead of once per root, 8 roots in about 8 s instead of 40 (BENCHMARKS.md, "CI"). A child module is validated
/// as a root is, but for its `backend` block, which Terraform ignores there with a warning; that warning is dropped,
/// and `terraform init -backend=false` never reads a backend either way.
pub fn validate(args: &ValidateArgs) -> Result<()> {
    let envs: Vec<Env> = args.env.map(|e| vec![e]).unwrap_or_else(|| Env::ALL.to_vec());
    let base = crate::target_dir().join("terraform-validate");
    let mut modules = Vec::new();
    let mut lock: Option<(PathBuf, String)> = None;
    for env in envs {
        for (i, root) in roots(env).iter().enumerate() {
            let source = root.join("main.tf.json");
            if !source.is_file() {
                bail!("{} does not exist: run `cargo xtask synth --all --example` first", display_path(&source));
            }
            if args.lock {
                step(&format!("terraform providers lock {}", display_path(root)), || write_lock(root))?;
            }
            let kind = if i == 0 { "platform" } else { "bootstrap" };
            let text = std::fs::read_to_string(&source).with_context(|| format!("cannot read {}", source.display()))?;
            write_if_changed(&base.join(kind).join(env.as_str()).join("main.tf.json"), &text)?;
            let lock_file = root.join(".terraform.lock.hcl");
            let lock_text = read_lock(root)?;
            match &lock {
                None => lock = Some((lock_file, lock_text)),
                Some((first, text)) if *text != lock_text => bail!(
                    "{} and {} pin different providers: run `cargo xtask validate --lock` and commit both",
                    display_path(first),
                    display_path(&lock_file)
                ),
                Some(_) => {}
            }
            modules.push(ValidatedRoot {
                module: format!("{kind}_{}", env.as_str()),
                dir: format!("{kind}/{}", env.as_str()),
                root: source,
            });
        }
    }
    let Some((_, lock_text)) = lock else { return Ok(()) };
    let dir = base.join("all");
    write_if_changed(&dir.join("main.tf.json"), &wrapper(&modules))?;
    write_if_changed(&dir.join(".terraform.lock.hcl"), &lock_text)?;
    let roots = match args.env {
        Some(env) => format!("build/{env} and build/bootstrap/{env}", env = env.as_str()),
        None => "the 8 root modules of build/ (each environment and its bootstrap)".to_string(),
    };
    step(&format!("terraform validate {roots}, in one run"), || {
        init(&dir, false)?;
        let mut cmd = terraform()?;
        cmd.arg(format!("-chdir={}", dir.display())).args(["validate", "-no-color", "-json"]);
        let out = cmd.output().context("cannot run terraform validate")?;
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).with_context(|| {
            format!("terraform validate -json printed no report: {}", String::from_utf8_lossy(&out.stderr))
        })?;
        let (valid, lines) = diagnostics(&report, &modules);
        for line in &lines {
            println!("{line}");
        }
        if !valid || !out.status.success() {
            bail!(
                "terraform rejected the synthesized configuration (above, by file). The stacks emitted something the \
                 provider's schema refuses: fix the stack or the DSL type, then run `cargo xtask synth --all --example` \
                 and this again"
            );
        }
        Ok(())
    })
}

/// One root module under validation: its module name in the scratch root, its folder under `target/terraform-validate/`
/// and the synthesized file it is a copy of.
struct ValidatedRoot {
    module: String,
    dir: String,
    root: PathBuf,
}

/// The scratch root calling every validated root as a module (a local path, so `init` copies nothing).
fn wrapper(modules: &[ValidatedRoot]) -> String {
    let calls: serde_json::Map<String, serde_json::Value> =
        modules.iter().map(|m| (m.module.clone(), serde_json::json!({ "source": format!("../{}", m.dir) }))).collect();
    format!("{:#}\n", serde_json::json!({ "module": calls }))
}

/// `terraform validate -json`'s verdict and its diagnostics as lines naming the synthesized file (`build/…`) each
/// came from; the warning that a child module's backend is ignored is the wrapper's doing and is dropped.
fn diagnostics(report: &serde_json::Value, modules: &[ValidatedRoot]) -> (bool, Vec<String>) {
    let valid = report["valid"].as_bool().unwrap_or(false);
    let mut lines = Vec::new();
    for d in report["diagnostics"].as_array().into_iter().flatten() {
        let summary = d["summary"].as_str().unwrap_or("");
        if summary == "Backend configuration ignored" {
            continue;
        }
        let file = d["range"]["filename"].as_str().unwrap_or("");
        let at = modules
            .iter()
            .find(|m| file.trim_start_matches("../").starts_with(&format!("{}/", m.dir)))
            .map(|m| display_path(&m.root))
            .unwrap_or_else(|| file.to_string());
        let line = d["range"]["start"]["line"].as_u64().map(|l| format!(":{l}")).unwrap_or_default();
        let detail = d["detail"].as_str().unwrap_or("");
        let severity = d["severity"].as_str().unwrap_or("error");
        lines.push(format!("    {severity}: {at}{line}: {summary}. {detail}").trim_end().to_string());
    }
    (valid, lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roots() -> Vec<ValidatedRoot> {
        ["platform/dev", "bootstrap/dev"]
            .iter()
            .map(|dir| ValidatedRoot {
                module: dir.replace('/', "_"),
                dir: dir.to_string(),
                root: workspace_root().join("build").join(dir.trim_start_matches("platform/")).join("main.tf.json"),
            })
            .collect()
    }

    #[test]
    fn the_wrapper_calls_each_root_by_a_relative_path() {
        let wrapper: serde_json::Value = serde_json::from_str(&wrapper(&roots())).unwrap();
        assert_eq!(wrapper["module"]["platform_dev"]["source"], "../platform/dev");
        assert_eq!(wrapper["module"]["bootstrap_dev"]["source"], "../bootstrap/dev");
    }

    /// A report as Terraform 1.11 prints it for a child module with an unknown attribute (recorded from a run).
    #[test]
    fn an_error_names_the_synthesized_file_and_the_backend_warning_is_dropped() {
        let report = serde_json::json!({
            "valid": false,
            "diagnostics": [
                { "severity": "warning", "summary": "Backend configuration ignored",
                  "range": { "filename": "../bootstrap/dev/main.tf.json", "start": { "line": 12 } } },
                { "severity": "error", "summary": "Extraneous JSON object property",
                  "detail": "No argument or block type is named \"bogus_attribute\".",
                  "range": { "filename": "../platform/dev/main.tf.json", "start": { "line": 40 } } }
            ]
        });
        let (valid, lines) = diagnostics(&report, &roots());
        assert!(!valid);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].starts_with("    error: "), "{lines:?}");
        assert!(lines[0].contains("build/dev/main.tf.json:40: Extraneous JSON object property."), "{lines:?}");
    }

    #[test]
    fn a_valid_report_with_only_the_wrappers_warnings_prints_nothing() {
        let report = serde_json::json!({ "valid": true, "diagnostics": [
            { "severity": "warning", "summary": "Backend configuration ignored", "range": { "filename": "x" } }
        ]});
        assert_eq!(diagnostics(&report, &roots()), (true, vec![]));
    }
}
