//! A stand-in for the SQS JSON API (protocol `awsJson1_0`, `X-Amz-Target: AmazonSQS.<Operation>`), the part the
//! platform uses: queues with a visibility timeout and a redrive policy, send (one or a batch), receive (with long
//! polling, receive counts and sent timestamps), delete (one or a batch), change visibility, attributes, purge.
//!
//! Semantics follow SQS's documentation: a received message is hidden for the visibility timeout and comes back if
//! not deleted; on a receive, a message that was already received `maxReceiveCount` times moves to the dead-letter
//! queue instead of being delivered. Answers omit the MD5 digests (the platform's client does not read them), and
//! no signature is checked. A switch makes sends fail, for tests of what a producer does then.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use serde_json::{json, Value};

/// The account id in queue URLs and ARNs.
pub const ACCOUNT: &str = "000000000000";
/// The region in ARNs.
pub const REGION: &str = "us-east-1";

#[derive(Debug, Clone)]
struct Msg {
    id: String,
    body: String,
    receipt: Option<String>,
    receive_count: u32,
    sent_at_ms: u64,
    first_received_ms: Option<u64>,
    visible_at: Instant,
}

#[derive(Debug, Default)]
struct Queue {
    visibility_timeout: Duration,
    /// `(dead-letter queue name, maxReceiveCount)`.
    redrive: Option<(String, u32)>,
    messages: Vec<Msg>,
}

#[derive(Debug, Default)]
struct State {
    queues: BTreeMap<String, Queue>,
    refuse_sends: bool,
    sends: usize,
}

/// A running stand-in; stopped when dropped.
#[derive(Debug)]
pub struct SqsStandin {
    pub url: String,
    state: Arc<Mutex<State>>,
    /// Serves until dropped.
    _server: crate::server::Server,
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

impl SqsStandin {
    /// Starts the stand-in on a free port of 127.0.0.1.
    pub fn start() -> std::io::Result<SqsStandin> {
        let listener = crate::server::Server::bind()?;
        let base = format!("http://{}", listener.local_addr()?);
        let state = Arc::new(Mutex::new(State::default()));
        let (shared, base_for_server) = (state.clone(), base.clone());
        let server = crate::server::Server::serve(listener, move |req| {
            let (state, base) = (shared.clone(), base_for_server.clone());
            async move { serve(&state, &base, req).await }
        })?;
        Ok(SqsStandin { url: base, state, _server: server })
    }

    /// The URL of a queue by name.
    pub fn queue_url(&self, name: &str) -> String {
        format!("{}/{ACCOUNT}/{name}", self.url)
    }

    /// Messages in a queue, visible or not (0 for an unknown queue).
    pub fn depth(&self, name: &str) -> usize {
        self.state.lock().ok().and_then(|s| s.queues.get(name).map(|q| q.messages.len())).unwrap_or(0)
    }

    /// The bodies of a queue's messages (a dead-letter queue's, for tests).
    pub fn bodies(&self, name: &str) -> Vec<String> {
        self.state
            .lock()
            .ok()
            .and_then(|s| s.queues.get(name).map(|q| q.messages.iter().map(|m| m.body.clone()).collect()))
            .unwrap_or_default()
    }

    /// From now on, refuse (`true`) or take (`false`) every message sent.
    pub fn refuse_sends(&self, refuse: bool) {
        if let Ok(mut s) = self.state.lock() {
            s.refuse_sends = refuse;
        }
    }

