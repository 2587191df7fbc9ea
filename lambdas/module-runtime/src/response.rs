//! The response envelope: `{"success": true, "data": …}` or `{"success": false, "error": "…"}`, always JSON, with
//! `Retry-After` on a 503.
//!
//! No `Access-Control-Allow-Origin` header is set here: CORS belongs to the API's allow-list (API Gateway answers
//! preflights and adds the headers), and a wildcard from the function would defeat it.

use lambda_http::http::header::{CONTENT_TYPE, LOCATION, RETRY_AFTER};
use lambda_http::http::{HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use serde_json::{json, Value};

use crate::ApiError;

/// A successful answer: a status (200, 201, 202), the `data` payload, and where the resource is (`Location`).
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub data: Value,
    pub location: Option<String>,
}

impl Reply {
    pub fn ok(data: Value) -> Self {
        Reply { status: 200, data, location: None }
    }

    pub fn created(data: Value) -> Self {
        Reply { status: 201, data, location: None }
    }

    /// 202: the work was accepted and runs on; `location` is where its state can be read (`/tasks/{id}`).
    pub fn accepted(data: Value, location: String) -> Self {
        Reply { status: 202, data, location: Some(location) }
    }
}

/// The envelope body of a result.
pub fn envelope(result: &Result<Reply, ApiError>) -> (u16, Value) {
    match result {
        Ok(reply) => (reply.status, json!({ "success": true, "data": reply.data })),
        Err(e) => (e.status(), json!({ "success": false, "error": e.to_string() })),
    }
}

/// Turns a handler result into the HTTP response API Gateway returns.
pub fn into_response(result: &Result<Reply, ApiError>) -> Response<Body> {
    let (status, body) = envelope(result);
    let mut response = Response::new(Body::Text(body.to_string()));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(seconds) = result.as_ref().err().and_then(ApiError::retry_after) {
        response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    if let Some(location) = result.as_ref().ok().and_then(|r| r.location.as_deref()) {
        if let Ok(value) = HeaderValue::from_str(location) {
            response.headers_mut().insert(LOCATION, value);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Dependency;

    #[test]
    fn success_and_error_envelopes() {
        let ok = into_response(&Ok(Reply::created(json!({"id": 1}))));
        assert_eq!(ok.status(), 201);
        assert_eq!(ok.headers()["content-type"], "application/json");
        assert!(ok.headers().get("access-control-allow-origin").is_none());
        assert_eq!(ok.body(), &Body::Text(r#"{"success":true,"data":{"id":1}}"#.into()));

        let err = into_response(&Err(ApiError::Internal("db password wrong".into())));
        assert_eq!(err.status(), 500);
        assert_eq!(err.body(), &Body::Text(r#"{"success":false,"error":"Internal server error"}"#.into()));

        let busy = ApiError::Unavailable { dependency: Dependency::Database, retry_after_s: 7, detail: "x".into() };
        let busy = into_response(&Err(busy));
        assert_eq!((busy.status().as_u16(), &busy.headers()["retry-after"]), (503, &HeaderValue::from(7u64)));
    }
}
