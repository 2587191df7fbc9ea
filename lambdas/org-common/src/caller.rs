//! The caller, as the Lambda authorizer described them on a payload-2.0 event
//! (`requestContext.authorizer.lambda.{sub, email, groups}`).
//!
//! `groups` travels as a JSON-encoded array in a string (`"[\"admin\"]"`), because an authorizer's context values
//! are scalars; a real array is accepted too. This module trusts the context: only API Gateway, after the
//! authorizer allowed the request, can put it there.

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use serde_json::Value;

use crate::ApiError;

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The identity provider's subject (text; not a platform user id).
    pub sub: String,
    pub email: Option<String>,
    pub groups: Vec<String>,
}

impl Caller {
    pub fn is_admin(&self) -> bool {
        self.groups.iter().any(|g| g == "admin")
    }

    /// `Forbidden` unless the caller is in the `admin` group.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(ApiError::Forbidden("Admin access required".into()))
        }
    }

    /// Reads the caller from the request's authorizer context; `Unauthorized` when absent or without `sub`.
    pub fn from_request(req: &Request) -> Result<Caller, ApiError> {
        let Some(RequestContext::ApiGatewayV2(ctx)) = req.request_context_ref() else {
            return Err(ApiError::Unauthorized("Missing caller identity".into()));
        };
        let fields = ctx.authorizer.as_ref().map(|a| &a.fields);
        let get = |k: &str| fields.and_then(|f| f.get(k));
        let sub = match get("sub") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
            _ => return Err(ApiError::Unauthorized("Missing caller identity".into())),
        };
        let email = match get("email") {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            _ => None,
        };
        let groups = match get("groups") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) if s.is_empty() => Vec::new(),
            Some(Value::String(s)) => serde_json::from_str::<Vec<String>>(s)
                .map_err(|_| ApiError::Unauthorized("Malformed caller groups".into()))?,
            Some(Value::Array(items)) => items.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
            Some(_) => return Err(ApiError::Unauthorized("Malformed caller groups".into())),
        };
        Ok(Caller { sub, email, groups })
    }
}
