//! A stand-in for CodeDeploy's JSON API (protocol `json` 1.1, `X-Amz-Target: CodeDeploy_20141006.<Operation>`) on
//! the Lambda compute platform: the part a release uses. Applications and deployment groups (`CreateApplication`,
//! `GetApplication`, `CreateDeploymentGroup`, `GetDeploymentGroup`), and deployments (`CreateDeployment` with an
//! AppSpec given as content, `GetDeployment`, `ListDeployments`, `StopDeployment`). Every request and answer is
//! recorded, so a test can hold them to CodeDeploy's published model (botocore's `codedeploy` service definition).
//!
//! A deployment does what CodeDeploy documents for Lambda: it checks that the alias serves the AppSpec's
//! `CurrentVersion`, then shifts the alias to `TargetVersion` in the steps of the group's configuration
//! (`CodeDeployDefault.LambdaAllAtOnce`, `…LambdaCanary10Percent<N>Minutes`, `…LambdaLinear10PercentEvery<N>Minute(s)`)
//! through the alias's routing weights, watching the group's alarms between steps. An alarm in `ALARM` stops it
//! (`ALARM_ACTIVE`); `StopDeployment` stops it (`MANUAL_STOP`); a stopped or failed deployment is rolled back when
//! the group (or the stop request) says so: a rollback deployment (`creator: codeDeployRollback`) puts the alias back
//! on the previous version with no weights.
//!
//! Where the alias lives is the stand-in's choice: in memory (tests), or in a Lambda API (the emulator of the deploy
//! rehearsal), moved with `UpdateAlias`. A minute of the configurations lasts [`Options::minute`], so a canary of
//! five minutes is rehearsed in a fraction of a second. Alarms are the stand-in's (set by a test); no signature is
//! checked.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use serde_json::{json, Value};

use crate::time::now_ms;

/// How the stand-in runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// How long a minute of a deployment configuration lasts.
    pub minute: Duration,
    /// A Lambda API (`http://host:port`) whose aliases deployments move; `None`: aliases in memory.
    pub lambda_endpoint: Option<String>,
}

impl Default for Options {
    fn default() -> Options {
        Options { minute: Duration::from_millis(50), lambda_endpoint: None }
    }
}

/// An alias as a deployment leaves it: the version it serves and, during a shift, the new version's weight.
#[derive(Debug, Clone, PartialEq)]
pub struct AliasState {
    pub version: String,
    pub weights: BTreeMap<String, f64>,
}

/// One recorded exchange: the operation, the request's JSON, the status and the answer's JSON.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub operation: String,
    pub request: Value,
    pub status: u16,
    pub response: Value,
}

impl Exchange {
    /// As one JSON line: `{"operation", "request", "status", "response"}`.
    pub fn to_line(&self) -> String {
        json!({"operation": self.operation, "request": self.request, "status": self.status, "response": self.response})
            .to_string()
    }
}

#[derive(Debug, Clone)]
struct Group {
    application: String,
    name: String,
    id: String,
    config: String,
    role: String,
    alarms: Vec<String>,
    alarms_enabled: bool,
    rollback_events: Vec<String>,
    rollback_enabled: bool,
}

#[derive(Debug, Clone)]
struct Deployment {
    info: Value,
    stop: Option<bool>,
}

#[derive(Debug, Default)]
struct State {
    applications: BTreeMap<String, (String, String)>,
    groups: BTreeMap<(String, String), Group>,
    deployments: BTreeMap<String, Deployment>,
    order: Vec<String>,
    aliases: BTreeMap<(String, String), AliasState>,
    alarms: BTreeMap<String, bool>,
    exchanges: Vec<Exchange>,
    shifts: BTreeMap<String, Vec<AliasState>>,
    next: u64,
}

type Shared = Arc<Mutex<State>>;

