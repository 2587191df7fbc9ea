//! The errors a handler can answer with, and the HTTP status each one maps to.
//!
//! Client errors carry a message meant for the client. `Internal` carries details for the log only: the client
//! always gets the generic "Internal server error".

use thiserror::Error;

/// An error answer. Variant names are stable; they appear in logs as `error_kind`.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// 400: the request is malformed (body, path parameter, field).
    #[error("{0}")]
    BadRequest(String),
    /// 401: no caller identity on the request.
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
    /// 409: a duplicate or a rule conflict.
    #[error("{0}")]
    Conflict(String),
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
            ApiError::Internal(_) => 500,
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
            ApiError::Internal(_) => "Internal",
        }
    }

    /// What the log may say: the client message, or the internal details.
    pub fn log_detail(&self) -> String {
        match self {
            ApiError::Internal(detail) => detail.clone(),
            other => other.to_string(),
        }
    }

    pub fn internal(detail: impl std::fmt::Display) -> Self {
        ApiError::Internal(detail.to_string())
    }
}
