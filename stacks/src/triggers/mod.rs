//! What starts a function, one file per kind of the catalog's [`Trigger`]: each file owns everything the stacks know
//! about its kind (the catalog's refusals, the wiring and its alarms, the grants the trigger implies, reserved
//! concurrency, dashboard widgets, cost lines, IAM rules and what the deploy rehearsal checks), and everything else
//! asks it through [`Kind`]. [`of`] is the one match on the catalog's trigger in the stacks.
//!
//! Architecture invariant: outside the catalog, a trigger kind is named only here (this dispatch and the kind's own
//! file), in the runtime's `serve`/`Handler` and in the local API's runner (`xtask` tidy,
//! `each_trigger_kind_is_named_in_one_place_per_layer`). A new kind is a catalog variant, a file here, an arm in
//! the runtime and the local API, and its tests.

mod authorizer;
mod http;
mod objects;
mod queue;
mod schedule;

use std::collections::BTreeMap;

use infra_dsl::aws::{Apigatewayv2Route, LambdaPermission, SchedulerScheduleGroup, SqsQueue};
use infra_dsl::{DslError, Ref, Stack};
use route_registry::{Function, Module, Trigger};
use serde_json::Value;

use crate::env::Settings;
use crate::findings::Findings;
use crate::grants::TriggerQueues;
use crate::model::{DeployedFunction, Gateway, Platform, Queues};
use crate::pricing::{Line, Prices, Profile};
use crate::StackError;

pub use objects::{add_notification, check_documents, EVENTS as OBJECT_EVENTS};
pub use queue::{add_dlq, DATA_KEY_REUSE_S, DLQ_RETENTION_S, RETENTION_S};
pub use schedule::{add_group, add_group_alarm, MAX_RETRIES};

/// How long a message may wait before the queue-age alarm fires.
pub const QUEUE_AGE_S: u32 = queue::AGE_S;

/// The kind of a catalog trigger.
pub fn of(trigger: &Trigger) -> &'static dyn Kind {
    match trigger {
        Trigger::Http => &http::Http,
        Trigger::Queue(_) => &queue::Queue,
        Trigger::Schedule(_) => &schedule::Schedule,
        Trigger::ObjectsCreated { .. } => &objects::ObjectsCreated,
        Trigger::Authorizer => &authorizer::Authorizer,
    }
}

/// Every kind, for the reviews that check resources by kind rather than by function.
pub const ALL: [&dyn Kind; 5] =
    [&http::Http, &queue::Queue, &schedule::Schedule, &objects::ObjectsCreated, &authorizer::Authorizer];

/// The event a function of a kind receives, as AWS sends it (`aws_lambda_events` has each type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventShape {
    /// An API Gateway HTTP API request (payload 2.0).
    ApiRequest,
    /// An API Gateway HTTP API authorizer request (payload 2.0).
    AuthorizerRequest,
    /// A batch of SQS messages.
    Sqs,
    /// An EventBridge event.
    EventBridge,
    /// An S3 event notification.
    S3,
}

/// What a function of a module is wired with.
#[derive(Debug, Clone, Copy)]
pub struct WireAt<'a> {
    pub platform: &'a Platform,
    pub module: &'a Module,
    pub gateway: &'a Gateway,
    /// The environment's schedule group (present when some module has a schedule).
    pub schedules: Option<&'a Ref<SchedulerScheduleGroup>>,
    /// The queues of the module's queue-triggered functions, by consumer.
    pub queues: &'a [(Function, Queues)],
    /// The function's own dead-letter queue, when its kind has one ([`Kind::dead_letter_queue`]).
    pub dlq: Option<&'a Ref<SqsQueue>>,
}

/// What wiring a function produced for the module's outputs and the platform.
#[derive(Debug, Default)]
pub struct Wired {
    /// The routes it serves, as the module's `api_routes` output lists them.
    pub routes: Vec<Value>,
    /// Its invoke permission for the documents bucket, which the bucket's one notification waits for.
    pub subscription: Option<Ref<LambdaPermission>>,
    /// Its public routes (no authorizer) by route key: the API's stage throttles each, once they exist.
    pub public_routes: Vec<(String, Ref<Apigatewayv2Route>)>,
}

/// A month of events of a function, for the cost model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Events {
    pub per_month: f64,
    /// The billed milliseconds of one.
    pub billed_ms: f64,
}

/// What the cost model gives a kind to price a function's month.
#[derive(Debug, Clone, Copy)]
pub struct CostAt<'a> {
    pub settings: &'a Settings,
    pub profile: &'a Profile,
    pub prices: &'a Prices,
    /// The module's API requests for each of its HTTP functions.
    pub requests_per_http_function: f64,
}

/// The synthesized document as the IAM rules read it: the catalog's functions by local name.
#[derive(Debug, Clone, Copy)]
pub struct IamAt<'a> {
    pub doc: &'a Value,
    pub settings: &'a Settings,
    pub catalog: &'a BTreeMap<String, Function>,
    /// The route keys the catalog marks public (`Auth::Public`): the only routes that may be served without the
    /// authorizer.
    pub public_routes: &'a [String],
}

/// A role the stacks create to start a function on its trigger's behalf (a schedule's), as the IAM rules check it:
/// the service that may assume it, whether only this account's resources may, and what it may do.
#[derive(Debug, Clone)]
pub struct InvokerRole {
    pub role: String,
    pub used_by: String,
    pub function: Function,
    pub service: &'static str,
    pub account_bound: bool,
    pub grants: Vec<crate::grants::Grant>,
}

