//! The CORA module abstraction: a module is a catalog entry (its functions, what each uses, what starts each, its
//! routes), and the platform turns it into Lambdas with one least-privilege role each, log groups, alarms, the
//! wiring of each function's trigger, saved log queries, `moved` blocks for renames, and outputs. A module writes no
//! Terraform of its own.

use infra_dsl::aws::CloudwatchQueryDefinition;
use infra_dsl::{DslError, Expr, Stack};
use route_registry::{Function, Module, Rename};
use serde_json::Value;

use crate::model::{DeployedFunction, DeployedModule, Platform, Queues, Sources, Wiring};
use crate::triggers::{self, WireAt};
use crate::{alarms, delivery, lambda, names, service_key, StackError};

/// Adds a whole module: its service key when it has a service principal, what each function's trigger kind adds
/// before the functions (the queues producers name), each function with its alarms and its kind's wiring, the saved
/// log queries, the moves of renamed functions and routes, and the `<module>_api_routes` / `<module>_lambda_arns`
/// outputs.
pub fn add(
    stack: &mut Stack,
    platform: &Platform,
    sources: Sources<'_>,
    module: &Module,
) -> Result<DeployedModule, StackError> {
    for f in module.functions {
        triggers::of(&f.trigger).check(platform, module, f)?;
    }
    let module_local = names::snake(module.name);
    let service_key = match module.has_service_identity() {
        true => Some(service_key::add(stack, platform, module)?),
        false => None,
    };
    let mut queues: Vec<(Function, Queues)> = Vec::new();
    for f in module.functions {
        if let Some(q) = triggers::of(&f.trigger).add_before(stack, platform, f)? {
            queues.push((*f, q));
        }
    }
    let mut routes_out = Vec::new();
    let mut arns_out = serde_json::Map::new();
    let mut deployed = Vec::new();
    let mut subscribers = Vec::new();
    let mut public_routes = Vec::new();
    for f in module.functions {
        let kind = triggers::of(&f.trigger);
        let dlq = match kind.dead_letter_queue() {
            true => Some(triggers::add_dlq(stack, platform, f, None)?),
            false => None,
        };
        let wiring = Wiring { queues: &queues, dlq: dlq.as_ref(), service_key: service_key.as_ref() };
        let mut d = lambda::add(stack, platform, *f, wiring, &[])?;
        alarms::add_lambda(stack, platform, &mut d, kind.crash_meaning(), kind.reserved_concurrency(platform))?;
        let at = WireAt {
            platform,
            module,
            gateway: sources.gateway,
            schedules: sources.schedules,
            queues: &queues,
            dlq: dlq.as_ref(),
        };
        let wired = kind.wire(stack, &at, &mut d)?;
        delivery::add_group(sources.delivery, stack, platform, &mut d)?;
        routes_out.extend(wired.routes);
        public_routes.extend(wired.public_routes);
        if let Some(permission) = wired.subscription {
            subscribers.push((d.clone(), permission));
        }
        arns_out.insert(names::snake(f.name), d.lambda.arn().into());
        deployed.push(d);
    }
    if !platform.emulator {
        let groups: Vec<Expr> = deployed.iter().map(|d| d.log_group.name()).collect();
        add_queries(stack, &platform.settings.stage, module.name, &module_local, &groups)?;
    }
    add_moves(stack, module, &deployed)?;
    stack.output(
        &format!("{module_local}_api_routes"),
        &format!("The routes {} serves, with their integrations.", module.name),
        Value::Array(routes_out),
    )?;
    stack.output(
        &format!("{module_local}_lambda_arns"),
        &format!("The ARNs of {}'s functions, by function.", module.name),
        Value::Object(arns_out),
    )?;
    Ok(DeployedModule { module: *module, functions: deployed, subscribers, public_routes })
}

/// Renamed functions and routes keep their resources: Terraform moves them to the new addresses.
fn add_moves(stack: &mut Stack, module: &Module, deployed: &[DeployedFunction]) -> Result<(), DslError> {
    for rename in module.renamed {
        match rename {
            Rename::Function { from, to } => {
                let Some(d) = deployed.iter().find(|d| d.function.binary == *to) else {
                    return Err(DslError::Dangling {
                        from: format!("{} renamed function {from}", module.name),
                        to: (*to).to_owned(),
                    });
                };
                let (old, new) = (names::snake(from), names::local(&d.function));
                for address in &d.addresses {
                    let (ty, name) = address.split_once('.').unwrap_or(("", address));
                    if let Some(rest) = name.strip_prefix(&new) {
                        stack.moved_address(&format!("{ty}.{old}{rest}"), address)?;
                    }
                }
            }
            Rename::Route { from, to } => {
                let new = format!("aws_apigatewayv2_route.{}", names::route_key_local(to));
                stack.moved_address(&format!("aws_apigatewayv2_route.{}", names::route_key_local(from)), &new)?;
            }
        }
    }
    Ok(())
}

/// The saved CloudWatch Logs Insights queries of a module: the seed's three (field names are the request line's:
/// `level`, `message`, `user_email`, `error`, `duration`, `endpoint`), cold starts from Lambda's `REPORT` lines, and
/// the events of functions without a caller that failed or met answers that looked wrong (what a dead-letter or an
/// anomalies alarm sends someone to).
pub const QUERIES: [(&str, &str, &str); 5] = [
    (
        "errors",
        "errors",
        "fields @timestamp, message, endpoint, status, user_email, error\n| filter level = \"ERROR\"\n| sort @timestamp desc\n| limit 100",
    ),
    (
        "slow_requests",
        "slow requests",
        "fields @timestamp, message, endpoint, user_email, duration\n| filter duration > 5000\n| sort duration desc\n| limit 50",
    ),
    ("requests_by_endpoint", "requests by endpoint", "fields endpoint\n| stats count() by endpoint"),
    (
        "cold_starts",
        "cold starts",
        "filter @type = \"REPORT\" and ispresent(@initDuration)\n| stats count() as cold_starts, avg(@initDuration) as avg_init_ms, max(@initDuration) as max_init_ms by bin(1h)",
    ),
    (
        "failed_events",
        "failed events",
        "fields @timestamp, Function, event, subject, Redeliveries, error, anomalies\n| filter EventFailures > 0 or Anomalies > 0\n| sort @timestamp desc\n| limit 100",
    ),
];

/// Each query is saved as `{stage}/{module}/{title}` (CloudWatch shows the slashes as folders), so that dev's and a
/// preview's in one account are told apart.
fn add_queries(
    stack: &mut Stack,
    stage: &str,
    module: &str,
    module_local: &str,
    log_groups: &[Expr],
) -> Result<(), DslError> {
    for (local, title, query) in QUERIES {
        stack.add(
            CloudwatchQueryDefinition::new(
                format!("{module_local}_{local}"),
                format!("{stage}/{module}/{title}"),
                query,
            )
            .log_group_names(log_groups.to_vec()),
        )?;
    }
    Ok(())
}
