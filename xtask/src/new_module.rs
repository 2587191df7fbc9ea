//! `cargo xtask new-module <name> --entity <entity>`: a new CORA module from the module template, which is real code
//! the workspace builds and tests (`lambdas/template-module`, its catalog entry `modules/template.rs` and its
//! migration). The files are copied with the template's names (`template`, `gizmos`, `gizmo`, `Gizmo`, …) replaced,
//! formatted with rustfmt, and the generated files (`cargo xtask codegen`) regenerated. Nothing hand-written is
//! edited: a module is one catalog entry, one crate and one migration.
//!
//! Everything is computed and checked first (names, collisions); then written; if any write fails, the files
//! written are removed and the generated ones restored, so nothing is left half-done.
//!
//! `cargo xtask scaffold-check` proves it: a module scaffolded into a scratch copy of the workspace passes, there,
//! every check the module can change; the deploy rehearsal plans what it adds.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::codegen;
use crate::util::{cargo, exec, step};
use crate::workspace_root;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The module, kebab-case and ending in `-module` (e.g. `resume-module`).
    name: String,
    /// The entity it manages, plural, snake- or kebab-case (e.g. `resumes`, `work-items`).
    #[arg(long)]
    entity: String,
    /// The entity's singular when the built-in rules get it wrong (e.g. `--singular alias` for `aliases`).
    #[arg(long)]
    singular: Option<String>,
    /// Scaffold into this workspace instead of the current one.
    #[arg(long, hide = true)]
    root: Option<PathBuf>,
}

/// Names derived once from the arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Names {
    module: String,       // resume-module
    module_snake: String, // resume_module
    short_snake: String,  // resume
    entity: String,       // work-items
    entity_snake: String, // work_items
    entity_const: String, // WORK_ITEMS
    singular_snake: String,
    singular_const: String, // WORK_ITEM
    type_name: String,      // WorkItem
    binary: String,         // resume-work-items
}

fn kebab_ok(s: &str) -> bool {
    !s.is_empty()
        && s.split('-').all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()))
        && s.starts_with(|c: char| c.is_ascii_lowercase())
}

/// English singular of a plural word, by the common rules; `--singular` overrides it.
fn singular(word: &str) -> String {
    const IRREGULAR: &[(&str, &str)] =
        &[("people", "person"), ("children", "child"), ("men", "man"), ("women", "woman"), ("data", "datum")];
    if let Some((_, s)) = IRREGULAR.iter().find(|(p, _)| *p == word) {
        return (*s).to_owned();
    }
    for (plural, single) in
        [("ies", "y"), ("sses", "ss"), ("shes", "sh"), ("ches", "ch"), ("xes", "x"), ("zzes", "zz"), ("uses", "us")]
    {
        if let Some(stem) = word.strip_suffix(plural).filter(|s| !s.is_empty()) {
            return format!("{stem}{single}");
        }
    }
    match word.strip_suffix('s') {
        Some(stem) if !stem.is_empty() && !stem.ends_with('s') => stem.to_owned(),
        _ => word.to_owned(),
    }
}

fn pascal(kebab: &str) -> String {
    kebab
        .split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        })
        .collect()
}

fn names(module: &str, entity: &str, singular_override: Option<&str>) -> Result<Names> {
    let Some(short) = module.strip_suffix("-module").filter(|s| kebab_ok(s)) else {
        bail!("`{module}` is not a module name: use kebab-case ending in -module, e.g. resume-module");
    };
    let entity = entity.replace('_', "-");
    if !kebab_ok(&entity) {
        bail!(
            "`{entity}` is not an entity name: use snake- or kebab-case letters and digits, e.g. resumes or work_items"
        );
    }
    let (last, rest) = match entity.rsplit_once('-') {
        Some((rest, last)) => (last, Some(rest)),
        None => (entity.as_str(), None),
    };
    let single = match singular_override {
        Some(s) => {
            let s = s.replace('_', "-");
            if !kebab_ok(&s) {
                bail!("`{s}` is not a singular name: use snake- or kebab-case letters and digits");
            }
            s
        }
        None => match rest {
            Some(rest) => format!("{rest}-{}", singular(last)),
            None => singular(last),
        },
    };
    if single == entity {
        bail!("`{entity}` and its singular are the same word: give the plural with --entity, or the singular with --singular");
    }
    let snake = |s: &str| s.replace('-', "_");
    Ok(Names {
        module: module.to_owned(),
        module_snake: snake(module),
        short_snake: snake(short),
        entity_snake: snake(&entity),
        entity_const: snake(&entity).to_ascii_uppercase(),
        singular_snake: snake(&single),
        singular_const: snake(&single).to_ascii_uppercase(),
        type_name: pascal(&single),
        binary: format!("{short}-{entity}"),
        entity,
    })
}

