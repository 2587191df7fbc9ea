//! A module the tests use to exercise what no deployed module has yet: a public route (`Auth::Public`, a third party's
//! webhook) whose function queues what it is sent for a worker. Never in [`crate::MODULES`], never deployed; the
//! catalog's consistency test holds it to the catalog's rules like every module.

use crate::{Auth, Body, Doc, Function, Method, Module, QueueTrigger, Route, Trigger, Use};

/// The worker the receiver queues for.
pub const EVENTS: Function = Function {
    module: "hook-module",
    name: "hook-events",
    binary: "hook-hook-events",
    memory_mb: 128,
    timeout_s: 30,
    uses: &[],
    trigger: Trigger::Queue(QueueTrigger {
        batch_size: 10,
        batching_window_s: 0,
        max_receives: 5,
        visibility_timeout_s: 180,
        max_concurrency: 2,
    }),
};

/// The public route's function: it may only queue.
pub const RECEIVER: Function = Function {
    module: "hook-module",
    name: "hook-receiver",
    binary: "hook-hook-receiver",
    memory_mb: 128,
    timeout_s: 5,
    uses: &[Use::Queue(&EVENTS)],
    trigger: Trigger::Http,
};

/// The public route.
pub const RECEIVE: Route = Route {
    method: Method::Post,
    path: "/hooks/example",
    function: RECEIVER,
    auth: Auth::Public,
    summary: "Receive an event",
    success: 200,
    errors: &[400],
    request: Some(Doc::of::<String>()),
    response: Body::One(Doc::of::<String>()),
    upload: None,
};

pub const MODULE: Module = Module {
    name: "hook-module",
    summary: "a webhook",
    functions: &[RECEIVER, EVENTS],
    routes: &[RECEIVE],
    service_functions: &[],
    renamed: &[],
};

/// [`MODULE`] with the route's mark removed: the same route behind the authorizer.
pub const MARK_REMOVED: Module = Module { routes: &[Route { auth: Auth::User, ..RECEIVE }], ..MODULE };
