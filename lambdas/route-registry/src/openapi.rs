//! The OpenAPI 3.1 document of the whole API, generated from the catalog: paths, methods, parameters, summaries,
//! auth requirements, request bodies, the response envelopes and every status a route can answer, behind the
//! bearer scheme the authorizer enforces. A module's routes appear here because they are in the catalog; nothing
//! else lists them.

use schemars::generate::SchemaSettings;
use schemars::SchemaGenerator;
use serde_json::{json, Map, Value};

use crate::{Auth, Body, Module, Route};

/// Why a status may be answered, for every route that can answer it.
fn meaning(status: u16, route: &Route) -> &'static str {
    match status {
        400 => "Malformed request: body, field or path parameter; the message names the field",
        401 => "No bearer token (answered by API Gateway)",
        403 if route.auth == Auth::Admin => {
            "The token was refused (API Gateway), or the caller is not a platform admin (answered before the handler runs)"
        }
        403 => "The token was refused (API Gateway), or the caller may not do this",
        404 => "Nothing the caller can see matches",
        409 => "A conflict with the current state: a duplicate, a limit, or a rule such as keeping one active owner",
        500 => "Unexpected error; details only in the logs",
        502 => "A dependency (the database API or the identity provider) answered with an error",
        503 => "A dependency could not be reached or refused the connection; retry after `Retry-After` seconds",
        504 => "A dependency did not answer in time",
        _ => "See the message",
    }
}

/// Every status a route can answer besides success, sorted.
pub fn statuses(route: &Route) -> Vec<u16> {
    let mut out: Vec<u16> = route.errors.to_vec();
    // A public route has no authorizer: neither the gateway nor dispatch refuses a token there.
    if !route.is_public() {
        out.extend([401, 403]);
    }
    out.push(500);
    if route.function.has_dependencies() {
        out.extend([502, 503, 504]);
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// The `operationId`: `get_organizations_id_members`.
pub fn operation_id(route: &Route) -> String {
    let mut out = route.method.as_str().to_ascii_lowercase();
    for seg in route.path.split('/').filter(|s| !s.is_empty()) {
        out.push('_');
        out.push_str(&seg.replace(['{', '}'], ""));
    }
    out
}

/// The document for `modules`, advertising `server` as its base URL.
pub fn document_for(modules: &[Module], server: &str) -> Value {
    let mut settings = SchemaSettings::draft2020_12();
    settings.definitions_path = "#/components/schemas/".into();
    let mut g = SchemaGenerator::new(settings);
    let mut paths = Map::new();
    for module in modules {
        for route in module.routes {
            let item = paths.entry(route.path.to_owned()).or_insert_with(|| json!({}));
            item[route.method.as_str().to_ascii_lowercase()] = operation(module, route, &mut g);
        }
    }
    let mut schemas = g.take_definitions(true);
    schemas.insert(
        "GatewayError".into(),
        json!({
            "type": "object",
            "required": ["message"],
            "properties": {"message": {"type": "string"}},
            "description": "API Gateway's own answer, before any handler runs."
        }),
    );
    schemas.insert(
        "Error".into(),
        json!({
            "type": "object",
            "required": ["success", "error"],
            "properties": {"success": {"const": false}, "error": {"type": "string"}}
        }),
    );
    let summaries: Vec<String> = modules.iter().map(|m| format!("{}: {}", m.name, m.summary)).collect();
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "STS Career Platform API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": format!(
                "{}. Every route needs a bearer JWT; every answer of a handler is an envelope. Routes marked `x-auth: admin` are for platform admins.",
                summaries.join("; ")
            ),
        },
        "servers": [{"url": server}],
        "security": [{"bearer": []}],
        "tags": modules.iter().map(|m| json!({"name": m.name, "description": m.summary})).collect::<Vec<_>>(),
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
            "schemas": schemas,
        }
    })
}

/// The document of every deployed module.
pub fn document(server: &str) -> Value {
    document_for(crate::MODULES, server)
}

