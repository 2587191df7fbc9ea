//! The provider half of `cargo xtask codegen`'s IO: which types to generate (`stacks/aws-types.txt`), where their
//! schema comes from (`terraform providers schema -json` for the pinned `hashicorp/aws` version, offline from the
//! mirror, kept as the committed subset `infra-dsl/schema/aws.json`), and what is written (`infra-dsl/src/aws/`).
//! The text of each module is `provider`'s.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::catalog::Generated;
use super::provider::{self, Kind, ProviderSchemas, TypeSchema};
use crate::terraform::{find_mirror, terraform};
use crate::util::exec;

/// The list of types the stacks use.
pub const INCLUDE_LIST: &str = "stacks/aws-types.txt";
/// The committed schema of those types (and the provider block), what generation reads.
pub const SUBSET: &str = "infra-dsl/schema/aws.json";
/// Where the modules go.
pub const OUT_DIR: &str = "infra-dsl/src/aws";
/// The provider's address in the registry.
pub const PROVIDER: &str = "registry.terraform.io/hashicorp/aws";

/// One line of the include list.
pub type Include = (Kind, String);

/// `stacks/aws-types.txt`: `resource aws_x` or `data aws_y` per line, `#` comments.
pub fn includes(root: &Path) -> Result<Vec<Include>> {
    let path = root.join(INCLUDE_LIST);
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    parse_includes(&text, INCLUDE_LIST)
}

pub fn parse_includes(text: &str, file: &str) -> Result<Vec<Include>> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for (n, line) in text.lines().enumerate().map(|(n, l)| (n + 1, l.trim())) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let kind = match line.split_whitespace().collect::<Vec<_>>().as_slice() {
            ["resource", t] if t.starts_with("aws_") => (Kind::Resource, (*t).to_owned()),
            ["data", t] if t.starts_with("aws_") => (Kind::Data, (*t).to_owned()),
            _ => bail!("{file}:{n}: expected `resource aws_<type>` or `data aws_<type>`, got `{line}`"),
        };
        if !seen.insert(kind.clone()) {
            bail!("{file}:{n}: `{line}` is listed twice");
        }
        out.push(kind);
    }
    out.sort();
    Ok(out)
}

/// The committed subset of the provider schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subset {
    pub provider: String,
    pub version: String,
    pub provider_block: TypeSchema,
    pub resources: BTreeMap<String, TypeSchema>,
    pub data_sources: BTreeMap<String, TypeSchema>,
}

impl Subset {
    /// The types it holds, as include lines.
    pub fn includes(&self) -> Vec<Include> {
        let mut out: Vec<Include> = self
            .resources
            .keys()
            .map(|t| (Kind::Resource, t.clone()))
            .chain(self.data_sources.keys().map(|t| (Kind::Data, t.clone())))
            .collect();
        out.sort();
        out
    }
}

/// The version the committed provider lock files pin (dev's lock file: they all pin the same).
pub fn pinned_version(root: &Path) -> Result<String> {
    let lock = root.join("build/dev/.terraform.lock.hcl");
    let text = std::fs::read_to_string(&lock).with_context(|| format!("cannot read {}", lock.display()))?;
    let block = text.split(&format!("provider \"{PROVIDER}\"")).nth(1).context("no hashicorp/aws in the lock file")?;
    let line = block.lines().find(|l| l.trim_start().starts_with("version")).context("no version in the lock file")?;
    Ok(line.split('"').nth(1).context("a version line without a quoted version")?.to_owned())
}

