//! `cargo xtask codegen --coverage`, a step of the test command: the provider generator over the whole schema of
//! the pinned `hashicorp/aws`, and proof that what it writes works.
//!
//! 1. The committed schema subset (`infra-dsl/schema/aws.json`) is the live schema's for the listed types.
//! 2. Every resource and data source is generated (timed, sized, peak memory) and every module parses as Rust.
//! 3. A coverage set is chosen: the fewest types that together use every construct the schema has (each attribute
//!    type in each mode, each nesting mode with its bounds, deprecated and sensitive attributes, keyword names,
//!    nesting deeper than ten), plus the recursive WAF types and the largest types.
//! 4. That set is compiled in a scratch crate (infra-dsl's own sources with those types), which synthesizes one block
//!    of each with every required argument an unknown value; `terraform validate` must accept the result: the
//!    generated types produce what the provider expects, not only what compiles.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use super::aws;
use super::provider::{self, Kind, ProviderSchema, TypeSchema};
use crate::util::{cargo, exec, human, step};

/// Types that are always in the set: WAF's recursive statements.
const ALWAYS: &[&str] = &["aws_wafv2_rule_group", "aws_wafv2_web_acl"];
/// How many of the largest generated types join the set.
const LARGEST: usize = 3;

/// What generating everything took and produced.
#[derive(Debug)]
pub struct Everything {
    pub resources: usize,
    pub data_sources: usize,
    pub bytes: usize,
    pub seconds: f64,
    /// Generated size per type, largest first.
    pub sizes: Vec<(usize, String)>,
}

/// Generates every type of the schema in memory, checking each module parses.
pub fn generate_everything(all: &ProviderSchema, version: &str) -> Result<Everything> {
    let start = Instant::now();
    let mut sizes = Vec::new();
    let mut bytes = 0;
    for (kind, map) in [(Kind::Resource, &all.resource_schemas), (Kind::Data, &all.data_source_schemas)] {
        for (t, schema) in map {
            let text = provider::type_module(kind, t, schema, version);
            syn::parse_file(&text).map_err(|e| anyhow::anyhow!("the generated module of {t} does not parse: {e}"))?;
            bytes += text.len();
            sizes.push((text.len(), t.clone()));
        }
    }
    sizes.sort_by(|a, b| b.cmp(a));
    Ok(Everything {
        resources: all.resource_schemas.len(),
        data_sources: all.data_source_schemas.len(),
        bytes,
        seconds: start.elapsed().as_secs_f64(),
        sizes,
    })
}

/// The fewest types (greedily) that use every construct, then the always-included and the largest resources.
pub fn coverage_set(all: &ProviderSchema, everything: &Everything) -> Vec<(Kind, String)> {
    let mut candidates: Vec<(Kind, &String, BTreeSet<String>)> = Vec::new();
    for (kind, map) in [(Kind::Resource, &all.resource_schemas), (Kind::Data, &all.data_source_schemas)] {
        for (t, schema) in map {
            candidates.push((kind, t, provider::constructs(kind, schema)));
        }
    }
    let mut left: BTreeSet<String> = candidates.iter().flat_map(|(_, _, c)| c.iter().cloned()).collect();
    let mut chosen: Vec<(Kind, String)> = Vec::new();
    while !left.is_empty() {
        // The type covering most of what is left; ties to the smallest name, so the set is stable.
        let best = candidates
            .iter()
            .max_by(|a, b| {
                let (na, nb) = (a.2.intersection(&left).count(), b.2.intersection(&left).count());
                na.cmp(&nb).then_with(|| b.1.cmp(a.1))
            })
            .filter(|c| c.2.intersection(&left).count() > 0);
        let Some((kind, t, constructs)) = best else { break };
        left.retain(|c| !constructs.contains(c));
        chosen.push((*kind, (*t).clone()));
    }
    let resources = all.resource_schemas.keys();
    let extra = ALWAYS.iter().map(|t| (*t).to_owned()).chain(
        everything
            .sizes
            .iter()
            .filter(|(_, t)| resources.clone().any(|r| r == t))
            .take(LARGEST)
            .map(|(_, t)| t.clone()),
    );
    for t in extra {
        if !chosen.iter().any(|(k, c)| *k == Kind::Resource && *c == t) {
            chosen.push((Kind::Resource, t));
        }
    }
    chosen.sort();
    chosen
}

