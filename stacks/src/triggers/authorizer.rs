//! The platform's Lambda authorizer as a trigger kind: API Gateway invokes it before every route whose decision is
//! not cached. `authorizer.rs` adds it with the API's authorizer and its permission; no module function has this
//! kind (the catalog refuses one).

use infra_dsl::Stack;
use route_registry::Function;
use serde_json::Value;

use super::{CostAt, Events, Kind, WireAt, Wired};
use crate::findings::Findings;
use crate::model::DeployedFunction;
use crate::StackError;

pub struct Authorizer;

impl Kind for Authorizer {
    fn name(&self) -> &'static str {
        "authorizer"
    }

    fn event(&self) -> super::EventShape {
        super::EventShape::AuthorizerRequest
    }

    fn wire(&self, _stack: &mut Stack, _at: &WireAt<'_>, d: &mut DeployedFunction) -> Result<Wired, StackError> {
        Err(StackError::Catalog {
            file: "lambdas/route-registry/src/lib.rs".to_owned(),
            function: d.function.binary,
            message: "only the platform's authorizer is started by API Gateway's authorizer; a module function \
                      cannot be"
                .to_owned(),
        })
    }

    fn reserved_concurrency(&self, platform: &crate::model::Platform) -> u32 {
        platform.settings.reserved_concurrency.authorizer
    }

    fn crash_meaning(&self) -> &'static str {
        "a crash or a timeout: the authorizer answers every token, good or bad"
    }

    fn events(&self, at: &CostAt<'_>, _f: &Function) -> Events {
        Events { per_month: at.requests_per_http_function, billed_ms: at.profile.warm_ms }
    }

    fn check_permission(&self, address: &str, p: &Value, target: &Function, apis: &[&str], out: &mut Findings) {
        super::http::api_permission(address, p, target, apis, out);
    }

    fn alarm_count(&self) -> usize {
        // Crashes, duration and throttles: it writes no request lines to take a 5xx rate of.
        3
    }
}
