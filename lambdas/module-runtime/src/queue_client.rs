//! Sending to the queues a function declares (`Use::Queue` in the catalog): `SendMessageBatch`, ten messages a call,
//! entries SQS did not take sent once more, each call bounded by [`timeouts::QUEUE_REQUEST`] and the deadline.

use std::time::Instant;

use route_registry::Function;
use serde_json::{json, Value};

use crate::aws::{Aws, Service};
use crate::error::Dependency;
use crate::{timeouts, ApiError};

/// The most entries SQS takes in one `SendMessageBatch`.
pub const BATCH: usize = 10;

/// The queue URLs a function may send to, by consumer.
#[derive(Debug)]
pub struct Queues {
    aws: Aws,
    urls: Vec<(String, String)>,
}

impl Queues {
    pub fn new(aws: Aws, urls: Vec<(String, String)>) -> Queues {
        Queues { aws, urls }
    }

    /// Sends each of `bodies` to `consumer`'s queue, by `deadline`; every message is sent, or the error says how many
    /// were not.
    pub async fn send(&self, consumer: &Function, bodies: &[String], deadline: Instant) -> Result<(), ApiError> {
        let url =
            self.urls.iter().find(|(binary, _)| binary == consumer.binary).map(|(_, url)| url.as_str()).ok_or_else(
                || ApiError::internal(format!("this function does not declare sending to {}", consumer.binary)),
            )?;
        for chunk in bodies.chunks(BATCH) {
            let mut left: Vec<(usize, &String)> = chunk.iter().enumerate().collect();
            for attempt in 0..2 {
                let entries: Vec<Value> =
                    left.iter().map(|(i, body)| json!({"Id": i.to_string(), "MessageBody": body})).collect();
                let answer = self
                    .aws
                    .call(
                        Service::Sqs,
                        "SendMessageBatch",
                        &json!({"QueueUrl": url, "Entries": entries}),
                        timeouts::QUEUE_REQUEST,
                        deadline,
                    )
                    .await?;
                let failed: Vec<&Value> = answer["Failed"].as_array().map(|a| a.iter().collect()).unwrap_or_default();
                if failed.is_empty() {
                    left.clear();
                    break;
                }
                let ids: Vec<&str> = failed.iter().filter_map(|f| f["Id"].as_str()).collect();
                left.retain(|(i, _)| ids.contains(&i.to_string().as_str()));
                if attempt == 1 || left.is_empty() {
                    let first = failed[0];
                    return Err(ApiError::Unavailable {
                        dependency: Dependency::Queue,
                        retry_after_s: timeouts::RETRY_AFTER_S,
                        detail: format!(
                            "SQS did not take {} of {} messages ({}: {})",
                            failed.len(),
                            chunk.len(),
                            first["Code"].as_str().unwrap_or(""),
                            first["Message"].as_str().unwrap_or("")
                        ),
                    });
                }
            }
        }
        Ok(())
    }
}