/// The scratch crate: infra-dsl's hand-written sources with the coverage set's modules, and a binary that renders
/// one block of each.
fn write_crate(root: &Path, dir: &Path, all: &ProviderSchema, version: &str, set: &[(Kind, String)]) -> Result<()> {
    let _ = std::fs::remove_dir_all(dir.join("src"));
    let src = root.join("infra-dsl/src");
    for entry in std::fs::read_dir(&src)? {
        let path = entry?.path();
        if path.is_file() && path.file_name().is_some_and(|n| n != "tests.rs") {
            let to = dir.join("src").join(path.file_name().unwrap_or_default());
            std::fs::create_dir_all(to.parent().unwrap_or(dir))?;
            let text = std::fs::read_to_string(&path)?;
            // Without the crate's own tests: only the lib and the coverage binary are built.
            std::fs::write(&to, text.replace("#[cfg(test)]\nmod tests;\n", ""))?;
        }
    }
    let aws_dir = dir.join("src/aws");
    std::fs::create_dir_all(aws_dir.join("data"))?;
    let schema_of = |kind: Kind, t: &str| -> Result<&TypeSchema> {
        let map = if kind == Kind::Resource { &all.resource_schemas } else { &all.data_source_schemas };
        map.get(t).with_context(|| format!("{t} is not in the schema"))
    };
    let (mut resources, mut data) = (Vec::new(), Vec::new());
    let mut body = String::new();
    for (i, (kind, t)) in set.iter().enumerate() {
        let schema = schema_of(*kind, t)?;
        let module = provider::module_name(t);
        let (file, path) = match kind {
            Kind::Resource => (aws_dir.join(format!("{module}.rs")), format!("infra_dsl::aws::{module}")),
            Kind::Data => {
                (aws_dir.join("data").join(format!("{module}.rs")), format!("infra_dsl::aws::data::{module}"))
            }
        };
        std::fs::write(&file, provider::type_module(*kind, t, schema, version))?;
        let block = provider::example(*kind, t, schema, &path, &format!("c{i}"), "v");
        let add = if *kind == Kind::Resource { "add" } else { "data" };
        body.push_str(&format!("    stack.{add}({block}).map_err(|e| e.to_string())?;\n"));
        match kind {
            Kind::Resource => resources.push(t.as_str()),
            Kind::Data => data.push(t.as_str()),
        }
    }
    std::fs::write(aws_dir.join("mod.rs"), provider::mod_file(Kind::Resource, &resources, version))?;
    std::fs::write(aws_dir.join("data/mod.rs"), provider::mod_file(Kind::Data, &data, version))?;
    std::fs::write(aws_dir.join("provider.rs"), provider::provider_module(&all.provider, version))?;
    let main = format!(
        r#"//! Renders one block of each type of the coverage set, every required argument the unknown `var.v`.
fn main() -> Result<(), String> {{
    let mut stack = infra_dsl::Stack::new("The provider generator's coverage set.", ">= 1.11");
    stack.require_provider("aws", "hashicorp/aws", "= {version}");
    stack
        .variable("v", infra_dsl::Variable {{ ty: "any".into(), description: "Unknown at validate time.".into(), default: None, sensitive: false }})
        .map_err(|e| e.to_string())?;
{body}    let text = stack.render().map_err(|e| e.to_string())?;
    std::fs::write(std::env::args().nth(1).ok_or("where to write")?, text).map_err(|e| e.to_string())
}}
"#
    );
    std::fs::create_dir_all(dir.join("src/bin"))?;
    std::fs::write(dir.join("src/bin/coverage.rs"), main)?;
    // The workspace's dependency versions (its lock file), so the build is offline and shares compiled crates.
    std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock"))?;
    std::fs::write(
        dir.join("Cargo.toml"),
        r#"[package]
name = "infra-dsl-coverage"
version = "0.0.0"
edition = "2021"
publish = false

[lib]
name = "infra_dsl"
path = "src/lib.rs"

[workspace]

[dependencies]
indexmap = { version = "2", features = ["serde"] }
serde = { version = "1", features = ["derive"] }
serde_json = { version = "1", features = ["preserve_order"] }
thiserror = "2"
"#,
    )?;
    Ok(())
}

/// The scratch crate with every type of the schema (for measuring what compiling all of them costs).
pub fn write_all_types_crate(root: &Path, dir: &Path, all: &ProviderSchema, version: &str) -> Result<()> {
    let set: Vec<(Kind, String)> = all
        .resource_schemas
        .keys()
        .map(|t| (Kind::Resource, t.clone()))
        .chain(all.data_source_schemas.keys().map(|t| (Kind::Data, t.clone())))
        .collect();
    write_crate(root, dir, all, version, &set)
}

