//! The caller, as the Lambda authorizer described them on a payload-2.0 event
//! (`requestContext.authorizer.lambda.{sub, email, groups}`), plus their bearer token, which the handlers forward
//! to PostgREST unchanged.
//!
//! `groups` travels as a JSON-encoded array of strings in a string (authorizer context values are scalars). This
//! module trusts the context: only API Gateway, after the authorizer allowed the request, can put it there.

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use serde_json::Value;

use crate::ApiError;

/// Who is calling.
#[derive(Clone, PartialEq, Eq)]
pub struct Caller {
    /// The identity provider's subject: the Okta login (text; not a platform user id).
    pub sub: String,
    pub email: Option<String>,
    pub groups: Vec<String>,
    /// The caller's own access token, without the `Bearer ` scheme; never logged.
    pub token: String,
}

impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller").field("sub", &self.sub).field("groups", &self.groups).finish_non_exhaustive()
    }
}

impl Caller {
    /// The caller of a public route: nobody. No subject, no groups and no token, so nothing it reaches can act as
    /// anyone (PostgREST without a token is `anon`, which is granted nothing).
    pub fn anonymous() -> Caller {
        Caller { sub: String::new(), email: None, groups: Vec::new(), token: String::new() }
    }

    /// Whether the caller's token names `group` (the platform admin group, for instance).
    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }

    /// Reads the caller from the request's authorizer context and Authorization header; `Unauthorized` when
    /// either is absent or malformed.
    pub fn from_request(req: &Request) -> Result<Caller, ApiError> {
        let missing = || ApiError::Unauthorized("Missing caller identity".into());
        let Some(RequestContext::ApiGatewayV2(ctx)) = req.request_context_ref() else {
            return Err(missing());
        };
        let fields = ctx.authorizer.as_ref().map(|a| &a.fields);
        let get = |k: &str| fields.and_then(|f| f.get(k));
        let sub = match get("sub") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
            _ => return Err(missing()),
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
            Some(_) => return Err(ApiError::Unauthorized("Malformed caller groups".into())),
        };
        let token = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, token)| scheme.eq_ignore_ascii_case("bearer") && !token.is_empty())
            .map(|(_, token)| token.to_owned())
            .ok_or_else(missing)?;
        Ok(Caller { sub, email, groups, token })
    }
}
