//! Every wait on another system is bounded, and each bound is a named setting with the reason for its value.
//!
//! On top of the per-call bounds, a request has a deadline: its function's timeout (15 s for org-module, from the
//! catalog) less [`ANSWER_MARGIN`]. Every outbound call waits at most the smaller of its own bound and what is left
//! of the deadline, so a request that chains calls (provisioning: a check, Okta, the database) answers 504 before
//! the function would be killed, and long before API Gateway's 30 s integration limit.

use std::time::{Duration, Instant};

/// Opening a TCP (and TLS) connection to any dependency. Same-region connects take milliseconds; a dependency
/// that has not accepted within a second is down or unreachable, and waiting longer only holds the Lambda.
pub const CONNECT: Duration = Duration::from_secs(1);

/// One PostgREST request, from sending to the last byte. The API's queries are single-row or index-driven and
/// answer in milliseconds; 4 s leaves room for a cold Supabase pooler while staying under Supabase's default
/// statement timeout for `authenticated` (8 s), so the database gives up after we do, never before.
pub const DATABASE_REQUEST: Duration = Duration::from_secs(4);

/// One Secrets Manager attempt. `GetSecretValue` answers in tens of milliseconds; 1.5 s covers a slow first TLS
/// handshake.
pub const SECRET_ATTEMPT: Duration = Duration::from_millis(1500);

/// All Secrets Manager attempts together (the SDK retries once, see `config`).
pub const SECRET_OPERATION: Duration = Duration::from_secs(3);

/// One Okta Users API request, unless `OKTA_TIMEOUT_MS` says otherwise. Okta's p99 for user operations is well
/// under a second; 5 s tolerates a slow tenant without approaching the function timeout.
pub const OKTA_REQUEST: Duration = Duration::from_secs(5);

/// One KMS `Sign` (the service key signs a client assertion): tens of milliseconds in-region; 2 s covers a slow
/// first TLS handshake.
pub const KMS_REQUEST: Duration = Duration::from_secs(2);

/// One SQS `SendMessageBatch`: tens of milliseconds in-region, as KMS.
pub const QUEUE_REQUEST: Duration = Duration::from_secs(2);

/// One S3 request for a document: a listing, a delete, or reading one object of at most a few MiB (5 MiB for a
/// résumé at tens of MB/s in-region is well under a second); 5 s covers a slow first handshake and a large read.
pub const DOCUMENTS_REQUEST: Duration = Duration::from_secs(5);

/// One request to Credly: a page of 50 badges or one event (a few kB); Credly publishes no latency figure, so this is
/// Okta's bound, for the same kind of third-party API.
pub const CREDLY_REQUEST: Duration = Duration::from_secs(5);

/// What a 503 tells the client to wait before retrying, when the dependency did not say.
pub const RETRY_AFTER_S: u64 = 5;

/// Kept free at the end of a request: time to write the answer and the request line before the function timeout.
pub const ANSWER_MARGIN: Duration = Duration::from_secs(2);

/// Below this, a call is not started: it could not finish, and the request answers 504 at once.
pub const MIN_CALL: Duration = Duration::from_millis(50);

/// The deadline of a request that started at `start` in a function with `timeout_s`.
pub fn deadline(start: Instant, timeout_s: u32) -> Instant {
    start + Duration::from_secs(u64::from(timeout_s)).saturating_sub(ANSWER_MARGIN)
}

/// How long a call may wait: its own bound, or what is left before the deadline if that is less; `None` when too
/// little is left to start.
pub fn bound(own: Duration, deadline: Instant) -> Option<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    let wait = own.min(left);
    (wait >= MIN_CALL).then_some(wait)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each call's own bound fits inside every function's deadline, and the deadline inside API Gateway's limit.
    #[test]
    fn the_bounds_fit_the_deadline() {
        for function in route_registry::all_functions().filter(|f| f.has_dependencies()) {
            let budget = deadline(Instant::now(), function.timeout_s).saturating_duration_since(Instant::now());
            for own in [SECRET_OPERATION, DATABASE_REQUEST, OKTA_REQUEST] {
                assert!(own * 2 < budget, "{}: {own:?} twice must fit in {budget:?}", function.binary);
            }
            if function.trigger.is_synchronous() {
                assert!(budget + ANSWER_MARGIN < Duration::from_secs(30), "{}", function.binary);
            }
        }
        assert!(SECRET_ATTEMPT * 2 <= SECRET_OPERATION);
    }

    #[test]
    fn a_call_waits_no_longer_than_the_deadline_allows() {
        let soon = Instant::now() + Duration::from_millis(500);
        assert!(bound(DATABASE_REQUEST, soon).is_some_and(|d| d <= Duration::from_millis(500)));
        assert_eq!(bound(DATABASE_REQUEST, Instant::now()), None);
        let later = Instant::now() + Duration::from_secs(60);
        assert_eq!(bound(DATABASE_REQUEST, later), Some(DATABASE_REQUEST));
    }
}
