//! The context every builder starts from and the deployed things builders hand each other: the account and its
//! settings, the platform resources functions are wired to, the API and its authorizer, a deployed function with its
//! alarms and addresses, a queue and its dead-letter queue, a deployed module.
//!
//! Architecture invariant: builders import this model, never each other's assemblers; `platform.rs` imports the
//! builders and nothing imports it back (a tidy test finds module cycles).

use infra_dsl::aws::data::{CallerIdentity, Partition};
use infra_dsl::aws::{
    Apigatewayv2Api, Apigatewayv2Authorizer, Apigatewayv2Route, CloudwatchLogGroup, CloudwatchMetricAlarm,
    CodedeployApp, IamRole, IamRolePolicy, KmsKey, LambdaAlias, LambdaFunction, LambdaPermission, S3Bucket,
    SchedulerScheduleGroup, SecretsmanagerSecret, SnsTopic, SqsQueue,
};
use infra_dsl::{Expr, Lifecycle, Ref};
use route_registry::{Function, Module};

use crate::env::Settings;

/// Resource tags: sorted by key, so the output is stable.
pub type Tags = std::collections::BTreeMap<String, String>;

/// Tags from pairs.
pub fn tags(pairs: &[(&str, &str)]) -> Tags {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

/// Which identity provider the authorizer trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Issuer {
    /// The environment's Okta authorization server (the settings table).
    Okta,
    /// A local development issuer (its URL and where its keys are); refused for stg and prd.
    Development { issuer: String, jwks_url: String },
}

/// The account and partition the stack runs in, and the environment's settings: what every builder starts from.
#[derive(Debug, Clone)]
pub struct Account {
    pub settings: Settings,
    pub identity: Ref<CallerIdentity>,
    pub partition: Ref<Partition>,
}

impl Account {
    /// The account id.
    pub fn id(&self) -> Expr {
        self.identity.account_id()
    }

    /// `arn:<partition>:<service>:<region>:<account>:<resource>`.
    pub fn arn(&self, service: &str, resource: &str) -> Expr {
        Expr::lit("arn:")
            + self.partition.partition()
            + format!(":{service}:{}:", self.settings.region)
            + self.id()
            + format!(":{resource}")
    }

    /// The account's root principal.
    pub fn root(&self) -> Expr {
        Expr::lit("arn:") + self.partition.partition() + ":iam::" + self.id() + ":root"
    }

    /// The tags of platform-level resources.
    pub fn tags(&self) -> Tags {
        [("Module".to_owned(), "platform".to_owned())].into_iter().collect()
    }
}

/// The platform resources functions are wired to.
#[derive(Debug, Clone)]
pub struct Platform {
    pub settings: Settings,
    pub account: Account,
    pub alarm_topic: Ref<SnsTopic>,
    pub okta_secret: Ref<SecretsmanagerSecret>,
    /// The environment's key: the secrets and log groups are encrypted with it (reading a secret needs
    /// `kms:Decrypt` on it).
    pub key: Ref<KmsKey>,
    pub documents: Ref<S3Bucket>,
    /// The code-signing configuration every function carries.
    pub code_signing: Option<Expr>,
    /// Where the environment enforces signing: what signs the packages in the apply (`crate::signing`).
    pub signer: Option<Signer>,
    /// Building for the local emulator, which lacks some APIs (see [`crate::provider::EMULATOR_OMITS`]).
    pub emulator: bool,
    /// What each module function reserves: the environment's share for the catalog's number of functions.
    pub module_function_concurrency: u32,
}

/// What signs packages where the environment enforces signing (`crate::signing`): the artifacts bucket and the
/// profile's name.
#[derive(Debug, Clone)]
pub struct Signer {
    pub bucket: Ref<S3Bucket>,
    /// The bucket's name through its versioning resource: an upload waits for versioning (Signer signs object
    /// versions, and an object uploaded before versioning has none).
    pub versioned: Expr,
    pub profile: Expr,
}

