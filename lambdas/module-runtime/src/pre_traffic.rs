//! The pre-traffic check: requests derived from the catalog that a new version of a function must answer before it
//! takes any traffic (`cargo xtask deploy` invokes the version with each, then starts its deployment only if every
//! answer is right). They do nothing: a route called without a caller is refused before any work (the same wall the
//! authorizer puts in front of it, held by the function itself); a queue function gets an empty batch; an
//! objects-created function an event with no object; a scheduled function a run marked as a check
//! ([`CHECK_DETAIL_TYPE`]), which loads its configuration and returns; the authorizer a request without a token,
//! which it denies. What they prove: the version starts, its handler is the one the catalog names, its configuration
//! loads, and its auth wall stands.

use route_registry::Function;
use serde_json::{json, Value};

pub use crate::registration::CheckKind as Kind;
pub use crate::work::CHECK_DETAIL_TYPE;

/// What a right answer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// An HTTP response refusing the request: 401 or 403.
    Refused,
    /// A queue batch response with no failed message.
    NoFailures,
    /// A normal return (no function error).
    Completes,
    /// The authorizer's `isAuthorized: false`.
    Denied,
}

/// One request of the check.
#[derive(Debug, Clone)]
pub struct Probe {
    /// What it is, for the report (`GET /profiles/me without a token`).
    pub what: String,
    pub event: Value,
    pub expect: Expect,
}

/// A path of `route` with every parameter filled (a UUID no row has).
pub fn concrete_path(template: &str) -> String {
    template
        .split('/')
        .map(|segment| match segment.starts_with('{') {
            true => "00000000-0000-4000-8000-000000000000",
            false => segment,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The check's requests for `f`.
pub fn probes(f: &Function) -> Vec<Probe> {
    match crate::registration::check_kind(&f.trigger) {
        Kind::Routes => route_registry::all_routes()
            .filter(|r| r.function == *f)
            .map(|r| {
                let path = concrete_path(r.path);
                let method = r.method.to_string();
                let event = api_events::http_request(&method, &path, &[], None);
                Probe {
                    what: format!("{method} {path} without a token"),
                    event: serde_json::to_value(event).unwrap_or_default(),
                    expect: Expect::Refused,
                }
            })
            .collect(),
        Kind::EmptyBatch => {
            vec![Probe { what: "an empty batch".into(), event: json!({"Records": []}), expect: Expect::NoFailures }]
        }
        Kind::NoObjects => {
            vec![Probe {
                what: "an event without objects".into(),
                event: json!({"Records": []}),
                expect: Expect::Completes,
            }]
        }
        Kind::CheckingRun => vec![Probe {
            what: "a run marked as a check".into(),
            event: json!({
                "version": "0", "id": "pre-traffic-check", "detail-type": CHECK_DETAIL_TYPE,
                "source": "career.deploy", "account": "000000000000", "time": "2026-01-01T00:00:00Z",
                "region": "us-east-1", "resources": [], "detail": {}
            }),
            expect: Expect::Completes,
        }],
        Kind::Authorizer => {
            let route = route_registry::all_routes().next();
            let (method, path) = route.map(|r| (r.method.to_string(), concrete_path(r.path))).unwrap_or_default();
            let event = api_events::authorizer_request(&method, &path, None);
            vec![Probe {
                what: format!("{method} {path} without a token"),
                event: serde_json::to_value(event).unwrap_or_default(),
                expect: Expect::Denied,
            }]
        }
    }
}

/// Judges an answer: `payload` is what the invocation returned, `function_error` whether Lambda reported one.
pub fn judge(probe: &Probe, payload: &Value, function_error: bool) -> Result<(), String> {
    if function_error {
        return Err(format!("{}: the function failed: {payload}", probe.what));
    }
    let right = match probe.expect {
        Expect::Refused => matches!(payload["statusCode"].as_u64(), Some(401 | 403)),
        Expect::NoFailures => payload["batchItemFailures"].as_array().is_some_and(Vec::is_empty),
        Expect::Completes => true,
        Expect::Denied => payload["isAuthorized"] == false,
    };
    match right {
        true => Ok(()),
        false => Err(format!("{}: expected {:?}, answered {payload}", probe.what, probe.expect)),
    }
}
