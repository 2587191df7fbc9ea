//! What every module's Lambdas share (the seed's `module_runtime` layer, as a crate linked into each binary): the
//! container (one HTTP client, the configuration, the database, Okta, queue and service-identity clients), the
//! response envelope, errors and their statuses, the caller, request parsing, dispatch from the catalog with the
//! route's auth enforced, the request line with its metrics, the events of functions without a caller (queues,
//! schedules, objects) with theirs, and logging. One `serve` per trigger kind.
//!
//! It knows no endpoint: handlers live in the module crates. It holds no key that can mint a database token: the
//! caller's own token is forwarded, and a service principal gets its own from the identity provider.

pub mod aws;
pub mod caller;
pub mod config;
pub mod credly;
pub mod db;
pub mod dispatch;
pub mod documents;

pub mod error;
pub mod events;
pub mod http_client;
pub mod isolate;
pub mod registration;

pub mod logging;
pub mod metrics;
pub mod okta;
pub mod parse;
pub mod pre_traffic;
pub mod queue_client;
pub mod response;
pub mod service_identity;
pub mod timeouts;
pub mod work;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use route_registry::Function;

pub use caller::Caller;
pub use config::{Config, DbConfig, OktaConfig};
pub use db::{Db, Session};
pub use dispatch::{dispatch, Call};
pub use error::{ApiError, Dependency};
pub use registration::{Handler, Http, Registration};
pub use response::Reply;
pub use work::{CreatedObject, Message, OnMessage, OnObject, OnSchedule, ScheduledRun, Work};

/// A boxed future that may move between threads (what a handler returns behind a trait object).
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// The platform admin group when `ADMIN_GROUP` is not set (never the bare word `admin`).
pub const DEFAULT_ADMIN_GROUP: &str = "career-platform-admins";

/// The clients a function's declared uses need, built from one complete configuration.
#[derive(Debug)]
pub struct Clients {
    pub db: Option<Db>,
    pub okta: Option<okta::Okta>,
    pub service: Option<service_identity::ServiceIdentity>,
    pub queues: Option<queue_client::Queues>,
    pub documents: Option<documents::Documents>,
}

/// Where a container's configuration comes from.
#[derive(Debug)]
enum Source {
    /// Secrets Manager or the environment, loaded (and reloaded) by the container.
    Environment,
    /// Given whole (the local API, tests).
    Fixed(Box<Config>),
}

/// One execution environment of a function: its HTTP client, its settings, and its clients once the configuration
/// has loaded. A failed load is never cached: the next request tries again. A credential that a dependency refuses
/// (a rotated secret) marks the clients stale, and the next request reloads them.
#[derive(Debug)]
pub struct Container {
    function: Function,
    http: reqwest::Client,
    admin_group: String,
    source: Source,
    current: Mutex<Option<Arc<Clients>>>,
    loading: tokio::sync::Mutex<()>,
    stale: Arc<AtomicBool>,
}

impl Container {
    /// A container that loads its configuration from Secrets Manager or the environment (a Lambda).
    pub fn from_environment(function: Function) -> Result<Container, http_client::HttpError> {
        Ok(Container::new(function, http_client::client()?, Source::Environment))
    }

    /// A container with a given configuration (the local API, tests).
    pub fn with_config(function: Function, http: reqwest::Client, config: Config) -> Container {
        Container::new(function, http, Source::Fixed(Box::new(config)))
    }

    fn new(function: Function, http: reqwest::Client, source: Source) -> Container {
        let admin_group = std::env::var("ADMIN_GROUP")
            .ok()
            .filter(|g| !g.is_empty())
            .unwrap_or_else(|| DEFAULT_ADMIN_GROUP.to_owned());
        Container {
            function,
            http,
            admin_group,
            source,
            current: Mutex::new(None),
            loading: tokio::sync::Mutex::new(()),
            stale: Arc::new(AtomicBool::new(false)),
        }
    }

    pub fn function(&self) -> Function {
        self.function
    }

    /// The group whose members are platform admins (`ADMIN_GROUP`, default [`DEFAULT_ADMIN_GROUP`]).
    pub fn admin_group(&self) -> &str {
        &self.admin_group
    }

    /// The clients, loading the configuration first when it is not loaded (or a credential was refused).
    pub async fn clients(&self) -> Result<Arc<Clients>, ApiError> {
        if let Some(clients) = self.loaded() {
            return Ok(clients);
        }
        let _one_load_at_a_time = self.loading.lock().await;
        if let Some(clients) = self.loaded() {
            return Ok(clients);
        }
        let config = match &self.source {
            Source::Environment => config::load(self.function, &self.http).await?,
            Source::Fixed(config) => (**config).clone(),
        };
        let clients = Arc::new(self.build(&config)?);
        self.stale.store(false, Ordering::SeqCst);
        if let Ok(mut current) = self.current.lock() {
            *current = Some(clients.clone());
        }
        Ok(clients)
    }

    fn loaded(&self) -> Option<Arc<Clients>> {
        if self.stale.load(Ordering::SeqCst) {
            return None;
        }
        self.current.lock().ok().and_then(|c| c.clone())
    }