/// The whole schema of `hashicorp/aws` at `version`, from `terraform providers schema -json` in a scratch root
/// under `target/codegen/` (offline from the mirror when there is one).
pub fn live_schema(version: &str) -> Result<provider::ProviderSchema> {
    let dir = crate::target_dir().join("codegen").join(format!("aws-{version}"));
    std::fs::create_dir_all(&dir)?;
    let root = serde_json::json!({"terraform": {"required_providers": {"aws": {"source": "hashicorp/aws", "version": version}}}});
    std::fs::write(dir.join("main.tf.json"), serde_json::to_string_pretty(&root)?)?;
    let mut init = terraform()?;
    init.arg(format!("-chdir={}", dir.display())).args(["init", "-input=false", "-no-color", "-backend=false"]);
    if let Some(mirror) = find_mirror() {
        init.arg(format!("-plugin-dir={}", mirror.display()));
    }
    init.stdout(Stdio::null());
    exec(&mut init).with_context(|| {
        format!("terraform init for hashicorp/aws {version} failed: is that version in the provider mirror?")
    })?;
    let out = terraform()?
        .arg(format!("-chdir={}", dir.display()))
        .args(["providers", "schema", "-json"])
        .output()
        .context("cannot run terraform providers schema")?;
    if !out.status.success() {
        bail!("terraform providers schema failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let mut all: ProviderSchemas =
        serde_json::from_slice(&out.stdout).context("terraform printed a schema this generator cannot read")?;
    all.provider_schemas.remove(PROVIDER).with_context(|| format!("the schema has no {PROVIDER}"))
}

/// The subset of a whole schema for `includes`; an unknown type is an error naming it.
pub fn subset(all: &provider::ProviderSchema, version: &str, includes: &[Include]) -> Result<Subset> {
    let mut s = Subset {
        provider: PROVIDER.into(),
        version: version.into(),
        provider_block: all.provider.clone(),
        resources: BTreeMap::new(),
        data_sources: BTreeMap::new(),
    };
    for (kind, t) in includes {
        let (from, to) = match kind {
            Kind::Resource => (&all.resource_schemas, &mut s.resources),
            Kind::Data => (&all.data_source_schemas, &mut s.data_sources),
        };
        let schema = from.get(t).with_context(|| {
            format!("{INCLUDE_LIST} lists {} {t}, which hashicorp/aws {version} does not have", kind.word())
        })?;
        to.insert(t.clone(), schema.clone());
    }
    Ok(s)
}

pub fn read_subset(root: &Path) -> Result<Subset> {
    let path = root.join(SUBSET);
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a schema subset", path.display()))
}

pub fn subset_text(s: &Subset) -> Result<String> {
    let mut text = serde_json::to_string_pretty(s)?;
    text.push('\n');
    Ok(text)
}

/// Every generated module of the subset, formatted.
pub fn generate(root: &Path, s: &Subset) -> Result<Vec<Generated>> {
    let out_dir = root.join(OUT_DIR);
    let mut out = Vec::new();
    for (t, schema) in &s.resources {
        let path = out_dir.join(format!("{}.rs", provider::module_name(t)));
        out.push(Generated { path, text: provider::type_module(Kind::Resource, t, schema, &s.version) });
    }
    for (t, schema) in &s.data_sources {
        let path = out_dir.join("data").join(format!("{}.rs", provider::module_name(t)));
        out.push(Generated { path, text: provider::type_module(Kind::Data, t, schema, &s.version) });
    }
    out.push(Generated {
        path: out_dir.join("provider.rs"),
        text: provider::provider_module(&s.provider_block, &s.version),
    });
    fn names(m: &BTreeMap<String, TypeSchema>) -> Vec<&str> {
        m.keys().map(String::as_str).collect()
    }
    out.push(Generated {
        path: out_dir.join("mod.rs"),
        text: provider::mod_file(Kind::Resource, &names(&s.resources), &s.version),
    });
    out.push(Generated {
        path: out_dir.join("data/mod.rs"),
        text: provider::mod_file(Kind::Data, &names(&s.data_sources), &s.version),
    });
    for g in &mut out {
        g.text = crate::util::rustfmt(root, &g.text)
            .with_context(|| format!("rustfmt refused the generated {}", g.path.display()))?;
    }
    Ok(out)
}

/// Files under the output folder that generation does not produce (types dropped from the list).
pub fn extra_files(root: &Path, generated: &[Generated]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in [root.join(OUT_DIR), root.join(OUT_DIR).join("data")] {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_file() && !generated.iter().any(|g| g.path == path) {
                out.push(path);
            }
        }
    }
    out
}

/// What an upgrade changes for the types the stacks use: types gone, arguments removed, arguments and nested blocks
/// that became required, attribute types that changed. Empty when nothing that can break the stacks changed.
pub fn upgrade_report(old: &Subset, new: &Subset) -> Vec<String> {
    fn walk(path: &str, old: &provider::BlockSchema, new: &provider::BlockSchema, out: &mut Vec<String>) {
        for (name, a) in &old.attributes {
            let here = format!("{path}.{name}");
            match new.attributes.get(name) {
                None => out.push(format!("{here}: removed")),
                Some(b) => {
                    if b.required && !a.required {
                        out.push(format!("{here}: newly required"));
                    }
                    if a.ty != b.ty {
                        out.push(format!(
                            "{here}: type {} → {}",
                            a.ty.as_ref().map(|t| t.to_string()).unwrap_or_default(),
                            b.ty.as_ref().map(|t| t.to_string()).unwrap_or_default()
                        ));
                    }
                    if (a.required || a.optional) && !(b.required || b.optional) {
                        out.push(format!("{here}: no longer settable (computed only)"));
                    }
                }
            }
        }
        for (name, b) in &new.attributes {
            if b.required && !old.attributes.contains_key(name) {
                out.push(format!("{path}.{name}: new and required"));
            }
        }
        for (name, a) in &old.block_types {
            let here = format!("{path}.{name}");
            match new.block_types.get(name) {
                None => out.push(format!("{here} blocks: removed")),
                Some(b) => {
                    if b.min_items > a.min_items {
                        out.push(format!("{here} blocks: at least {} now (was {})", b.min_items, a.min_items));
                    }
                    if b.max_items != 0 && (a.max_items == 0 || b.max_items < a.max_items) {
                        out.push(format!("{here} blocks: at most {} now", b.max_items));
                    }
                    if a.nesting_mode != b.nesting_mode {
                        out.push(format!("{here} blocks: nesting {} → {}", a.nesting_mode, b.nesting_mode));
                    }
                    walk(&here, &a.block, &b.block, out);
                }
            }
        }
        for (name, b) in &new.block_types {
            if b.min_items > 0 && !old.block_types.contains_key(name) {
                out.push(format!("{path}.{name} blocks: new and required"));
            }
        }
    }
    let mut out = Vec::new();
    for (kind, old_map, new_map) in
        [("resource", &old.resources, &new.resources), ("data", &old.data_sources, &new.data_sources)]
    {
        for (t, a) in old_map {
            match new_map.get(t) {
                None => out.push(format!("{kind} {t}: gone from hashicorp/aws {}", new.version)),
                Some(b) => walk(&format!("{kind} {t}"), &a.block, &b.block, &mut out),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subset_of(json: serde_json::Value) -> Subset {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn the_include_list_is_one_type_per_line() {
        let list = parse_includes("# c\nresource aws_b\ndata aws_a\n\nresource aws_a\n", "f").unwrap();
        assert_eq!(
            list,
            [(Kind::Resource, "aws_a".into()), (Kind::Resource, "aws_b".into()), (Kind::Data, "aws_a".into())]
        );
        let err = parse_includes("resource aws_a\nresource aws_a\n", "f").unwrap_err().to_string();
        assert!(err.contains("f:2") && err.contains("listed twice"), "{err}");
        let err = parse_includes("resources aws_a\n", "f").unwrap_err().to_string();
        assert!(err.contains("expected `resource aws_<type>`"), "{err}");
    }

    #[test]
    fn an_upgrade_report_names_what_can_break_the_stacks() {
        let block = |attrs: serde_json::Value, blocks: serde_json::Value| serde_json::json!({"version": 0, "block": {"attributes": attrs, "block_types": blocks}});
        let old = subset_of(serde_json::json!({
            "provider": PROVIDER, "version": "5.100.0", "provider_block": block(serde_json::json!({}), serde_json::json!({})),
            "resources": {
                "aws_x": block(
                    serde_json::json!({"a": {"type": "string", "optional": true}, "b": {"type": "number", "optional": true},
                                       "gone": {"type": "string", "optional": true}}),
                    serde_json::json!({"rule": {"nesting_mode": "list", "block": {"attributes": {}}, "min_items": 0}}),
                ),
                "aws_dropped": block(serde_json::json!({}), serde_json::json!({})),
            },
            "data_sources": {},
        }));
        let new = subset_of(serde_json::json!({
            "provider": PROVIDER, "version": "6.0.0", "provider_block": block(serde_json::json!({}), serde_json::json!({})),
            "resources": {
                "aws_x": block(
                    serde_json::json!({"a": {"type": "string", "required": true}, "b": {"type": "string", "optional": true},
                                       "c": {"type": "string", "required": true}}),
                    serde_json::json!({"rule": {"nesting_mode": "list", "block": {"attributes": {}}, "min_items": 1}}),
                ),
            },
            "data_sources": {},
        }));
        let report = upgrade_report(&old, &new);
        assert_eq!(
            report,
            [
                "resource aws_dropped: gone from hashicorp/aws 6.0.0",
                "resource aws_x.a: newly required",
                "resource aws_x.b: type \"number\" → \"string\"",
                "resource aws_x.gone: removed",
                "resource aws_x.c: new and required",
                "resource aws_x.rule blocks: at least 1 now (was 0)",
            ]
        );
        assert!(upgrade_report(&old, &old).is_empty());
    }
}
