//! The module template: what `cargo xtask new-module` copies (with `template`, `gizmos`, `gizmo` and `Gizmo`
//! renamed). It is compiled and tested like every module but never deployed: the catalog's `ALL` leaves it out.
//!
//! CRUD on one entity that belongs to an organization; Row-Level Security lets the organization's members see and
//! change its rows.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::validate::Name;
use crate::{Auth, Body, Doc, Function, Method, Module, Route, Trigger, Use};

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
    uses: &[Use::Database],
    trigger: Trigger::Http,
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

pub const FUNCTIONS: &[Function] = &[GIZMOS];

pub const ROUTES: &[Route] = &[LIST_GIZMOS, CREATE_GIZMO, GET_GIZMO, UPDATE_GIZMO, DELETE_GIZMO];

pub const MODULE: Module = Module {
    name: MODULE_NAME,
    summary: "gizmos of an organization",
    functions: FUNCTIONS,
    routes: ROUTES,
    service_functions: &[],
    renamed: &[],
};
