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

pub mod fixtures;
pub mod modules;
pub mod openapi;
pub mod telemetry;
pub mod time;
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

/// Who may call a route. Every route sits behind the Lambda authorizer and needs a valid token, but for a route
/// the catalog marks [`Auth::Public`]. Dispatch enforces it before the handler runs; the OpenAPI document states it;
/// the database checks it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Auth {
    /// Any authenticated caller; Row-Level Security and the database functions decide what they see and change.
    User,
    /// Platform administrators only: members of the environment's admin group (and, in the database, with an
    /// active identity). Everyone else gets 403 before the handler runs.
    Admin,
    /// No token: API Gateway calls the function without the authorizer, for a caller that cannot hold one (a third
    /// party's webhook). The one deliberate exception, so everything that derives from the catalog says it: the
    /// route has no authorizer and is throttled to [`PUBLIC_ROUTE_THROTTLE`] (the stage's route settings), the
    /// OpenAPI document gives it no security requirement, `check-iam` lists it and refuses any other route without
    /// the authorizer, the dashboard has its requests. Its handler gets no caller and trusts nothing in the request
    /// that it cannot check again elsewhere; its function serves public routes only (the catalog tests).
    Public,
}

/// API Gateway's throttle on each public route, stricter than the stage's: requests per second (steady) and burst.
/// Credly retries a webhook that fails (for up to 25 days), so a throttled delivery is delayed, never lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttle {
    pub rate_per_s: u32,
    pub burst: u32,
}

/// Every public route's throttle: 10 requests a second, bursts of 20.
pub const PUBLIC_ROUTE_THROTTLE: Throttle = Throttle { rate_per_s: 10, burst: 20 };

/// Read, write or both, on a resource a function declares; or write and erase, for a function that lets clients
/// upload (a pre-signed upload is the signer's write) and removes every version of what it no longer keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    Read,
    Write,
    ReadWrite,
    /// Write, list the versions under the prefix and delete any of them (an erasure leaves nothing behind).
    WriteErase,
    /// Read, list the versions under the prefix and delete any of them: for a reader that erases what arrives for
    /// nobody (a late upload for a record already erased). Deleting starts no objects-created event.
    ReadErase,
    /// List the versions under the prefix and delete any of them, without reading or writing: for a sweeper that
    /// finishes erasures.
    Erase,
}

impl Access {
    pub const fn reads(self) -> bool {
        matches!(self, Access::Read | Access::ReadWrite | Access::ReadErase)
    }

    pub const fn writes(self) -> bool {
        matches!(self, Access::Write | Access::ReadWrite | Access::WriteErase)
    }

    pub const fn erases(self) -> bool {
        matches!(self, Access::WriteErase | Access::ReadErase | Access::Erase)
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
    /// Sends messages to the queue of a queue-triggered function (`sqs:SendMessage` on that queue only, and its
    /// URL in the environment as [`Function::queue_url_variable`]).
    Queue(&'static Function),
}

/// What starts a function. Each kind is one variant here, one wiring in the stacks and one `serve` in the
/// runtime (a test holds the three together).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// API Gateway HTTP API requests for its module's routes that name it. The API ends an integration at 30 s, so
    /// such a function answers within 29 s; longer work is a job: a route answers 202 and a queue runs it.
    Http,
    /// Messages of its own queue (SQS, with a dead-letter queue), in batches; producers declare
    /// [`Use::Queue`] of it. Delivery is at least once, so handling a message twice must have one effect.
    Queue(QueueTrigger),
    /// A schedule (EventBridge Scheduler, in a stated time zone).
    Schedule(ScheduleTrigger),
    /// Objects created in the documents bucket under `prefix` (`resumes/`). The function may not write there.
    ObjectsCreated { prefix: &'static str },
    /// The platform's Lambda authorizer, invoked by API Gateway before every route (not a module function).
    Authorizer,
}

impl Trigger {
    /// The kind's name, as tables and logs show it.
    pub const fn kind(&self) -> &'static str {
        match self {
            Trigger::Http => "http",
            Trigger::Queue(_) => "queue",
            Trigger::Schedule(_) => "schedule",
            Trigger::ObjectsCreated { .. } => "objects-created",
            Trigger::Authorizer => "authorizer",
        }
    }

    /// Whether something waits for the function's answer (a client behind API Gateway) rather than an event
    /// source that retries.
    pub const fn is_synchronous(&self) -> bool {
        matches!(self, Trigger::Http | Trigger::Authorizer)
    }
}

/// How a queue feeds its function. The stacks refuse values that cannot work (see each field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct QueueTrigger {
    /// Messages per invocation (1–10).
    pub batch_size: u32,
    /// Seconds the event source waits to fill a batch (0–300; 0 hands over what is there).
    pub batching_window_s: u32,
    /// Receives before a message moves to the dead-letter queue (1–1,000): the first delivery and its retries.
    pub max_receives: u32,
    /// Seconds a received message stays hidden from other consumers; at least six times the function's timeout,
    /// as AWS advises, so a batch that is still running (or being retried by Lambda) is not handed out twice.
    pub visibility_timeout_s: u32,
    /// The most concurrent invocations the queue may start (2–1,000, and within the function's reserved
    /// concurrency, else the queue throttles its own function).
    pub max_concurrency: u32,
}