/// The template's names replaced by the new module's, most specific first.
fn rename(text: &str, n: &Names) -> String {
    let short_kebab = n.module.strip_suffix("-module").unwrap_or(&n.module);
    let singular_kebab = n.singular_snake.replace('_', "-");
    let rules: [(&str, String); 14] = [
        ("template-module", n.module.clone()),
        ("template_module", n.module_snake.clone()),
        ("template-gizmos", n.binary.clone()),
        // The functions without a caller: `template-gizmo-indexer` and its name `gizmo-indexer`.
        ("template-gizmo-", format!("{short_kebab}-{singular_kebab}-")),
        ("\"gizmo-", format!("\"{singular_kebab}-")),
        ("\"/gizmos", format!("\"/{}", n.entity)),
        ("name: \"gizmos\"", format!("name: \"{}\"", n.entity)),
        ("GIZMOS", n.entity_const.clone()),
        ("GIZMO", n.singular_const.clone()),
        ("Gizmo", n.type_name.clone()),
        ("gizmos", n.entity_snake.clone()),
        ("gizmo", n.singular_snake.clone()),
        ("TEMPLATE", n.short_snake.to_ascii_uppercase()),
        ("template", n.short_snake.clone()),
    ];
    let mut out = text.to_owned();
    for (from, to) in rules {
        out = out.replace(from, &to);
    }
    out
}

/// A new file: where, and what it holds.
type NewFile = (PathBuf, String);

fn read(p: &Path) -> Result<String> {
    std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))
}

/// Every file of the template crate but its migration and its generated binary, relative to the crate.
fn template_files(crate_dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![crate_dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).with_context(|| format!("cannot read {}", dir.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                if path != crate_dir.join("src/bin") {
                    stack.push(path);
                }
            } else if path.file_name().is_some_and(|n| n != "migration.sql") && path != crate_dir.join("src/main.rs") {
                out.push(path.strip_prefix(crate_dir)?.to_path_buf());
            }
        }
    }
    out.sort();
    Ok(out)
}

pub fn run(args: &Args) -> Result<()> {
    let root = args.root.clone().unwrap_or_else(workspace_root);
    let n = names(&args.name, &args.entity, args.singular.as_deref())?;
    let catalog_file = root.join(format!("lambdas/route-registry/src/modules/{}.rs", n.short_snake));
    let crate_dir = root.join("lambdas").join(&n.module);
    for taken in [&catalog_file, &crate_dir] {
        if taken.exists() {
            bail!("{} already exists: `{}` is taken; choose another module name", taken.display(), n.module);
        }
    }
    if route_registry::all_routes()
        .any(|r| r.path == format!("/{}", n.entity) || r.path.starts_with(&format!("/{}/", n.entity)))
    {
        bail!("the catalog already has routes under /{}: choose another entity name", n.entity);
    }
    let template_dir = root.join("lambdas/template-module");
    let migrations = root.join("migrations");
    let next =
        crate::db::load(&migrations)?.iter().filter_map(|m| m.name[..4].parse::<u32>().ok()).max().unwrap_or(0) + 1;

    let mut changes = Vec::new();
    let template_catalog = read(&root.join("lambdas/route-registry/src/modules/template.rs"))?;
    let body = template_catalog.lines().skip_while(|l| l.starts_with("//!")).collect::<Vec<_>>().join("\n");
    let doc = format!(
        "//! {}: {} of an organization, served by the `{}` function. Scaffolded by `cargo xtask new-module` from the\n//! module template; grow the wire types, routes and sizing here as the module grows.\n",
        n.module, n.entity, n.binary
    );
    changes.push((catalog_file.clone(), format!("{doc}{}\n", rename(&body, &n))));
    for file in template_files(&template_dir)? {
        let text = read(&template_dir.join(&file))?;
        let target = crate_dir.join(rename(&file.display().to_string(), &n));
        changes.push((target, rename(&text, &n)));
    }
    let migration = rename(&read(&template_dir.join("migration.sql"))?, &n);
    changes.push((migrations.join(format!("{next:04}_{}_{}.sql", n.short_snake, n.entity_snake)), migration));

    apply(&root, &crate_dir, &changes)?;
    for (p, _) in &changes {
        println!("created   {}", p.strip_prefix(&root).unwrap_or(p).display());
    }
    println!(
        "\nThe module is in the catalog ({}), so the stacks, the OpenAPI document, the local API and the Lambda build\ninclude it. Next: give the entity its columns (migration, catalog types, handler), then\n  cargo test -p {m}\n  cargo xtask synth --all --example && cargo xtask check-iam\n  UPDATE_EXPECT=1 cargo test -p stacks   # review the golden diff: it is the infrastructure review\n  cargo xtask ci",
        catalog_file.strip_prefix(&root).unwrap_or(&catalog_file).display(),
        m = n.module
    );
    Ok(())
}