    /// Messages taken so far (single and batch entries).
    pub fn sends(&self) -> usize {
        self.state.lock().map(|s| s.sends).unwrap_or(0)
    }
}

fn error(status: u16, code: &str, message: &str) -> (u16, Value) {
    (status, json!({"__type": format!("com.amazonaws.sqs#{code}"), "message": message}))
}

fn queue_name(url: &str) -> String {
    url.trim_end_matches('/').rsplit('/').next().unwrap_or_default().to_owned()
}

fn arn(name: &str) -> String {
    format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{name}")
}

async fn serve(state: &Mutex<State>, base: &str, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let target = req.headers().get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let bytes = req.into_body().collect().await.map(|c| c.to_bytes()).unwrap_or_default();
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let operation = target.strip_prefix("AmazonSQS.").unwrap_or("").to_owned();
    let (status, answer) = if operation == "ReceiveMessage" {
        receive(state, &body).await
    } else {
        match state.lock() {
            Ok(mut s) => handle(&mut s, base, &operation, &body),
            Err(_) => error(500, "InternalError", "the stand-in's state is poisoned"),
        }
    };
    let mut response = Response::new(Full::new(Bytes::from(answer.to_string())));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response
        .headers_mut()
        .insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("application/x-amz-json-1.0"));
    response
}

