//! The OpenAPI 3.1 document of org-module, generated from the route registry (paths, methods, parameters,
//! summaries) and the request/response types (schemars): request bodies, the response envelopes and every error
//! status a route can answer, behind the bearer scheme the authorizer enforces.
//!
//! The table [`bodies`] is the one place that pairs a route with its types; a test checks it covers the registry.

use route_registry::{org, Method, Route};
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{json, Map, Value};

use crate::types::{
    AddMember, CreateOrganization, Identity, Membership, Message, Organization, Profile, ProvisionIdentity,
    UpdateOrganization, UpdateProfile,
};

/// What a route takes and returns: request body (if any), response `data`, success status.
#[derive(Debug)]
pub struct Bodies {
    pub request: Option<Schema>,
    pub response: Schema,
    pub status: u16,
}

/// The request/response types of each route; `None` for a route of another module.
pub fn bodies(route: &Route, g: &mut SchemaGenerator) -> Option<Bodies> {
    fn of<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
        g.subschema_for::<T>()
    }
    let list = |s: Schema| -> Schema {
        let mut array = Schema::default();
        array.insert("type".into(), "array".into());
        array.insert("items".into(), s.to_value());
        array
    };
    let b = |request: Option<Schema>, response: Schema, status: u16| Some(Bodies { request, response, status });
    match *route {
        r if r == org::CREATE_IDENTITY => b(Some(of::<ProvisionIdentity>(g)), of::<Identity>(g), 201),
        r if r == org::GET_IDENTITY => b(None, of::<Identity>(g), 200),
        r if r == org::DELETE_IDENTITY => b(None, of::<Message>(g), 200),
        r if r == org::GET_PROFILE => b(None, of::<Profile>(g), 200),
        r if r == org::UPDATE_PROFILE => b(Some(of::<UpdateProfile>(g)), of::<Profile>(g), 200),
        r if r == org::DELETE_PROFILE => b(None, of::<Message>(g), 200),
        r if r == org::LIST_ORGS => b(None, list(of::<Organization>(g)), 200),
        r if r == org::CREATE_ORG => b(Some(of::<CreateOrganization>(g)), of::<Organization>(g), 201),
        r if r == org::UPDATE_ORG => b(Some(of::<UpdateOrganization>(g)), of::<Organization>(g), 200),
        r if r == org::LIST_MEMBERS => b(None, list(of::<Membership>(g)), 200),
        r if r == org::ADD_MEMBER => b(Some(of::<AddMember>(g)), of::<Membership>(g), 201),
        r if r == org::DELETE_MEMBER => b(None, of::<Message>(g), 200),
        _ => None,
    }
}

/// The statuses a route can answer besides success, with what they mean.
fn errors(route: &Route) -> Vec<(u16, &'static str)> {
    let mut out = vec![(401, "No bearer token (answered by API Gateway)")];
    if route.path.contains('{') || route.method != Method::Get {
        out.push((400, "Malformed request: body, field or path parameter; the message names the field"));
    }
    out.push((403, "The token was refused (API Gateway), or the caller may not do this (handler)"));
    if route.path.contains('{') || route.path.ends_with("/me") {
        out.push((404, "Nothing the caller can see matches"));
    }
    if matches!(route.method, Method::Post | Method::Delete) && route.path != "/profiles/me" {
        out.push((409, "Duplicate, or a rule conflict such as removing the last owner"));
    }
    out.push((500, "Unexpected error; details only in the logs"));
    out.sort();
    out
}

/// The whole document; `server` is the base URL it advertises.
pub fn document(server: &str) -> Value {
    let mut settings = SchemaSettings::draft2020_12();
    settings.definitions_path = "#/components/schemas/".into();
    let mut g = SchemaGenerator::new(settings);
    let mut paths = Map::new();
    for route in org::ROUTES {
        let Some(bodies) = bodies(route, &mut g) else { continue };
        let parameters: Vec<Value> = route
            .path_params()
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}}))
            .collect();
        let mut responses = Map::new();
        responses.insert(
            bodies.status.to_string(),
            json!({
                "description": "Success",
                "content": {"application/json": {"schema": {
                    "type": "object",
                    "required": ["success", "data"],
                    "properties": {"success": {"const": true}, "data": bodies.response.to_value()}
                }}}
            }),
        );
        for (status, why) in errors(route) {
            // 401 comes from API Gateway (no token); 403 from API Gateway (token refused) or from the handler.
            let schema = match status {
                401 => json!({"$ref": "#/components/schemas/GatewayError"}),
                403 => {
                    json!({"oneOf": [{"$ref": "#/components/schemas/Error"}, {"$ref": "#/components/schemas/GatewayError"}]})
                }
                _ => json!({"$ref": "#/components/schemas/Error"}),
            };
            responses.insert(
                status.to_string(),
                json!({"description": why, "content": {"application/json": {"schema": schema}}}),
            );
        }
        let mut operation = json!({
            "operationId": format!("{}{}", route.method.as_str().to_ascii_lowercase(), route.path.replace(['/', '{', '}'], "_")),
            "summary": route.summary,
            "tags": [route.function.name],
            "responses": responses,
        });
        if !parameters.is_empty() {
            operation["parameters"] = Value::Array(parameters);
        }
        if let Some(request) = bodies.request {
            operation["requestBody"] =
                json!({"required": true, "content": {"application/json": {"schema": request.to_value()}}});
        }
        let item = paths.entry(route.path.to_owned()).or_insert_with(|| json!({}));
        item[route.method.as_str().to_ascii_lowercase()] = operation;
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
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "STS Career Platform API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "org-module: identities, profiles, organizations and members. Every route needs a bearer JWT; every answer is an envelope."
        },
        "servers": [{"url": server}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
            "schemas": schemas,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_registry_route_is_documented_once() {
        let doc = document("http://127.0.0.1:8787");
        for route in org::ROUTES {
            let op = &doc["paths"][route.path][route.method.as_str().to_ascii_lowercase()];
            assert_eq!(op["summary"], route.summary, "{}", route.key());
            assert!(op["responses"]["401"].is_object(), "{}", route.key());
            for p in route.path_params() {
                assert!(op["parameters"].as_array().unwrap().iter().any(|x| x["name"] == p), "{} {p}", route.key());
            }
        }
        let text = doc.to_string();
        for name in ["ProvisionIdentity", "UpdateProfile", "Organization", "Membership", "Error", "Name", "Email"] {
            assert!(doc["components"]["schemas"][name].is_object(), "{name} schema missing");
        }
        assert!(!text.contains("#/$defs/"), "all references point into components");
    }
}