/// The applied state of a rehearsal, as a kind's checks read it.
pub trait State {
    /// The values of `TYPE.name`, or why not.
    fn values(&self, ty: &str, name: &str) -> Result<&Value, String>;
}

/// Everything the stacks know about one kind of trigger.
pub trait Kind: Sync {
    /// The kind's name, as tables and logs show it.
    fn name(&self) -> &'static str;

    /// The event a function of this kind receives.
    fn event(&self) -> EventShape;

    /// Refuses, naming the catalog file, what the catalog declares that cannot work in this environment.
    fn check(&self, _platform: &Platform, _module: &Module, _f: &Function) -> Result<(), StackError> {
        Ok(())
    }

    /// What the kind adds before any function of the module (the queue its producers name in their environment).
    fn add_before(&self, _stack: &mut Stack, _platform: &Platform, _f: &Function) -> Result<Option<Queues>, DslError> {
        Ok(None)
    }

    /// Whether the function gets a dead-letter queue of its own with it, for failed asynchronous runs.
    fn dead_letter_queue(&self) -> bool {
        false
    }

    /// Wires the function to what starts it, with the alarms its kind needs beyond every function's.
    fn wire(&self, stack: &mut Stack, at: &WireAt<'_>, d: &mut DeployedFunction) -> Result<Wired, StackError>;

    /// Whether the function is started through the environment's schedule group (which the platform then adds, with
    /// its alarm and dashboard row).
    fn uses_schedule_group(&self) -> bool {
        false
    }

    /// Whether the function reserves one concurrent execution (runs that never overlap) instead of a share.
    fn reserves_one(&self) -> bool {
        false
    }

    /// The function's reserved concurrency in this environment: one, or the environment's share.
    fn reserved_concurrency(&self, platform: &Platform) -> u32 {
        match self.reserves_one() {
            true => crate::env::SCHEDULED,
            false => platform.module_function_concurrency,
        }
    }

    /// What an invocation error means for this kind (the crash alarm's description).
    fn crash_meaning(&self) -> &'static str;

    /// What a message in the function's dead-letter queue is.
    fn dead_letter_meaning(&self, _f: &Function) -> String {
        "runs failed after Lambda's retries (or could not be delivered)".to_owned()
    }

    /// The queues the function's role reaches because of its trigger.
    fn queues(&self, _f: &Function) -> TriggerQueues {
        TriggerQueues::default()
    }

    /// The dashboard's depth lines of the function's queues: `(queue name, label)`.
    fn queue_depths(&self, d: &DeployedFunction) -> Vec<(String, &'static str)> {
        match self.dead_letter_queue() {
            true => vec![(format!("{}-dlq", d.name), "dead letters")],
            false => Vec::new(),
        }
    }

    /// Whether its events grow with the API's traffic (a message or a document per hundred requests, in the default
    /// profile), rather than following from the catalog (a schedule's runs) or being the requests themselves.
    fn events_follow_traffic(&self) -> bool {
        false
    }

    /// A month of the function's events at `at`'s traffic.
    fn events(&self, at: &CostAt<'_>, f: &Function) -> Events;

    /// The cost lines of what starts the function (its trigger's own requests), for `events` a month.
    fn cost_lines(&self, _at: &CostAt<'_>, _owner: &str, _f: &Function, _events: f64) -> Vec<Line> {
        Vec::new()
    }

    /// The label of the function's Lambda duration line.
    fn duration_label(&self, f: &Function, _events: &Events) -> String {
        format!("{}: Lambda duration (arm64)", f.name)
    }

    /// The roles the stacks create to start a function of this kind, for the IAM rules.
    fn invoker_roles(&self, _at: &IamAt<'_>, _out: &mut Findings) -> Vec<InvokerRole> {
        Vec::new()
    }

    /// Whether a permission to invoke `target` is the one this kind grants: the principal, the source and the
    /// account (the action is checked for every permission alike).
    fn check_permission(&self, address: &str, permission: &Value, target: &Function, apis: &[&str], out: &mut Findings);

    /// The IAM rules over resources only this kind creates (a queue's event source mapping).
    fn check_resources(&self, _at: &IamAt<'_>, _out: &mut Findings) {}

    /// How many alarms a function of this kind has, its three Lambda alarms included.
    fn alarm_count(&self) -> usize;

    /// What the applied state must hold for a function of this kind beyond what every function holds.
    fn verify(&self, _state: &dyn State, _f: &Function) -> Vec<String> {
        Vec::new()
    }

    /// How the local API starts it, in a line (`cargo xtask dev` prints it), if it is started locally.
    fn local_description(&self, _f: &Function) -> Option<String> {
        None
    }
}

/// The reserved concurrency of a function in this environment (its kind's).
pub fn reserved_concurrency(platform: &Platform, f: &Function) -> u32 {
    of(&f.trigger).reserved_concurrency(platform)
}

/// A catalog's module functions as reserved concurrency counts them: a share each, or one each for the kinds whose
/// runs never overlap.
pub fn module_functions(catalog: &[Module]) -> crate::env::ModuleFunctions {
    crate::env::ModuleFunctions {
        serving: count(catalog, |k| !k.reserves_one()),
        scheduled: count(catalog, |k| k.reserves_one()),
    }
}

/// How many functions of the catalog have a kind `pick` chooses.
pub fn count(catalog: &[Module], pick: impl Fn(&dyn Kind) -> bool) -> u32 {
    catalog.iter().flat_map(|m| m.functions.iter()).filter(|f| pick(of(&f.trigger))).count() as u32
}
