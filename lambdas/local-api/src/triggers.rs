//! Every trigger of the catalog, locally: what Lambda's event sources do in AWS, done by the local API for the same
//! handlers with the same event types.
//!
//! - **Queues.** Each queue-fed function's queue and dead-letter queue live in an SQS-compatible server (the SQS
//!   stand-in under `cargo xtask dev`), created with the catalog's redrive count and a short local visibility
//!   timeout. A poller per queue does what the event source mapping does: long-polls a batch of the catalog's size,
//!   hands it to the function as an `SqsEvent`, deletes what succeeded and leaves the rest to come back after the
//!   visibility timeout, until the redrive count moves it to the dead-letter queue.
//! - **Schedules.** `rate(…)` schedules fire at their rate when asked to (`cargo xtask dev`); every schedule fires
//!   on demand (`POST /_local/schedules/<binary>`, `cargo xtask dev-run <binary>`), with the catalog's retries and
//!   then the function's dead-letter queue, as Lambda's asynchronous invocation does.
//! - **Objects.** The documents store reports each created object (`POST /_local/events/s3`, an `S3Event`); the
//!   functions whose prefix it falls under get it, with the same retries and dead-letter queue.
//!
//! Functions without a caller act as their module's service principal: their tokens come from the token endpoint
//! (the Okta stand-in, signing as the development issuer), their assertions are signed by the KMS stand-in.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lambda_http::aws_lambda_events::event::eventbridge::EventBridgeEvent;
use lambda_http::aws_lambda_events::event::s3::S3Event;
use lambda_http::aws_lambda_events::event::sqs::SqsEvent;
use module_runtime::aws::{Aws, AwsConfig, Service};
use module_runtime::{timeouts, work, ApiError, Handler};
use route_registry::{Function, Trigger};
use serde_json::{json, Value};

use crate::App;

/// Where the local services are, and how the local triggers behave.
#[derive(Debug, Clone)]
pub struct Triggers {
    /// The SQS and KMS endpoints (and the credentials, which the local services do not check).
    pub aws: AwsConfig,
    /// The token endpoint of the local authorization server.
    pub token_url: String,
    /// Each module's service key: `(module, key id)`.
    pub service_keys: Vec<(String, String)>,
    /// Seconds a received message stays hidden (the catalog's six times the timeout would make a local retry wait
    /// minutes).
    pub visibility_timeout_s: u32,
    /// Fire `rate(…)` schedules at their rate (on demand only otherwise).
    pub fire_schedules: bool,
    /// Queue URLs by function binary, once created ([`Triggers::create_queues`]).
    pub queues: Vec<(String, String)>,
    /// Dead-letter queue URLs by function binary.
    pub dlqs: Vec<(String, String)>,
    /// The documents store (an S3-compatible server, path-style) and its bucket, for the functions that declare a
    /// documents prefix.
    pub documents: Option<LocalDocuments>,
}

/// Where the documents are locally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalDocuments {
    pub endpoint: String,
    pub bucket: String,
}

/// The name of a function's queue (its deployed name in dev, as in AWS) and of its dead-letter queue.
pub fn queue_name(f: &Function) -> String {
    settings::names::function_name(&settings::Env::Dev.settings(), f)
}

fn dlq_name(f: &Function) -> String {
    format!("{}-dlq", queue_name(f))
}

fn functions() -> impl Iterator<Item = &'static Function> {
    route_registry::MODULES.iter().flat_map(|m| m.functions.iter())
}

