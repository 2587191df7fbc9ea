//! Dispatch from the catalog: a function's table pairs each catalog [`Route`] it owns with an operation, and
//! [`dispatch`] picks the entry for an HTTP API v2 event, by `routeKey` when API Gateway sent one and by method
//! and path otherwise (the local API, a `$default` route). A path the function does not serve is 404; a served
//! path with another method is 405. The route's [`Auth`] is enforced here, once, before the operation runs. Every
//! request ends with one request line (see [`crate::metrics`]).

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use route_registry::{Auth, Route};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::db::Session;
use crate::okta::OktaSession;
use crate::parse::{parse_body, uuid_param};
use crate::response::into_response;
use crate::{metrics, ApiError, Caller, Clients, Container, Reply};

/// One matched, authorized request, handed to an operation.
#[derive(Debug)]
pub struct Call {
    pub caller: Caller,
    pub route: &'static Route,
    params: Vec<(&'static str, String)>,
    body: Vec<u8>,
    content_type: Option<String>,
    clients: Arc<Clients>,
    /// When the answer must be given (see [`crate::timeouts::deadline`]).
    pub deadline: Instant,
}

impl Call {
    /// A path parameter by name (`id`, `userId`).
    pub fn param(&self, name: &str) -> Result<&str, ApiError> {
        self.params
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
            .ok_or_else(|| ApiError::internal(format!("route {} has no parameter {name}", self.route.key())))
    }

    /// A path parameter that must be a UUID (400 otherwise).
    pub fn uuid(&self, name: &str) -> Result<Uuid, ApiError> {
        uuid_param(name, self.param(name)?)
    }

    /// The JSON body as a typed, validated request (400 naming the field otherwise).
    pub fn body<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        parse_body(&self.body)
    }

    /// The body as sent, for a route that takes more than a small JSON document (`Route::upload`): its bytes and
    /// media type (without parameters), after the route's size and media-type rules (400 otherwise).
    pub fn upload(&self) -> Result<(&[u8], &str), ApiError> {
        let upload =
            self.route.upload.ok_or_else(|| ApiError::internal(format!("{} takes no upload", self.route.key())))?;
        if self.body.len() > upload.max_bytes as usize {
            return Err(ApiError::BadRequest(format!("The request body exceeds {} bytes", upload.max_bytes)));
        }
        let media = match self.content_type.as_deref() {
            None => upload.media_types.first().copied().unwrap_or("application/json"),
            Some(given) => {
                let essence = given.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
                upload.media_types.iter().copied().find(|m| *m == essence).ok_or_else(|| {
                    ApiError::BadRequest(format!(
                        "Content-Type {essence} is not taken here; send one of {}",
                        upload.media_types.join(", ")
                    ))
                })?
            }
        };
        Ok((&self.body, media))
    }

    /// The documents bucket, under the prefix this function declares.
    pub fn documents(&self) -> Result<&crate::documents::Documents, ApiError> {
        self.clients.documents.as_ref().ok_or_else(|| ApiError::internal("this function declares no documents prefix"))
    }

    /// The queues this function declares sending to.
    pub fn queues(&self) -> Result<&crate::queue_client::Queues, ApiError> {
        self.clients.queues.as_ref().ok_or_else(|| ApiError::internal("this function declares no queue"))
    }

    /// The database, as the caller, within the request's deadline.
    pub fn db(&self) -> Result<Session<'_>, ApiError> {
        let db = self.clients.db.as_ref().ok_or_else(|| ApiError::internal("this function declares no database"))?;
        Ok(db.session(&self.caller.token, self.deadline))
    }

    /// Okta (functions that declare `Use::Okta`), within the request's deadline.
    pub fn okta(&self) -> Result<OktaSession<'_>, ApiError> {
        let okta =
            self.clients.okta.as_ref().ok_or_else(|| ApiError::internal("this function declares no Okta use"))?;
        Ok(okta.session(self.deadline))
    }
}

/// A selected table entry: the route, its operation, and the path parameters by name.
type Resolved<'t, Op> = (&'t Route, &'t Op, Vec<(&'static str, String)>);

/// Which table entry a request selects.
fn resolve<'t, Op>(
    table: &'t [(Route, Op)],
    method: &str,
    path: &str,
    route_key: Option<&str>,
) -> Result<Resolved<'t, Op>, ApiError> {
    let by_key = route_key.and_then(|k| table.iter().find(|(r, _)| r.key() == k));
    let candidates: Box<dyn Iterator<Item = &(Route, Op)>> = match by_key {
        Some(entry) => Box::new(std::iter::once(entry)),
        None => Box::new(table.iter()),
    };
    let mut path_served = false;
    for (route, op) in candidates {
        if let Some(params) = route.match_path(path) {
            if route.method.as_str() == method {
                let params = params.into_iter().map(|(n, v)| (n, v.to_owned())).collect();
                return Ok((route, op, params));
            }
            path_served = true;
        }
    }
    if path_served || table.iter().any(|(r, _)| r.match_path(path).is_some()) {
        Err(ApiError::MethodNotAllowed)
    } else {
        Err(ApiError::NotFound("Not found".into()))
    }
}

