//! Functions without a caller: what starts them (a queue's batch, a scheduled run, created objects), as the same
//! `aws_lambda_events` types Lambda delivers, turned into one [`Work`] per event for the module's handler.
//!
//! - A queue batch is handled message by message within the invocation's deadline; the answer is a partial batch
//!   response (`ReportBatchItemFailures`), so only the failed messages return to the queue and, after the catalog's
//!   receive count, to its dead-letter queue. SQS delivers at least once: handlers make a repeated message have
//!   no further effect.
//! - A scheduled run and an objects-created event fail as a whole (the invocation's error): Lambda retries it, then
//!   puts it in the function's dead-letter queue.
//!
//! Every event writes one line in CloudWatch Embedded Metric Format (`route_registry::telemetry::EVENT_METRICS`):
//! handled, failed, redelivered, its age, the handling time and the items the handler says it handled; the alarms
//! and the dashboard read them. A handler answers how many items it handled, or why it failed.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::s3::S3Event;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use route_registry::telemetry::{
    namespace, ANOMALIES, DIMENSION_SETS, EVENTS, EVENT_AGE, EVENT_FAILURES, EVENT_METRICS, FUNCTION, ITEMS, LATENCY,
    MODULE, REDELIVERIES,
};
use route_registry::Function;
use serde_json::{json, Value};

use crate::db::Session;
use crate::okta::OktaSession;
use crate::queue_client::Queues;
use crate::BoxFuture;
use crate::{timeouts, ApiError, Clients, Container};

/// What a handler works with for one event: its function's clients, the database as the module's service principal,
/// and the event's deadline.
#[derive(Clone)]
pub struct Work {
    clients: Arc<Clients>,
    token: Option<String>,
    /// When handling must be done (the invocation's deadline less [`timeouts::ANSWER_MARGIN`]).
    pub deadline: Instant,
    pub function: Function,
    /// What the handler said of this event ([`Work::about`], [`Work::anomaly`]).
    notes: Arc<std::sync::Mutex<Notes>>,
}

/// What a handler says of the event it handles, for the event's line.
#[derive(Debug, Clone, Default)]
struct Notes {
    /// What the event concerns (`task 3f2…`): the line's `subject`, so a failed event can be traced to its work.
    subject: Option<String>,
    /// Answers from outside that looked wrong.
    anomalies: Vec<String>,
}

impl std::fmt::Debug for Work {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Work").field("function", &self.function.binary).finish_non_exhaustive()
    }
}

impl Work {
    /// The database, as the module's service principal (functions that declare the database).
    pub fn db(&self) -> Result<Session<'_>, ApiError> {
        let db = self.clients.db.as_ref().ok_or_else(|| ApiError::internal("this function declares no database"))?;
        let token = self.token.as_deref().ok_or_else(|| ApiError::internal("this function has no service identity"))?;
        Ok(db.session(token, self.deadline))
    }

    /// Okta's Users API (functions that declare `Use::Okta`).
    pub fn okta(&self) -> Result<OktaSession<'_>, ApiError> {
        let okta =
            self.clients.okta.as_ref().ok_or_else(|| ApiError::internal("this function declares no Okta use"))?;
        Ok(okta.session(self.deadline))
    }

    /// The documents bucket, under the prefix it declares.
    pub fn documents(&self) -> Result<&crate::documents::Documents, ApiError> {
        self.clients.documents.as_ref().ok_or_else(|| ApiError::internal("this function declares no documents prefix"))
    }

    /// The queues it declares sending to.
    pub fn queues(&self) -> Result<&Queues, ApiError> {
        self.clients.queues.as_ref().ok_or_else(|| ApiError::internal("this function declares no queue"))
    }

    /// Records that an answer from outside looked wrong (the handler bounded what it did about it): the event's line
    /// counts it in `Anomalies`, which is alarmed, and names it in `anomalies`.
    pub fn anomaly(&self, what: impl Into<String>) {
        let what = what.into();
        tracing::warn!(anomaly = %what, "an answer looked wrong");
        if let Ok(mut notes) = self.notes.lock() {
            notes.anomalies.push(what);
        }
    }

    /// Says what the event concerns (`task 3f2…`): its line's `subject`, so a failed event (one in a dead-letter
    /// queue) can be traced to the work it belongs to.
    pub fn about(&self, subject: impl Into<String>) {
        if let Ok(mut notes) = self.notes.lock() {
            notes.subject = Some(subject.into());
        }
    }

    /// The same clients for another event, with nothing said of it yet.
    fn for_event(&self) -> Work {
        Work { notes: Arc::default(), ..self.clone() }
    }

    /// What the handler said of the event.
    fn notes(&self) -> Notes {
        self.notes.lock().map(|n| n.clone()).unwrap_or_default()
    }
}

