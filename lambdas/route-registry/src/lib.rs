//! The module catalog: every CORA module of the platform, its Lambda functions (binary, sizing, what each may
//! touch) and its routes (method, path, owning function, auth requirement, statuses, request and response types),
//! as constants. Everything else derives from it: the Terraform stacks, the Lambda build list, the handlers'
//! dispatch, the local API, the OpenAPI document, the benchmarks and the tests' expected counts.
//!
//! A module is one file in `src/modules/` (plus its wire types); `src/modules/mod.rs` is generated from that folder
//! by `cargo xtask codegen`. Architecture invariant: this crate knows nothing of Terraform, HTTP libraries or Lambda;
//! it depends on serde, serde_json, schemars and uuid only (a workspace test checks it).

use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};

pub mod modules;
pub mod openapi;
pub mod telemetry;
pub mod validate;

/// The HTTP methods the platform's API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
}

impl Method {
    pub const ALL: [Method; 4] = [Method::Get, Method::Post, Method::Put, Method::Delete];

    pub const fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }

    /// Parses an upper-case method name as API Gateway sends it.
    pub fn parse(s: &str) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// Whether repeating the request has no further effect (RFC 9110 §9.2.2): such requests may be retried.
    pub const fn is_idempotent(self) -> bool {
        matches!(self, Method::Get | Method::Put | Method::Delete)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who may call a route, beyond holding a valid token (every route sits behind the Lambda authorizer). Dispatch
/// enforces it before the handler runs; the OpenAPI document states it; the database checks it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Auth {
    /// Any authenticated caller; Row-Level Security and the database functions decide what they see and change.
    User,
    /// Platform administrators only: members of the environment's admin group (and, in the database, with an
    /// active identity). Everyone else gets 403 before the handler runs.
    Admin,
}

/// Read, write or both, on a resource a function declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    Read,
    Write,
    ReadWrite,
}

impl Access {
    pub const fn reads(self) -> bool {
        matches!(self, Access::Read | Access::ReadWrite)
    }

    pub const fn writes(self) -> bool {
        matches!(self, Access::Write | Access::ReadWrite)
    }
}

/// Something outside its own log group that a function touches. The stacks derive the role's grants, the
/// environment variables and `check-iam`'s expectations from these declarations and from nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Use {
    /// Supabase Postgres through PostgREST, as the caller (`SUPABASE_URL` and the publishable key in the
    /// environment: public by design, so no secret).
    Database,
    /// Okta's Users API (the Okta API token secret and `OKTA_DOMAIN`).
    Okta,
    /// Objects of the documents bucket under `prefix` (`resumes/`): `s3:GetObject` and/or `s3:PutObject` on
    /// `arn:…:bucket/prefix*`, and `DOCUMENTS_BUCKET` / `DOCUMENTS_PREFIX` in the environment.
    Documents { prefix: &'static str, access: Access },
}

/// A Lambda function that serves routes: `{env}-{module}-{name}`, built from the binary `binary` of the module's
/// crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Function {
    /// The CORA module, kebab-case (`org-module`); also the Cargo package that holds the binary.
    pub module: &'static str,
    /// The function's name inside its module, kebab-case (`profiles`).
    pub name: &'static str,
    /// The Cargo binary that implements it (`org-profiles`).
    pub binary: &'static str,
    /// Memory in MB; see where it is set for the figures it rests on.
    pub memory_mb: u32,
    /// Timeout in seconds (the duration alarm fires at five sixths of it).
    pub timeout_s: u32,
    /// What the function touches besides its own log group.
    pub uses: &'static [Use],
}

impl Function {
    /// The Cargo package that builds the function's binary: its module's crate, except for the platform's own
    /// authorizer, which is a crate of its own named like its binary.
    pub fn package(&self) -> &'static str {
        if self.module == AUTHORIZER.module {
            self.binary
        } else {
            self.module
        }
    }

    pub fn uses_database(&self) -> bool {
        self.uses.contains(&Use::Database)
    }

    pub fn uses_okta(&self) -> bool {
        self.uses.contains(&Use::Okta)
    }

    /// The dependencies a request to this function may wait on, for documented 502/503/504 answers.
    pub fn has_dependencies(&self) -> bool {
        !self.uses.is_empty()
    }
}

