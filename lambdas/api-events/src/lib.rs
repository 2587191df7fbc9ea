//! HTTP API v2 events as API Gateway sends them, built from `aws_lambda_events`' types: the one place that makes
//! them, for the local API, tests and benchmarks. The route key and path parameters come from the catalog, as
//! API Gateway derives them from the routes the stacks deploy. (Turning one into the request a handler receives is
//! `module_runtime::events::into_request`.)

use std::collections::HashMap;

pub use aws_lambda_events::apigw::{
    ApiGatewayRequestAuthorizer, ApiGatewayV2CustomAuthorizerV2Request, ApiGatewayV2httpRequest,
};
use aws_lambda_events::http::{HeaderMap, HeaderName, HeaderValue, Method};
use serde_json::Value;

/// An HTTP API v2 event for `method path` with `headers` and an optional body; the route key and path parameters
/// of the catalog route that matches (`$default` when none does).
pub fn http_request(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<String>,
) -> ApiGatewayV2httpRequest {
    let route = route_registry::find_route(method, path);
    let route_key = route.map(|r| r.key()).unwrap_or_else(|| "$default".into());
    let mut event = ApiGatewayV2httpRequest::default();
    event.version = Some("2.0".into());
    event.route_key = Some(route_key.clone());
    event.raw_path = Some(path.to_owned());
    event.raw_query_string = Some(String::new());
    event.headers = header_map(headers);
    if let Some(params) = route.and_then(|r| r.match_path(path)) {
        event.path_parameters = params.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
    }
    event.body = body;
    let ctx = &mut event.request_context;
    ctx.route_key = Some(route_key);
    ctx.account_id = Some("123456789012".into());
    ctx.stage = Some("$default".into());
    ctx.request_id = Some(format!("req-{}", uuid::Uuid::new_v4().simple()));
    ctx.apiid = Some("local".into());
    ctx.domain_name = Some("127.0.0.1".into());
    ctx.domain_prefix = Some("local".into());
    ctx.http.method = Method::from_bytes(method.as_bytes()).unwrap_or(Method::GET);
    ctx.http.path = Some(path.to_owned());
    ctx.http.protocol = Some("HTTP/1.1".into());
    ctx.http.source_ip = Some("127.0.0.1".into());
    ctx.http.user_agent =
        headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("user-agent")).map(|(_, v)| (*v).to_owned());
    event
}

/// Puts the authorizer's context (`requestContext.authorizer.lambda`) on an event, as API Gateway does after the
/// authorizer allowed the request. `context` is the authorizer's JSON object.
pub fn authorize(event: &mut ApiGatewayV2httpRequest, context: &Value) {
    let mut authorizer = ApiGatewayRequestAuthorizer::default();
    if let Value::Object(fields) = context {
        authorizer.fields = fields.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<HashMap<_, _>>();
    }
    event.request_context.authorizer = Some(authorizer);
}

/// The authorizer's event (payload 2.0) for a request to `method path` carrying `authorization`.
pub fn authorizer_request(
    method: &str,
    path: &str,
    authorization: Option<&str>,
) -> ApiGatewayV2CustomAuthorizerV2Request {
    let http = http_request(method, path, &[], None);
    let mut event = ApiGatewayV2CustomAuthorizerV2Request::default();
    event.version = Some("2.0".into());
    event.type_ = Some("REQUEST".into());
    event.route_arn = Some(format!("arn:aws:execute-api:us-east-1:123456789012:local/$default/{method}{path}"));
    event.route_key = http.route_key.clone();
    event.raw_path = http.raw_path.clone();
    event.raw_query_string = Some(String::new());
    if let Some(value) = authorization {
        event.identity_source = Some(vec![value.to_owned()]);
        event.headers = header_map(&[("authorization", value)]);
    }
    event.request_context = http.request_context;
    event
}

fn header_map(headers: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(k.as_bytes()), HeaderValue::from_str(v)) {
            map.append(name, value);
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_carry_the_catalog_route_and_parameters() {
        let mut event = http_request("DELETE", "/organizations/a/members/b", &[("authorization", "Bearer t")], None);
        authorize(&mut event, &serde_json::json!({"sub": "s"}));
        assert_eq!(event.route_key.as_deref(), Some("DELETE /organizations/{id}/members/{userId}"));
        assert_eq!(event.path_parameters.get("userId").map(String::as_str), Some("b"));
        let text = serde_json::to_string(&event).unwrap();
        assert!(text.contains("\"lambda\":{\"sub\":\"s\"}"), "{text}");
        let authorizer = authorizer_request("GET", "/profiles/me", Some("Bearer t"));
        assert_eq!(authorizer.route_key.as_deref(), Some("GET /profiles/me"));
        assert_eq!(authorizer.identity_source, Some(vec!["Bearer t".to_owned()]));
    }
}
