//! What the deploy rehearsal's applied state must hold, read from `terraform show -json` against the catalog: every
//! route behind the authorizer and on its function's integration, every function on its own role, arm64
//! `provided.al2023`, with its environment, sizing, log group and its kind's alarms, its trigger's wiring (each kind
//! checks its own, [`crate::triggers::Kind::verify`]), and every invoke permission under this API or from the
//! documents bucket. Pure: the state's JSON in, the problems out.

use route_registry::{Function, Route};
use serde_json::Value;

use crate::env::Settings;
use crate::names;
use crate::triggers::{self, State};

/// The managed resources of an applied state (`terraform show -json`).
#[derive(Debug)]
pub struct Applied {
    resources: Vec<Value>,
}

impl Applied {
    pub fn new(state: &Value) -> Applied {
        let resources = state["values"]["root_module"]["resources"].as_array().cloned().unwrap_or_default();
        Applied { resources: resources.into_iter().filter(|r| r["mode"] == "managed").collect() }
    }

    /// Every resource of a type.
    pub fn of(&self, ty: &str) -> Vec<&Value> {
        self.resources.iter().filter(|r| r["type"] == ty).collect()
    }

    pub fn len(&self) -> usize {
        self.resources.len()
    }

    pub fn is_empty(&self) -> bool {
        self.resources.is_empty()
    }
}

impl State for Applied {
    fn values(&self, ty: &str, name: &str) -> Result<&Value, String> {
        self.resources
            .iter()
            .find(|r| r["type"] == ty && r["name"] == name)
            .map(|r| &r["values"])
            .ok_or_else(|| format!("{ty}.{name} is not in the state"))
    }
}

/// Everything wrong with the applied state, against `routes` and `functions` (the catalog's) and the settings.
pub fn verify(state: &Applied, settings: &Settings, routes: &[&Route], functions: &[Function]) -> Vec<String> {
    let mut problems = Vec::new();
    problems.extend(verify_routes(state, routes));
    for f in functions {
        problems.extend(verify_function(state, settings, f));
        problems.extend(triggers::of(&f.trigger).verify(state, f));
    }
    problems.extend(verify_permissions(state));
    problems
}

/// One line saying what was verified.
pub fn summary(state: &Applied, functions: &[Function]) -> String {
    format!(
        "{} resources: {} routes (CUSTOM but the public ones, right integrations), {} functions with their roles, log groups and alarms, {} queue(s) with their mappings, {} schedule(s) through their own roles, {} permissions under the API or the bucket",
        state.len(),
        state.of("aws_apigatewayv2_route").len(),
        functions.len(),
        state.of("aws_lambda_event_source_mapping").len(),
        state.of("aws_scheduler_schedule").len(),
        state.of("aws_lambda_permission").len()
    )
}

/// Each catalog route exists once, on its function's integration, behind the authorizer (a public route without it).
fn verify_routes(state: &Applied, registry: &[&Route]) -> Vec<String> {
    let mut problems = Vec::new();
    let routes = state.of("aws_apigatewayv2_route");
    if routes.len() != registry.len() {
        problems.push(format!("{} routes in the emulator, {} in the registry", routes.len(), registry.len()));
    }
    let authorizer = match state.values("aws_apigatewayv2_authorizer", "okta") {
        Ok(a) => a,
        Err(missing) => return vec![missing],
    };
    for route in registry {
        let Some(r) = routes.iter().find(|r| r["values"]["route_key"] == route.key()) else {
            problems.push(format!("route {} is missing", route.key()));
            continue;
        };
        let v = &r["values"];
        let address = format!("aws_apigatewayv2_route.{}", r["name"].as_str().unwrap_or_default());
        match route.is_public() {
            false if v["authorization_type"] != "CUSTOM" || v["authorizer_id"] != authorizer["id"] => {
                problems.push(format!("{address}: not CUSTOM with the okta authorizer"));
            }
            true if v["authorization_type"] != "NONE" => {
                problems.push(format!("{address}: public in the catalog, but not served without the authorizer"));
            }
            _ => {}
        }
        let local = names::local(&route.function);
        let (integration, lambda) =
            match (state.values("aws_apigatewayv2_integration", &local), state.values("aws_lambda_alias", &local)) {
                (Ok(i), Ok(l)) => (i, l),
                (Err(missing), _) | (_, Err(missing)) => {
                    problems.push(missing);
                    continue;
                }
            };
        if v["target"].as_str() != Some(&format!("integrations/{}", integration["id"].as_str().unwrap_or_default())) {
            problems.push(format!("{address}: does not target its function's integration"));
        }
        if integration["integration_uri"] != lambda["invoke_arn"] {
            problems.push(format!("{address}: the integration does not invoke {}'s alias", route.function.binary));
        }
    }
    problems
}