/// One queue message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: String,
    pub body: String,
    /// How often it has been received, this time included (1 the first time).
    pub receive_count: u32,
    /// When it was sent, in milliseconds since the epoch.
    pub sent_at_ms: Option<u64>,
}

/// One scheduled run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledRun {
    /// The run's execution id (the same across its retries).
    pub id: String,
    /// When it was scheduled for, in milliseconds since the epoch.
    pub scheduled_at_ms: Option<u64>,
    /// Which attempt this is (1 the first time).
    pub attempt: u32,
}

/// One created object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedObject {
    pub bucket: String,
    /// The object's key, decoded (S3 events carry it form-encoded).
    pub key: String,
    pub size: u64,
    pub version_id: Option<String>,
    pub etag: Option<String>,
    pub created_at_ms: u64,
}

/// What handles a queue's messages.
#[derive(Debug)]
pub struct OnMessage {
    pub run: fn(Work, Message) -> BoxFuture<'static, Result<u64, ApiError>>,
}

/// What handles a schedule's runs.
#[derive(Debug)]
pub struct OnSchedule {
    pub run: fn(Work, ScheduledRun) -> BoxFuture<'static, Result<u64, ApiError>>,
}

/// What handles created objects.
#[derive(Debug)]
pub struct OnObject {
    pub run: fn(Work, CreatedObject) -> BoxFuture<'static, Result<u64, ApiError>>,
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// The deadline of an invocation whose Lambda deadline is `deadline_ms` (milliseconds since the epoch).
pub fn deadline_of(deadline_ms: u64) -> Instant {
    let left = Duration::from_millis(deadline_ms.saturating_sub(now_ms()));
    Instant::now() + left.saturating_sub(timeouts::ANSWER_MARGIN)
}

impl Container {
    /// The clients and, for a service principal, its token, for work due by `deadline`.
    pub async fn work(&self, deadline: Instant) -> Result<Work, ApiError> {
        let clients = self.clients().await?;
        let token = match &clients.service {
            Some(service) => Some(service.token(deadline).await?),
            None => None,
        };
        Ok(Work { clients, token, deadline, function: self.function(), notes: Arc::default() })
    }
}

/// After a failure: a token the database refused (expired, or its key rotated) is dropped, so the next event gets a
/// new one.
async fn settle<T>(container: &Container, result: &Result<T, ApiError>) {
    if let Err(ApiError::Unauthorized(_)) = result {
        if let Ok(clients) = container.clients().await {
            if let Some(service) = &clients.service {
                service.forget().await;
            }
        }
    }
}

/// One event's line.
#[derive(Debug)]
pub struct EventRecord<'a> {
    pub function: &'a Function,
    /// What it was (`message 3f2…`, `run 8e1…`, `object resumes/…`).
    pub event: &'a str,
    pub redelivered: bool,
    pub age_ms: Option<u64>,
    pub latency_ms: f64,
    /// What the handler handled (0 when it failed).
    pub items: u64,
    /// What the event concerns, as its handler said ([`Work::about`]).
    pub subject: Option<&'a str>,
    /// What looked wrong in answers from outside ([`Work::anomaly`]).
    pub anomalies: &'a [String],
    pub error: Option<&'a ApiError>,
}