/// The API that HTTP functions are routed from, and its authorizer.
#[derive(Debug, Clone)]
pub struct Gateway {
    pub api: Ref<Apigatewayv2Api>,
    pub authorizer: Ref<Apigatewayv2Authorizer>,
}

/// What a module's functions are wired to from outside the module.
#[derive(Debug, Clone, Copy)]
pub struct Sources<'a> {
    pub gateway: &'a Gateway,
    /// The environment's schedule group (present when some module has a schedule).
    pub schedules: Option<&'a Ref<SchedulerScheduleGroup>>,
    /// The CodeDeploy application and the API's alarms (each function's deployment group).
    pub delivery: &'a Delivery,
}

/// The environment's release machinery ([`crate::delivery`]): its CodeDeploy application and the API's alarms
/// every deployment group watches.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// None in emulator stacks (`provider::EMULATOR_OMITS` says why).
    pub app: Option<Ref<CodedeployApp>>,
    pub api_alarms: Vec<Ref<CloudwatchMetricAlarm>>,
}

/// Keeps prd's data through a mistaken `terraform destroy`: the plan fails instead.
pub fn keep(settings: &Settings) -> Option<Lifecycle> {
    (settings.env == crate::Env::Prd).then(|| Lifecycle { prevent_destroy: true, ..Default::default() })
}

/// The queue of a queue-triggered function and its dead-letter queue.
#[derive(Debug, Clone)]
pub struct Queues {
    pub queue: Ref<SqsQueue>,
    pub dlq: Ref<SqsQueue>,
}

/// What a function is wired to beyond the platform's resources: its module's queues, its own dead-letter queue and
/// its module's service key.
#[derive(Debug, Clone, Copy, Default)]
pub struct Wiring<'a> {
    /// The queues of the module's queue-triggered functions, by consumer.
    pub queues: &'a [(Function, Queues)],
    /// Where its failed asynchronous runs go (functions started by a schedule or an object).
    pub dlq: Option<&'a Ref<SqsQueue>>,
    /// The module's service key (functions that act as the module's service principal).
    pub service_key: Option<&'a Ref<KmsKey>>,
}

/// What adding one function produced: typed references for whatever wires it further, and every address it owns
/// (for moves when it is renamed).
#[derive(Debug, Clone)]
pub struct DeployedFunction {
    pub function: Function,
    /// The deployed name, `{env}-{module}-{name}`.
    pub name: String,
    pub lambda: Ref<LambdaFunction>,
    /// The alias ([`crate::names::ALIAS`]) every invoker targets.
    pub alias: Ref<LambdaAlias>,
    pub role: Ref<IamRole>,
    pub policy: Ref<IamRolePolicy>,
    pub log_group: Ref<CloudwatchLogGroup>,
    pub alarms: Vec<Ref<CloudwatchMetricAlarm>>,
    pub addresses: Vec<String>,
}

impl DeployedFunction {
    /// Records a resource that belongs to this function (it moves with the function when the function is renamed).
    pub fn owns<T>(&mut self, r: &Ref<T>) {
        self.addresses.push(r.address().to_owned());
    }

    /// Records an alarm of this function: it moves with the function and the dashboard shows it.
    pub fn alarmed(&mut self, alarm: Ref<CloudwatchMetricAlarm>) {
        self.owns(&alarm);
        self.alarms.push(alarm);
    }
}

/// The `Module` tag of everything a function owns.
pub fn function_tags(f: &Function) -> Tags {
    [("Module".to_owned(), f.module.to_owned())].into_iter().collect()
}

/// What adding a module produced.
#[derive(Debug, Clone)]
pub struct DeployedModule {
    pub module: Module,
    pub functions: Vec<DeployedFunction>,
    /// Its objects-created functions with their invoke permissions: the documents bucket's one notification
    /// configuration subscribes them (the platform adds it once every module is in).
    pub subscribers: Vec<(DeployedFunction, Ref<LambdaPermission>)>,
    /// Its public routes by route key (no authorizer; the stage throttles each).
    pub public_routes: Vec<(String, Ref<Apigatewayv2Route>)>,
}
