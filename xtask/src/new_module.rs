//! `cargo xtask new-module <name> --entity <entity>`: scaffolds a CORA module end to end: registry routes (CRUD for
//! the entity), a Lambda crate with a handler and tests, the module's stack spec registered for all environments,
//! and a migration with RLS through `can_access_org_data`.
//!
//! Everything is computed first and checked (names, collisions); then files are written, and if any write fails
//! the ones already written are removed and the edited ones restored, so nothing is left half-written.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::workspace_root;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The module, kebab-case and ending in `-module` (e.g. `resume-module`).
    name: String,
    /// The entity it manages, snake- or kebab-case, plural (e.g. `resumes`, `work-items`).
    #[arg(long)]
    entity: String,
    /// Scaffold into this workspace instead of this one (used by the test command).
    #[arg(long, hide = true)]
    root: Option<PathBuf>,
}

/// Names derived once from the arguments.
#[derive(Debug, Clone)]
struct Names {
    module: String,      // resume-module
    short_snake: String, // resume
    entity: String,      // work-items
    entity_snake: String,
    entity_const: String, // WORK_ITEMS
    binary: String,       // resume-work-items
    type_name: String,    // WorkItem (singular-ish, for types)
}

fn kebab_ok(s: &str) -> bool {
    !s.is_empty()
        && s.split('-').all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()))
        && s.starts_with(|c: char| c.is_ascii_lowercase())
}

fn names(module: &str, entity: &str) -> Result<Names> {
    let Some(short) = module.strip_suffix("-module").filter(|s| kebab_ok(s)) else {
        bail!("`{module}` is not a module name: use kebab-case ending in -module, e.g. resume-module");
    };
    let entity = entity.replace('_', "-");
    if !kebab_ok(&entity) {
        bail!(
            "`{entity}` is not an entity name: use snake- or kebab-case letters and digits, e.g. resumes or work_items"
        );
    }
    let entity_snake = entity.replace('-', "_");
    let singular = entity.strip_suffix('s').filter(|s| !s.is_empty()).unwrap_or(&entity);
    let type_name: String = singular
        .split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        })
        .collect();
    Ok(Names {
        module: module.to_owned(),
        short_snake: short.replace('-', "_"),
        entity_const: entity_snake.to_ascii_uppercase(),
        binary: format!("{short}-{entity}"),
        entity: entity.clone(),
        entity_snake,
        type_name,
    })
}

/// A change to make: a new file, or an edit of an existing one (with its original, for rollback).
enum Change {
    Create(PathBuf, String),
    Edit(PathBuf, String, String),
}

fn insert_before_marker(text: &str, marker: &str, line: &str, file: &Path) -> Result<String> {
    let at = text.find(marker).with_context(|| format!("{} has no `{marker}` marker; add it back", file.display()))?;
    let line_start = text[..at].rfind('\n').map(|i| i + 1).unwrap_or(0);
    Ok(format!("{}{line}\n{}", &text[..line_start], &text[line_start..]))
}