fn operation(module: &Module, route: &Route, g: &mut SchemaGenerator) -> Value {
    let data = match route.response {
        Body::One(doc) => doc.schema(g).to_value(),
        Body::List(doc) => json!({"type": "array", "items": doc.schema(g).to_value()}),
    };
    let mut responses = Map::new();
    let mut success = json!({
        "description": if route.success == 202 { "Accepted: the work runs on; `Location` is where its state is read" } else { "Success" },
        "content": {"application/json": {"schema": {
            "type": "object",
            "required": ["success", "data"],
            "properties": {"success": {"const": true}, "data": data}
        }}}
    });
    if route.success == 202 {
        success["headers"] = json!({"Location": {
            "description": "The path of the task that runs the work (`GET` it for its state)",
            "required": true,
            "schema": {"type": "string"}
        }});
    }
    responses.insert(route.success.to_string(), success);
    for status in statuses(route) {
        // 401 comes from API Gateway (no token); 403 from API Gateway (token refused) or from the function.
        let schema = match status {
            401 => json!({"$ref": "#/components/schemas/GatewayError"}),
            403 => {
                json!({"oneOf": [{"$ref": "#/components/schemas/Error"}, {"$ref": "#/components/schemas/GatewayError"}]})
            }
            _ => json!({"$ref": "#/components/schemas/Error"}),
        };
        let mut response =
            json!({"description": meaning(status, route), "content": {"application/json": {"schema": schema}}});
        if status == 503 {
            response["headers"] = json!({"Retry-After": {
                "description": "Seconds to wait before retrying",
                "schema": {"type": "integer", "minimum": 1}
            }});
        }
        responses.insert(status.to_string(), response);
    }
    let auth = match route.auth {
        Auth::User => "user",
        Auth::Admin => "admin",
        Auth::Public => "public",
    };
    let mut operation = json!({
        "operationId": operation_id(route),
        "summary": route.summary,
        "tags": [module.name],
        "x-function": route.function.name,
        "x-auth": auth,
        "responses": responses,
    });
    if route.is_public() {
        // No authorizer: this operation overrides the document's bearer requirement with none.
        operation["security"] = json!([]);
        operation["x-throttle"] = json!({
            "rate_per_s": crate::PUBLIC_ROUTE_THROTTLE.rate_per_s,
            "burst": crate::PUBLIC_ROUTE_THROTTLE.burst,
        });
    }
    let parameters: Vec<Value> = route
        .path_params()
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}}))
        .collect();
    if !parameters.is_empty() {
        operation["parameters"] = Value::Array(parameters);
    }
    if let Some(request) = route.request {
        let schema = request.schema(g).to_value();
        let mut content = Map::new();
        match route.upload {
            None => {
                content.insert("application/json".into(), json!({"schema": schema}));
            }
            Some(upload) => {
                for media in upload.media_types {
                    let this = match *media {
                        "application/json" => schema.clone(),
                        "text/csv" => json!({
                            "type": "string",
                            "description": "One item per line; an optional header line",
                            "minLength": 1,
                            "maxLength": upload.max_bytes,
                        }),
                        _ => json!({"type": "string", "format": "binary"}),
                    };
                    content.insert((*media).to_owned(), json!({"schema": this}));
                }
                operation["x-max-body-bytes"] = json!(upload.max_bytes);
            }
        }
        operation["requestBody"] = json!({"required": true, "content": content});
    }
    operation
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::org;

    #[test]
    fn every_catalog_route_is_documented_once_with_its_statuses() {
        let doc = document("http://127.0.0.1:8787");
        let mut operations = 0;
        for route in crate::all_routes() {
            let op = &doc["paths"][route.path][route.method.as_str().to_ascii_lowercase()];
            assert_eq!(op["summary"], route.summary, "{}", route.key());
            for status in statuses(route).into_iter().chain([route.success]) {
                assert!(op["responses"][status.to_string()].is_object(), "{} {status}", route.key());
            }
            for p in route.path_params() {
                assert!(op["parameters"].as_array().unwrap().iter().any(|x| x["name"] == p), "{} {p}", route.key());
            }
            assert_eq!(op["requestBody"].is_object(), route.request.is_some(), "{}", route.key());
            operations += 1;
        }
        let documented: usize = doc["paths"].as_object().unwrap().values().map(|p| p.as_object().unwrap().len()).sum();
        assert_eq!(documented, operations);
        for name in ["ProvisionIdentity", "UpdateProfile", "Organization", "Member", "Invitation", "Name", "Email"] {
            assert!(doc["components"]["schemas"][name].is_object(), "{name} schema missing");
        }
        assert!(!doc.to_string().contains("#/$defs/"), "all references point into components");
    }

    #[test]
    fn auth_and_dependency_statuses_come_from_the_catalog() {
        let doc = document("http://x");
        let create = &doc["paths"]["/identities"]["post"];
        assert_eq!(create["x-auth"], "admin");
        assert!(create["responses"]["403"]["description"].as_str().unwrap().contains("platform admin"));
        assert_eq!(doc["paths"]["/profiles/me"]["get"]["x-auth"], "user");
        assert!(doc["paths"]["/profiles/me"]["get"]["responses"]["503"]["headers"]["Retry-After"].is_object());
        assert_eq!(statuses(&org::GET_PROFILE), [401, 403, 404, 500, 502, 503, 504]);
    }

    #[test]
    fn jobs_answer_202_with_location_and_uploads_name_their_media_types() {
        let doc = document("http://x");
        let import = &doc["paths"]["/organizations/{id}/invitations/import"]["post"];
        assert!(import["responses"]["202"]["headers"]["Location"]["required"].as_bool().unwrap());
        let content = import["requestBody"]["content"].as_object().unwrap();
        assert_eq!(content.keys().collect::<Vec<_>>(), ["application/json", "text/csv"]);
        assert_eq!(import["x-max-body-bytes"], 1024 * 1024);
        assert!(doc["paths"]["/tasks/{id}"]["get"]["responses"]["200"].is_object());
    }

    /// A public route has no security requirement, no 401 or 403, and says how it is throttled; a marked route
    /// without the mark is behind the bearer scheme again.
    #[test]
    fn a_public_route_is_documented_without_security_and_with_its_throttle() {
        use crate::fixtures::{MARK_REMOVED, MODULE, RECEIVE};
        let doc = document_for(&[MODULE], "http://x");
        let op = &doc["paths"]["/hooks/example"]["post"];
        assert_eq!((op["x-auth"].as_str(), &op["security"]), (Some("public"), &json!([])));
        assert_eq!(op["x-throttle"], json!({"rate_per_s": 10, "burst": 20}));
        assert!(op["responses"]["401"].is_null() && op["responses"]["403"].is_null());
        assert_eq!(statuses(&RECEIVE), [400, 500, 502, 503, 504]);
        let doc = document_for(&[MARK_REMOVED], "http://x");
        let op = &doc["paths"]["/hooks/example"]["post"];
        assert!(op["security"].is_null() && op["responses"]["401"].is_object(), "the document's bearer scheme applies");
    }

    #[test]
    fn a_new_module_appears_without_other_edits() {
        let modules = [org::MODULE, crate::modules::template::MODULE];
        let doc = document_for(&modules, "http://x");
        assert!(doc["paths"]["/gizmos/{id}"]["put"].is_object());
        assert!(doc["components"]["schemas"]["Gizmo"].is_object());
    }
}
