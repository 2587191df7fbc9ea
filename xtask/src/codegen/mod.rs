//! `cargo xtask codegen`: the files Rust cannot derive at compile time, generated whole, formatted, each with a
//! "generated, do not edit" header, in the way of rust-analyzer's codegen. `catalog` writes what follows from the
//! module catalog (its module list, the `all-modules` crate, one binary per module); `aws` and `provider` write the
//! typed `hashicorp/aws` resources the stacks list (`infra-dsl/src/aws/`), from the provider's schema.
//!
//! `--check` (and a test) fails when a file is stale, naming it and the command that regenerates it. When the catalog
//! folder has a module this binary was not compiled with (a new catalog file), codegen writes the catalog's module
//! list, then runs itself again through cargo, which compiles the catalog with the new module, for the rest.

pub mod aws;
pub mod catalog;
pub mod coverage;
pub mod provider;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::util::exec;
use crate::workspace_root;

#[derive(Debug, Default, clap::Args)]
pub struct Args {
    /// Do not write: fail if a generated file differs from what codegen produces.
    #[arg(long)]
    check: bool,
    /// Regenerate the AWS types from this version of hashicorp/aws (it must be in the provider mirror) and print
    /// what changed for the types the stacks use, instead of the version the lock files pin.
    #[arg(long, value_name = "VERSION", conflicts_with = "check")]
    provider_version: Option<String>,
    /// Instead of writing: generate every type of the pinned provider, compile a set of them that uses every schema
    /// construct, and have `terraform validate` accept what they synthesize (a step of the test command).
    #[arg(long, conflicts_with_all = ["check", "provider_version"])]
    coverage: bool,
}

impl Args {
    /// `--check`.
    pub fn checking(mut self) -> Self {
        self.check = true;
        self
    }

    /// `--coverage`.
    pub fn coverage() -> Self {
        Args { coverage: true, ..Default::default() }
    }
}

/// Every generated file, and the files in generated folders that should not exist.
fn generate_all(root: &Path) -> Result<(Vec<catalog::Generated>, Vec<PathBuf>)> {
    let (mut files, mut extra) = catalog::generate(root)?;
    let subset = aws::read_subset(root)?;
    if subset.includes() != aws::includes(root)? {
        bail!(
            "{} lists other types than {} holds: run `cargo xtask codegen` (it reads their schema from the provider)",
            aws::INCLUDE_LIST,
            aws::SUBSET
        );
    }
    let types = aws::generate(root, &subset)?;
    extra.extend(aws::extra_files(root, &types));
    files.extend(types);
    files.push(cost_page(root)?);
    Ok((files, extra))
}

/// The cost table the docs quote: dev at its default traffic, from the cost model and dev's synthesized stack.
fn cost_page(root: &Path) -> Result<catalog::Generated> {
    let env = stacks::Env::Dev;
    let options = stacks::Options { example: true, ..Default::default() };
    let doc: serde_json::Value = serde_json::from_str(&stacks::synth_with(env, &stacks::Target::Aws, &options)?.text)?;
    let estimate = stacks::cost::estimate(env, &stacks::cost::Profile::default_for(env), &doc, &stacks::cost::PRICES);
    Ok(catalog::Generated {
        path: root.join("docs/generated/cost-dev.md"),
        text: stacks::cost::markdown(&estimate, "cargo xtask codegen"),
    })
}

/// The generated files that differ from what codegen produces, and the generated files that should not exist.
pub fn stale(root: &Path) -> Result<Vec<PathBuf>> {
    let (files, extra) = generate_all(root)?;
    let mut out: Vec<PathBuf> = files
        .into_iter()
        .filter(|g| std::fs::read_to_string(&g.path).ok().as_deref() != Some(g.text.as_str()))
        .map(|g| g.path)
        .collect();
    out.extend(extra);
    Ok(out)
}

/// Writes every generated file whose content changed and removes generated files no catalog entry has any more;
/// returns what changed.
pub fn write(root: &Path) -> Result<Vec<PathBuf>> {
    let (files, extra) = generate_all(root)?;
    let mut changed = Vec::new();
    for g in files {
        if std::fs::read_to_string(&g.path).ok().as_deref() != Some(g.text.as_str()) {
            if let Some(dir) = g.path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(&g.path, &g.text).with_context(|| format!("cannot write {}", g.path.display()))?;
            changed.push(g.path);
        }
    }
    for path in extra {
        std::fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
        // A folder of generated files that is left empty goes too (`src/bin/` of the one-binary-per-function layout).
        if let Some(dir) = path.parent() {
            let _ = std::fs::remove_dir(dir);
        }
        changed.push(path);
    }
    Ok(changed)
}