impl Triggers {
    /// Creates (or finds) every queue the catalog's functions need: a queue and a dead-letter queue for each
    /// queue-fed function, a dead-letter queue for each scheduled and objects-created one.
    pub async fn create_queues(&mut self, http: &reqwest::Client) -> Result<(), String> {
        let aws = Aws::new(http.clone(), self.aws.clone());
        let far = || Instant::now() + Duration::from_secs(10);
        let create = |name: String, attributes: Value| {
            let aws = aws.clone();
            async move {
                let answer = aws
                    .call(
                        Service::Sqs,
                        "CreateQueue",
                        &json!({"QueueName": name, "Attributes": attributes}),
                        timeouts::QUEUE_REQUEST,
                        far(),
                    )
                    .await
                    .map_err(|e| format!("cannot create the local queue {name}: {}", e.log_detail()))?;
                let url = answer["QueueUrl"].as_str().unwrap_or_default().to_owned();
                let arn = aws
                    .call(
                        Service::Sqs,
                        "GetQueueAttributes",
                        &json!({"QueueUrl": url, "AttributeNames": ["QueueArn"]}),
                        timeouts::QUEUE_REQUEST,
                        far(),
                    )
                    .await
                    .map_err(|e| format!("cannot read the local queue {name}: {}", e.log_detail()))?["Attributes"]
                    ["QueueArn"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                Ok::<_, String>((url, arn))
            }
        };
        for f in functions() {
            let dlq = match f.trigger {
                Trigger::Queue(_) | Trigger::Schedule(_) | Trigger::ObjectsCreated { .. } => {
                    create(dlq_name(f), json!({"MessageRetentionPeriod": "1209600"})).await?
                }
                Trigger::Http | Trigger::Authorizer => continue,
            };
            if let Trigger::Queue(q) = f.trigger {
                let redrive = json!({"deadLetterTargetArn": dlq.1, "maxReceiveCount": q.max_receives}).to_string();
                let (url, _) = create(
                    queue_name(f),
                    json!({"VisibilityTimeout": self.visibility_timeout_s.to_string(), "RedrivePolicy": redrive}),
                )
                .await?;
                self.queues.push((f.binary.to_owned(), url));
            }
            self.dlqs.push((f.binary.to_owned(), dlq.0));
        }
        Ok(())
    }

    /// The URL of a function's queue.
    pub fn queue_url(&self, f: &Function) -> Option<&str> {
        self.queues.iter().find(|(b, _)| b == f.binary).map(|(_, u)| u.as_str())
    }

    fn dlq_url(&self, f: &Function) -> Option<&str> {
        self.dlqs.iter().find(|(b, _)| b == f.binary).map(|(_, u)| u.as_str())
    }
}

/// Starts the pollers of every queue and, when asked to, the timers of `rate(…)` schedules. They run until the
/// runtime stops.
pub fn start(app: &Arc<App>) {
    let Some(triggers) = app.triggers.as_ref() else { return };
    for f in functions() {
        match f.trigger {
            Trigger::Queue(_) => {
                let app = app.clone();
                tokio::spawn(async move { poll(&app, f).await });
            }
            Trigger::Schedule(s) if triggers.fire_schedules => {
                if let Some(every) = rate(s.expression) {
                    let app = app.clone();
                    tokio::spawn(async move {
                        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
                        loop {
                            ticks.tick().await;
                            if let Err(e) = app.run_schedule(f.binary).await {
                                tracing::warn!(function = f.binary, error = e, "a scheduled run failed");
                            }
                        }
                    });
                }
            }
            _ => {}
        }
    }
}

/// The period of a `rate(N unit)` expression; `None` for cron and one-time schedules.
pub fn rate(expression: &str) -> Option<Duration> {
    let inner = expression.strip_prefix("rate(")?.strip_suffix(')')?;
    let (n, unit) = inner.trim().split_once(' ')?;
    let n: u64 = n.parse().ok().filter(|n| *n > 0)?;
    let seconds = match unit.trim_end_matches('s') {
        "minute" => 60,
        "hour" => 3600,
        "day" => 86_400,
        _ => return None,
    };
    Some(Duration::from_secs(n * seconds))
}

/// What Lambda's event source mapping does for one queue, round after round.
async fn poll(app: &App, f: &'static Function) {
    let Trigger::Queue(q) = f.trigger else { return };
    loop {
        if let Err(e) = app.poll_once(f, q.batch_size, 1).await {
            tracing::warn!(function = f.binary, error = e, "cannot receive; retrying in a second");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

/// One round: receive up to `batch_size` messages (waiting up to `wait_s` for one), hand them to the function as one
/// `SqsEvent`, delete the ones it handled; the messages received and the ones that failed.
#[allow(clippy::too_many_arguments, reason = "one round's inputs, each named at its one call")]
async fn poll_round(
    aws: &Aws,
    region: &str,
    url: &str,
    f: &Function,
    on: &module_runtime::OnMessage,
    container: &module_runtime::Container,
    batch_size: u32,
    wait_s: u32,
) -> Result<(usize, usize), String> {
    let far = || Instant::now() + Duration::from_secs(30);
    let received = aws
        .call(
            Service::Sqs,
            "ReceiveMessage",
            &json!({
                "QueueUrl": url,
                "MaxNumberOfMessages": batch_size,
                "WaitTimeSeconds": wait_s,
                "MessageSystemAttributeNames": ["All"],
            }),
            Duration::from_secs(u64::from(wait_s) + 4),
            far(),
        )
        .await
        .map_err(|e| e.log_detail())?;
    let messages = received["Messages"].as_array().cloned().unwrap_or_default();
    if messages.is_empty() {
        return Ok((0, 0));
    }
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            json!({
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m["Attributes"],
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": format!("arn:aws:sqs:{region}:000000000000:{}", queue_name(f)),
                "awsRegion": region,
            })
        })
        .collect();
    let event: SqsEvent = serde_json::from_value(json!({"Records": records}))
        .map_err(|e| format!("an SQS batch the event type does not read: {e}"))?;
    let deadline = timeouts::deadline(Instant::now(), f.timeout_s);
    let answer = work::queue_batch(on, container, event, deadline).await;
    let failed: Vec<String> = answer.batch_item_failures.iter().map(|b| b.item_identifier.clone()).collect();
    let done: Vec<Value> = messages
        .iter()
        .enumerate()
        .filter(|(_, m)| !failed.iter().any(|id| Some(id.as_str()) == m["MessageId"].as_str()))
        .map(|(i, m)| json!({"Id": i.to_string(), "ReceiptHandle": m["ReceiptHandle"]}))
        .collect();
    if !done.is_empty() {
        let deleted = aws
            .call(
                Service::Sqs,
                "DeleteMessageBatch",
                &json!({"QueueUrl": url, "Entries": done}),
                timeouts::QUEUE_REQUEST,
                far(),
            )
            .await;
        if let Err(e) = deleted {
            tracing::warn!(
                queue = url,
                error = e.log_detail(),
                "handled messages could not be deleted (they come back)"
            );
        }
    }
    Ok((messages.len(), failed.len()))
}

impl App {
    /// One round of a queue's event source mapping (see `poll_round`), with this batch size (the benchmark varies
    /// it; the pollers use the catalog's).
    pub async fn poll_once(&self, f: &Function, batch_size: u32, wait_s: u32) -> Result<(usize, usize), String> {
        let Some(triggers) = self.triggers.as_ref() else { return Err("no local triggers".into()) };
        let url = triggers.queue_url(f).ok_or_else(|| format!("{} has no queue", f.binary))?.to_owned();
        let Some(Handler::Queue(on)) = all_modules::registration(*f).map(|r| r.handler) else {
            return Err(format!("{} has no queue handler registered", f.binary));
        };
        let container = self.container(*f).ok_or_else(|| format!("{} has no container", f.binary))?;
        let aws = Aws::new(self.http.clone(), triggers.aws.clone());
        poll_round(&aws, &triggers.aws.region, &url, f, on, container, batch_size, wait_s).await
    }

    /// Runs a scheduled function now, as EventBridge Scheduler would (its event, the catalog's retries, then its
    /// dead-letter queue).
    pub async fn run_schedule(&self, binary: &str) -> Result<(), String> {
        let f = functions()
            .find(|f| f.binary == binary && matches!(f.trigger, Trigger::Schedule(_)))
            .ok_or_else(|| format!("{binary} is not a scheduled function of the catalog"))?;
        let Trigger::Schedule(s) = f.trigger else { return Err(format!("{binary} has no schedule")) };
        let Some(Handler::Schedule(on)) = all_modules::registration(*f).map(|r| r.handler) else {
            return Err(format!("{binary} has no schedule handler registered"));
        };
        let container = self.container(*f).ok_or_else(|| format!("{binary} has no container"))?;
        let id = uuid::Uuid::new_v4().to_string();
        let now = chrono_now();
        let mut last = None;
        for attempt in 1..=(1 + s.retries.min(2)) {
            let event: EventBridgeEvent = serde_json::from_value(json!({
                "version": "0",
                "id": id,
                "detail-type": "Scheduled Event",
                "source": "aws.scheduler",
                "account": "000000000000",
                "time": now,
                "region": "us-east-1",
                "resources": [format!("arn:aws:scheduler:us-east-1:000000000000:schedule/default/{}", queue_name(f))],
                "detail": {"function": f.binary, "attempt": attempt.to_string()},
            }))
            .map_err(|e| format!("the scheduled event does not read as EventBridgeEvent: {e}"))?;
            let deadline = timeouts::deadline(Instant::now(), f.timeout_s);
            match work::scheduled(on, container, event.clone(), deadline).await {
                Ok(()) => return Ok(()),
                Err(e) => last = Some((e, event)),
            }
        }
        let Some((error, event)) = last else { return Ok(()) };
        self.dead_letter(f, &serde_json::to_value(&event).unwrap_or_default()).await;
        // Locally the whole reason is shown: this answer is for whoever is developing.
        Err(format!("{error}: {}", error.log_detail()))
    }

    /// Hands created objects to the functions whose prefix they fall under (what the documents bucket's one
    /// notification configuration does), each with Lambda's retries and then its dead-letter queue.
    pub async fn objects_created(&self, event: S3Event) -> Vec<(String, Result<(), String>)> {
        let mut out = Vec::new();
        for f in functions() {
            let Trigger::ObjectsCreated { prefix } = f.trigger else { continue };
            let prefix = route_registry::documents_prefix(prefix);
            let mine: Vec<_> = event
                .records
                .iter()
                .filter(|r| r.s3.object.key.as_deref().map(work::decode_key).is_some_and(|k| k.starts_with(&prefix)))
                .cloned()
                .collect();
            if mine.is_empty() {
                continue;
            }
            let Some(Handler::ObjectsCreated(on)) = all_modules::registration(*f).map(|r| r.handler) else { continue };
            let Some(container) = self.container(*f) else { continue };
            let mut one = event.clone();
            one.records = mine;
            let mut result = Err(String::new());
            for _ in 0..3 {
                let deadline = timeouts::deadline(Instant::now(), f.timeout_s);
                result = work::objects(on, container, one.clone(), deadline).await.map_err(|e: ApiError| e.to_string());
                if result.is_ok() {
                    break;
                }
            }
            if result.is_err() {
                self.dead_letter(f, &serde_json::to_value(&one).unwrap_or_default()).await;
            }
            out.push((f.binary.to_owned(), result));
        }
        out
    }

    /// Puts a failed asynchronous event into the function's dead-letter queue, as Lambda does.
    async fn dead_letter(&self, f: &Function, event: &Value) {
        let Some(triggers) = self.triggers.as_ref() else { return };
        let Some(url) = triggers.dlq_url(f) else { return };
        let aws = Aws::new(self.http.clone(), triggers.aws.clone());
        let sent = aws
            .call(
                Service::Sqs,
                "SendMessage",
                &json!({"QueueUrl": url, "MessageBody": event.to_string()}),
                timeouts::QUEUE_REQUEST,
                Instant::now() + Duration::from_secs(10),
            )
            .await;
        if let Err(e) = sent {
            tracing::error!(
                function = f.binary,
                error = e.log_detail(),
                "a failed event could not reach the dead-letter queue"
            );
        }
    }

    /// Every queue with how many messages it holds (visible, in flight): `GET /_local/queues`.
    pub async fn queue_depths(&self) -> Value {
        let Some(triggers) = self.triggers.as_ref() else { return json!({}) };
        let aws = Aws::new(self.http.clone(), triggers.aws.clone());
        let mut out = serde_json::Map::new();
        for (url, name) in triggers.queues.iter().chain(triggers.dlqs.iter()).map(|(b, url)| (url, b)) {
            let attributes = aws
                .call(
                    Service::Sqs,
                    "GetQueueAttributes",
                    &json!({"QueueUrl": url, "AttributeNames": ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]}),
                    timeouts::QUEUE_REQUEST,
                    Instant::now() + Duration::from_secs(5),
                )
                .await
                .map(|a| a["Attributes"].clone())
                .unwrap_or(Value::Null);
            let kind = if triggers.dlqs.iter().any(|(_, u)| u == url) { "dead-letter" } else { "queue" };
            out.insert(format!("{name} ({kind})"), json!({"url": url, "attributes": attributes}));
        }
        Value::Object(out)
    }
}

/// Now as RFC 3339 in UTC with milliseconds (what EventBridge puts in `time`).
fn chrono_now() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    route_registry::time::rfc3339_ms(now.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_read_as_eventbridge_writes_them() {
        assert_eq!(rate("rate(15 minutes)"), Some(Duration::from_secs(900)));
        assert_eq!(rate("rate(1 hour)"), Some(Duration::from_secs(3600)));
        assert_eq!(rate("cron(0 3 * * ? *)"), None);
        assert_eq!(rate("rate(0 minutes)"), None);
    }
}