/// Diagnostics of `terraform validate` that mean the generated types wrote what the provider does not take (others,
/// such as "exactly one of these arguments", are the provider's rules about values, which unknown values cannot
/// satisfy).
const STRUCTURAL: &[&str] = &[
    "Unsupported argument",
    "Missing required argument",
    "Unsupported block type",
    "Too many",
    "Insufficient",
    "Incorrect attribute value type",
    "Invalid block definition",
    "Missing required block",
    "Extraneous JSON object property",
];

pub fn run(root: &Path) -> Result<()> {
    let version = aws::pinned_version(root)?;
    let all =
        step(&format!("terraform providers schema -json (hashicorp/aws {version})"), || aws::live_schema(&version))?;
    step("the committed schema subset is the provider's", || {
        let committed = aws::read_subset(root)?;
        let live = aws::subset(&all, &version, &committed.includes())?;
        if live != committed {
            bail!(
                "{} differs from hashicorp/aws {version}'s schema for the listed types: run `cargo xtask codegen --provider-version {version}` and review the diff",
                aws::SUBSET
            );
        }
        Ok(())
    })?;
    let everything =
        step("generate every resource and data source, each module parsed", || generate_everything(&all, &version))?;
    println!(
        "    {} resources and {} data sources: {:.1} MB of Rust in {:.2} s, peak RSS {} MiB; largest {}",
        everything.resources,
        everything.data_sources,
        everything.bytes as f64 / 1e6,
        everything.seconds,
        crate::bench::peak_rss_kib(std::process::id()).unwrap_or(0) / 1024,
        everything
            .sizes
            .iter()
            .take(3)
            .map(|(n, t)| format!("{t} ({:.2} MB)", *n as f64 / 1e6))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let set = coverage_set(&all, &everything);
    println!(
        "    coverage set ({} types): {}",
        set.len(),
        set.iter().map(|(k, t)| format!("{} {t}", k.word())).collect::<Vec<_>>().join(", ")
    );
    let dir = crate::target_dir().join("codegen/coverage");
    write_crate(root, &dir, &all, &version, &set)?;
    let started = Instant::now();
    step("compile the coverage set (a scratch crate of infra-dsl with those types)", || {
        exec(cargo().current_dir(&dir).env("CARGO_TARGET_DIR", crate::target_dir()).args([
            "build",
            "--quiet",
            "--offline",
            "--bin",
            "coverage",
        ]))
    })?;
    println!("    compiled in {}", human(started.elapsed()));
    let tf = dir.join("tf");
    std::fs::create_dir_all(&tf)?;
    step("synthesize one block of each", || {
        exec(std::process::Command::new(crate::target_dir().join("debug/coverage")).arg(tf.join("main.tf.json")))
    })?;
    step("terraform validate the synthesized coverage set", || {
        crate::terraform::init(&tf, false)?;
        let out = crate::terraform::terraform()?
            .arg(format!("-chdir={}", tf.display()))
            .args(["validate", "-json", "-no-color"])
            .output()
            .context("cannot run terraform validate")?;
        let report: serde_json::Value =
            serde_json::from_slice(&out.stdout).context("terraform validate printed no JSON")?;
        let diagnostics = report["diagnostics"].as_array().cloned().unwrap_or_default();
        let structural: Vec<String> = diagnostics
            .iter()
            .filter(|d| d["severity"] == "error")
            .filter(|d| d["summary"].as_str().is_some_and(|s| STRUCTURAL.iter().any(|x| s.starts_with(x))))
            // "one of `a,b` must be specified": the provider's rule about which arguments go together, not the
            // schema's (which marks none of them required).
            .filter(|d| !d["detail"].as_str().is_some_and(|s| s.contains("one of `")))
            .map(|d| format!("{}: {}", d["summary"].as_str().unwrap_or(""), d["detail"].as_str().unwrap_or("")))
            .collect();
        let others = diagnostics.iter().filter(|d| d["severity"] == "error").count() - structural.len();
        println!(
            "    {} diagnostics about values the unknown inputs cannot satisfy; {} about structure",
            others,
            structural.len()
        );
        if !structural.is_empty() {
            bail!("terraform refused what the generated types wrote:\n{}", structural.join("\n"));
        }
        Ok(())
    })
}