/// A schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ScheduleTrigger {
    /// `rate(15 minutes)`, `cron(0 3 * * ? *)` or `at(…)`, as EventBridge Scheduler reads it.
    pub expression: &'static str,
    /// The IANA time zone the expression is read in (`Europe/Berlin`, `UTC`); required, so a 03:00 job stays at
    /// 03:00 through daylight saving.
    pub time_zone: &'static str,
    /// Minutes the start may be spread over (0 for exactly on time).
    pub flexible_window_min: u32,
    /// Retries of a run that failed (0–185); after them, the run's event lands in the dead-letter queue.
    pub retries: u32,
    /// Seconds after which a run that could not start is dropped into the dead-letter queue (60–86,400).
    pub max_event_age_s: u32,
}

/// A Lambda function of a module: `{env}-{module}-{name}`, built from the binary `binary` of the module's crate,
/// started by `trigger`.
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
    /// What starts it.
    pub trigger: Trigger,
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

    /// Whether it reaches the database: as the caller when it answers HTTP requests, as its module's service
    /// principal otherwise (a function started by a queue, a schedule or an object has no caller).
    pub fn uses_database(&self) -> bool {
        self.uses.contains(&Use::Database)
    }

    /// Whether it acts as its module's service principal: it reaches the database without a caller, with an access
    /// token of its own from the identity provider (client credentials, signed by the module's KMS key).
    pub fn acts_as_service(&self) -> bool {
        self.uses_database() && !self.trigger.is_synchronous()
    }

    /// The queue-triggered functions it sends messages to.
    pub fn queues(&self) -> impl Iterator<Item = &'static Function> {
        self.uses.iter().filter_map(|u| match u {
            Use::Queue(consumer) => Some(*consumer),
            _ => None,
        })
    }

    /// The environment variable that holds the URL of this (queue-triggered) function's queue in its producers:
    /// `QUEUE_URL_ORG_INVITATION_IMPORT`.
    pub fn queue_url_variable(&self) -> String {
        format!("QUEUE_URL_{}", self.binary.replace('-', "_").to_ascii_uppercase())
    }

    /// The documents prefix it declares, with its access (a function declares at most one; the stacks refuse more).
    pub fn documents(&self) -> Option<(&'static str, Access)> {
        self.uses.iter().find_map(|u| match u {
            Use::Documents { prefix, access } => Some((*prefix, *access)),
            _ => None,
        })
    }

    /// The documents prefix it declares, as granted and passed to it: `resumes/`.
    pub fn documents_prefix(&self) -> Option<String> {
        self.documents().map(|(prefix, _)| documents_prefix(prefix))
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
    /// A body larger than a small JSON document, or of other media types; `None` for the default (JSON of at most
    /// 16 KiB).
    pub upload: Option<Upload>,
}

/// What a route takes beyond a small JSON document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Upload {
    /// The largest body accepted (API Gateway takes 10 MB, a synchronous Lambda invocation 6 MB).
    pub max_bytes: u32,
    /// The media types accepted (`application/json`, `text/csv`), the first being the default when the request
    /// names none.
    pub media_types: &'static [&'static str],
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

    /// Whether the route is served without the authorizer ([`Auth::Public`]).
    pub const fn is_public(&self) -> bool {
        matches!(self.auth, Auth::Public)
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
    /// The database functions the module's service principal may execute (its functions without a caller reach
    /// the database only through these); `cargo xtask db configure` grants exactly these, and the database refuses
    /// them to any user's token.
    pub service_functions: &'static [&'static str],
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

    /// Whether the module has a service principal: one of its functions reaches the database without a caller.
    pub fn has_service_identity(&self) -> bool {
        self.functions.iter().any(Function::acts_as_service)
    }

    /// The catalog file that declares it: `lambdas/route-registry/src/modules/<short>.rs` (errors name it).
    pub fn catalog_file(&self) -> String {
        let short = self.name.strip_suffix("-module").unwrap_or(self.name).replace('-', "_");
        format!("lambdas/route-registry/src/modules/{short}.rs")
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
    trigger: Trigger::Authorizer,
};