    fn build(&self, config: &Config) -> Result<Clients, ApiError> {
        let db = match &config.db {
            Some(c) => Some(Db::new(self.http.clone(), c, self.stale.clone()).map_err(ApiError::internal)?),
            None => None,
        };
        let okta = match &config.okta {
            Some(c) => Some(okta::Okta::new(self.http.clone(), c, self.stale.clone()).map_err(ApiError::internal)?),
            None => None,
        };
        let aws = config.aws.clone().map(|c| aws::Aws::new(self.http.clone(), c));
        let service = match (&config.service, &aws) {
            (Some(c), Some(aws)) => {
                Some(service_identity::ServiceIdentity::new(self.http.clone(), aws.clone(), c.clone()))
            }
            (Some(_), None) => return Err(ApiError::internal("a service identity without AWS settings")),
            (None, _) => None,
        };
        let queues = match (config.queues.is_empty(), &aws) {
            (true, _) => None,
            (false, Some(aws)) => Some(queue_client::Queues::new(aws.clone(), config.queues.clone())),
            (false, None) => return Err(ApiError::internal("queues without AWS settings")),
        };
        let documents = match (&config.documents, &config.aws) {
            (Some(c), Some(aws)) => Some(documents::Documents::new(self.http.clone(), aws.clone(), c.clone())),
            (Some(_), None) => return Err(ApiError::internal("documents without AWS settings")),
            (None, _) => None,
        };
        Ok(Clients { db, okta, service, queues, documents })
    }
}

/// The environment variable a custom runtime's container holds the function's configured handler in.
pub const HANDLER_VARIABLE: &str = "_HANDLER";

/// The `main` of every module's binary (generated by `cargo xtask codegen`): one binary per module, deployed to
/// each of the module's functions, which Lambda starts with the function's handler (the catalog's `binary`, which
/// the stacks set as the function's `handler`) in `_HANDLER`. It finds that function's registration among its
/// module's `registrations` and serves it on a current-thread runtime, as Lambda gives a function one vCPU at most
/// at these sizes.
///
/// One binary per module because each function's binary held every handler of its module anyway (the module's
/// `FUNCTIONS` table links them all): the six org-module binaries were 6,248,536 bytes within 64, and each cost a
/// link with LTO of its own (BENCHMARKS.md, "Lambda packages").
pub fn main(registrations: &'static [Registration]) -> std::process::ExitCode {
    if let Some(code) = isolate::child(|binary| registration::isolated(registrations, binary)) {
        return std::process::ExitCode::from(code);
    }
    let handler = std::env::var(HANDLER_VARIABLE).unwrap_or_default();
    let Some(registration) = registrations.iter().find(|r| r.function.binary == handler) else {
        logging::init();
        let known: Vec<&str> = registrations.iter().map(|r| r.function.binary).collect();
        tracing::error!(
            handler,
            known = known.join(", "),
            "no registration for this handler in the module's FUNCTIONS: the function's handler must name one of \
             its module's functions (the stacks set it; run cargo xtask codegen after a catalog change)"
        );
        return std::process::ExitCode::FAILURE;
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            logging::init();
            tracing::error!(error = %e, "cannot start the async runtime");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(registration)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "the function stopped");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Serves one function by what starts it: one arm per trigger kind.
///
/// The configuration is loaded in the init phase, before the runtime asks for the first event: a custom runtime's
/// init is billed like an invocation either way, and work there is not held up by an event waiting (BENCHMARKS.md,
/// "Memory size", has the figures behind this choice). If it fails, that is logged once and each request retries it
/// (answering 503/504/500 while it fails), so a fixed secret is picked up without a redeploy and nothing is served
/// half-configured.
pub async fn serve(registration: &'static Registration) -> Result<(), lambda_http::Error> {
    use lambda_http::lambda_runtime::{self, LambdaEvent};

    logging::init();
    let container = Container::from_environment(registration.function)?;
    if let Err(e) = container.clients().await {
        tracing::error!(error = e.log_detail(), "configuration could not be loaded; every request will retry it");
    }
    let container = &container;
    let failed = |e: ApiError| lambda_http::Error::from(e.log_detail());
    match registration.handler {
        Handler::Http(handler) => {
            lambda_http::run(lambda_http::service_fn(move |req: lambda_http::Request| async move {
                Ok::<_, std::convert::Infallible>(handler.handle(container, req).await)
            }))
            .await
        }
        Handler::Queue(on) => {
            lambda_runtime::run(lambda_runtime::service_fn(
                move |event: LambdaEvent<aws_lambda_events::event::sqs::SqsEvent>| async move {
                    let deadline = work::deadline_of(event.context.deadline);
                    Ok::<_, std::convert::Infallible>(work::queue_batch(on, container, event.payload, deadline).await)
                },
            ))
            .await
        }
        Handler::Schedule(on) => {
            lambda_runtime::run(lambda_runtime::service_fn(
                move |event: LambdaEvent<aws_lambda_events::event::eventbridge::EventBridgeEvent>| async move {
                    let deadline = work::deadline_of(event.context.deadline);
                    work::scheduled(on, container, event.payload, deadline).await.map_err(failed)
                },
            ))
            .await
        }
        Handler::ObjectsCreated(on) => {
            lambda_runtime::run(lambda_runtime::service_fn(
                move |event: LambdaEvent<aws_lambda_events::event::s3::S3Event>| async move {
                    let deadline = work::deadline_of(event.context.deadline);
                    work::objects(on, container, event.payload, deadline).await.map_err(failed)
                },
            ))
            .await
        }
    }
}