fn handle(s: &mut State, base: &str, operation: &str, body: &Value) -> (u16, Value) {
    let url = body["QueueUrl"].as_str().unwrap_or_default();
    let name = queue_name(url);
    match operation {
        "CreateQueue" => {
            let Some(name) = body["QueueName"].as_str().filter(|n| !n.is_empty()) else {
                return error(400, "InvalidParameterValue", "QueueName is required");
            };
            let attributes = &body["Attributes"];
            let visibility = attributes["VisibilityTimeout"].as_str().and_then(|v| v.parse().ok()).unwrap_or(30u64);
            let redrive = attributes["RedrivePolicy"]
                .as_str()
                .and_then(|p| serde_json::from_str::<Value>(p).ok())
                .and_then(|p| {
                    let target = p["deadLetterTargetArn"].as_str()?.rsplit(':').next()?.to_owned();
                    let max = match &p["maxReceiveCount"] {
                        Value::Number(n) => n.as_u64()?,
                        Value::String(s) => s.parse().ok()?,
                        _ => return None,
                    };
                    Some((target, u32::try_from(max).ok()?))
                });
            let queue = s.queues.entry(name.to_owned()).or_default();
            queue.visibility_timeout = Duration::from_secs(visibility);
            queue.redrive = redrive;
            (200, json!({"QueueUrl": format!("{base}/{ACCOUNT}/{name}")}))
        }
        "GetQueueUrl" => {
            let name = body["QueueName"].as_str().unwrap_or_default();
            match s.queues.contains_key(name) {
                true => (200, json!({"QueueUrl": format!("{base}/{ACCOUNT}/{name}")})),
                false => error(400, "QueueDoesNotExist", "The specified queue does not exist."),
            }
        }
        "SendMessage" | "SendMessageBatch" => {
            let entries: Vec<(String, String)> = match operation {
                "SendMessage" => vec![("0".into(), body["MessageBody"].as_str().unwrap_or_default().to_owned())],
                _ => body["Entries"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|e| {
                                (
                                    e["Id"].as_str().unwrap_or_default().to_owned(),
                                    e["MessageBody"].as_str().unwrap_or_default().to_owned(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            };
            if entries.is_empty() || entries.len() > 10 {
                return error(400, "InvalidParameterValue", "a batch has 1 to 10 entries");
            }
            if s.refuse_sends {
                return error(500, "InternalError", "the stand-in was told to refuse sends");
            }
            let Some(queue) = s.queues.get_mut(&name) else {
                return error(400, "QueueDoesNotExist", "The specified queue does not exist.");
            };
            let mut successful = Vec::new();
            for (id, message_body) in &entries {
                let message_id = uuid::Uuid::new_v4().to_string();
                queue.messages.push(Msg {
                    id: message_id.clone(),
                    body: message_body.clone(),
                    receipt: None,
                    receive_count: 0,
                    sent_at_ms: now_ms(),
                    first_received_ms: None,
                    visible_at: Instant::now(),
                });
                successful.push(json!({"Id": id, "MessageId": message_id}));
            }
            s.sends += entries.len();
            match operation {
                "SendMessage" => (200, json!({"MessageId": successful[0]["MessageId"]})),
                _ => (200, json!({"Successful": successful, "Failed": []})),
            }
        }
        "DeleteMessage" | "DeleteMessageBatch" => {
            let receipts: Vec<(String, String)> = match operation {
                "DeleteMessage" => vec![("0".into(), body["ReceiptHandle"].as_str().unwrap_or_default().to_owned())],
                _ => body["Entries"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|e| {
                                (
                                    e["Id"].as_str().unwrap_or_default().to_owned(),
                                    e["ReceiptHandle"].as_str().unwrap_or_default().to_owned(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            };
            let Some(queue) = s.queues.get_mut(&name) else {
                return error(400, "QueueDoesNotExist", "The specified queue does not exist.");
            };
            // SQS deletes by the latest receipt handle, and an outdated one succeeds without deleting.
            for (_, receipt) in &receipts {
                queue.messages.retain(|m| m.receipt.as_deref() != Some(receipt.as_str()));
            }
            match operation {
                "DeleteMessage" => (200, json!({})),
                _ => (
                    200,
                    json!({"Successful": receipts.iter().map(|(id, _)| json!({"Id": id})).collect::<Vec<_>>(), "Failed": []}),
                ),
            }
        }
        "ChangeMessageVisibility" => {
            let receipt = body["ReceiptHandle"].as_str().unwrap_or_default();
            let seconds = body["VisibilityTimeout"].as_u64().unwrap_or(0);
            let Some(queue) = s.queues.get_mut(&name) else {
                return error(400, "QueueDoesNotExist", "The specified queue does not exist.");
            };
            match queue.messages.iter_mut().find(|m| m.receipt.as_deref() == Some(receipt)) {
                Some(m) => {
                    m.visible_at = Instant::now() + Duration::from_secs(seconds);
                    (200, json!({}))
                }
                None => error(400, "ReceiptHandleIsInvalid", "The receipt handle is not valid."),
            }
        }
        "GetQueueAttributes" => {
            let Some(queue) = s.queues.get(&name) else {
                return error(400, "QueueDoesNotExist", "The specified queue does not exist.");
            };
            let now = Instant::now();
            let visible = queue.messages.iter().filter(|m| m.visible_at <= now).count();
            (
                200,
                json!({"Attributes": {
                    "QueueArn": arn(&name),
                    "ApproximateNumberOfMessages": visible.to_string(),
                    "ApproximateNumberOfMessagesNotVisible": (queue.messages.len() - visible).to_string(),
                    "VisibilityTimeout": queue.visibility_timeout.as_secs().to_string(),
                }}),
            )
        }
        "PurgeQueue" => match s.queues.get_mut(&name) {
            Some(queue) => {
                queue.messages.clear();
                (200, json!({}))
            }
            None => error(400, "QueueDoesNotExist", "The specified queue does not exist."),
        },
        _ => error(400, "InvalidAction", &format!("the stand-in does not implement {operation}")),
    }
}

/// Takes up to `MaxNumberOfMessages` visible messages, waiting up to `WaitTimeSeconds` for one.
async fn receive(state: &Mutex<State>, body: &Value) -> (u16, Value) {
    let name = queue_name(body["QueueUrl"].as_str().unwrap_or_default());
    let max = body["MaxNumberOfMessages"].as_u64().unwrap_or(1).clamp(1, 10) as usize;
    let wait = Duration::from_secs(body["WaitTimeSeconds"].as_u64().unwrap_or(0).min(20));
    let until = Instant::now() + wait;
    loop {
        let taken = match state.lock() {
            Ok(mut s) => take(&mut s, &name, max, body["VisibilityTimeout"].as_u64()),
            Err(_) => return error(500, "InternalError", "the stand-in's state is poisoned"),
        };
        match taken {
            Err(e) => return e,
            Ok(messages) if !messages.is_empty() || Instant::now() >= until => {
                return (200, json!({"Messages": messages}));
            }
            Ok(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

fn take(s: &mut State, name: &str, max: usize, visibility: Option<u64>) -> Result<Vec<Value>, (u16, Value)> {
    let Some(queue) = s.queues.get_mut(name) else {
        return Err(error(400, "QueueDoesNotExist", "The specified queue does not exist."));
    };
    let now = Instant::now();
    let hide = visibility.map(Duration::from_secs).unwrap_or(queue.visibility_timeout);
    let redrive = queue.redrive.clone();
    let mut out = Vec::new();
    let mut dead = Vec::new();
    let mut i = 0;
    while i < queue.messages.len() && out.len() < max {
        if queue.messages[i].visible_at > now {
            i += 1;
            continue;
        }
        if let Some((_, max_receives)) = &redrive {
            if queue.messages[i].receive_count >= *max_receives {
                dead.push(queue.messages.remove(i));
                continue;
            }
        }
        let m = &mut queue.messages[i];
        m.receive_count += 1;
        m.first_received_ms.get_or_insert(now_ms());
        m.visible_at = now + hide;
        let receipt = uuid::Uuid::new_v4().simple().to_string();
        m.receipt = Some(receipt.clone());
        out.push(json!({
            "MessageId": m.id,
            "ReceiptHandle": receipt,
            "Body": m.body,
            "Attributes": {
                "ApproximateReceiveCount": m.receive_count.to_string(),
                "SentTimestamp": m.sent_at_ms.to_string(),
                "ApproximateFirstReceiveTimestamp": m.first_received_ms.unwrap_or(0).to_string(),
            },
        }));
        i += 1;
    }
    if let Some((target, _)) = redrive {
        if let Some(dlq) = s.queues.get_mut(&target) {
            for mut m in dead {
                m.receipt = None;
                m.visible_at = now;
                m.receive_count = 0;
                dlq.messages.push(m);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(s: &mut State, operation: &str, body: Value) -> Value {
        let (status, answer) = handle(s, "http://q", operation, &body);
        assert_eq!(status, 200, "{operation}: {answer}");
        answer
    }

    #[test]
    fn a_message_received_too_often_moves_to_the_dead_letter_queue() {
        let mut s = State::default();
        call(&mut s, "CreateQueue", json!({"QueueName": "dlq"}));
        let url = call(
            &mut s,
            "CreateQueue",
            json!({"QueueName": "q", "Attributes": {"VisibilityTimeout": "0", "RedrivePolicy": "{\"deadLetterTargetArn\":\"arn:aws:sqs:us-east-1:000000000000:dlq\",\"maxReceiveCount\":2}"}}),
        )["QueueUrl"]
            .as_str()
            .unwrap()
            .to_owned();
        call(&mut s, "SendMessage", json!({"QueueUrl": url, "MessageBody": "poison"}));
        for expected in 1..=2 {
            let got = take(&mut s, "q", 10, None).unwrap();
            assert_eq!(got.len(), 1);
            assert_eq!(got[0]["Attributes"]["ApproximateReceiveCount"], expected.to_string());
        }
        assert!(take(&mut s, "q", 10, None).unwrap().is_empty(), "the third receive moves it instead");
        assert_eq!(s.queues["dlq"].messages.len(), 1);
        assert_eq!(s.queues["dlq"].messages[0].body, "poison");
    }

    #[test]
    fn a_received_message_is_hidden_until_deleted_or_its_timeout() {
        let mut s = State::default();
        let url = call(&mut s, "CreateQueue", json!({"QueueName": "q", "Attributes": {"VisibilityTimeout": "60"}}))
            ["QueueUrl"]
            .as_str()
            .unwrap()
            .to_owned();
        call(
            &mut s,
            "SendMessageBatch",
            json!({"QueueUrl": url, "Entries": [{"Id": "a", "MessageBody": "1"}, {"Id": "b", "MessageBody": "2"}]}),
        );
        let got = take(&mut s, "q", 1, None).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(take(&mut s, "q", 10, None).unwrap().len(), 1, "the other one");
        assert!(take(&mut s, "q", 10, None).unwrap().is_empty(), "both hidden");
        let receipt = got[0]["ReceiptHandle"].as_str().unwrap();
        call(
            &mut s,
            "DeleteMessageBatch",
            json!({"QueueUrl": url, "Entries": [{"Id": "x", "ReceiptHandle": receipt}]}),
        );
        assert_eq!(s.queues["q"].messages.len(), 1);
    }
}
