//! A stand-in for the part of Supabase's Management API that previews use: a project's database branches (create,
//! list, read the configuration, delete) and a branch's API keys, held to Supabase's published OpenAPI document
//! (the subset in `xtask/contracts/supabase-management-api.json`; the preview rehearsal validates every exchange).
//!
//! A branch's database is made by a [`Databases`] the caller gives (locally: a database of a PostgreSQL cluster on
//! 127.0.0.1), and is reported as Supabase reports one (`db_host`, `db_port`, `db_user`, `db_pass`). As Supabase, a
//! new branch is `COMING_UP` at first: its configuration says `ACTIVE_HEALTHY` from the second read on.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use serde_json::{json, Value};

/// Where a branch's database lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbAccess {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
}

/// Makes and removes branches' databases.
pub trait Databases: Send + Sync {
    fn create(&self, reference: &str) -> Result<DbAccess, String>;
    fn remove(&self, reference: &str) -> Result<(), String>;
}

/// One exchange, recorded as the Okta stand-in records its own, for the same kind of contract check.
pub use crate::okta::Exchange;

#[derive(Debug, Clone)]
struct Branch {
    id: String,
    name: String,
    reference: String,
    created_at: String,
    db: DbAccess,
    reads: u32,
}

struct State {
    branches: Vec<Branch>,
    exchanges: Vec<Exchange>,
    /// Answer the next branch creation with Supabase's declared failure (500).
    fail_next_create: bool,
    counter: u64,
}

/// A running stand-in; stopped when dropped.
pub struct SupabaseStandin {
    pub url: String,
    /// The project whose branches it holds.
    pub project_ref: String,
    pub token: String,
    state: Arc<Mutex<State>>,
    _server: crate::server::Server,
}

impl std::fmt::Debug for SupabaseStandin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SupabaseStandin").field("url", &self.url).field("project_ref", &self.project_ref).finish()
    }
}

/// A 20-letter lowercase reference, as Supabase's (`^[a-z]{20}$`), from a counter.
fn reference(seed: u64) -> String {
    let mut n = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
    (0..20)
        .map(|_| {
            n = n.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (b'a' + ((n >> 33) % 26) as u8) as char
        })
        .collect()
}

impl SupabaseStandin {
    /// Starts on a free port of 127.0.0.1, accepting `Bearer <token>`, holding `project_ref`'s branches.
    pub fn start(token: &str, databases: Arc<dyn Databases>) -> std::io::Result<SupabaseStandin> {
        let state = Arc::new(Mutex::new(State {
            branches: Vec::new(),
            exchanges: Vec::new(),
            fail_next_create: false,
            counter: 1,
        }));
        let project_ref = reference(0);
        let (shared, token_owned, project) = (state.clone(), token.to_owned(), project_ref.clone());
        let server = crate::server::Server::start(move |req| {
            let (state, token, project, databases) =
                (shared.clone(), token_owned.clone(), project.clone(), databases.clone());
            async move { serve(&state, &token, &project, databases, req).await }
        })?;
        Ok(SupabaseStandin { url: server.url(), project_ref, token: token.to_owned(), state, _server: server })
    }

    /// Every exchange so far.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.state.lock().map(|s| s.exchanges.clone()).unwrap_or_default()
    }

    /// The names of the branches it holds.
    pub fn branch_names(&self) -> Vec<String> {
        self.state.lock().map(|s| s.branches.iter().map(|b| b.name.clone()).collect()).unwrap_or_default()
    }

    /// The next branch creation fails as Supabase declares it can (500), before any database is made.
    pub fn fail_next_create(&self) {
        if let Ok(mut s) = self.state.lock() {
            s.fail_next_create = true;
        }
    }
}

/// The state, also after a panic elsewhere (a stand-in keeps answering).
fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn branch_json(b: &Branch, project: &str) -> Value {
    json!({
        "id": b.id,
        "name": b.name,
        "project_ref": b.reference,
        "parent_project_ref": project,
        "is_default": false,
        "persistent": false,
        "status": "MIGRATIONS_PASSED",
        "created_at": b.created_at,
        "updated_at": b.created_at,
        "with_data": false,
        "preview_project_status": if b.reads == 0 { "COMING_UP" } else { "ACTIVE_HEALTHY" },
    })
}