/// A running stand-in; stopped when dropped.
#[derive(Debug)]
pub struct CodeDeployStandin {
    pub url: String,
    state: Shared,
    /// Serves until dropped.
    _server: crate::server::Server,
}

impl CodeDeployStandin {
    /// Starts the stand-in on a free port of 127.0.0.1.
    pub fn start(options: Options) -> std::io::Result<CodeDeployStandin> {
        let state: Shared = Arc::default();
        let (shared, options) = (state.clone(), Arc::new(options));
        let server = crate::server::Server::start(move |req| serve(shared.clone(), options.clone(), req))?;
        Ok(CodeDeployStandin { url: server.url(), state, _server: server })
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> Option<T> {
        self.state.lock().ok().map(|mut s| f(&mut s))
    }

    /// Puts an alarm in `ALARM` (`true`) or `OK`.
    pub fn set_alarm(&self, name: &str, in_alarm: bool) {
        self.with(|s| s.alarms.insert(name.to_owned(), in_alarm));
    }

    /// Makes an in-memory alias serve `version` (what `terraform apply` does when it creates one).
    pub fn put_alias(&self, function: &str, alias: &str, version: &str) {
        let state = AliasState { version: version.to_owned(), weights: BTreeMap::new() };
        self.with(|s| s.aliases.insert((function.to_owned(), alias.to_owned()), state));
    }

    /// An in-memory alias.
    pub fn alias(&self, function: &str, alias: &str) -> Option<AliasState> {
        self.with(|s| s.aliases.get(&(function.to_owned(), alias.to_owned())).cloned()).flatten()
    }

    /// Every alias state a deployment set, in order.
    pub fn shifts(&self, deployment_id: &str) -> Vec<AliasState> {
        self.with(|s| s.shifts.get(deployment_id).cloned().unwrap_or_default()).unwrap_or_default()
    }

    /// Every exchange so far.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.with(|s| s.exchanges.clone()).unwrap_or_default()
    }
}

fn error(code: &str, message: &str) -> (u16, Value) {
    (400, json!({"__type": code, "message": message}))
}

async fn serve(state: Shared, options: Arc<Options>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let target = req.headers().get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let bytes = req.into_body().collect().await.map(|c| c.to_bytes()).unwrap_or_default();
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let operation = target.strip_prefix("CodeDeploy_20141006.").unwrap_or("").to_owned();
    let (status, answer, start) = match state.lock() {
        Ok(mut s) => {
            let (status, answer, start) = handle(&mut s, &operation, &body);
            s.exchanges.push(Exchange {
                operation: operation.clone(),
                request: body.clone(),
                status,
                response: answer.clone(),
            });
            (status, answer, start)
        }
        Err(_) => (500, json!({"__type": "InternalFailure", "message": "the stand-in's state is poisoned"}), None),
    };
    if let Some(id) = start {
        tokio::spawn(run(state.clone(), options.clone(), id));
    }
    let mut response = Response::new(Full::new(Bytes::from(answer.to_string())));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response
        .headers_mut()
        .insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("application/x-amz-json-1.1"));
    response
}

/// Seconds since the epoch, as the JSON protocol writes a timestamp.
fn now_s() -> f64 {
    now_ms() as f64 / 1000.0
}

fn str_of<'v>(v: &'v Value, k: &str) -> &'v str {
    v[k].as_str().unwrap_or_default()
}

