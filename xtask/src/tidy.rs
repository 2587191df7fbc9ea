//! The architecture's invariants as tests, in the way of rust-analyzer's tidy: `cargo test` fails when one is
//! broken, not only the full test command.
//!
//! - every `.rs` file opens with a `//!` paragraph;
//! - the pure crates (infra-dsl, the catalog, stacks) depend only on what ARCHITECTURE.md allows them, so stacks
//!   never depend on a handler crate and the catalog knows nothing of Terraform, HTTP or Lambda; and the synth binary
//!   (`xtask/synth/`) only on the stacks and what its command line needs, so an edit→synth loop builds no more;
//! - the pure crates do no IO: no file system, no environment, no clock;
//! - only xtask runs processes, besides module-runtime's `isolate`, which starts a function's own binary to read hostile
//!   input under hard limits;
//! - the layers: nothing depends on the task runner (`xtask/` and its synth binary `xtask/synth/`: they depend on the
//!   product, never the reverse), product crates use test support (`support/`) only in their tests, and test support
//!   depends on no product crate;
//! - ARCHITECTURE.md's codemap has a heading for every crate of the tree, and no heading for one that is gone.

use std::path::{Path, PathBuf};

/// Every `.rs` file of the workspace outside `target/`, `.git/` and `build/`.
pub fn rust_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if path.is_dir() {
                if !matches!(name, "target" | ".git" | "build" | "node_modules") && !name.starts_with('.') {
                    stack.push(path);
                }
            } else if name.ends_with(".rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Files that lack the leading `//!` paragraph, relative to `root`.
pub fn missing_module_docs(root: &Path) -> Vec<String> {
    rust_files(root)
        .into_iter()
        .filter(|p| !std::fs::read_to_string(p).unwrap_or_default().trim_start().starts_with("//!"))
        .map(|p| p.strip_prefix(root).unwrap_or(&p).display().to_string())
        .collect()
}

/// The crates whose dependencies are restricted, with what they may depend on (normal dependencies).
pub const ALLOWED_DEPENDENCIES: &[(&str, &[&str])] = &[
    ("infra-dsl", &["indexmap", "serde", "serde_json", "thiserror"]),
    ("route-registry", &["schemars", "serde", "serde_json", "uuid"]),
    ("stacks", &["infra-dsl", "route-registry", "settings", "indexmap", "serde", "serde_json", "thiserror"]),
    // The settings table and naming rules, shared without the generated provider (the local API reads them).
    ("settings", &["route-registry", "thiserror"]),
    // The local API converts HTTP to events and back: it reads the settings and names, never the stacks and the
    // generated provider they carry.
    (
        "local-api",
        &[
            "all-modules",
            "base64",
            "dev-issuer",
            "module-runtime",
            "platform-authorizer",
            "route-registry",
            "settings",
            "lambda_http",
            "tokio",
            "hyper",
            "hyper-util",
            "http-body-util",
            "serde_json",
            "tracing",
            "reqwest",
            "uuid",
        ],
    ),
    // Not pure, but lean on purpose: what `cargo xtask synth` builds after an edit to the catalog is route-registry,
    // stacks and this crate, nothing of the task runner (BENCHMARKS.md, "Typed provider").
    ("xtask-synth", &["anyhow", "clap", "dev-issuer", "route-registry", "serde_json", "stacks"]),
];

/// Normal (non-test) dependencies of a product crate on test support, each with its reason.
pub const TEST_SUPPORT_IN_PRODUCT: &[(&str, &str, &str)] =
    &[("local-api", "dev-issuer", "the local API serves the development issuer's keys and trusts its tokens")];

/// The folders of the crates that must do no IO (their `src/`, tests excluded).
pub const PURE: &[&str] = &["infra-dsl/src", "lambdas/route-registry/src", "stacks/src", "stacks/settings/src"];

/// What IO looks like in source text.
const IO: &[&str] =
    &["std::fs", "std::env::var", "std::env::current_dir", "SystemTime::now", "Instant::now", "std::net"];

/// What running a process looks like in source text.
const PROCESS: &[&str] = &["process::Command", "Command::new("];

/// The top-level modules of a crate (`src/<name>.rs` or `src/<name>/`) and the top-level modules each uses outside
/// its tests: `crate::name` paths, grouped `use crate::{a, b::c}` imports, and items of the crate root that a
/// `pub use name::…` there re-exports.
pub fn module_graph(src: &Path) -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    use std::collections::{BTreeMap, BTreeSet};
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap_or_default();
    let mut modules: BTreeSet<String> = BTreeSet::new();
    for entry in std::fs::read_dir(src).into_iter().flatten().flatten() {
        let path = entry.path();
        let name = path.file_stem().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
        if (path.is_dir() || path.extension().is_some_and(|e| e == "rs")) && name != "lib" && name != "main" {
            modules.insert(name);
        }
    }
    // Items the root re-exports: `pub use env::{Env, Settings};` makes `crate::Env` env's.
    let mut reexports: BTreeMap<String, String> = BTreeMap::new();
    for line in lib.lines().filter_map(|l| l.trim().strip_prefix("pub use ")) {
        let line = line.trim_end_matches(';');
        let Some((module, items)) = line.split_once("::") else { continue };
        if !modules.contains(module) {
            continue;
        }
        let items = items.trim_start_matches('{').trim_end_matches('}');
        for item in items.split(',').map(|i| i.trim().rsplit("::").next().unwrap_or("").trim()) {
            reexports.insert(item.to_owned(), module.to_owned());
        }
    }
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for module in &modules {
        let files: Vec<PathBuf> = match src.join(module).is_dir() {
            true => rust_files(&src.join(module)),
            false => vec![src.join(format!("{module}.rs"))],
        };
        let mut uses = BTreeSet::new();
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            let text = match text.find("#[cfg(test)]") {
                Some(i) => &text[..i],
                None => &text[..],
            };
            // Comments (docs' intra-doc links included) are not dependencies.
            let text: String =
                text.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
            for name in crate_paths(&text) {
                let target = match modules.contains(&name) {
                    true => Some(name),
                    false => reexports.get(&name).cloned(),
                };
                if let Some(target) = target.filter(|t| t != module) {
                    uses.insert(target);
                }
            }
        }
        graph.insert(module.clone(), uses);
    }
    graph
}

