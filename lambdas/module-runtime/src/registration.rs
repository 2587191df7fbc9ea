//! One registration per function: a module crate lists its functions once (`FUNCTIONS`), each a catalog
//! [`Function`] paired with what serves it, and everything else follows from that list: the module's binary
//! (generated, a call to [`crate::main`], which serves the function its handler names), the local API's dispatch
//! (through the generated `all-modules`),
//! and the check that every catalog route is served exactly once.
//!
//! This file knows how a function is started; what it does is its handler's.

use lambda_http::{Body, Request, Response};
use route_registry::{Function, Module, Route, Trigger};

use crate::isolate::Isolated;
use crate::work::{OnMessage, OnObject, OnSchedule};
use crate::{dispatch, ApiError, Call, Container, Reply};

pub use crate::BoxFuture;

/// The isolated work of the registration of `binary` among `registrations`, if it has any (what a child runs).
pub fn isolated(registrations: &[Registration], binary: &str) -> Option<&'static Isolated> {
    registrations.iter().find(|r| r.function.binary == binary).and_then(|r| r.isolated)
}

/// A catalog function and what serves it.
#[derive(Clone, Copy)]
pub struct Registration {
    pub function: Function,
    pub handler: Handler,
    /// Work it runs in a child process with hard limits (hostile input), if any.
    pub isolated: Option<&'static Isolated>,
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration").field("function", &self.function.binary).finish_non_exhaustive()
    }
}

/// What serves a function, by what starts it: one variant per trigger kind of the catalog (the authorizer, the
/// platform's own, is not a module function).
#[derive(Clone, Copy)]
pub enum Handler {
    /// API Gateway HTTP API requests for the function's catalog routes.
    Http(&'static dyn HttpHandler),
    /// Messages of its queue.
    Queue(&'static OnMessage),
    /// Runs of its schedule.
    Schedule(&'static OnSchedule),
    /// Objects created under its prefix.
    ObjectsCreated(&'static OnObject),
}

impl Handler {
    /// Whether it serves what the catalog says starts the function.
    pub fn serves(&self, trigger: &Trigger) -> bool {
        matches!(
            (self, trigger),
            (Handler::Http(_), Trigger::Http)
                | (Handler::Queue(_), Trigger::Queue(_))
                | (Handler::Schedule(_), Trigger::Schedule(_))
                | (Handler::ObjectsCreated(_), Trigger::ObjectsCreated { .. })
        )
    }

    fn kind(&self) -> &'static str {
        match self {
            Handler::Http(_) => "http",
            Handler::Queue(_) => "queue",
            Handler::Schedule(_) => "schedule",
            Handler::ObjectsCreated(_) => "objects-created",
        }
    }
}

/// What the check sends a function, by what starts it ([`check_kind`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckKind {
    /// Each of its routes, without a token.
    Routes,
    /// An empty batch of its queue.
    EmptyBatch,
    /// An objects-created event without objects.
    NoObjects,
    /// A scheduled run marked as a check.
    CheckingRun,
    /// A request to the authorizer without a token.
    Authorizer,
}

/// What the deploy's pre-traffic check sends a function that `trigger` starts ([`crate::pre_traffic`] builds it).
pub fn check_kind(trigger: &Trigger) -> CheckKind {
    match trigger {
        Trigger::Http => CheckKind::Routes,
        Trigger::Queue(_) => CheckKind::EmptyBatch,
        Trigger::ObjectsCreated { .. } => CheckKind::NoObjects,
        Trigger::Schedule(_) => CheckKind::CheckingRun,
        Trigger::Authorizer => CheckKind::Authorizer,
    }
}

impl std::fmt::Debug for Handler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Handler::Http(h) => f.debug_tuple("Http").field(&h.routes().len()).finish(),
            other => f.write_str(other.kind()),
        }
    }
}

/// A function that answers HTTP API requests.
pub trait HttpHandler: Sync {
    /// The catalog routes it serves.
    fn routes(&self) -> Vec<&'static Route>;
    /// Answers one request; never fails (errors are answers).
    fn handle<'a>(&'a self, container: &'a Container, req: Request) -> BoxFuture<'a, Response<Body>>;
}

/// A dispatch table (catalog routes paired with a function's operations) and the function running an operation.
#[derive(Debug)]
pub struct Http<Op: 'static> {
    pub routes: &'static [(Route, Op)],
    pub run: fn(Op, Call) -> BoxFuture<'static, Result<Reply, ApiError>>,
}

impl<Op: Copy + Send + Sync + 'static> HttpHandler for Http<Op> {
    fn routes(&self) -> Vec<&'static Route> {
        self.routes.iter().map(|(r, _)| r).collect()
    }

    fn handle<'a>(&'a self, container: &'a Container, req: Request) -> BoxFuture<'a, Response<Body>> {
        Box::pin(dispatch(self.routes, container, req, self.run))
    }
}