/// Writes the new files, formats them and regenerates the generated files (the catalog's module list, then
/// codegen again in a process compiled with the new module); on the first failure, undoes it all.
fn apply(root: &Path, crate_dir: &Path, creates: &[NewFile]) -> Result<()> {
    let generated = [
        root.join("lambdas/route-registry/src/modules/mod.rs"),
        root.join("lambdas/all-modules/Cargo.toml"),
        root.join("lambdas/all-modules/src/lib.rs"),
    ];
    let before: Vec<(PathBuf, Option<String>)> =
        generated.iter().map(|p| (p.clone(), std::fs::read_to_string(p).ok())).collect();
    let mut created: Vec<PathBuf> = Vec::new();
    let result = (|| -> Result<()> {
        for (p, text) in creates {
            if let Some(dir) = p.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(p, text).with_context(|| format!("cannot write {}", p.display()))?;
            created.push(p.clone());
        }
        let rust: Vec<&PathBuf> = created.iter().filter(|p| p.extension().is_some_and(|e| e == "rs")).collect();
        let mut fmt = Command::new(crate::util::rustfmt_bin());
        fmt.args(["--edition", "2021", "--config-path"]).arg(root).args(&rust);
        exec(&mut fmt).context("rustfmt refused the scaffolded files")?;
        codegen::write_after_new_module(root)
    })();
    if result.is_err() {
        for p in created.iter().rev() {
            let _ = std::fs::remove_file(p);
        }
        for (p, previous) in before {
            let _ = match previous {
                Some(text) => std::fs::write(&p, text),
                None => std::fs::remove_file(&p),
            };
        }
        let _ = std::fs::remove_dir_all(crate_dir);
    }
    result
}

/// The module `scaffold-check` scaffolds: a name of two words, as most are.
pub const SCAFFOLDED: &str = "job-board-module";

/// A module scaffolded into a scratch copy of the workspace and proven there; the copy goes when this is dropped.
/// The deploy rehearsal plans the copy's stack against its emulator state, so the new module's resources are
/// rehearsed without rehearsing the rest again.
#[derive(Debug)]
pub struct Scaffold {
    pub copy: PathBuf,
    _cleanup: crate::util::RemoveOnDrop,
}