pub fn run(args: &Args) -> Result<()> {
    let root = args.root.clone().unwrap_or_else(workspace_root);
    let n = names(&args.name, &args.entity)?;
    let registry_file = root.join(format!("lambdas/route-registry/src/{}.rs", n.short_snake));
    let crate_dir = root.join("lambdas").join(&n.module);
    for taken in [&registry_file, &crate_dir] {
        if taken.exists() {
            bail!("{} already exists: `{}` is taken; choose another module name", taken.display(), n.module);
        }
    }
    let registry_lib = root.join("lambdas/route-registry/src/lib.rs");
    let modules_rs = root.join("stacks/src/modules.rs");
    let cargo_toml = root.join("Cargo.toml");
    let read = |p: &Path| std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()));
    let (lib_text, modules_text, cargo_text) = (read(&registry_lib)?, read(&modules_rs)?, read(&cargo_toml)?);
    if lib_text.contains(&format!("pub mod {};", n.short_snake)) {
        bail!("the route registry already has a module `{}`", n.short_snake);
    }
    let migrations = root.join("migrations");
    let next =
        crate::db::load(&migrations)?.iter().filter_map(|m| m.name[..4].parse::<u32>().ok()).max().unwrap_or(0) + 1;

    let lib_new = insert_before_marker(
        &lib_text,
        "// new-module: module declarations",
        &format!("pub mod {};", n.short_snake),
        &registry_lib,
    )?;
    let lib_new = insert_before_marker(
        &lib_new,
        "// new-module: modules above",
        &format!("    {}::MODULE,", n.short_snake),
        &registry_lib,
    )?;
    let modules_new = insert_before_marker(
        &modules_text,
        "// new-module: module specs",
        &format!("        {}_module(settings),", n.short_snake),
        &modules_rs,
    )?;
    let modules_new = format!("{modules_new}{}", stack_spec(&n));
    let cargo_new = insert_before_marker(
        &cargo_text,
        "# new-module: members",
        &format!("    \"lambdas/{}\",", n.module),
        &cargo_toml,
    )?;

    let changes = vec![
        Change::Create(registry_file.clone(), registry(&n)),
        Change::Create(crate_dir.join("Cargo.toml"), crate_manifest(&n)),
        Change::Create(crate_dir.join("src/lib.rs"), handler(&n)),
        Change::Create(crate_dir.join(format!("src/bin/{}.rs", n.binary)), binary(&n)),
        Change::Create(crate_dir.join("tests/handlers.rs"), handler_tests(&n)),
        Change::Create(migrations.join(format!("{next:04}_{}_{}.sql", n.short_snake, n.entity_snake)), migration(&n)),
        Change::Edit(registry_lib, lib_text, lib_new),
        Change::Edit(modules_rs, modules_text, modules_new),
        Change::Edit(cargo_toml, cargo_text, cargo_new),
    ];
    apply(&changes, &crate_dir)?;
    for c in &changes {
        match c {
            Change::Create(p, _) => println!("created  {}", p.strip_prefix(&root).unwrap_or(p).display()),
            Change::Edit(p, _, _) => println!("edited   {}", p.strip_prefix(&root).unwrap_or(p).display()),
        }
    }
    println!(
        "\nNext: write the entity's columns in the migration and types, then\n  cargo test -p {m}\n  cargo xtask synth --all && cargo xtask check-iam\n  UPDATE_EXPECT=1 cargo test -p stacks   # review the golden diff: it is the infrastructure review",
        m = n.module
    );
    Ok(())
}

/// Writes every change; on the first failure, undoes the ones made.
fn apply(changes: &[Change], crate_dir: &Path) -> Result<()> {
    let mut done = Vec::new();
    let result = (|| -> Result<()> {
        for (i, c) in changes.iter().enumerate() {
            match c {
                Change::Create(p, text) | Change::Edit(p, _, text) => {
                    if let Some(dir) = p.parent() {
                        std::fs::create_dir_all(dir)?;
                    }
                    std::fs::write(p, text).with_context(|| format!("cannot write {}", p.display()))?;
                }
            }
            done.push(i);
        }
        Ok(())
    })();
    if result.is_err() {
        for i in done.into_iter().rev() {
            match &changes[i] {
                Change::Create(p, _) => {
                    let _ = std::fs::remove_file(p);
                }
                Change::Edit(p, original, _) => {
                    let _ = std::fs::write(p, original);
                }
            }
        }
        let _ = std::fs::remove_dir_all(crate_dir);
    }
    result
}

fn registry(n: &Names) -> String {
    let (c, e, m, f) = (&n.entity_const, &n.entity, &n.module, &n.entity);
    format!(
        r#"//! {m}: CRUD routes for {e}, served by the `{bin}` function. Scaffolded by `cargo xtask new-module`.

use crate::{{Auth, Function, Method, Module, Route}};

pub const MODULE_NAME: &str = "{m}";

pub const {c}: Function = Function {{ module: MODULE_NAME, name: "{f}", binary: "{bin}" }};

pub const LIST_{c}: Route =
    Route {{ method: Method::Get, path: "/{e}", function: {c}, auth: Auth::User, summary: "List {e} of the caller's organizations" }};
pub const CREATE_{c}: Route =
    Route {{ method: Method::Post, path: "/{e}", function: {c}, auth: Auth::User, summary: "Create one of {e}" }};
pub const GET_{c}: Route =
    Route {{ method: Method::Get, path: "/{e}/{{id}}", function: {c}, auth: Auth::User, summary: "Get one of {e}" }};
pub const UPDATE_{c}: Route =
    Route {{ method: Method::Put, path: "/{e}/{{id}}", function: {c}, auth: Auth::User, summary: "Update one of {e}" }};
pub const DELETE_{c}: Route =
    Route {{ method: Method::Delete, path: "/{e}/{{id}}", function: {c}, auth: Auth::User, summary: "Delete one of {e} (soft delete)" }};

pub const FUNCTIONS: &[Function] = &[{c}];

pub const ROUTES: &[Route] = &[LIST_{c}, CREATE_{c}, GET_{c}, UPDATE_{c}, DELETE_{c}];

pub const MODULE: Module = Module {{ name: MODULE_NAME, functions: FUNCTIONS, routes: ROUTES }};
"#,
        bin = n.binary
    )
}