/// Every deployed module, in name order.
pub const MODULES: &[Module] = modules::ALL;

/// `resumes` or `resumes/` → `resumes/`: a documents prefix as granted, subscribed and passed to a function.
pub fn documents_prefix(prefix: &str) -> String {
    format!("{}/", prefix.trim_end_matches('/'))
}

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
            assert!((128..=10_240).contains(&f.memory_mb), "{}: Lambda memory is 128 to 10240 MB", f.binary);
            assert!((1..=900).contains(&f.timeout_s), "{}: Lambda runs at most 900 s", f.binary);
            match f.trigger {
                Trigger::Http => {
                    assert!(module.routes_of(*f).count() > 0, "function {} serves no route", f.name);
                    assert!((1..=29).contains(&f.timeout_s), "{}: API Gateway integrations time out at 30 s", f.binary);
                    let public = module.routes_of(*f).filter(|r| r.is_public()).count();
                    assert!(
                        public == 0 || public == module.routes_of(*f).count(),
                        "{}: a function serves public routes only, or none (its role and its callers are one kind)",
                        f.binary
                    );
                    assert!(
                        public == 0 || f.uses.iter().all(|u| matches!(u, Use::Queue(_))),
                        "{}: a public route's function only queues what it is sent (anyone can call it: it holds no \
                         grant on data, and a worker checks each message before anything is stored)",
                        f.binary
                    );
                }
                Trigger::Authorizer => panic!("{}: only the platform's authorizer is started by API Gateway", f.binary),
                Trigger::Queue(q) => {
                    assert!((1..=10).contains(&q.batch_size), "{}: batches of 1 to 10", f.binary);
                    assert!(q.batching_window_s <= 300, "{}", f.binary);
                    assert!((1..=1000).contains(&q.max_receives), "{}", f.binary);
                    assert!((2..=1000).contains(&q.max_concurrency), "{}: SQS scales from 2 to 1,000", f.binary);
                    assert!(q.visibility_timeout_s <= 43_200, "{}: SQS hides a message 12 h at most", f.binary);
                }
                Trigger::Schedule(s) => {
                    assert!(s.retries <= 185 && (60..=86_400).contains(&s.max_event_age_s), "{}", f.binary);
                    assert!(
                        ["rate(", "cron(", "at("].iter().any(|p| s.expression.starts_with(p))
                            && s.expression.ends_with(')'),
                        "{}: {} is not a schedule expression",
                        f.binary,
                        s.expression
                    );
                }
                Trigger::ObjectsCreated { prefix } => {
                    assert!(!prefix.is_empty() && !prefix.starts_with('/'), "{}: a prefix of the bucket", f.binary);
                }
            }
            if f.trigger != Trigger::Http {
                assert_eq!(module.routes_of(*f).count(), 0, "{} serves routes but is not started by HTTP", f.binary);
            }
            for consumer in f.queues() {
                assert!(
                    matches!(consumer.trigger, Trigger::Queue(_)),
                    "{} sends to {}, which has no queue",
                    f.binary,
                    consumer.binary
                );
                assert!(
                    module.functions.contains(consumer),
                    "{} sends to {}, another module's queue",
                    f.binary,
                    consumer.binary
                );
            }
        }
        assert_eq!(
            module.has_service_identity(),
            !module.service_functions.is_empty(),
            "{}: database functions for the service principal exactly when a function reaches the database without a caller",
            module.name
        );
    }

    /// A public route's function that reaches data (here the database) is a catalog error: anyone can call it.
    #[test]
    #[should_panic(expected = "only queues what it is sent")]
    fn a_public_routes_function_may_only_queue() {
        const RECEIVER: Function = Function { uses: &[Use::Database], ..fixtures::RECEIVER };
        check_module(&Module {
            functions: &[RECEIVER, fixtures::EVENTS],
            routes: &[Route { function: RECEIVER, ..fixtures::RECEIVE }],
            ..fixtures::MODULE
        });
    }

    #[test]
    fn the_catalog_is_consistent() {
        let mut keys = HashSet::new();
        let mut binaries = HashSet::new();
        for module in MODULES.iter().chain([&modules::template::MODULE, &fixtures::MODULE]) {
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
