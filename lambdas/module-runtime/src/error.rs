//! The errors a handler can answer with, and the HTTP status each one maps to.
//!
//! Client errors carry a message meant for the client. Dependency failures name the dependency's class (the
//! database, the identity provider, the configuration store) and what happened to it, never internals; their
//! details, like `Internal`'s, go to the log only.

use std::fmt;

use thiserror::Error;

/// A system a function depends on, as a client may hear of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dependency {
    /// PostgREST and the database behind it.
    Database,
    /// Okta's Users API.
    IdentityProvider,
    /// Secrets Manager, where the function's configuration lives.
    Configuration,
    /// SQS, where work is queued for a worker.
    Queue,
    /// KMS, which signs the module's service identity's assertions.
    Keys,
    /// S3, where the documents are.
    Documents,
    /// Credly, where certifications are issued.
    Credly,
}

impl fmt::Display for Dependency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Dependency::Database => "the database",
            Dependency::IdentityProvider => "the identity provider",
            Dependency::Configuration => "the configuration store",
            Dependency::Queue => "the queue service",
            Dependency::Keys => "the key service",
            Dependency::Documents => "the document store",
            Dependency::Credly => "the certification issuer",
        })
    }
}

/// An error answer. Variant names are stable; they appear in logs as `error_kind`.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// 400: the request is malformed (body, path parameter, field), or the identity provider refused a value.
    #[error("{0}")]
    BadRequest(String),
    /// 401: no usable caller identity on the request.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: the caller may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// 404: nothing the caller can see matches.
    #[error("{0}")]
    NotFound(String),
    /// 405: the path exists, the method does not.
    #[error("Method not allowed")]
    MethodNotAllowed,
    /// 409: a duplicate, a limit or a rule conflict.
    #[error("{0}")]
    Conflict(String),
    /// 429: the caller did too much of something in too short a time; retry after the given seconds.
    #[error("{message}")]
    TooManyRequests { message: String, retry_after_s: u64 },
    /// 502: a dependency answered with an error of its own.
    #[error("{dependency} answered with an error")]
    BadGateway { dependency: Dependency, detail: String },
    /// 503: a dependency could not be reached, refused, or asked us to slow down.
    #[error("{dependency} is unavailable; retry in {retry_after_s} s")]
    Unavailable { dependency: Dependency, retry_after_s: u64, detail: String },
    /// 504: a dependency did not answer within its bound.
    #[error("{dependency} did not answer in time")]
    Timeout { dependency: Dependency, detail: String },
    /// 500: anything unexpected; the string goes to the log, never to the client.
    #[error("Internal server error")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> u16 {
        match self {
            ApiError::BadRequest(_) => 400,
            ApiError::Unauthorized(_) => 401,
            ApiError::Forbidden(_) => 403,
            ApiError::NotFound(_) => 404,
            ApiError::MethodNotAllowed => 405,
            ApiError::Conflict(_) => 409,
            ApiError::TooManyRequests { .. } => 429,
            ApiError::Internal(_) => 500,
            ApiError::BadGateway { .. } => 502,
            ApiError::Unavailable { .. } => 503,
            ApiError::Timeout { .. } => 504,
        }
    }

    /// The stable name used in logs.
    pub fn kind(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "BadRequest",
            ApiError::Unauthorized(_) => "Unauthorized",
            ApiError::Forbidden(_) => "Forbidden",
            ApiError::NotFound(_) => "NotFound",
            ApiError::MethodNotAllowed => "MethodNotAllowed",
            ApiError::Conflict(_) => "Conflict",
            ApiError::TooManyRequests { .. } => "TooManyRequests",
            ApiError::BadGateway { .. } => "BadGateway",
            ApiError::Unavailable { .. } => "Unavailable",
            ApiError::Timeout { .. } => "Timeout",
            ApiError::Internal(_) => "Internal",
        }
    }

    /// True for a failure of a dependency rather than of this function (counted apart in the metrics).
    pub fn is_dependency_failure(&self) -> bool {
        matches!(self, ApiError::BadGateway { .. } | ApiError::Unavailable { .. } | ApiError::Timeout { .. })
    }

    /// Seconds the client should wait before retrying (`Retry-After`), for 429s and 503s.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::Unavailable { retry_after_s, .. } | ApiError::TooManyRequests { retry_after_s, .. } => {
                Some(*retry_after_s)
            }
            _ => None,
        }
    }

    /// What the log may say: the client message, plus the details clients never see.
    pub fn log_detail(&self) -> String {
        match self {
            ApiError::Internal(detail) => detail.clone(),
            ApiError::BadGateway { detail, .. }
            | ApiError::Unavailable { detail, .. }
            | ApiError::Timeout { detail, .. } => format!("{self}: {detail}"),
            other => other.to_string(),
        }
    }

    pub fn internal(detail: impl fmt::Display) -> Self {
        ApiError::Internal(detail.to_string())
    }

    /// A transport failure talking to `dependency`: 504 when it timed out, 503 otherwise (refused, reset,
    /// unreachable). The detail goes to the log.
    pub fn transport(dependency: Dependency, error: &reqwest::Error) -> Self {
        let detail = error_chain(error);
        if error.is_timeout() {
            ApiError::Timeout { dependency, detail }
        } else {
            ApiError::Unavailable { dependency, retry_after_s: crate::timeouts::RETRY_AFTER_S, detail }
        }
    }
}

/// An error and its sources on one line (reqwest's own message omits the cause, e.g. "connection refused").
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        // Wrappers often repeat their source's message; say each part once.
        let text = e.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = e.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependency_failures_name_the_class_never_the_detail() {
        let e = ApiError::Unavailable {
            dependency: Dependency::Database,
            retry_after_s: 5,
            detail: "tcp connect 10.0.0.7:443 refused".into(),
        };
        assert_eq!((e.status(), e.to_string()), (503, "the database is unavailable; retry in 5 s".into()));
        assert!(e.log_detail().contains("10.0.0.7"));
        let e = ApiError::Timeout { dependency: Dependency::IdentityProvider, detail: "x".into() };
        assert_eq!((e.status(), e.to_string()), (504, "the identity provider did not answer in time".into()));
        assert!(e.is_dependency_failure() && !ApiError::Internal("x".into()).is_dependency_failure());
    }

    #[test]
    fn a_chain_says_each_part_once() {
        #[derive(Debug)]
        struct E(&'static str, Option<Box<E>>);
        impl fmt::Display for E {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.0)
            }
        }
        impl std::error::Error for E {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                self.1.as_deref().map(|e| e as _)
            }
        }
        let e = E("sending", Some(Box::new(E("connect: refused", Some(Box::new(E("refused", None)))))));
        assert_eq!(error_chain(&e), "sending: connect: refused");
    }
}