fn crate_manifest(n: &Names) -> String {
    format!(
        r#"[package]
name = "{m}"
description = "{m}'s Lambdas (scaffolded by cargo xtask new-module)."
version = "0.1.0"
edition.workspace = true
rust-version.workspace = true
license.workspace = true
publish.workspace = true

[[bin]]
name = "{bin}"
path = "src/bin/{bin}.rs"

[dependencies]
org-common.workspace = true
route-registry.workspace = true
lambda_http.workspace = true
tokio.workspace = true
schemars.workspace = true
serde.workspace = true
serde_json.workspace = true
uuid.workspace = true

[lints]
workspace = true
"#,
        m = n.module,
        bin = n.binary
    )
}

fn handler(n: &Names) -> String {
    let (c, s, t, e) = (&n.entity_const, &n.short_snake, &n.type_name, &n.entity_snake);
    format!(
        r#"//! {m}: the `{bin}` function, dispatching the registry's {entity} routes. Visibility and writes are decided by
//! Row-Level Security (`app.can_access_org_data`); deletes go through `delete_{e}`, a soft delete.

use lambda_http::{{Body, Request, Response}};
use org_common::validate::Name;
use org_common::{{dispatch, ApiError, Call, Db, Reply}};
use route_registry::{{{s}, Route}};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{{json, Value}};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {{
    List,
    Create,
    Get,
    Update,
    Delete,
}}

/// The routes this function serves, from the registry.
pub const ROUTES: &[(Route, Op)] = &[
    ({s}::LIST_{c}, Op::List),
    ({s}::CREATE_{c}, Op::Create),
    ({s}::GET_{c}, Op::Get),
    ({s}::UPDATE_{c}, Op::Update),
    ({s}::DELETE_{c}, Op::Delete),
];

/// `POST /{entity}`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Create{t} {{
    pub org_id: uuid::Uuid,
    pub name: Name,
}}

/// `PUT /{entity}/{{id}}`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Update{t} {{
    pub name: Name,
}}

pub async fn handle(db: &Db, req: Request) -> Response<Body> {{
    dispatch(ROUTES, req, |op, call| run(db, op, call)).await
}}

fn first(rows: Value) -> Option<Value> {{
    match rows {{
        Value::Array(mut r) if !r.is_empty() => Some(r.swap_remove(0)),
        _ => None,
    }}
}}

async fn run(db: &Db, op: Op, call: Call) -> Result<Reply, ApiError> {{
    let not_found = || ApiError::NotFound("Not found".into());
    match op {{
        Op::List => {{
            let s = db.session(&call.caller)?;
            Ok(Reply::ok(s.run(s.from("{e}").select("*").order("created_at.asc,id.asc")).await?))
        }}
        Op::Create => {{
            let body: Create{t} = call.body()?;
            let s = db.session(&call.caller)?;
            let row = json!({{ "org_id": body.org_id, "name": body.name.as_str() }});
            let created = s.run(s.from("{e}").insert(row.to_string())).await?;
            Ok(Reply::created(first(created).ok_or_else(not_found)?))
        }}
        Op::Get => {{
            let id = call.uuid("id")?.to_string();
            let s = db.session(&call.caller)?;
            Ok(Reply::ok(first(s.run(s.from("{e}").select("*").eq("id", &id)).await?).ok_or_else(not_found)?))
        }}
        Op::Update => {{
            let id = call.uuid("id")?.to_string();
            let body: Update{t} = call.body()?;
            let s = db.session(&call.caller)?;
            let change = json!({{ "name": body.name.as_str() }});
            let updated = s.run(s.from("{e}").eq("id", &id).update(change.to_string())).await?;
            Ok(Reply::ok(first(updated).ok_or_else(not_found)?))
        }}
        Op::Delete => {{
            let id = call.uuid("id")?;
            db.session(&call.caller)?.rpc("delete_{e}", &json!({{ "p_id": id }})).await?;
            Ok(Reply::ok(json!({{ "message": "Deleted" }})))
        }}
    }}
}}
"#,
        m = n.module,
        bin = n.binary,
        entity = n.entity
    )
}

fn binary(n: &Names) -> String {
    format!(
        r#"//! The `{bin}` Lambda of {m}: serves its registry routes.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {{
    org_common::serve({krate}::handle).await
}}
"#,
        bin = n.binary,
        m = n.module,
        krate = n.module.replace('-', "_")
    )
}

