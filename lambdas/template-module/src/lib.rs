//! template-module: the `template-gizmos` function, dispatching the catalog's gizmo routes, and one function of each
//! kind without a caller (a queue worker, a schedule, documents created), each registered once in [`FUNCTIONS`] (the
//! binaries are generated from the catalog). Visibility and writes are Row-Level Security's (the caller's
//! organizations, `app.my_org_ids()`); deletes go through `delete_gizmo`, a soft delete; every change is queued for
//! the indexer. The workers act as the module's service principal through its database functions. The wire types are
//! the catalog's (`route_registry::modules::template`).

use module_runtime::{
    ApiError, Call, CreatedObject, Http, Message, OnMessage, OnObject, OnSchedule, Registration, Reply, ScheduledRun,
    Work,
};
use route_registry::modules::template::{
    CreateGizmo, Gizmo, GizmoDeleted, UpdateGizmo, CREATE_GIZMO, DELETE_GIZMO, GET_GIZMO, GIZMOS, GIZMO_INDEXER,
    GIZMO_SWEEP, GIZMO_UPLOADS, LIST_GIZMOS, UPDATE_GIZMO,
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

/// The indexer, registered once.
pub const GIZMO_INDEXER_FUNCTION: Registration =
    Registration::queue(GIZMO_INDEXER, &OnMessage { run: |work, message| Box::pin(index(work, message)) });

/// The nightly sweep, registered once.
pub const GIZMO_SWEEP_FUNCTION: Registration =
    Registration::schedule(GIZMO_SWEEP, &OnSchedule { run: |work, run| Box::pin(sweep(work, run)) });

/// The uploads recorder, registered once.
pub const GIZMO_UPLOADS_FUNCTION: Registration =
    Registration::objects(GIZMO_UPLOADS, &OnObject { run: |work, object| Box::pin(record_upload(work, object)) });

/// Every function of this module, once.
pub const FUNCTIONS: &[Registration] =
    &[GIZMOS_FUNCTION, GIZMO_INDEXER_FUNCTION, GIZMO_SWEEP_FUNCTION, GIZMO_UPLOADS_FUNCTION];

/// What the indexer is sent: the gizmo that changed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Changed {
    pub gizmo_id: uuid::Uuid,
}

/// Queues a changed gizmo for the indexer.
async fn queue_index(call: &Call, gizmo: &Gizmo) -> Result<(), ApiError> {
    let message = serde_json::to_string(&Changed { gizmo_id: gizmo.id }).map_err(ApiError::internal)?;
    call.queues()?.send(&GIZMO_INDEXER, &[message], call.deadline).await
}

/// Indexes one gizmo (1 when it exists, 0 when it was deleted meanwhile).
pub async fn index(work: Work, message: Message) -> Result<u64, ApiError> {
    let changed: Changed = serde_json::from_str(&message.body)
        .map_err(|e| ApiError::BadRequest(format!("message {} is not a change: {e}", message.id)))?;
    let found = work.db()?.call("index_gizmo", &json!({ "p_id": changed.gizmo_id })).await?;
    Ok(u64::from(found == Value::Bool(true)))
}

/// One nightly sweep (the gizmos purged).
pub async fn sweep(work: Work, _run: ScheduledRun) -> Result<u64, ApiError> {
    let purged = work.db()?.call("sweep_gizmos", &json!({})).await?;
    Ok(purged.as_u64().unwrap_or(0))
}

/// Records one created document (1 when new, 0 when it was recorded before).
pub async fn record_upload(work: Work, object: CreatedObject) -> Result<u64, ApiError> {
    let new = work.db()?.call("record_gizmo_upload", &json!({ "p_key": object.key, "p_size": object.size })).await?;
    Ok(u64::from(new == Value::Bool(true)))
}

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
            let created = one(db.run(db.from("gizmos").select(COLUMNS).insert(row.to_string())).await?)?;
            queue_index(&call, &created).await?;
            Ok(Reply::created(data(&created)?))
        }
        Op::Get => {
            let id = call.uuid("id")?.to_string();
            Ok(Reply::ok(data(&one(db.run(db.from("gizmos").select(COLUMNS).eq("id", &id)).await?)?)?))
        }
        Op::Update => {
            let id = call.uuid("id")?.to_string();
            let body: UpdateGizmo = call.body()?;
            let change = json!({ "name": body.name.as_str() });
            let updated =
                one(db.run(db.from("gizmos").eq("id", &id).select(COLUMNS).update(change.to_string())).await?)?;
            queue_index(&call, &updated).await?;
            Ok(Reply::ok(data(&updated)?))
        }
        Op::Delete => {
            let id = call.uuid("id")?;
            db.call("delete_gizmo", &json!({ "p_id": id })).await?;
            Ok(Reply::ok(data(&GizmoDeleted { message: "Gizmo deleted".into() })?))
        }
    }
}