/// The first segment of every `crate::` path in source text, grouped imports included.
fn crate_paths(text: &str) -> Vec<String> {
    let ident = |s: &str| -> String { s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect() };
    let mut out = Vec::new();
    for (at, _) in text.match_indices("crate::") {
        let rest = &text[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let inner = &group[..group.find('}').unwrap_or(group.len())];
            out.extend(inner.split(',').map(|i| ident(i.trim())).filter(|i| !i.is_empty() && i != "self"));
        } else {
            out.push(ident(rest));
        }
    }
    out
}

/// The module cycles of a graph: each strongly connected component of more than one module, its names sorted.
pub fn cycles(graph: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>) -> Vec<Vec<String>> {
    use std::collections::BTreeSet;
    let reaches = |from: &str| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.to_owned()];
        while let Some(m) = todo.pop() {
            for next in graph.get(&m).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    todo.push(next.clone());
                }
            }
        }
        seen
    };
    let mut found: BTreeSet<Vec<String>> = BTreeSet::new();
    for m in graph.keys() {
        let from_m = reaches(m);
        if !from_m.contains(m) {
            continue;
        }
        let mut component: Vec<String> = from_m.into_iter().filter(|other| reaches(other).contains(m)).collect();
        component.sort();
        found.insert(component);
    }
    found.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workspace_root;
    use serde_json::Value;

    /// The non-test part of a source file (before a `#[cfg(test)]` module).
    fn code(path: &Path) -> String {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        match text.find("#[cfg(test)]") {
            Some(i) => text[..i].to_owned(),
            None => text,
        }
    }

    #[test]
    fn every_rust_file_opens_with_a_module_doc() {
        let missing = missing_module_docs(&workspace_root());
        assert!(missing.is_empty(), "these files lack a leading //! paragraph: {missing:?}");
    }

    #[test]
    fn restricted_crates_depend_only_on_what_they_may() {
        let out = std::process::Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            .current_dir(workspace_root())
            .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
            .output()
            .unwrap();
        assert!(out.status.success(), "cargo metadata failed: {}", String::from_utf8_lossy(&out.stderr));
        let meta: Value = serde_json::from_slice(&out.stdout).unwrap();
        for (krate, allowed) in ALLOWED_DEPENDENCIES {
            let package = meta["packages"].as_array().unwrap().iter().find(|p| p["name"] == *krate).unwrap();
            for dep in package["dependencies"].as_array().unwrap() {
                if dep["kind"].is_null() {
                    let name = dep["name"].as_str().unwrap();
                    assert!(allowed.contains(&name), "{krate} must not depend on {name} (ARCHITECTURE.md)");
                }
            }
        }
    }

    /// A dependency: its name, its kind (`None` for a normal one, `dev`, `build`) and its path when it is local.
    type Dependency = (String, Option<String>, Option<String>);

    /// Every workspace package: name, folder relative to the root, and its dependencies.
    fn packages() -> Vec<(String, String, Vec<Dependency>)> {
        let out = std::process::Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            .current_dir(workspace_root())
            .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
            .output()
            .unwrap();
        assert!(out.status.success(), "cargo metadata failed: {}", String::from_utf8_lossy(&out.stderr));
        let meta: Value = serde_json::from_slice(&out.stdout).unwrap();
        let root = workspace_root().canonicalize().unwrap();
        let relative = |p: &str| {
            let p = Path::new(p).canonicalize().unwrap_or_else(|_| p.into());
            p.strip_prefix(&root).map(|r| r.display().to_string()).unwrap_or_else(|_| p.display().to_string())
        };
        meta["packages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                let dir = relative(Path::new(p["manifest_path"].as_str().unwrap()).parent().unwrap().to_str().unwrap());
                let deps = p["dependencies"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| {
                        let path = d["path"].as_str().map(relative);
                        (d["name"].as_str().unwrap().to_owned(), d["kind"].as_str().map(str::to_owned), path)
                    })
                    .collect();
                (p["name"].as_str().unwrap().to_owned(), dir, deps)
            })
            .collect()
    }

    /// xtask is the task runner on top (with its synth binary, `xtask/synth/`, which it uses): it depends on the
    /// product and the test support, and nothing outside `xtask/` depends on it.
    /// Product crates (`lambdas/`, `infra-dsl`, `stacks`) use test support only in tests (or where
    /// `TEST_SUPPORT_IN_PRODUCT` says why); test support depends on no product crate.
    #[test]
    fn the_layers_run_one_way() {
        let packages = packages();
        let area = |dir: &str| match dir.split('/').next() {
            Some("xtask") => "xtask",
            Some("support") => "support",
            _ => "product",
        };
        let area_of = |name: &str| packages.iter().find(|(n, _, _)| n == name).map(|(_, d, _)| area(d));
        for (name, dir, deps) in &packages {
            for (dep, kind, path) in deps {
                let Some(dep_area) = path.as_ref().and_then(|_| area_of(dep)) else { continue };
                if area(dir) != "xtask" {
                    assert_ne!(dep_area, "xtask", "{name} depends on {dep}: nothing may depend on the task runner");
                }
                if area(dir) == "product" && dep_area == "support" && kind.is_none() {
                    assert!(
                        TEST_SUPPORT_IN_PRODUCT.iter().any(|(p, d, _)| p == name && d == dep),
                        "{name} depends on the test support {dep} outside its tests"
                    );
                }
                if area(dir) == "support" {
                    assert_ne!(dep_area, "product", "the test support {name} depends on the product crate {dep}");
                }
            }
        }
    }

    /// ARCHITECTURE.md's codemap names every crate folder in a heading (``### `lambdas/route-registry/` ``, or a
    /// heading listing several), and every folder a heading names exists. Module crates (one per catalog module) are
    /// the "Module crates" heading's, whatever their names.
    #[test]
    fn the_codemap_matches_the_tree() {
        let root = workspace_root();
        let doc = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
        let headings: Vec<&str> = doc.lines().filter(|l| l.starts_with("### ")).collect();
        let named: Vec<String> = headings
            .iter()
            .flat_map(|h| h.split('`').skip(1).step_by(2))
            .filter(|s| s.ends_with('/'))
            .map(|s| s.trim_end_matches('/').to_owned())
            .collect();
        let modules_heading = headings.iter().any(|h| h.starts_with("### Module crates"));
        assert!(modules_heading, "ARCHITECTURE.md's codemap has no \"Module crates\" heading");
        let is_module = |name: &str| {
            route_registry::MODULES.iter().chain([&route_registry::modules::template::MODULE]).any(|m| m.name == name)
        };
        for (name, dir, _) in packages() {
            if is_module(&name) {
                continue;
            }
            assert!(named.contains(&dir), "ARCHITECTURE.md's codemap has no heading for {dir}/ ({name})");
        }
        for dir in &named {
            assert!(root.join(dir).is_dir(), "ARCHITECTURE.md's codemap names {dir}/, which does not exist");
        }
    }

    #[test]
    fn the_pure_crates_do_no_io() {
        let root = workspace_root();
        for dir in PURE {
            for file in rust_files(&root.join(dir)) {
                let text = code(&file);
                for io in IO {
                    assert!(!text.contains(io), "{} uses {io}: synth and the catalog are pure", file.display());
                }
            }
        }
    }

    /// One HTTP/TLS stack per Lambda (ARCHITECTURE.md, BENCHMARKS.md "Cold start"): the PostgREST, Secrets Manager
    /// and Okta clients share one reqwest/rustls/ring client with compiled-in roots. A second TLS or crypto library,
    /// a second rustls or a reader of the system CA bundle in a function's tree (as deployed: arm64 Linux, normal
    /// dependencies) fails here; the Lambda runtime's own plain-HTTP client (hyper 1, no TLS) is the one allowed
    /// second hyper.
    #[test]
    fn every_lambda_carries_one_http_tls_stack() {
        const ONE: &[&str] = &["rustls", "reqwest", "ring", "hyper-rustls", "tokio-rustls", "webpki-roots"];
        // And one crypto library: ring (jsonwebtoken's RustCrypto backend is replaced by `platform-authorizer`'s
        // `crypto.rs`).
        const NONE: &[&str] = &[
            "aws-lc-rs",
            "aws-lc-sys",
            "openssl",
            "openssl-sys",
            "native-tls",
            "rustls-native-certs",
            "hyper-tls",
            "rsa",
            "crypto-bigint",
            "p256",
            "ed25519-dalek",
        ];
        for package in crate::build::packages() {
            let out = std::process::Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
                .current_dir(workspace_root())
                .args(["tree", "--offline", "--quiet", "-p", package, "-e", "normal"])
                .args(["--target", "aarch64-unknown-linux-gnu", "--prefix", "none", "--format", "{p}"])
                .output()
                .unwrap();
            assert!(out.status.success(), "cargo tree failed: {}", String::from_utf8_lossy(&out.stderr));
            let text = String::from_utf8_lossy(&out.stdout);
            let mut versions: std::collections::BTreeMap<&str, std::collections::BTreeSet<&str>> = Default::default();
            for line in text.lines() {
                let mut parts = line.split_whitespace();
                if let (Some(name), Some(version)) = (parts.next(), parts.next()) {
                    versions.entry(name).or_default().insert(version);
                }
            }
            for name in ONE {
                let found = versions.get(name).map_or(0, |v| v.len());
                assert_eq!(found, 1, "{package}: expected exactly one {name}, found {:?}", versions.get(name));
            }
            for name in NONE {
                assert!(
                    !versions.contains_key(name),
                    "{package} links {name}: a second TLS stack or a CA-bundle reader"
                );
            }
            let hypers = versions.get("hyper").map_or(0, |v| v.len());
            assert!(hypers <= 2, "{package}: {hypers} versions of hyper (one for clients, one for the runtime API)");
        }
    }

    #[test]
    fn only_xtask_runs_processes() {
        let root = workspace_root();
        let xtask = root.join("xtask"); // the task runner, its synth binary included
                                        // The one exception: a function re-starting its own binary as an isolated child (and nothing else).
        let isolate = root.join("lambdas/module-runtime/src/isolate.rs");
        assert!(code(&isolate).contains("Command::new(&exe)"), "the isolate starts the function's own binary");
        // And the fixture that tries, as an isolated child, what the child may not do, with its test.
        let probe = [
            root.join("lambdas/module-runtime/src/bin/isolate-probe.rs"),
            root.join("lambdas/module-runtime/tests/isolate.rs"),
        ];
        for file in
            rust_files(&root).into_iter().filter(|f| !f.starts_with(&xtask) && *f != isolate && !probe.contains(f))
        {
            let text = code(&file);
            for p in PROCESS {
                assert!(!text.contains(p), "{} runs a process ({p}); only xtask may", file.display());
            }
        }
    }

    /// The variants of `pub enum <name>` in a source text.
    fn variants(text: &str, name: &str) -> Vec<String> {
        let start = text.find(&format!("pub enum {name} {{")).unwrap_or_else(|| panic!("no enum {name}"));
        let body = &text[start..];
        let body = &body[body.find('{').unwrap() + 1..body.find("\n}").unwrap()];
        body.lines()
            .map(str::trim)
            .filter(|l| !l.starts_with("//") && !l.starts_with('#') && !l.is_empty())
            .filter_map(|l| l.split(['(', ' ', ',', '{']).next())
            .filter(|v| v.chars().next().is_some_and(|c| c.is_ascii_uppercase()))
            .map(str::to_owned)
            .collect()
    }

    /// Architecture invariant (ARCHITECTURE.md, "What starts a function"): each trigger kind is one variant of the
    /// catalog's `Trigger` and is named, outside the catalog, in one place per layer: its own file in the stacks
    /// (`stacks/src/triggers/<kind>.rs`, which the one dispatch there points to), the runtime's handler kinds
    /// (`module-runtime/src/registration.rs`, with one `serve` arm each) and the local API's runner
    /// (`local-api/src/triggers.rs`). Everything else asks the stacks' kind. The platform's authorizer is the one kind
    /// no module has.
    #[test]
    fn each_trigger_kind_is_named_in_one_place_per_layer() {
        let root = workspace_root();
        let read = |p: &str| code(&root.join(p));
        let kinds = variants(&read("lambdas/route-registry/src/lib.rs"), "Trigger");
        assert_eq!(kinds, ["Http", "Queue", "Schedule", "ObjectsCreated", "Authorizer"], "the catalog's trigger kinds");
        let dispatch = read("stacks/src/triggers/mod.rs");
        let allowed_layers = ["lambdas/module-runtime/src/registration.rs", "lambdas/local-api/src/triggers.rs"];
        for kind in &kinds {
            // The dispatch names the kind's file: `Trigger::Queue(_) => &queue::Queue`.
            let arm = dispatch
                .lines()
                .find(|l| l.trim_start().starts_with(&format!("Trigger::{kind}")) && l.contains("=> &"))
                .unwrap_or_else(|| panic!("stacks/src/triggers/mod.rs does not dispatch Trigger::{kind}"));
            let file = arm.split("=> &").nth(1).and_then(|t| t.split("::").next()).unwrap();
            let own = format!("stacks/src/triggers/{file}.rs");
            assert!(root.join(&own).is_file(), "Trigger::{kind} is dispatched to {own}, which does not exist");
            let naming: Vec<String> = rust_files(&root)
                .into_iter()
                .filter(|f| !f.starts_with(root.join("lambdas/route-registry")))
                // Tests may name any kind: they check the kinds' behaviour.
                .filter(|f| !f.ends_with("tests.rs") && !f.components().any(|c| c.as_os_str() == "tests"))
                .filter(|f| names_variant(&code(f), "Trigger", kind))
                .map(|f| f.strip_prefix(&root).unwrap().display().to_string())
                .collect();
            for place in &naming {
                let allowed =
                    *place == own || place == "stacks/src/triggers/mod.rs" || allowed_layers.contains(&place.as_str());
                assert!(
                    allowed,
                    "{place} names Trigger::{kind}: ask stacks::triggers::of(..) (the kind's {own}) instead"
                );
            }
        }
        let module_kinds: Vec<&String> = kinds.iter().filter(|k| *k != "Authorizer").collect();
        let handlers = variants(&read("lambdas/module-runtime/src/registration.rs"), "Handler");
        assert_eq!(handlers.iter().collect::<Vec<_>>(), module_kinds, "one handler kind per module trigger kind");
        let runtime = read("lambdas/module-runtime/src/lib.rs");
        let serve = &runtime[runtime.find("pub async fn serve(").unwrap()..];
        let local = read("lambdas/local-api/src/triggers.rs");
        for kind in module_kinds {
            let served = serve.matches(&format!("Handler::{kind}(")).count();
            assert_eq!(served, 1, "module-runtime's serve has {served} arms for Handler::{kind} (one expected)");
            if kind != "Http" {
                assert!(local.contains(&format!("Trigger::{kind}")), "the local API does not start {kind} functions");
            }
        }
    }

    /// Functions at the product's extension points stay readable: no hand-written function of a product crate (the
    /// DSL without its generated provider, the stacks, the settings, the Lambdas' crates) is over 100 lines, outside
    /// tests and benchmarks. A longer one is split, or listed here with the reason.
    #[test]
    fn no_product_function_is_over_a_hundred_lines() {
        const LONGER_ON_PURPOSE: &[(&str, &str)] = &[
            (
                "stacks/src/pipeline.rs::deploy_statements",
                "a policy document as data, one statement per service in the order a reviewer checks them; split, the \
                 statements would be read through a dozen helpers for nothing",
            ),
            ("stacks/src/pipeline.rs::plan_statements", "the same, for the plan role's reads"),
        ];
        let root = workspace_root();
        let mut dirs = vec![root.join("infra-dsl/src"), root.join("stacks/src"), root.join("stacks/settings/src")];
        for entry in std::fs::read_dir(root.join("lambdas")).unwrap().flatten() {
            dirs.push(entry.path().join("src"));
        }
        let generated = root.join("infra-dsl/src/aws");
        let mut long = Vec::new();
        for file in dirs.iter().flat_map(|d| rust_files(d)).filter(|f| !f.starts_with(&generated)) {
            for (name, lines) in function_lengths(&code(&file)) {
                let at = format!("{}::{name}", file.strip_prefix(&root).unwrap().display());
                if lines > 100 && !LONGER_ON_PURPOSE.iter().any(|(f, _)| *f == at) {
                    long.push(format!("{at} ({lines} lines)"));
                }
            }
        }
        assert!(long.is_empty(), "split these functions (or list one in LONGER_ON_PURPOSE with why): {long:#?}");
    }

    /// Each function of source text with its length in lines, from its `fn` line to its closing brace (at the `fn`
    /// line's indentation).
    fn function_lengths(text: &str) -> Vec<(String, usize)> {
        let lines: Vec<&str> = text.lines().collect();
        let mut out = Vec::new();
        for (n, line) in lines.iter().enumerate() {
            let trimmed = line.trim_start();
            let rest = [
                "pub fn ",
                "pub(crate) fn ",
                "fn ",
                "pub async fn ",
                "async fn ",
                "pub(crate) async fn ",
                "pub const fn ",
                "const fn ",
            ]
            .iter()
            .find_map(|p| trimmed.strip_prefix(p));
            let Some(rest) = rest.filter(|_| !line.trim_end().ends_with(';')) else { continue };
            let indent = &line[..line.len() - trimmed.len()];
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            let close = format!("{indent}}}");
            if let Some(end) = lines[n + 1..].iter().position(|l| *l == close) {
                out.push((name, end + 2));
            }
        }
        out
    }

    /// The stand-ins keep their own copy of the civil-date arithmetic (test support depends on no product crate);
    /// the copy reads and writes timestamps exactly as the product's does, out-of-range fields included.
    #[test]
    fn the_stand_ins_read_and_write_timestamps_as_the_product_does() {
        for ms in [0, 1_765_000_000_123, 951_782_400_000, 4_102_444_799_999] {
            assert_eq!(standins::time::rfc3339_ms(ms), route_registry::time::rfc3339_ms(ms));
        }
        for text in [
            "2025-12-06T05:46:40Z",
            "2025-12-06T05:46:40.123Z",
            "2000-02-29T00:00:00Z",
            "2025-13-01T00:00:00Z",
            "2025-00-10T00:00:00Z",
            "2025-01-32T00:00:00Z",
            "2025-01-01T24:00:00Z",
            "2025-01-01T00:60:00Z",
            "2025-01-01T00:00:61Z",
            "2025-01-01 00:00:00Z",
            "2025-01-01T00:00:00",
            "not a time",
        ] {
            assert_eq!(standins::time::parse_rfc3339(text), route_registry::time::parse_rfc3339(text), "{text}");
        }
    }

    /// Whether source text names `Enum::Variant` (as a pattern or a value, not a longer name).
    fn names_variant(text: &str, ty: &str, variant: &str) -> bool {
        let needle = format!("{ty}::{variant}");
        text.match_indices(&needle).any(|(at, _)| {
            let after = text[at + needle.len()..].chars().next();
            let before = text[..at].chars().next_back();
            !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
                && !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
        })
    }

    /// Architecture invariant: the modules of the crates with builders run one way; `stacks` and `module-runtime`
    /// have no module cycle (a context model that builders import, never an assembler they import back).
    #[test]
    fn no_module_cycle_in_stacks_or_module_runtime() {
        let root = workspace_root();
        for krate in ["stacks/src", "lambdas/module-runtime/src"] {
            let graph = module_graph(&root.join(krate));
            let cycles = cycles(&graph);
            assert!(cycles.is_empty(), "{krate} has module cycles: {cycles:?}");
        }
    }

    /// The finder finds a cycle made on purpose (two files that import each other, and one through the crate root's
    /// re-export), and none in a crate that runs one way.
    #[test]
    fn the_cycle_finder_finds_a_cycle_made_on_purpose() {
        let dir = std::env::temp_dir().join(format!("tidy-cycles-{}", std::process::id()));
        let src = dir.join("src");
        std::fs::create_dir_all(src.join("kinds")).unwrap();
        let write = |p: &str, t: &str| std::fs::write(src.join(p), t).unwrap();
        write("lib.rs", "//! x\npub mod a;\npub mod b;\npub mod c;\npub mod kinds;\npub use c::Thing;\n");
        write("a.rs", "//! x\nuse crate::b::B;\npub struct A;\n");
        write("b.rs", "//! x\nuse crate::{a, kinds::queue};\npub struct B;\n");
        write("c.rs", "//! x\npub struct Thing;\n#[cfg(test)]\nmod tests { use crate::a::A; }\n");
        write("kinds/mod.rs", "//! x\nmod queue;\nuse crate::Thing;\n");
        write("kinds/queue.rs", "//! x\nuse super::*;\n");
        let graph = module_graph(&src);
        assert_eq!(cycles(&graph), [vec!["a".to_owned(), "b".to_owned()]], "{graph:?}");
        assert!(graph["kinds"].contains("c"), "`crate::Thing` is c's, through the root's re-export: {graph:?}");
        assert!(!graph["c"].contains("a"), "test code is not a dependency: {graph:?}");
        write("b.rs", "//! x\nuse crate::kinds;\n");
        assert!(cycles(&module_graph(&src)).is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