fn handler_tests(n: &Names) -> String {
    format!(
        r##"//! {m}'s handler without a database: registry coverage, 404, 401 and a 400 naming the field (the database
//! client points at a closed port, so a request that wrongly reached it would fail with 500).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail by panicking")]

use org_common::{{Db, DbConfig}};
use serde_json::{{json, Value}};

fn db() -> Db {{
    Db::new(&DbConfig {{ rest_url: "http://127.0.0.1:1".into(), anon_key: String::new(), jwt_secret: "t".repeat(32) }})
        .unwrap()
}}

async fn send(method: &str, path: &str, caller: bool, body: Option<&str>) -> (u16, Value) {{
    let mut e = json!({{
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "", "headers": {{}},
        "requestContext": {{ "accountId": "123456789012", "apiId": "a", "domainName": "d", "domainPrefix": "d",
            "http": {{ "method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "t" }},
            "requestId": "r", "routeKey": "$default", "stage": "$default", "time": "", "timeEpoch": 0 }},
        "isBase64Encoded": false
    }});
    if caller {{
        e["requestContext"]["authorizer"] = json!({{ "lambda": {{ "sub": "00u-test", "email": "t@example.com", "groups": "[]" }} }});
    }}
    if let Some(b) = body {{
        e["body"] = json!(b);
    }}
    let response = {krate}::handle(&db(), lambda_http::request::from_str(&e.to_string()).unwrap()).await;
    let status = response.status().as_u16();
    let body = match response.body() {{
        lambda_http::Body::Text(t) => serde_json::from_str(t).unwrap(),
        _ => Value::Null,
    }};
    (status, body)
}}

#[test]
fn the_handler_serves_exactly_the_registry_routes() {{
    let served: Vec<_> = {krate}::ROUTES.iter().map(|(r, _)| r.key()).collect();
    let registry: Vec<_> = route_registry::{s}::ROUTES.iter().map(|r| r.key()).collect();
    assert_eq!(served, registry);
}}

#[tokio::test]
async fn routing_identity_and_validation() {{
    assert_eq!(send("GET", "/nope", true, None).await.0, 404);
    assert_eq!(send("GET", "/{e}", false, None).await.0, 401);
    let (status, body) = send("POST", "/{e}", true, Some(r#"{{"org_id":"6f1c2f7e-3c55-4a53-9d39-5d2b7c1d2e11","name":""}}"#)).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("name: must be 1 to 100 characters")));
    assert_eq!(send("GET", "/{e}/not-a-uuid", true, None).await.0, 400);
}}
"##,
        m = n.module,
        krate = n.module.replace('-', "_"),
        s = n.short_snake,
        e = n.entity
    )
}

fn stack_spec(n: &Names) -> String {
    format!(
        r#"
/// {m} (scaffolded by `cargo xtask new-module`).
pub fn {s}_module(settings: &Settings) -> ModuleSpec {{
    ModuleSpec {{
        module: route_registry::{s}::MODULE,
        functions: vec![FunctionSpec {{
            function: route_registry::{s}::{c},
            memory_mb: ORG_FUNCTION_MEMORY_MB,
            timeout_s: 30,
            uses: Uses {{ secrets: vec![SecretUse::Supabase] }},
            env: vec![("SUPABASE_URL", settings.supabase_url.clone())],
        }}],
    }}
}}
"#,
        m = n.module,
        s = n.short_snake,
        c = n.entity_const
    )
}

fn migration(n: &Names) -> String {
    let e = &n.entity_snake;
    format!(
        r#"-- {m}: the {e} table (scaffolded by cargo xtask new-module). Add the entity's own columns here.
-- Rows belong to an organization; Row-Level Security lets its members see and change them.

CREATE TABLE public.{e} (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id     uuid NOT NULL REFERENCES public.org (id),
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES public.identities (id) DEFAULT app.current_user_id(),
    deleted_at timestamptz
);
CREATE INDEX {e}_org_id_idx ON public.{e} (org_id);
CREATE INDEX {e}_created_by_idx ON public.{e} (created_by);
CREATE TRIGGER {e}_updated_at BEFORE UPDATE ON public.{e} FOR EACH ROW EXECUTE FUNCTION app.set_updated_at();

ALTER TABLE public.{e} ENABLE ROW LEVEL SECURITY;
CREATE POLICY {e}_select ON public.{e} FOR SELECT TO authenticated
    USING (deleted_at IS NULL AND app.can_access_org_data(org_id));
CREATE POLICY {e}_insert ON public.{e} FOR INSERT TO authenticated
    WITH CHECK (app.can_access_org_data(org_id));
CREATE POLICY {e}_update ON public.{e} FOR UPDATE TO authenticated
    USING (deleted_at IS NULL AND app.can_access_org_data(org_id)) WITH CHECK (app.can_access_org_data(org_id));

REVOKE ALL ON public.{e} FROM PUBLIC, anon, authenticated;
GRANT SELECT ON public.{e} TO authenticated;
GRANT INSERT (org_id, name) ON public.{e} TO authenticated;
GRANT UPDATE (name) ON public.{e} TO authenticated;

-- Soft delete (definer: the deleted row is no longer visible to the caller).
CREATE FUNCTION public.delete_{e}(p_id uuid) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
    UPDATE public.{e} SET deleted_at = now()
    WHERE id = p_id AND deleted_at IS NULL AND app.can_access_org_data(org_id);
    IF NOT FOUND THEN
        RAISE EXCEPTION 'not found' USING ERRCODE = 'P0002';
    END IF;
END
$$;
REVOKE ALL ON FUNCTION public.delete_{e}(uuid) FROM PUBLIC, anon;
GRANT EXECUTE ON FUNCTION public.delete_{e}(uuid) TO authenticated;
"#,
        m = n.module
    )
}

/// `cargo xtask scaffold-check`: scaffolds `resume-module --entity resumes` into a temporary copy of the workspace
/// and proves it: the new crate builds, passes its tests and clippy, `synth --all`, `check-iam` and
/// `terraform validate` succeed, and the migrations (with the new one) apply to a fresh PostgreSQL.
pub fn check() -> Result<()> {
    use crate::util::{cargo, exec, step};
    let root = workspace_root();
    let copy = std::env::temp_dir().join(format!("career-scaffold-{}", std::process::id()));
    struct Cleanup(PathBuf);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let _cleanup = Cleanup(copy.clone());
    step("copy the workspace's tracked files to a temporary folder", || {
        let out = std::process::Command::new("git").current_dir(&root).args(["ls-files", "-z"]).output()?;
        for file in String::from_utf8_lossy(&out.stdout).split('\0').filter(|f| !f.is_empty()) {
            let (from, to) = (root.join(file), copy.join(file));
            if from.is_file() {
                std::fs::create_dir_all(to.parent().unwrap_or(&copy))?;
                std::fs::copy(&from, &to).with_context(|| format!("cannot copy {file}"))?;
            }
        }
        Ok(())
    })?;
    // Share the build cache: only the workspace's own crates compile again.
    let target = root.join("target");
    let run = |what: &str, args: &[&str]| {
        step(what, || exec(cargo().current_dir(&copy).env("CARGO_TARGET_DIR", &target).args(args)))
    };
    run(
        "new-module resume-module --entity resumes",
        &["run", "--quiet", "-p", "xtask", "--", "new-module", "resume-module", "--entity", "resumes"],
    )?;
    run("cargo test -p resume-module", &["test", "--quiet", "-p", "resume-module"])?;
    run(
        "cargo clippy -p resume-module -D warnings",
        &["clippy", "--quiet", "-p", "resume-module", "--all-targets", "--", "-D", "warnings"],
    )?;
    run("cargo test -p route-registry (unique routes)", &["test", "--quiet", "-p", "route-registry"])?;
    run("synth --all", &["run", "--quiet", "-p", "xtask", "--", "synth", "--all"])?;
    run("check-iam", &["run", "--quiet", "-p", "xtask", "--", "check-iam"])?;
    run("terraform validate (all four)", &["run", "--quiet", "-p", "xtask", "--", "validate"])?;
    let pg = step("start PostgreSQL for the new migration", crate::services::Postgres::start)?;
    step("apply all migrations, the scaffolded one included", || {
        crate::db::migrate(&pg.url("postgres"), &copy.join("migrations"))
            .map(|applied| println!("    applied {}", applied.join(", ")))
    })?;
    println!(
        "scaffold-check: the scaffolded module builds, tests, synthesizes, passes check-iam and validate, and migrates"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_validated_and_derived() {
        let n = names("resume-module", "work_items").unwrap();
        assert_eq!(
            (n.short_snake.as_str(), n.entity.as_str(), n.binary.as_str()),
            ("resume", "work-items", "resume-work-items")
        );
        assert_eq!((n.entity_const.as_str(), n.type_name.as_str()), ("WORK_ITEMS", "WorkItem"));
        for bad in ["Resume-module", "resume", "resume--module", "-module", "résumé-module"] {
            assert!(names(bad, "resumes").is_err(), "{bad}");
        }
        assert!(names("resume-module", "Resumes").is_err());
    }
}