/// A function on its own role, arm64 `provided.al2023`, with its environment, sizing, log group and alarms.
fn verify_function(state: &Applied, settings: &Settings, function: &Function) -> Vec<String> {
    let local = names::local(function);
    let address = format!("aws_lambda_function.{local}");
    let (f, role, group) = match (
        state.values("aws_lambda_function", &local),
        state.values("aws_iam_role", &local),
        state.values("aws_cloudwatch_log_group", &local),
    ) {
        (Ok(f), Ok(r), Ok(g)) => (f, r, g),
        (Err(missing), _, _) | (_, Err(missing), _) | (_, _, Err(missing)) => return vec![missing],
    };
    let mut problems = Vec::new();
    if f["role"] != role["arn"] {
        problems.push(format!("{address}: not using its own role"));
    }
    if f["architectures"] != serde_json::json!(["arm64"]) || f["runtime"] != "provided.al2023" {
        problems.push(format!("{address}: not provided.al2023 on arm64"));
    }
    if f["handler"] != function.binary {
        problems.push(format!(
            "{address}: its handler is not {}, so its module's binary would not serve it",
            function.binary
        ));
    }
    let vars = &f["environment"][0]["variables"];
    for key in ["REGION", "ENVIRONMENT", "LOG_LEVEL"] {
        if vars[key].is_null() {
            problems.push(format!("{address}: environment variable {key} missing"));
        }
    }
    let memory = settings.lambda_memory_mb.unwrap_or(function.memory_mb);
    let timeout = settings.lambda_timeout_s.unwrap_or(function.timeout_s);
    if f["memory_size"] != memory || f["timeout"] != timeout {
        problems.push(format!(
            "{address}: memory {} / timeout {}, expected {memory} / {timeout}",
            f["memory_size"], f["timeout"]
        ));
    }
    if function.uses_database() && (vars["SUPABASE_URL"].as_str().is_none() || vars["SUPABASE_ANON_KEY"].is_null()) {
        problems.push(format!("{address}: SUPABASE_URL or SUPABASE_ANON_KEY missing"));
    }
    let name = f["function_name"].as_str().unwrap_or_default();
    if group["name"].as_str() != Some(&format!("/aws/lambda/{name}")) {
        problems.push(format!("aws_cloudwatch_log_group.{local}: not /aws/lambda/{name}"));
    }
    let alarms = state
        .of("aws_cloudwatch_metric_alarm")
        .into_iter()
        .filter(|a| a["name"].as_str().is_some_and(|n| n.starts_with(&format!("{local}_"))))
        .count();
    let expected = triggers::of(&function.trigger).alarm_count();
    if alarms != expected {
        problems.push(format!("{address}: {alarms} alarms instead of {expected}"));
    }
    problems
}

/// Every invoke permission is for this API (its execution ARN) or from the documents bucket.
fn verify_permissions(state: &Applied) -> Vec<String> {
    let (api, bucket) =
        match (state.values("aws_apigatewayv2_api", "main"), state.values("aws_s3_bucket", names::DOCUMENTS)) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(missing), _) | (_, Err(missing)) => return vec![missing],
        };
    let execution_arn = api["execution_arn"].as_str().unwrap_or_default();
    state
        .of("aws_lambda_permission")
        .into_iter()
        .filter(|p| {
            let v = &p["values"];
            let under_api = v["source_arn"].as_str().is_some_and(|s| s.starts_with(&format!("{execution_arn}/")));
            let from_bucket = v["principal"] == "s3.amazonaws.com" && v["source_arn"] == bucket["arn"];
            !under_api && !from_bucket
        })
        .map(|p| {
            format!(
                "aws_lambda_permission.{}: source_arn neither under this API nor the documents bucket",
                p["name"].as_str().unwrap_or_default()
            )
        })
        .collect()
}

/// Every name a stack gives AWS (the attributes that name a resource), with interpolations cut out, by attribute.
pub fn deployed_names(doc: &Value) -> Vec<(String, String)> {
    const NAMING: &[&str] = &[
        "name",
        "function_name",
        "bucket",
        "alarm_name",
        "dashboard_name",
        "deployment_group_name",
        "app_name",
        "name_prefix",
        "secret_id",
    ];
    // Names unique only within their parent (an API's stage and authorizer, a function's alias, a role's inline
    // policy), which no other stack's resource can meet.
    const SCOPED: &[&str] =
        &["aws_apigatewayv2_stage", "aws_apigatewayv2_authorizer", "aws_lambda_alias", "aws_iam_role_policy"];
    let mut out = Vec::new();
    for (ty, resources) in
        doc["resource"].as_object().into_iter().flatten().filter(|(ty, _)| !SCOPED.contains(&ty.as_str()))
    {
        for (local, r) in resources.as_object().into_iter().flatten() {
            for attr in NAMING {
                if let Some(v) = r[*attr].as_str() {
                    // `${…}` parts (an account id, another resource's name) are not this resource's own.
                    let own: String = v.split("${").map(|p| p.split_once('}').map_or(p, |(_, rest)| rest)).collect();
                    if !own.is_empty() && *attr != "app_name" {
                        out.push((format!("{ty}.{local}.{attr}"), own));
                    }
                }
            }
        }
    }
    out
}

/// Whether a name found in an account is `declared` (a name from [`deployed_names`]; one cut before an account id
/// matches that id's digits).
pub fn is_declared(found: &str, declared: &str) -> bool {
    found == declared
        || (declared.ends_with('-')
            && found
                .strip_prefix(declared)
                .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit())))
}