/// Brings a catalog folder with a module this binary does not know up to date: the module list first, then codegen
/// again in a process compiled with it.
pub fn write_after_new_module(root: &Path) -> Result<()> {
    let files = catalog::catalog_files(root)?;
    let list = catalog::catalog_mod_file(root, &files)?;
    std::fs::write(&list.path, &list.text).with_context(|| format!("cannot write {}", list.path.display()))?;
    // In this target directory: a scaffold into a scratch copy builds there too (as the copy's own tasks do).
    exec(xtask_synth::task_runner(Some(root), &crate::target_dir())?.arg("codegen"))
        .context("codegen with the new catalog failed")
}

pub fn run(args: &Args) -> Result<()> {
    let root = workspace_root();
    if args.coverage {
        return coverage::run(&root);
    }
    let shown = |p: &Path| p.strip_prefix(&root).unwrap_or(p).display().to_string();
    if !args.check && catalog::catalog_changed(&root)? {
        println!("codegen: the catalog folder has modules this binary was compiled without; recompiling with them");
        return write_after_new_module(&root);
    }
    if args.check {
        let stale = stale(&root)?;
        if !stale.is_empty() {
            bail!(
                "generated files are stale: {}. Run `cargo xtask codegen` and commit the result",
                stale.iter().map(|p| shown(p)).collect::<Vec<_>>().join(", ")
            );
        }
        println!("codegen: generated files are up to date");
        return Ok(());
    }
    refresh_subset(&root, args.provider_version.as_deref())?;
    let written = write(&root)?;
    if written.is_empty() {
        println!("codegen: generated files are up to date");
    }
    for p in written {
        println!("{} {}", if p.exists() { "wrote" } else { "removed" }, shown(&p));
    }
    Ok(())
}

/// Reads the schema of the listed AWS types from the provider when the list changed or another version is asked
/// for, writes the subset, and reports what an upgrade changes for the types the stacks use.
fn refresh_subset(root: &Path, version: Option<&str>) -> Result<()> {
    let includes = aws::includes(root)?;
    let committed = aws::read_subset(root).ok();
    let fresh = committed.as_ref().is_some_and(|s| s.includes() == includes);
    if fresh && version.is_none() {
        return Ok(());
    }
    let version = match version {
        Some(v) => v.to_owned(),
        None => aws::pinned_version(root)?,
    };
    let all = crate::util::step(&format!("terraform providers schema -json (hashicorp/aws {version})"), || {
        aws::live_schema(&version)
    })?;
    let subset = aws::subset(&all, &version, &includes)?;
    if let Some(old) = committed.filter(|old| old.version != subset.version) {
        let report = aws::upgrade_report(&old, &subset);
        println!(
            "hashicorp/aws {} → {}: {} change(s) that can break the stacks",
            old.version,
            subset.version,
            report.len()
        );
        for line in &report {
            println!("  {line}");
        }
    }
    let path = root.join(aws::SUBSET);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&path, aws::subset_text(&subset)?).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed generated files are what codegen produces now (rust-analyzer style: the test tells you the
    /// command instead of silently rewriting).
    #[test]
    fn generated_files_are_fresh() {
        let stale = stale(&workspace_root()).unwrap();
        assert!(stale.is_empty(), "stale generated files {stale:?}: run `cargo xtask codegen`");
    }

    #[test]
    fn the_template_is_declared_but_not_deployed_and_every_module_has_its_binary() {
        let (files, _) = catalog::generate(&workspace_root()).unwrap();
        let text = |suffix: &str| files.iter().find(|g| g.path.ends_with(suffix)).map(|g| g.text.clone()).unwrap();
        let list = text("route-registry/src/modules/mod.rs");
        assert!(list.contains("pub mod template;") && !list.contains("template::MODULE"), "{list}");
        assert!(!text("all-modules/src/lib.rs").contains("template_module::FUNCTIONS]"));
        for f in route_registry::all_functions().filter(|f| *f != route_registry::AUTHORIZER) {
            let bin = text(&format!("{}/src/main.rs", f.package()));
            assert!(bin.starts_with("//! ") && bin.contains("do not edit") && bin.contains(f.name), "{bin}");
        }
    }
}