/// The line of one event, in CloudWatch Embedded Metric Format.
pub fn event_line(record: &EventRecord<'_>, env: &str, timestamp_ms: u64) -> Value {
    let mut line = json!({
        "level": if record.error.is_some() { "ERROR" } else { "INFO" },
        "message": if record.error.is_some() { "event failed" } else { "event handled" },
        "event": record.event,
        "trigger": record.function.trigger.kind(),
        "duration": record.latency_ms,
        MODULE: record.function.module,
        FUNCTION: record.function.name,
        EVENTS: 1,
        EVENT_FAILURES: u8::from(record.error.is_some()),
        REDELIVERIES: u8::from(record.redelivered),
        LATENCY: record.latency_ms,
        ITEMS: record.items,
        ANOMALIES: record.anomalies.len(),
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace(env),
                "Dimensions": DIMENSION_SETS,
                "Metrics": EVENT_METRICS
                    .iter()
                    .filter(|(name, _)| *name != EVENT_AGE || record.age_ms.is_some())
                    .map(|(name, unit)| json!({"Name": name, "Unit": unit}))
                    .collect::<Vec<_>>(),
            }],
        },
    });
    if let Some(age) = record.age_ms {
        line[EVENT_AGE] = json!(age);
    }
    if !record.anomalies.is_empty() {
        line["anomalies"] = json!(record.anomalies);
    }
    if let Some(subject) = record.subject {
        line["subject"] = json!(subject);
    }
    if let Some(e) = record.error {
        line["error"] = json!(e.log_detail());
        line["error_kind"] = json!(e.kind());
    }
    line
}

fn emit(record: &EventRecord<'_>) {
    let env = std::env::var("ENVIRONMENT").unwrap_or_else(|_| "local".into());
    let text = event_line(record, &env, now_ms()).to_string();
    if crate::metrics::captured(&text) {
        return;
    }
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}