/// `cargo xtask scaffold-check`: scaffolds `job-board-module --entity jobs` into a scratch copy of this workspace (its
/// tracked and untracked, not ignored, files; version 0.1.0-scaffold, so its builds never stand in for this
/// checkout's) and proves there what a new module changes, without building or testing the rest again: fmt and the
/// generated files; the catalog, the stacks (goldens rewritten by synth, as a developer would, then held to their
/// invariants) and the registrations; the module's clippy and both test tiers against a database migrated with its
/// migration; every route of every module, the new ones included, through the local API; check-iam with checkov,
/// the OpenAPI document and `terraform validate` of dev with the module in them. The rest of the test command ran on
/// this checkout; what the module adds to the deploy is planned by the rehearsal against its state.
pub fn check() -> Result<Scaffold> {
    let root = workspace_root();
    let copy = std::env::temp_dir().join(format!("career-scaffold-{}", std::process::id()));
    let scaffold = Scaffold { copy: copy.clone(), _cleanup: crate::util::RemoveOnDrop(copy.clone()) };
    step("scaffold check: copy the workspace to a temporary folder (as version 0.1.0-scaffold)", || {
        crate::util::copy_workspace(&root, &copy, "scaffold")
    })?;
    let target = crate::target_dir();
    let in_copy = |what: &str, args: &[&str]| {
        step(&format!("scaffold check: {what}"), || {
            exec(cargo().current_dir(&copy).env("CARGO_TARGET_DIR", &target).args(args))
        })
    };
    let xtask = |what: &str, args: &[&str]| {
        step(&format!("scaffold check: {what}"), || exec(xtask_synth::task_runner(Some(&copy), &target)?.args(args)))
    };
    // This task runner writes the files; codegen then runs in the copy, compiled with the new module: the copy's one
    // build of its task runner.
    step(&format!("scaffold check: new-module {SCAFFOLDED} --entity jobs"), || {
        run(&Args { name: SCAFFOLDED.to_owned(), entity: "jobs".to_owned(), singular: None, root: Some(copy.clone()) })
    })?;
    // The copy's goldens change with the new module; write them as a developer would, then hold everything to them.
    xtask("synth --all --example (the goldens, rewritten)", &["synth", "--all", "--example"])?;
    in_copy("cargo fmt --check", &["fmt", "--all", "--", "--check"])?;
    xtask("codegen --check", &["codegen", "--check"])?;
    in_copy(
        "clippy of the new module, both tiers' targets",
        &["clippy", "--quiet", "-p", SCAFFOLDED, "--all-targets", "--test", "database", "--", "-D", "warnings"],
    )?;
    // One cargo test for all three, so cargo resolves one feature set for them: within three of the dependency builds
    // the checkout's `cargo test --workspace` made (one per selection, as before, built about 100 dependencies again;
    // BENCHMARKS.md, "CI"). Every test of these targets runs, the local API's end-to-end tests with the new module
    // among the catalog's routes included.
    xtask(
        "the catalog, the stacks with their goldens, the registrations, the new module's tests (both tiers, against a \
         database with its migration) and every route of every module through the local API (one cargo test)",
        &[
            "test",
            "--",
            "-p",
            "route-registry",
            "-p",
            "stacks",
            "-p",
            "all-modules",
            "-p",
            SCAFFOLDED,
            "-p",
            "local-api",
            "--lib",
            "--test",
            "database",
            "--test",
            "handlers",
            "--test",
            "e2e",
        ],
    )?;
    xtask("check-iam dev, with checkov", &["check-iam", "dev", "--cross-check"])?;
    xtask("the OpenAPI document", &["openapi"])?;
    let document = std::fs::read_to_string(copy.join("build/openapi.json"))?;
    if !document.contains("\"/jobs\"") || !document.contains("\"/jobs/{id}\"") {
        bail!("the copy's OpenAPI document lacks the new module's routes (/jobs, /jobs/{{id}})");
    }
    xtask("terraform validate dev", &["validate", "dev"])?;
    println!("scaffold-check: a scaffolded module passes its checks; the deploy rehearsal plans its resources");
    Ok(scaffold)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_validated_and_derived() {
        let n = names("resume-module", "work_items", None).unwrap();
        assert_eq!(
            (n.short_snake.as_str(), n.entity.as_str(), n.binary.as_str()),
            ("resume", "work-items", "resume-work-items")
        );
        assert_eq!(
            (n.entity_const.as_str(), n.singular_const.as_str(), n.type_name.as_str()),
            ("WORK_ITEMS", "WORK_ITEM", "WorkItem")
        );
        for bad in ["Resume-module", "resume", "resume--module", "-module", "résumé-module"] {
            assert!(names(bad, "resumes", None).is_err(), "{bad}");
        }
        assert!(names("resume-module", "Resumes", None).is_err());
        // A module name of two words: its catalog file, crate and binary all follow.
        let n = names("job-board-module", "jobs", None).unwrap();
        assert_eq!(
            (n.short_snake.as_str(), n.module_snake.as_str(), n.binary.as_str(), n.type_name.as_str()),
            ("job_board", "job_board_module", "job-board-jobs", "Job")
        );
        assert_eq!(
            rename("modules::template template-module TEMPLATE", &n),
            "modules::job_board job-board-module JOB_BOARD"
        );
        assert!(names("resume-module", "fish", None).is_err(), "a word without a distinct singular needs --singular");
        assert_eq!(names("x-module", "aliases", Some("alias")).unwrap().type_name, "Alias");
    }

    #[test]
    fn singulars() {
        for (plural, single) in [
            ("addresses", "address"),
            ("categories", "category"),
            ("statuses", "status"),
            ("boxes", "box"),
            ("churches", "church"),
            ("resumes", "resume"),
            ("certificates", "certificate"),
            ("campaigns", "campaign"),
            ("people", "person"),
            ("databases", "database"),
        ] {
            assert_eq!(singular(plural), single, "{plural}");
        }
    }

    #[test]
    fn renaming_reaches_every_template_name() {
        let n = names("resume-module", "work-items", None).unwrap();
        let text = "template-module template_module template-gizmos \"/gizmos/{id}\" name: \"gizmos\" GIZMOS GIZMO Gizmo gizmos gizmo modules::template template-gizmo-indexer name: \"gizmo-sweep\" GIZMO_UPLOADS";
        assert_eq!(
            rename(text, &n),
            "resume-module resume_module resume-work-items \"/work-items/{id}\" name: \"work-items\" WORK_ITEMS WORK_ITEM WorkItem work_items work_item modules::resume resume-work-item-indexer name: \"work-item-sweep\" WORK_ITEM_UPLOADS"
        );
        // Every template file renamed holds no template name.
        let root = workspace_root();
        for file in template_files(&root.join("lambdas/template-module")).unwrap() {
            let text = rename(&std::fs::read_to_string(root.join("lambdas/template-module").join(&file)).unwrap(), &n);
            assert!(!text.to_lowercase().contains("gizmo") && !text.contains("template"), "{}", file.display());
        }
    }
}