/// Answers one request with the table's operations; never panics, never returns a non-envelope body.
pub async fn dispatch<Op, F, Fut>(
    table: &'static [(Route, Op)],
    container: &Container,
    req: Request,
    run: F,
) -> Response<Body>
where
    Op: Copy + 'static,
    F: FnOnce(Op, Call) -> Fut,
    Fut: Future<Output = Result<Reply, ApiError>>,
{
    let start = Instant::now();
    let (route_key, request_id) = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => (ctx.route_key.clone(), ctx.request_id.clone()),
        _ => (None, None),
    };
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let mut endpoint = String::from("unmatched");
    let mut user_email = None;

    let result = async {
        let (route, op, params) = resolve(table, &method, &path, route_key.as_deref())?;
        endpoint = route.key();
        // A public route (`Auth::Public`) has no authorizer: nothing in the request names a caller, and nothing in it
        // is taken as one (a forged authorizer context or token is ignored).
        let caller = match route.is_public() {
            true => Caller::anonymous(),
            false => Caller::from_request(&req)?,
        };
        user_email = caller.email.clone();
        if route.auth == Auth::Admin && !caller.in_group(container.admin_group()) {
            return Err(ApiError::Forbidden("Platform admin access required".into()));
        }
        let clients = container.clients().await?;
        let body = req.body().to_vec();
        let content_type = req.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let deadline = crate::timeouts::deadline(start, route.function.timeout_s);
        run(*op, Call { caller, route, params, body, content_type, clients, deadline }).await
    }
    .await;

    let status = match &result {
        Ok(reply) => reply.status,
        Err(e) => e.status(),
    };
    let function = container.function();
    metrics::emit(&metrics::Record {
        module: function.module,
        function: function.name,
        route: &endpoint,
        request_id: request_id.as_deref().unwrap_or_default(),
        user_email: user_email.as_deref().unwrap_or_default(),
        status,
        latency_ms: start.elapsed().as_secs_f64() * 1000.0,
        error: result.as_ref().err(),
    });
    into_response(&result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use route_registry::modules::org;

    const TABLE: &[(Route, u8)] = &[(org::LIST_MEMBERS, 1), (org::ADD_MEMBER, 2), (org::DELETE_MEMBER, 3)];

    #[test]
    fn resolves_by_route_key_then_path() {
        let (r, op, params) =
            resolve(TABLE, "DELETE", "/organizations/a/members/b", Some("DELETE /organizations/{id}/members/{userId}"))
                .unwrap();
        assert_eq!((r.key(), *op), (org::DELETE_MEMBER.key(), 3));
        assert_eq!(params, [("id", "a".to_owned()), ("userId", "b".to_owned())]);
        let (_, op, _) = resolve(TABLE, "POST", "/organizations/a/members", None).unwrap();
        assert_eq!(*op, 2);
    }

    /// The answer a client gets, in the envelope, for a path no route of the function has and for another method.
    #[test]
    fn unknown_paths_and_wrong_methods_answer_404_and_405_in_the_envelope() {
        crate::metrics::capture();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let http = crate::http_client::client().unwrap();
        let container = Container::with_config(org::MEMBERS, http, crate::Config::default());
        for (method, path, status, error) in [
            ("GET", "/no/such/path", 404, "Not found"),
            ("PATCH", "/organizations/a/members", 405, "Method not allowed"),
        ] {
            let event = crate::events::http_request(method, path, &[], None);
            let response =
                runtime.block_on(dispatch(TABLE, &container, crate::events::into_request(event), |_, _| async {
                    Err::<Reply, _>(ApiError::internal("no operation runs"))
                }));
            assert_eq!(response.status().as_u16(), status, "{method} {path}");
            let body: serde_json::Value = match response.body() {
                Body::Text(t) => serde_json::from_str(t).unwrap(),
                other => panic!("{other:?}"),
            };
            assert_eq!(body, serde_json::json!({"success": false, "error": error}), "{method} {path}");
        }
    }

    /// A public route's handler gets nobody as its caller, whatever the request claims (a forged authorizer context
    /// and a bearer token are both ignored); the same route behind the authorizer reads them.
    #[test]
    fn a_public_routes_handler_gets_an_anonymous_caller_whatever_the_request_claims() {
        use route_registry::fixtures::{RECEIVE, RECEIVER as QUEUEING};
        use route_registry::{Auth, Function};
        // The fixture's receiver without its queue: this test's container has no queue configured.
        const RECEIVER: Function = Function { uses: &[], ..QUEUEING };
        const PUBLIC: &[(Route, u8)] = &[(Route { function: RECEIVER, ..RECEIVE }, 1)];
        const MARKED_OFF: &[(Route, u8)] = &[(Route { function: RECEIVER, auth: Auth::User, ..RECEIVE }, 1)];
        crate::metrics::capture();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let http = crate::http_client::client().unwrap();
        let container = Container::with_config(RECEIVER, http, crate::Config::default());
        let claimed = || {
            let mut event =
                crate::events::http_request("POST", "/hooks/example", &[("authorization", "Bearer forged")], None);
            crate::events::authorize(
                &mut event,
                &serde_json::json!({"sub": "alice@example.com", "groups": "[\"admins\"]"}),
            );
            crate::events::into_request(event)
        };
        let seen = |table: &'static [(Route, u8)]| {
            let response = runtime.block_on(dispatch(table, &container, claimed(), |_, call| async move {
                Ok(Reply::ok(serde_json::json!({"sub": call.caller.sub, "token": call.caller.token})))
            }));
            match response.body() {
                Body::Text(t) => serde_json::from_str::<serde_json::Value>(t).unwrap()["data"].clone(),
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(seen(PUBLIC), serde_json::json!({"sub": "", "token": ""}));
        assert_eq!(seen(MARKED_OFF), serde_json::json!({"sub": "alice@example.com", "token": "forged"}));
    }

    #[test]
    fn unknown_path_is_404_and_wrong_method_is_405() {
        assert_eq!(resolve(TABLE, "GET", "/nope", None).unwrap_err().status(), 404);
        assert_eq!(resolve(TABLE, "PATCH", "/organizations/a/members", None).unwrap_err().status(), 405);
        // A route key this function does not own falls back to the path.
        assert_eq!(resolve(TABLE, "GET", "/profiles/me", Some("GET /profiles/me")).unwrap_err().status(), 404);
    }
}