impl Registration {
    /// An HTTP function: `Registration::http(CATALOG_FUNCTION, &Http { routes: ROUTES, run: |op, call|
    /// Box::pin(run(op, call)) })`.
    pub const fn http<Op: Copy + Send + Sync + 'static>(function: Function, handler: &'static Http<Op>) -> Self {
        Registration { function, handler: Handler::Http(handler), isolated: None }
    }

    /// A queue-fed function: `Registration::queue(CATALOG_FUNCTION, &OnMessage { run: |work, message|
    /// Box::pin(handle(work, message)) })`.
    pub const fn queue(function: Function, handler: &'static OnMessage) -> Self {
        Registration { function, handler: Handler::Queue(handler), isolated: None }
    }

    /// A scheduled function.
    pub const fn schedule(function: Function, handler: &'static OnSchedule) -> Self {
        Registration { function, handler: Handler::Schedule(handler), isolated: None }
    }

    /// A function started by created objects.
    pub const fn objects(function: Function, handler: &'static OnObject) -> Self {
        Registration { function, handler: Handler::ObjectsCreated(handler), isolated: None }
    }

    /// With work it runs in a child process ([`crate::isolate`]): its binary hosts the child, so the generated
    /// `main` (and the local API's) start it when asked.
    pub const fn isolating(self, isolated: &'static Isolated) -> Self {
        Registration { isolated: Some(isolated), ..self }
    }

    /// The routes it serves (none for a function started otherwise).
    pub fn routes(&self) -> Vec<&'static Route> {
        match self.handler {
            Handler::Http(h) => h.routes(),
            Handler::Queue(_) | Handler::Schedule(_) | Handler::ObjectsCreated(_) => Vec::new(),
        }
    }
}

/// Answers one HTTP request with the registration of `function` (the local API, tests); `None` when no registration
/// serves HTTP for it.
pub async fn handle_http(
    registrations: &[Registration],
    function: Function,
    container: &Container,
    req: Request,
) -> Option<Response<Body>> {
    let registration = registrations.iter().find(|r| r.function == function)?;
    match registration.handler {
        Handler::Http(h) => Some(h.handle(container, req).await),
        Handler::Queue(_) | Handler::Schedule(_) | Handler::ObjectsCreated(_) => None,
    }
}

/// Why a module's registrations do not match its catalog entry.
pub fn verify(module: &Module, registrations: &[Registration]) -> Result<(), String> {
    let mut problems = Vec::new();
    for f in module.functions {
        let found = registrations.iter().filter(|r| r.function == *f).count();
        if found != 1 {
            problems.push(format!("{} is registered {found} times (once expected)", f.binary));
        }
    }
    for r in registrations {
        if !module.functions.contains(&r.function) {
            problems.push(format!(
                "{} is registered but not a function of {} in the catalog",
                r.function.binary, module.name
            ));
        }
        if !r.handler.serves(&r.function.trigger) {
            problems.push(format!(
                "{} is registered with a {} handler but the catalog starts it by {}",
                r.function.binary,
                r.handler.kind(),
                r.function.trigger.kind()
            ));
        }
        let served = r.routes();
        for route in module.routes_of(r.function) {
            let n = served.iter().filter(|s| s.key() == route.key()).count();
            if n != 1 {
                problems.push(format!("{} serves {} {n} times (once expected)", r.function.binary, route.key()));
            }
        }
        for s in &served {
            if !module.routes_of(r.function).any(|route| route.key() == s.key()) {
                problems.push(format!("{} serves {}, which the catalog gives it not", r.function.binary, s.key()));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use route_registry::modules::org;

    async fn nothing(_: (), _: Call) -> Result<Reply, ApiError> {
        Err(ApiError::NotFound("nothing".into()))
    }

    const ALL_MEMBER_ROUTES: &[(Route, ())] = &[
        (org::LIST_MEMBERS, ()),
        (org::ADD_MEMBER, ()),
        (org::CHANGE_ROLE, ()),
        (org::DELETE_MEMBER, ()),
        (org::LIST_INVITATIONS, ()),
        (org::ACCEPT_INVITATION, ()),
        (org::DECLINE_INVITATION, ()),
    ];
    const MEMBERS: Registration = Registration::http(
        org::MEMBERS,
        &Http { routes: ALL_MEMBER_ROUTES, run: |op, call| Box::pin(nothing(op, call)) },
    );
    const SHORT: Registration = Registration::http(
        org::MEMBERS,
        &Http {
            routes: &[(org::LIST_MEMBERS, ()), (org::LIST_MEMBERS, ()), (org::GET_PROFILE, ())],
            run: |op, call| Box::pin(nothing(op, call)),
        },
    );

    fn one_function_module(routes: &'static [Route]) -> Module {
        Module { functions: &[org::MEMBERS], routes, ..org::MODULE }
    }

    #[test]
    fn a_module_whose_functions_serve_exactly_their_routes_verifies() {
        let routes: Vec<Route> = ALL_MEMBER_ROUTES.iter().map(|(r, _)| *r).collect();
        let module = one_function_module(Box::leak(routes.into_boxed_slice()));
        assert_eq!(verify(&module, &[MEMBERS]), Ok(()));
    }

    #[test]
    fn missing_doubled_and_foreign_routes_and_registrations_are_named() {
        let routes: Vec<Route> = ALL_MEMBER_ROUTES.iter().map(|(r, _)| *r).collect();
        let module = one_function_module(Box::leak(routes.into_boxed_slice()));
        let problems = verify(&module, &[SHORT]).unwrap_err();
        assert!(problems.contains("org-members serves GET /organizations/{id}/members 2 times"), "{problems}");
        assert!(problems.contains("org-members serves POST /organizations/{id}/members 0 times"), "{problems}");
        assert!(problems.contains("org-members serves GET /profiles/me, which the catalog gives it not"), "{problems}");
        let twice = verify(&module, &[MEMBERS, MEMBERS]).unwrap_err();
        assert!(twice.contains("org-members is registered 2 times"), "{twice}");
        let none = verify(&module, &[]).unwrap_err();
        assert!(none.contains("org-members is registered 0 times"), "{none}");
    }
}
