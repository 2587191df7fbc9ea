//! template-module: the `template-gizmos` function, dispatching the catalog's gizmo routes, registered once in
//! [`FUNCTIONS`] (its binary is generated from the catalog). Visibility and writes are Row-Level Security's (the
//! caller's organizations, `app.my_org_ids()`); deletes go through `delete_gizmo`, a soft delete. The wire types are
//! the catalog's (`route_registry::modules::template`).

use module_runtime::{ApiError, Call, Http, Registration, Reply};
use route_registry::modules::template::{
    CreateGizmo, Gizmo, GizmoDeleted, UpdateGizmo, CREATE_GIZMO, DELETE_GIZMO, GET_GIZMO, GIZMOS, LIST_GIZMOS,
    UPDATE_GIZMO,
};
use route_registry::Route;
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    List,
    Create,
    Get,
    Update,
    Delete,
}

/// The routes this function serves, from the catalog.
pub const ROUTES: &[(Route, Op)] = &[
    (LIST_GIZMOS, Op::List),
    (CREATE_GIZMO, Op::Create),
    (GET_GIZMO, Op::Get),
    (UPDATE_GIZMO, Op::Update),
    (DELETE_GIZMO, Op::Delete),
];

/// The columns of a `Gizmo`.
const COLUMNS: &str = "id,org_id,name,created_at,updated_at";

/// The `template-gizmos` function, registered once: the catalog entry and its dispatch table.
pub const GIZMOS_FUNCTION: Registration =
    Registration::http(GIZMOS, &Http { routes: ROUTES, run: |op, call| Box::pin(run(op, call)) });

/// Every function of this module, once.
pub const FUNCTIONS: &[Registration] = &[GIZMOS_FUNCTION];

fn one(rows: Value) -> Result<Gizmo, ApiError> {
    match rows {
        Value::Array(mut r) if !r.is_empty() => {
            serde_json::from_value(r.swap_remove(0)).map_err(|e| ApiError::internal(format!("unexpected row: {e}")))
        }
        _ => Err(ApiError::NotFound("Gizmo not found".into())),
    }
}

fn data<T: serde::Serialize>(value: &T) -> Result<Value, ApiError> {
    serde_json::to_value(value).map_err(ApiError::internal)
}

/// One operation of the `template-gizmos` function.
pub async fn run(op: Op, call: Call) -> Result<Reply, ApiError> {
    let db = call.db()?;
    match op {
        Op::List => {
            let rows = db.run(db.from("gizmos").select(COLUMNS).order("created_at.asc,id.asc")).await?;
            let gizmos: Vec<Gizmo> =
                serde_json::from_value(rows).map_err(|e| ApiError::internal(format!("unexpected rows: {e}")))?;
            Ok(Reply::ok(data(&gizmos)?))
        }
        Op::Create => {
            let body: CreateGizmo = call.body()?;
            let row = json!({ "org_id": body.org_id, "name": body.name.as_str() });
            let created = db.run(db.from("gizmos").select(COLUMNS).insert(row.to_string())).await?;
            Ok(Reply::created(data(&one(created)?)?))
        }
        Op::Get => {
            let id = call.uuid("id")?.to_string();
            Ok(Reply::ok(data(&one(db.run(db.from("gizmos").select(COLUMNS).eq("id", &id)).await?)?)?))
        }
        Op::Update => {
            let id = call.uuid("id")?.to_string();
            let body: UpdateGizmo = call.body()?;
            let change = json!({ "name": body.name.as_str() });
            let updated = db.run(db.from("gizmos").eq("id", &id).select(COLUMNS).update(change.to_string())).await?;
            Ok(Reply::ok(data(&one(updated)?)?))
        }
        Op::Delete => {
            let id = call.uuid("id")?;
            db.call("delete_gizmo", &json!({ "p_id": id })).await?;
            Ok(Reply::ok(data(&GizmoDeleted { message: "Gizmo deleted".into() })?))
        }
    }
}