/// A type that documents a request or response body: its JSON Schema, generated on demand.
#[derive(Clone, Copy)]
pub struct Doc {
    schema: fn(&mut SchemaGenerator) -> Schema,
}

impl Doc {
    /// The documentation of `T`.
    pub const fn of<T: JsonSchema>() -> Doc {
        Doc { schema: subschema::<T> }
    }

    /// The schema, registered in `g`'s definitions (a `$ref` for named types).
    pub fn schema(&self, g: &mut SchemaGenerator) -> Schema {
        (self.schema)(g)
    }
}

fn subschema<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

impl fmt::Debug for Doc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Doc")
    }
}

/// The `data` of a successful answer.
#[derive(Debug, Clone, Copy)]
pub enum Body {
    One(Doc),
    List(Doc),
}

/// One API route.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub method: Method,
    /// The path template as API Gateway writes it, with `{param}` segments.
    pub path: &'static str,
    pub function: Function,
    pub auth: Auth,
    pub summary: &'static str,
    /// The status of a successful answer (200, 201, 202).
    pub success: u16,
    /// The client errors the handler answers (400, 404, 409 …), beyond what every route may answer (401 and 403
    /// from the gateway or dispatch, 500, and 502/503/504 when the function has dependencies).
    pub errors: &'static [u16],
    pub request: Option<Doc>,
    pub response: Body,
}

/// Routes are identified by their key; two routes with one key are a catalog error (a test checks).
impl PartialEq for Route {
    fn eq(&self, other: &Route) -> bool {
        self.method == other.method && self.path == other.path
    }
}

impl Eq for Route {}

impl Route {
    /// The API Gateway route key: `GET /organizations/{id}`.
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// The names of the path parameters, in order (`["id", "userId"]`).
    pub fn path_params(&self) -> impl Iterator<Item = &'static str> {
        self.path.split('/').filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
    }

    /// A concrete path: each parameter replaced by `value(name)` (tests and benchmarks fill in ids).
    pub fn fill(&self, value: impl Fn(&str) -> String) -> String {
        self.path
            .split('/')
            .map(|seg| match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => value(name),
                None => seg.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("/")
    }

    /// Matches a concrete path against the template; returns the parameter values by name.
    ///
    /// A parameter matches one non-empty segment; a trailing slash does not match.
    pub fn match_path<'p>(&self, path: &'p str) -> Option<Vec<(&'static str, &'p str)>> {
        let mut params = Vec::new();
        let mut want = self.path.split('/');
        let mut have = path.split('/');
        loop {
            match (want.next(), have.next()) {
                (None, None) => return Some(params),
                (Some(w), Some(h)) => match w.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    Some(name) if !h.is_empty() => params.push((name, h)),
                    Some(_) => return None,
                    None if w == h => {}
                    None => return None,
                },
                _ => return None,
            }
        }
    }
}

/// A CORA module: its functions and the routes they serve.
#[derive(Debug, Clone, Copy)]
pub struct Module {
    /// Kebab-case, ending in `-module`; also the name of its Cargo package under `lambdas/`.
    pub name: &'static str,
    pub summary: &'static str,
    pub functions: &'static [Function],
    pub routes: &'static [Route],
    /// Functions and routes that were renamed since they were deployed: the stacks move their resources to the
    /// new names instead of destroying and recreating them (a log group keeps its logs, a route does not flicker).
    pub renamed: &'static [Rename],
}

/// A name that changed after deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rename {
    /// A function's binary, which names all its resources: `Function { from: "org-orgs", to: "org-organizations" }`.
    Function { from: &'static str, to: &'static str },
    /// A route's key: `Route { from: "GET /profiles/me", to: "GET /profiles/self" }`.
    Route { from: &'static str, to: &'static str },
}

impl Module {
    /// The routes one function owns.
    pub fn routes_of(&self, function: Function) -> impl Iterator<Item = &'static Route> {
        self.routes.iter().filter(move |r| r.function == function)
    }
}

