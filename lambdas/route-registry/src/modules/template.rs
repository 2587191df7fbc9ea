//! The module template: what `cargo xtask new-module` copies (with `template`, `gizmos`, `gizmo` and `Gizmo`
//! renamed). It is compiled and tested like every module but never deployed: the catalog's `ALL` leaves it out.
//!
//! CRUD on one entity that belongs to an organization; Row-Level Security lets the organization's members see and
//! change its rows. And one function of each trigger kind without a caller, each acting as the module's service
//! principal through the database functions it declares: a queue worker the HTTP function feeds (indexing a gizmo
//! after a change), a schedule (purging long-deleted gizmos at 03:00 Berlin time), and a function started by
//! documents created under the module's prefix (recording each upload). Keep the kinds the module needs; delete the
//! others (catalog entry, registration, database function).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::validate::Name;
use crate::{Access, Auth, Body, Doc, Function, Method, Module, QueueTrigger, Route, ScheduleTrigger, Trigger, Use};

pub const MODULE_NAME: &str = "template-module";

/// `POST /gizmos`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGizmo {
    pub org_id: Uuid,
    pub name: Name,
}

/// `PUT /gizmos/{id}`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateGizmo {
    pub name: Name,
}

/// One gizmo.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Gizmo {
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    pub created_at: String,
    pub updated_at: String,
}

/// A confirmation without a resource.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct GizmoDeleted {
    pub message: String,
}

/// The function serving the gizmos. A new module starts at the smallest size; measure it with
/// `cargo xtask bench cold-start` and size it from the figures (BENCHMARKS.md, "Memory size").
pub const GIZMOS: Function = Function {
    module: MODULE_NAME,
    name: "gizmos",
    binary: "template-gizmos",
    memory_mb: 128,
    timeout_s: 15,
    // Every change is queued for the indexer.
    uses: &[Use::Database, Use::Queue(&GIZMO_INDEXER)],
    trigger: Trigger::Http,
};

/// The workers' timeout: a message or a run is one database call, bounded (module-runtime's `timeouts`).
const WORKER_TIMEOUT_S: u32 = 30;

/// Indexes a gizmo after it changed (a message per change; handling one twice has one effect).
pub const GIZMO_INDEXER: Function = Function {
    module: MODULE_NAME,
    name: "gizmo-indexer",
    binary: "template-gizmo-indexer",
    memory_mb: 128,
    timeout_s: WORKER_TIMEOUT_S,
    uses: &[Use::Database],
    trigger: Trigger::Queue(QueueTrigger {
        batch_size: 10,
        batching_window_s: 0,
        max_receives: 5,
        visibility_timeout_s: 6 * WORKER_TIMEOUT_S,
        max_concurrency: 2,
    }),
};

/// Purges gizmos deleted more than 30 days ago, every night at 03:00 Berlin time.
pub const GIZMO_SWEEP: Function = Function {
    module: MODULE_NAME,
    name: "gizmo-sweep",
    binary: "template-gizmo-sweep",
    memory_mb: 128,
    timeout_s: WORKER_TIMEOUT_S,
    uses: &[Use::Database],
    trigger: Trigger::Schedule(ScheduleTrigger {
        expression: "cron(0 3 * * ? *)",
        time_zone: "Europe/Berlin",
        flexible_window_min: 15,
        retries: 2,
        max_event_age_s: 3600,
    }),
};

/// Records each document created under the module's prefix of the documents bucket (reads it; writes nowhere there).
pub const GIZMO_UPLOADS: Function = Function {
    module: MODULE_NAME,
    name: "gizmo-uploads",
    binary: "template-gizmo-uploads",
    memory_mb: 128,
    timeout_s: WORKER_TIMEOUT_S,
    uses: &[Use::Database, Use::Documents { prefix: "gizmos", access: Access::Read }],
    trigger: Trigger::ObjectsCreated { prefix: "gizmos" },
};

pub const LIST_GIZMOS: Route = Route {
    method: Method::Get,
    path: "/gizmos",
    function: GIZMOS,
    auth: Auth::User,
    summary: "List the gizmos of the caller's organizations",
    success: 200,
    errors: &[],
    request: None,
    response: Body::List(Doc::of::<Gizmo>()),
    upload: None,
};
pub const CREATE_GIZMO: Route = Route {
    method: Method::Post,
    path: "/gizmos",
    function: GIZMOS,
    auth: Auth::User,
    summary: "Create a gizmo in one of the caller's organizations",
    success: 201,
    errors: &[400, 404],
    request: Some(Doc::of::<CreateGizmo>()),
    response: Body::One(Doc::of::<Gizmo>()),
    upload: None,
};
pub const GET_GIZMO: Route = Route {
    method: Method::Get,
    path: "/gizmos/{id}",
    function: GIZMOS,
    auth: Auth::User,
    summary: "Get a gizmo",
    success: 200,
    errors: &[400, 404],
    request: None,
    response: Body::One(Doc::of::<Gizmo>()),
    upload: None,
};
pub const UPDATE_GIZMO: Route = Route {
    method: Method::Put,
    path: "/gizmos/{id}",
    function: GIZMOS,
    auth: Auth::User,
    summary: "Rename a gizmo",
    success: 200,
    errors: &[400, 404],
    request: Some(Doc::of::<UpdateGizmo>()),
    response: Body::One(Doc::of::<Gizmo>()),
    upload: None,
};
pub const DELETE_GIZMO: Route = Route {
    method: Method::Delete,
    path: "/gizmos/{id}",
    function: GIZMOS,
    auth: Auth::User,
    summary: "Delete a gizmo (soft delete)",
    success: 200,
    errors: &[400, 404],
    request: None,
    response: Body::One(Doc::of::<GizmoDeleted>()),
    upload: None,
};

pub const FUNCTIONS: &[Function] = &[GIZMOS, GIZMO_INDEXER, GIZMO_SWEEP, GIZMO_UPLOADS];

pub const ROUTES: &[Route] = &[LIST_GIZMOS, CREATE_GIZMO, GET_GIZMO, UPDATE_GIZMO, DELETE_GIZMO];

pub const MODULE: Module = Module {
    name: MODULE_NAME,
    summary: "gizmos of an organization",
    functions: FUNCTIONS,
    routes: ROUTES,
    service_functions: &["index_gizmo", "sweep_gizmos", "record_gizmo_upload"],
    renamed: &[],
};
