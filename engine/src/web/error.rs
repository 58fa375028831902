//! Errors as RFC 9457 problem+json with a stable `type` code. 5xx bodies never carry inner
//! error text: the chain is logged once, here.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// An error on its way to an HTTP client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed or breaks a rule (400/422).
    #[error("{title}")]
    Validation {
        /// Short description.
        title: String,
        /// Extra members of the problem document (e.g. diagnostics).
        extra: Value,
    },
    /// Authentication missing or wrong.
    #[error("未授权")]
    Unauthorized,
    /// Not allowed.
    #[error("{0}")]
    Forbidden(&'static str),
    /// No such resource.
    #[error("{0}")]
    NotFound(String),
    /// A concurrent change won.
    #[error("{0}")]
    Conflict(String),
    /// Anything else; details are logged, not sent.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Validation { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "validation"),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not-found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.parts();
        let title = match &self {
            ApiError::Internal(e) => {
                tracing::error!(error = ?e, "request failed");
                "服务器内部错误，请稍后重试或联系管理员".to_owned()
            }
            other => other.to_string(),
        };
        let mut body = json!({
            "type": code,
            "title": title,
            "status": status.as_u16(),
        });
        if let (
            ApiError::Validation {
                extra: Value::Object(extra),
                ..
            },
            Value::Object(b),
        ) = (&self, &mut body)
        {
            for (k, v) in extra {
                b.insert(k.clone(), v.clone());
            }
        }
        (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body.to_string(),
        )
            .into_response()
    }
}