/// The platform's Lambda authorizer: it serves no route, it guards all of them. 256 MB from the same benchmark as
/// the module functions (see `modules::org`'s sizing; BENCHMARKS.md, "Cold start" and "Memory size"): its cold start
/// needs 3–4 ms of CPU (6.4 MiB peak RSS), predicted 43–57 ms at 128 MB and 23–30 ms at 256 MB, and it sits on the
/// path of every request API Gateway has no cached decision for; the two sizes cost the same to within a cent per
/// million.
pub const AUTHORIZER: Function = Function {
    module: "platform",
    name: "authorizer",
    binary: "platform-authorizer",
    memory_mb: 256,
    timeout_s: 10,
    uses: &[],
};

/// Every deployed module, in name order.
pub const MODULES: &[Module] = modules::ALL;

/// Every route of every deployed module.
pub fn all_routes() -> impl Iterator<Item = &'static Route> {
    MODULES.iter().flat_map(|m| m.routes.iter())
}

/// Every function of every deployed module, then the authorizer.
pub fn all_functions() -> impl Iterator<Item = Function> {
    MODULES.iter().flat_map(|m| m.functions.iter().copied()).chain([AUTHORIZER])
}

/// The route a request selects, by method and concrete path.
pub fn find_route(method: &str, path: &str) -> Option<&'static Route> {
    all_routes().find(|r| r.method.as_str() == method && r.match_path(path).is_some())
}

/// The module a function belongs to.
pub fn module_of(function: Function) -> Option<&'static Module> {
    MODULES.iter().find(|m| m.name == function.module)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn check_module(module: &Module) {
        let short = module.name.strip_suffix("-module").expect("module names end in -module");
        assert!(!short.is_empty());
        for route in module.routes {
            assert!(module.functions.contains(&route.function), "{} owned by an undeclared function", route.key());
            assert!(matches!(route.success, 200..=202), "{}: success {}", route.key(), route.success);
            assert!(route.errors.iter().all(|s| (400..500).contains(s)), "{}: errors are 4xx", route.key());
            assert!(route.path.starts_with('/') && !route.path.ends_with('/'), "{}", route.key());
            if matches!(route.method, Method::Post | Method::Put) {
                let has_params = route.path_params().count() > 0;
                assert!(route.request.is_some() || has_params, "{}: a write without a body or target", route.key());
            }
        }
        for f in module.functions {
            assert_eq!(f.module, module.name);
            assert!(f.binary.starts_with(&format!("{short}-")), "{}: binaries start with `{short}-`", f.binary);
            assert!(module.routes_of(*f).count() > 0, "function {} serves no route", f.name);
            assert!((128..=10_240).contains(&f.memory_mb), "{}: Lambda memory is 128 to 10240 MB", f.binary);
            assert!((1..=29).contains(&f.timeout_s), "{}: API Gateway integrations time out at 30 s", f.binary);
        }
    }

    #[test]
    fn the_catalog_is_consistent() {
        let mut keys = HashSet::new();
        let mut binaries = HashSet::new();
        for module in MODULES.iter().chain([&modules::template::MODULE]) {
            check_module(module);
        }
        for module in MODULES {
            for route in module.routes {
                assert!(keys.insert(route.key()), "duplicate route {}", route.key());
            }
            for f in module.functions {
                assert!(binaries.insert(f.binary), "duplicate binary {}", f.binary);
            }
        }
        assert!(!binaries.contains(AUTHORIZER.binary));
    }

    #[test]
    fn path_matching() {
        let r = modules::org::DELETE_MEMBER;
        assert_eq!(r.key(), "DELETE /organizations/{id}/members/{userId}");
        assert_eq!(r.path_params().collect::<Vec<_>>(), ["id", "userId"]);
        assert_eq!(r.match_path("/organizations/a/members/b"), Some(vec![("id", "a"), ("userId", "b")]));
        assert_eq!(r.fill(|p| p.to_uppercase()), "/organizations/ID/members/USERID");
        assert_eq!(r.match_path("/organizations/a/members/"), None);
        assert_eq!(r.match_path("/organizations/a/members"), None);
        assert_eq!(r.match_path("/organizations/a/members/b/c"), None);
        assert_eq!(modules::org::GET_PROFILE.match_path("/profiles/me"), Some(vec![]));
        assert_eq!(modules::org::GET_PROFILE.match_path("/profiles/you"), None);
        assert_eq!(find_route("GET", "/profiles/me").map(Route::key).as_deref(), Some("GET /profiles/me"));
        assert!(find_route("PATCH", "/profiles/me").is_none());
    }
}