async fn serve(
    state: &Arc<Mutex<State>>,
    token: &str,
    project: &str,
    databases: Arc<dyn Databases>,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or_default().to_owned();
    let headers = crate::okta::recorded_headers(req.headers(), &["authorization", "content-type"]);
    let authorized =
        req.headers().get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {token}"));
    let bytes = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let body: Option<Value> = if bytes.is_empty() { None } else { serde_json::from_slice(&bytes).ok() };
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (status, answer, fault): (u16, Option<Value>, bool) = if !authorized {
        // The document declares a 401 for the API keys only: elsewhere the answer is outside it (its request is
        // still checked).
        (401, Some(json!({"message": "Unauthorized"})), !path.ends_with("/api-keys"))
    } else {
        match (method.as_str(), segments.as_slice()) {
            ("GET", ["v1", "projects", p, "branches"]) if *p == project => {
                let s = lock(state);
                (200, Some(Value::Array(s.branches.iter().map(|b| branch_json(b, project)).collect())), false)
            }
            ("POST", ["v1", "projects", p, "branches"]) if *p == project => {
                create(state, project, databases, body.as_ref()).await
            }
            ("GET", ["v1", "branches", r]) => {
                let mut s = lock(state);
                match s.branches.iter_mut().find(|b| b.reference == *r) {
                    Some(b) => {
                        let status = if b.reads == 0 { "COMING_UP" } else { "ACTIVE_HEALTHY" };
                        b.reads += 1;
                        let answer = json!({
                            "ref": b.reference,
                            "postgres_version": "15.8",
                            "postgres_engine": "15",
                            "release_channel": "ga",
                            "status": status,
                            "db_host": b.db.host,
                            "db_port": b.db.port,
                            "db_user": b.db.user,
                            "db_pass": b.db.password,
                        });
                        (200, Some(answer), false)
                    }
                    None => (500, None, true),
                }
            }
            ("DELETE", ["v1", "branches", r]) => {
                let found = {
                    let mut s = lock(state);
                    let at = s.branches.iter().position(|b| b.reference == *r);
                    at.map(|i| s.branches.remove(i))
                };
                match found {
                    Some(b) => {
                        let reference = b.reference.clone();
                        let dbs = databases.clone();
                        match tokio::task::spawn_blocking(move || dbs.remove(&reference)).await {
                            Ok(Ok(())) => (200, Some(json!({"message": "ok"})), false),
                            _ => (500, None, true),
                        }
                    }
                    None => (500, None, true),
                }
            }
            ("GET", ["v1", "projects", r, "api-keys"]) => {
                let s = lock(state);
                match s.branches.iter().find(|b| b.reference == *r) {
                    Some(b) => {
                        let reveal = query.split('&').any(|kv| kv == "reveal=true");
                        let key = |kind: &str, prefix: &str| {
                            json!({
                                "name": "default",
                                "type": kind,
                                "prefix": prefix,
                                "api_key": if reveal { Value::String(format!("{prefix}{}", b.reference)) } else { Value::Null },
                                "id": format!("{}-{kind}", b.id),
                            })
                        };
                        (200, Some(json!([key("publishable", "sb_publishable_"), key("secret", "sb_secret_")])), false)
                    }
                    None => (403, Some(json!({"message": "Forbidden action"})), false),
                }
            }
            _ => (404, Some(json!({"message": "Not found"})), true),
        }
    };
    let mut response_headers = BTreeMap::new();
    if answer.is_some() {
        response_headers.insert("content-type".to_owned(), "application/json".to_owned());
    }
    let exchange = Exchange {
        method,
        path,
        query,
        headers,
        body,
        status,
        response_headers: response_headers.clone(),
        response: answer.clone(),
        fault,
    };
    if let Ok(mut s) = state.lock() {
        s.exchanges.push(exchange);
    }
    let mut response = Response::new(Full::new(Bytes::from(answer.map(|a| a.to_string()).unwrap_or_default())));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if response_headers.contains_key("content-type") {
        response.headers_mut().insert("content-type", hyper::header::HeaderValue::from_static("application/json"));
    }
    response
}

async fn create(
    state: &Arc<Mutex<State>>,
    project: &str,
    databases: Arc<dyn Databases>,
    body: Option<&Value>,
) -> (u16, Option<Value>, bool) {
    let Some(name) = body.and_then(|b| b["branch_name"].as_str()).filter(|n| !n.is_empty()).map(str::to_owned) else {
        return (500, None, true);
    };
    let seed = {
        let mut s = lock(state);
        if std::mem::take(&mut s.fail_next_create) {
            return (500, None, false);
        }
        if s.branches.iter().any(|b| b.name == name) {
            return (500, None, true);
        }
        s.counter += 1;
        s.counter
    };
    let reference = reference(seed);
    let made = {
        let reference = reference.clone();
        tokio::task::spawn_blocking(move || databases.create(&reference)).await
    };
    let Ok(Ok(db)) = made else { return (500, None, true) };
    let branch = Branch {
        id: uuid::Uuid::new_v4().to_string(),
        name,
        reference,
        created_at: crate::time::now_rfc3339(),
        db,
        reads: 0,
    };
    let answer = branch_json(&branch, project);
    lock(state).branches.push(branch);
    (201, Some(answer), false)
}