/// Handles a queue batch: each message in turn while the deadline allows; the ones that failed (or were not reached)
/// are returned to the queue.
pub async fn queue_batch(
    on: &OnMessage,
    container: &Container,
    event: SqsEvent,
    deadline: Instant,
) -> SqsBatchResponse {
    let function = container.function();
    let mut response = SqsBatchResponse::default();
    let work = container.work(deadline).await;
    for record in event.records {
        let started = Instant::now();
        let id = record.message_id.clone().unwrap_or_default();
        let receive_count =
            record.attributes.get("ApproximateReceiveCount").and_then(|c| c.parse().ok()).unwrap_or(1u32);
        let sent_at_ms = record.attributes.get("SentTimestamp").and_then(|t| t.parse().ok());
        let message =
            Message { id: id.clone(), body: record.body.clone().unwrap_or_default(), receive_count, sent_at_ms };
        let this = work.as_ref().map(Work::for_event).map_err(|e| (*e).clone());
        let result = match &this {
            Err(e) => Err(e.clone()),
            Ok(_) if timeouts::bound(timeouts::MIN_CALL * 2, deadline).is_none() => Err(ApiError::Timeout {
                dependency: crate::error::Dependency::Database,
                detail: "the invocation's deadline came before this message".into(),
            }),
            Ok(work) => (on.run)(work.clone(), message).await,
        };
        let notes = this.as_ref().map(Work::notes).unwrap_or_default();
        settle(container, &result).await;
        emit(&EventRecord {
            function: &function,
            event: &format!("message {id}"),
            redelivered: receive_count > 1,
            age_ms: sent_at_ms.map(|t| now_ms().saturating_sub(t)),
            latency_ms: started.elapsed().as_secs_f64() * 1000.0,
            items: *result.as_ref().unwrap_or(&0),
            subject: notes.subject.as_deref(),
            anomalies: &notes.anomalies,
            error: result.as_ref().err(),
        });
        if result.is_err() {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    response
}

/// The `detail-type` of a scheduled run that is the deploy's pre-traffic check (`crate::pre_traffic`): the function
/// loads its configuration and returns without doing its work.
pub const CHECK_DETAIL_TYPE: &str = "career.pre-traffic-check";

/// Handles a scheduled run (an EventBridge event, as EventBridge Scheduler sends it).
pub async fn scheduled(
    on: &OnSchedule,
    container: &Container,
    event: EventBridgeEvent<Value>,
    deadline: Instant,
) -> Result<(), ApiError> {
    if event.detail_type == CHECK_DETAIL_TYPE {
        // The deploy's pre-traffic check: the version starts and its configuration loads; no work is done.
        return container.clients().await.map(drop);
    }
    let started = Instant::now();
    let attempt = match &event.detail["attempt"] {
        Value::String(s) => s.parse().unwrap_or(1),
        Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()).unwrap_or(1),
        _ => 1,
    };
    let run = ScheduledRun {
        id: event.id.clone().unwrap_or_default(),
        scheduled_at_ms: event.time.map(|t| t.timestamp_millis().max(0) as u64),
        attempt,
    };
    let (id, scheduled_at) = (run.id.clone(), run.scheduled_at_ms);
    let work = container.work(deadline).await;
    let result = match &work {
        Ok(work) => (on.run)(work.clone(), run).await,
        Err(e) => Err(e.clone()),
    };
    let notes = work.as_ref().map(Work::notes).unwrap_or_default();
    settle(container, &result).await;
    emit(&EventRecord {
        function: &container.function(),
        event: &format!("run {id}"),
        redelivered: attempt > 1,
        age_ms: scheduled_at.map(|t| now_ms().saturating_sub(t)),
        latency_ms: started.elapsed().as_secs_f64() * 1000.0,
        items: *result.as_ref().unwrap_or(&0),
        subject: notes.subject.as_deref(),
        anomalies: &notes.anomalies,
        error: result.as_ref().err(),
    });
    result.map(|_| ())
}

/// Handles an objects-created event: each object in turn; the event fails if any object failed (Lambda retries the
/// whole event, so handlers make a repeated object have no further effect).
pub async fn objects(on: &OnObject, container: &Container, event: S3Event, deadline: Instant) -> Result<(), ApiError> {
    let function = container.function();
    let work = container.work(deadline).await;
    let mut first_error = None;
    for record in event.records {
        let started = Instant::now();
        let object = CreatedObject {
            bucket: record.s3.bucket.name.clone().unwrap_or_default(),
            key: record.s3.object.key.as_deref().map(decode_key).unwrap_or_default(),
            size: record.s3.object.size.unwrap_or(0).max(0) as u64,
            version_id: record.s3.object.version_id.clone(),
            etag: record.s3.object.e_tag.clone(),
            created_at_ms: record.event_time.timestamp_millis().max(0) as u64,
        };
        let (key, created_at) = (object.key.clone(), object.created_at_ms);
        let this = work.as_ref().map(Work::for_event).map_err(|e| (*e).clone());
        let result = match &this {
            Ok(work) => (on.run)(work.clone(), object).await,
            Err(e) => Err(e.clone()),
        };
        let notes = this.as_ref().map(Work::notes).unwrap_or_default();
        settle(container, &result).await;
        emit(&EventRecord {
            function: &function,
            event: &format!("object {key}"),
            redelivered: false,
            age_ms: Some(now_ms().saturating_sub(created_at)),
            latency_ms: started.elapsed().as_secs_f64() * 1000.0,
            items: *result.as_ref().unwrap_or(&0),
            subject: notes.subject.as_deref(),
            anomalies: &notes.anomalies,
            error: result.as_ref().err(),
        });
        if let Err(e) = result {
            if first_error.is_none() {
                first_error = Some(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// An S3 event's object key, which S3 form-encodes (`+` for a space, `%XX` for the rest); undecodable input is kept.
pub fn decode_key(key: &str) -> String {
    let bytes = key.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = |b: u8| (b as char).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(high), Some(low)) => {
                        out.push((high * 16 + low) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| key.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_keys_are_form_decoded() {
        assert_eq!(decode_key("resumes/a+b%2Fc.pdf"), "resumes/a b/c.pdf");
        assert_eq!(decode_key("100%"), "100%");
        assert_eq!(decode_key("x%zz"), "x%zz");
        assert_eq!(decode_key("%C3%A9"), "é");
    }

    #[test]
    fn event_lines_follow_the_emf_specification() {
        let function = route_registry::modules::org::INVITATION_IMPORT;
        let error = ApiError::internal("boom");
        let anomalies = ["a next link that does not advance".to_owned()];
        for (age, err, seen) in [(Some(12), None, &anomalies[..]), (None, Some(&error), &[][..])] {
            let line = event_line(
                &EventRecord {
                    function: &function,
                    event: "message 1",
                    redelivered: true,
                    age_ms: age,
                    latency_ms: 3.5,
                    items: 2,
                    subject: Some("task 1"),
                    anomalies: seen,
                    error: err,
                },
                "dev",
                1_765_000_000_000,
            );
            crate::metrics::spec::check(&line.to_string()).unwrap();
            assert_eq!(line[REDELIVERIES], 1);
            assert_eq!(line[EVENT_FAILURES], u8::from(err.is_some()));
            assert_eq!(line[ANOMALIES], seen.len(), "{line}");
            assert_eq!(line["anomalies"].as_array().map_or(0, Vec::len), seen.len(), "named in the line: {line}");
        }
    }
}