/// Answers one operation; `Some(id)` when a deployment is to be started.
fn handle(s: &mut State, operation: &str, body: &Value) -> (u16, Value, Option<String>) {
    let app = str_of(body, "applicationName").to_owned();
    let group_name = str_of(body, "deploymentGroupName").to_owned();
    let (status, answer) = match operation {
        "CreateApplication" => {
            if app.is_empty() {
                error(
                    "ApplicationNameRequiredException",
                    "The minimum number of required application names was not specified.",
                )
            } else if s.applications.contains_key(&app) {
                error("ApplicationAlreadyExistsException", &format!("{app} already exists"))
            } else {
                s.next += 1;
                let id = format!("{:08x}-0000-4000-8000-{:012x}", s.next, s.next);
                let platform = body["computePlatform"].as_str().unwrap_or("Server").to_owned();
                s.applications.insert(app, (id.clone(), platform));
                (200, json!({"applicationId": id}))
            }
        }
        "GetApplication" => match s.applications.get(&app) {
            Some((id, platform)) => (
                200,
                json!({"application": {"applicationId": id, "applicationName": app, "createTime": now_s(),
                    "linkedToGitHub": false, "computePlatform": platform}}),
            ),
            None => error("ApplicationDoesNotExistException", &format!("No application found for name: {app}")),
        },
        "CreateDeploymentGroup" => {
            if !s.applications.contains_key(&app) {
                error("ApplicationDoesNotExistException", &format!("No application found for name: {app}"))
            } else if s.groups.contains_key(&(app.clone(), group_name.clone())) {
                error("DeploymentGroupAlreadyExistsException", &format!("{group_name} already exists"))
            } else {
                s.next += 1;
                let id = format!("{:08x}-0000-4000-9000-{:012x}", s.next, s.next);
                let names = |v: &Value| -> Vec<String> {
                    v.as_array().into_iter().flatten().filter_map(|a| a.as_str().map(str::to_owned)).collect()
                };
                let group = Group {
                    application: app.clone(),
                    name: group_name.clone(),
                    id: id.clone(),
                    config: body["deploymentConfigName"]
                        .as_str()
                        .unwrap_or("CodeDeployDefault.LambdaAllAtOnce")
                        .to_owned(),
                    role: str_of(body, "serviceRoleArn").to_owned(),
                    alarms: body["alarmConfiguration"]["alarms"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|a| a["name"].as_str().map(str::to_owned))
                        .collect(),
                    alarms_enabled: body["alarmConfiguration"]["enabled"].as_bool().unwrap_or(false),
                    rollback_events: names(&body["autoRollbackConfiguration"]["events"]),
                    rollback_enabled: body["autoRollbackConfiguration"]["enabled"].as_bool().unwrap_or(false),
                };
                s.groups.insert((app, group_name), group);
                (200, json!({"deploymentGroupId": id}))
            }
        }
        "GetDeploymentGroup" => match s.groups.get(&(app.clone(), group_name.clone())) {
            Some(g) => (200, json!({"deploymentGroupInfo": group_info(g)})),
            None => error(
                "DeploymentGroupDoesNotExistException",
                &format!("No Deployment Group found for name: {group_name}"),
            ),
        },
        "CreateDeployment" => return create(s, &app, &group_name, body),
        "GetDeployment" => match s.deployments.get(str_of(body, "deploymentId")) {
            Some(d) => (200, json!({"deploymentInfo": d.info})),
            None => error("DeploymentDoesNotExistException", "The deployment does not exist"),
        },
        "ListDeployments" => {
            let statuses: Vec<&str> =
                body["includeOnlyStatuses"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            let ids: Vec<&String> = s
                .order
                .iter()
                .filter(|id| {
                    let info = &s.deployments[*id].info;
                    (app.is_empty() || info["applicationName"] == app.as_str())
                        && (group_name.is_empty() || info["deploymentGroupName"] == group_name.as_str())
                        && (statuses.is_empty() || statuses.contains(&str_of(info, "status")))
                })
                .collect();
            (200, json!({"deployments": ids}))
        }
        "StopDeployment" => {
            let id = str_of(body, "deploymentId");
            match s.deployments.get_mut(id) {
                None => error("DeploymentDoesNotExistException", "The deployment does not exist"),
                Some(d) if terminal(str_of(&d.info, "status")) => {
                    error("DeploymentAlreadyCompletedException", &format!("The deployment {id} has already completed"))
                }
                Some(d) => {
                    d.stop = Some(body["autoRollbackEnabled"].as_bool().unwrap_or(true));
                    (
                        200,
                        json!({"status": "Pending", "statusMessage": "Stopping Pending. Stopping to schedule commands in the deployment instances"}),
                    )
                }
            }
        }
        _ => (
            400,
            json!({"__type": "UnknownOperationException", "message": format!("{operation} is not supported by the stand-in")}),
        ),
    };
    (status, answer, None)
}

fn group_info(g: &Group) -> Value {
    json!({
        "applicationName": g.application,
        "deploymentGroupId": g.id,
        "deploymentGroupName": g.name,
        "deploymentConfigName": g.config,
        "serviceRoleArn": g.role,
        "alarmConfiguration": {"enabled": g.alarms_enabled, "ignorePollAlarmFailure": false,
            "alarms": g.alarms.iter().map(|a| json!({"name": a})).collect::<Vec<_>>()},
        "autoRollbackConfiguration": {"enabled": g.rollback_enabled, "events": g.rollback_events},
        "deploymentStyle": {"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
        "computePlatform": "Lambda",
    })
}

fn terminal(status: &str) -> bool {
    matches!(status, "Succeeded" | "Failed" | "Stopped")
}

/// The AppSpec's one Lambda resource: function, alias, current and target versions.
fn appspec(content: &str) -> Result<(String, String, String, String), String> {
    let spec: Value = serde_json::from_str(content).map_err(|e| format!("the AppSpec is not JSON: {e}"))?;
    let resources = spec["Resources"].as_array().ok_or("the AppSpec has no Resources list")?;
    let [resource] = resources.as_slice() else { return Err("a Lambda AppSpec has exactly one resource".into()) };
    let (_, r) = resource.as_object().and_then(|o| o.iter().next()).ok_or("the AppSpec's resource is empty")?;
    if r["Type"] != "AWS::Lambda::Function" {
        return Err("the AppSpec's resource is not AWS::Lambda::Function".into());
    }
    let p = &r["Properties"];
    let field = |k: &str| match &p[k] {
        Value::String(v) if !v.is_empty() => Ok(v.clone()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(format!("the AppSpec's resource lacks Properties.{k}")),
    };
    Ok((field("Name")?, field("Alias")?, field("CurrentVersion")?, field("TargetVersion")?))
}

fn create(s: &mut State, app: &str, group_name: &str, body: &Value) -> (u16, Value, Option<String>) {
    if !s.applications.contains_key(app) {
        let (st, v) = error("ApplicationDoesNotExistException", &format!("No application found for name: {app}"));
        return (st, v, None);
    }
    let Some(group) = s.groups.get(&(app.to_owned(), group_name.to_owned())).cloned() else {
        let (st, v) =
            error("DeploymentGroupDoesNotExistException", &format!("No Deployment Group found for name: {group_name}"));
        return (st, v, None);
    };
    let revision = &body["revision"];
    if revision["revisionType"] != "AppSpecContent" {
        let (st, v) = error("RevisionRequiredException", "A Lambda deployment needs a revision of type AppSpecContent");
        return (st, v, None);
    }
    if let Err(why) = appspec(str_of(&revision["appSpecContent"], "content")) {
        let (st, v) = error("InvalidRevisionException", &why);
        return (st, v, None);
    }
    if let Some(active) = s.order.iter().find(|id| {
        let info = &s.deployments[*id].info;
        info["deploymentGroupName"] == group_name && !terminal(str_of(info, "status"))
    }) {
        let (st, v) = error(
            "DeploymentLimitExceededException",
            &format!("The Deployment Group '{group_name}' already has an active Deployment '{active}'"),
        );
        return (st, v, None);
    }
    s.next += 1;
    let id = format!("d-{:09}", s.next);
    let info = json!({
        "applicationName": app,
        "deploymentGroupName": group_name,
        "deploymentConfigName": body["deploymentConfigName"].as_str().unwrap_or(&group.config),
        "deploymentId": id,
        "revision": revision,
        "status": "Created",
        "createTime": now_s(),
        "description": body["description"].as_str().unwrap_or_default(),
        "creator": "user",
        "autoRollbackConfiguration": {"enabled": group.rollback_enabled, "events": group.rollback_events},
        "deploymentStyle": {"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
        "computePlatform": "Lambda",
    });
    s.deployments.insert(id.clone(), Deployment { info, stop: None });
    s.order.push(id.clone());
    (200, json!({"deploymentId": id}), Some(id))
}

/// The weights a configuration shifts through, each with the minutes it holds before the next.
pub fn steps(config: &str) -> Option<Vec<(u32, u32)>> {
    let rest = config.strip_prefix("CodeDeployDefault.Lambda")?;
    if rest == "AllAtOnce" {
        return Some(vec![(100, 0)]);
    }
    if let Some(minutes) = rest.strip_prefix("Canary10Percent").and_then(|m| m.strip_suffix("Minutes")) {
        return Some(vec![(10, minutes.parse().ok()?), (100, 0)]);
    }
    let every = rest.strip_prefix("Linear10PercentEvery")?;
    let minutes: u32 = every.strip_suffix("Minutes").or_else(|| every.strip_suffix("Minute"))?.parse().ok()?;
    Some((1..=10).map(|i| (i * 10, if i == 10 { 0 } else { minutes })).collect())
}

enum Outcome {
    Succeeded,
    Stopped { code: &'static str, message: String, rollback: bool },
    Failed { code: &'static str, message: String },
}

/// Runs a deployment to its end.
async fn run(state: Shared, options: Arc<Options>, id: String) {
    let lookup = (|| {
        let mut s = state.lock().ok()?;
        let d = s.deployments.get_mut(&id)?;
        d.info["status"] = json!("InProgress");
        d.info["startTime"] = json!(now_s());
        let info = d.info.clone();
        let group =
            s.groups.get(&(str_of(&info, "applicationName").into(), str_of(&info, "deploymentGroupName").into()))?;
        Some((info, group.clone()))
    })();
    let Some((info, group)) = lookup else { return };
    let content = str_of(&info["revision"]["appSpecContent"], "content").to_owned();
    let Ok((function, alias, current, target)) = appspec(&content) else { return };
    let config = str_of(&info, "deploymentConfigName").to_owned();
    let (outcome, moved) = shift(&state, &options, &id, &group, &config, (&function, &alias, &current, &target)).await;
    // Nothing to roll back when the alias never moved (a deployment refused before its first shift).
    let rollback = moved
        && match &outcome {
            Outcome::Succeeded => false,
            Outcome::Stopped { code: "ALARM_ACTIVE", .. } => {
                group.rollback_enabled && group.rollback_events.iter().any(|e| e == "DEPLOYMENT_STOP_ON_ALARM")
            }
            Outcome::Stopped { rollback, .. } => *rollback,
            Outcome::Failed { .. } => {
                group.rollback_enabled && group.rollback_events.iter().any(|e| e == "DEPLOYMENT_FAILURE")
            }
        };
    let mut rolled_back = None;
    if rollback {
        let rid = match state.lock() {
            Ok(mut s) => {
                s.next += 1;
                format!("d-{:09}", s.next)
            }
            Err(_) => return,
        };
        let back = AliasState { version: current.clone(), weights: BTreeMap::new() };
        let moved = set_alias(&state, &options, &rid, &function, &alias, back).await;
        if let Ok(mut s) = state.lock() {
            let mut rinfo = info.clone();
            rinfo["deploymentId"] = json!(rid);
            rinfo["creator"] = json!("codeDeployRollback");
            rinfo["status"] = json!(if moved.is_ok() { "Succeeded" } else { "Failed" });
            rinfo["completeTime"] = json!(now_s());
            rinfo["rollbackInfo"] = json!({"rollbackTriggeringDeploymentId": id,
                "rollbackMessage": format!("Rollback of {id}: {function}:{alias} serves version {current} again")});
            s.deployments.insert(rid.clone(), Deployment { info: rinfo, stop: None });
            s.order.push(rid.clone());
            rolled_back = Some(rid);
        }
    }
    if let Ok(mut s) = state.lock() {
        let Some(d) = s.deployments.get_mut(&id) else { return };
        d.info["completeTime"] = json!(now_s());
        let (status, error) = match outcome {
            Outcome::Succeeded => ("Succeeded", None),
            Outcome::Stopped { code, message, .. } => ("Stopped", Some((code, message))),
            Outcome::Failed { code, message } => ("Failed", Some((code, message))),
        };
        d.info["status"] = json!(status);
        if let Some((code, message)) = error {
            d.info["errorInformation"] = json!({"code": code, "message": message});
        }
        if let Some(rid) = rolled_back {
            d.info["rollbackInfo"] = json!({"rollbackDeploymentId": rid,
                "rollbackMessage": format!("Deployment {id} rolled back by {rid}")});
        }
    }
}

async fn shift(
    state: &Shared,
    options: &Options,
    id: &str,
    group: &Group,
    config: &str,
    (function, alias, current, target): (&str, &str, &str, &str),
) -> (Outcome, bool) {
    let Some(steps) = steps(config) else {
        let message = format!("unknown deployment configuration {config}");
        return (Outcome::Failed { code: "INTERNAL_ERROR", message }, false);
    };
    match get_alias(state, options, function, alias).await {
        Ok(serving) if serving == current => {}
        Ok(serving) => {
            let message = format!(
                "The current version in your AppSpec file ({current}) doesn't match the alias's version ({serving})"
            );
            return (Outcome::Failed { code: "INVALID_LAMBDA_CONFIGURATION", message }, false);
        }
        Err(e) => return (Outcome::Failed { code: "INVALID_LAMBDA_FUNCTION", message: e }, false),
    }
    let mut moved = false;
    for (percent, minutes) in steps {
        let next = if percent == 100 {
            AliasState { version: target.to_owned(), weights: BTreeMap::new() }
        } else {
            AliasState {
                version: current.to_owned(),
                weights: [(target.to_owned(), f64::from(percent) / 100.0)].into_iter().collect(),
            }
        };
        if let Err(e) = set_alias(state, options, id, function, alias, next).await {
            return (Outcome::Failed { code: "INVALID_LAMBDA_FUNCTION", message: e }, moved);
        }
        moved = true;
        // Between steps (and once after the last: CodeDeploy polls the alarms before it calls a deployment done).
        let ticks = (minutes * 10).max(1);
        for _ in 0..ticks {
            tokio::time::sleep(options.minute / 10).await;
            let (stop, firing) = match state.lock() {
                Ok(s) => (
                    s.deployments.get(id).and_then(|d| d.stop),
                    if group.alarms_enabled {
                        group.alarms.iter().filter(|a| s.alarms.get(*a).copied().unwrap_or(false)).cloned().collect()
                    } else {
                        Vec::new()
                    },
                ),
                Err(_) => (None, Vec::new()),
            };
            if let Some(rollback) = stop {
                let message = "The deployment was stopped by a user".to_owned();
                return (Outcome::Stopped { code: "MANUAL_STOP", message, rollback }, moved);
            }
            if !firing.is_empty() {
                let outcome = Outcome::Stopped {
                    code: "ALARM_ACTIVE",
                    message: format!(
                        "One or more alarms have been activated according to the Amazon CloudWatch metrics you selected, and the affected deployments have been stopped. Activated alarms: <{}>",
                        firing.join(", ")
                    ),
                    rollback: false,
                };
                return (outcome, moved);
            }
        }
    }
    (Outcome::Succeeded, moved)
}

async fn get_alias(state: &Shared, options: &Options, function: &str, alias: &str) -> Result<String, String> {
    match &options.lambda_endpoint {
        None => state
            .lock()
            .ok()
            .and_then(|s| s.aliases.get(&(function.to_owned(), alias.to_owned())).map(|a| a.version.clone()))
            .ok_or_else(|| format!("Alias not found: {function}:{alias}")),
        Some(endpoint) => {
            let path = format!("/2015-03-31/functions/{function}/aliases/{alias}");
            let answer = lambda_call(endpoint, "GET", &path, None).await?;
            answer["FunctionVersion"].as_str().map(str::to_owned).ok_or_else(|| format!("GetAlias answered {answer}"))
        }
    }
}

async fn set_alias(
    state: &Shared,
    options: &Options,
    id: &str,
    function: &str,
    alias: &str,
    next: AliasState,
) -> Result<(), String> {
    if let Some(endpoint) = &options.lambda_endpoint {
        let path = format!("/2015-03-31/functions/{function}/aliases/{alias}");
        let body =
            json!({"FunctionVersion": next.version, "RoutingConfig": {"AdditionalVersionWeights": next.weights}});
        lambda_call(endpoint, "PUT", &path, Some(body)).await?;
    }
    let mut s = state.lock().map_err(|_| "the stand-in's state is poisoned".to_owned())?;
    if options.lambda_endpoint.is_none() {
        s.aliases.insert((function.to_owned(), alias.to_owned()), next.clone());
    }
    s.shifts.entry(id.to_owned()).or_default().push(next);
    Ok(())
}

/// An emulator serving many services tells them apart by the credential scope of the `Authorization` header; it
/// checks no signature.
const AUTHORIZATION: &str =
    "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=0";

/// One call to a Lambda API emulator (HTTP/1.1 by hand: the stand-in has no HTTP client).
async fn lambda_call(endpoint: &str, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = endpoint.trim_start_matches("http://").trim_end_matches('/').to_owned();
    let payload = body.map(|b| b.to_string()).unwrap_or_default();
    let mut stream = tokio::net::TcpStream::connect(&host).await.map_err(|e| format!("Lambda API at {host}: {e}"))?;
    let request = format!(
        "{method} {path} HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         authorization: {AUTHORIZATION}\r\nconnection: close\r\n\r\n{payload}",
        payload.len()
    );
    stream.write_all(request.as_bytes()).await.map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.map_err(|e| e.to_string())?;
    let mut reader = std::io::BufReader::new(raw.as_slice());
    let (first, headers) = crate::http1::read_head(&mut reader).map_err(|e| e.to_string())?.ok_or("no answer")?;
    let body = crate::http1::read_body(&mut reader, &headers).unwrap_or_default();
    let status: u16 = first.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    if !(200..300).contains(&status) {
        return Err(format!("{method} {path} answered {status}: {}", String::from_utf8_lossy(&body)));
    }
    serde_json::from_slice(&body).map_err(|e| format!("{method} {path}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::steps;

    #[test]
    fn configurations_shift_as_codedeploy_documents() {
        assert_eq!(steps("CodeDeployDefault.LambdaAllAtOnce"), Some(vec![(100, 0)]));
        assert_eq!(steps("CodeDeployDefault.LambdaCanary10Percent5Minutes"), Some(vec![(10, 5), (100, 0)]));
        let linear = steps("CodeDeployDefault.LambdaLinear10PercentEvery1Minute").unwrap_or_default();
        assert_eq!(linear.len(), 10);
        assert_eq!(linear[0], (10, 1));
        assert_eq!(linear[9], (100, 0));
        assert_eq!(steps("CodeDeployDefault.LambdaLinear10PercentEvery3Minutes").map(|s| s[0]), Some((10, 3)));
        assert_eq!(steps("CodeDeployDefault.OneAtATime"), None);
    }
}
