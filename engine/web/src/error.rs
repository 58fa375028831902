//! Errors as RFC 9457 problem+json with a stable `type` code. 5xx bodies never carry inner
//! error text: the chain is logged once, here.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use lianban_core::accounts::{AbsenceError, ReassignRefusal};
use lianban_core::runtime::RuntimeError;
use lianban_service::EngineError;
use lianban_service::StoreError;

/// What a 503 tells the client to wait before retrying.
const RETRY_AFTER_SECONDS: &str = "5";

/// What a 503 for a full write queue tells the client to wait.
const OVERLOADED_RETRY_AFTER_SECONDS: &str = "1";

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
    /// The request cannot be read (malformed JSON, a bad query); 400.
    #[error("{title}")]
    BadRequest {
        /// Short description.
        title: String,
        /// Extra members (e.g. `errors: [{field, message}]`).
        extra: Value,
    },
    /// The body is larger than the limit; 413.
    #[error("请求体过大")]
    TooLarge,
    /// A body not declared as JSON (`Content-Type: application/json`) where JSON is read;
    /// 415.
    #[error("请求体须为 JSON，并声明 Content-Type: application/json")]
    UnsupportedMediaType,
    /// Authentication missing or wrong.
    #[error("未登录或登录已过期，请重新登录")]
    Unauthorized,
    /// An `Authorization: Bearer` key that is unknown or revoked.
    #[error("API 密钥无效或已被吊销")]
    BadApiKey,
    /// A login was refused; the message never says whether the user exists.
    #[error("{0}")]
    LoginFailed(&'static str),
    /// Not allowed.
    #[error("{0}")]
    Forbidden(&'static str),
    /// Not allowed, in words that name what the person may not do (a refusal of the
    /// engine: who may start or withdraw a case, separation of duties).
    #[error("{0}")]
    Refused(String),
    /// No such resource.
    #[error("{0}")]
    NotFound(String),
    /// A concurrent change won.
    #[error("{0}")]
    Conflict(String),
    /// The database is down, slow or busy; nothing was written and a retry is safe (503
    /// with Retry-After).
    #[error("系统繁忙，数据库暂时无法访问，请稍后重试")]
    Unavailable,
    /// Too many commands wait for the database's writer; this one was not run (503 with a
    /// short Retry-After).
    #[error("系统繁忙，待办理的操作过多，请稍后重试")]
    Overloaded,
    /// Anything else; details are logged, not sent.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
    /// A refusal of the runtime, service or store, with its stable code: the answer is the
    /// inner error's, with `code` added to the problem document.
    #[error("{error}")]
    Coded {
        /// The domain code (`RuntimeError::code` and friends), e.g. `claimed-by-other`.
        code: &'static str,
        /// The answer it is given as.
        error: Box<ApiError>,
    },
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Validation { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "validation"),
            ApiError::BadRequest { .. } => (StatusCode::BAD_REQUEST, "validation"),
            ApiError::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "too-large"),
            ApiError::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type")
            }
            ApiError::Unauthorized | ApiError::BadApiKey | ApiError::LoginFailed(_) => {
                (StatusCode::UNAUTHORIZED, "unauthorized")
            }
            ApiError::Forbidden(_) | ApiError::Refused(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not-found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Overloaded => (StatusCode::SERVICE_UNAVAILABLE, "overloaded"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            ApiError::Coded { error, .. } => error.parts(),
        }
    }

    /// This answer, carrying a domain error's stable code (not for 5xx: their bodies say
    /// nothing of the cause).
    fn with_code(self, code: &'static str) -> Self {
        match self {
            ApiError::Internal(_)
            | ApiError::Unavailable
            | ApiError::Overloaded
            | ApiError::Coded { .. } => self,
            error => ApiError::Coded {
                code,
                error: Box::new(error),
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (domain_code, this) = match self {
            ApiError::Coded { code, error } => (Some(code), *error),
            other => (None, other),
        };
        let (status, code) = this.parts();
        let title = match &this {
            ApiError::Internal(e) => {
                // An error chain may quote a form value (a rule's failure, a row).
                let error = lianban_core::privacy::mask_text(&format!("{e:?}"));
                tracing::error!(%error, "request failed");
                "服务器内部错误，请稍后重试或联系管理员".to_owned()
            }
            other => other.to_string(),
        };
        let mut body = json!({
            "type": code,
            "title": title,
            "status": status.as_u16(),
        });
        if let (Some(domain_code), Value::Object(b)) = (domain_code, &mut body) {
            b.insert("code".into(), json!(domain_code));
        }
        if let (
            ApiError::Validation {
                extra: Value::Object(extra),
                ..
            }
            | ApiError::BadRequest {
                extra: Value::Object(extra),
                ..
            },
            Value::Object(b),
        ) = (&this, &mut body)
        {
            for (k, v) in extra {
                b.insert(k.clone(), v.clone());
            }
        }
        let mut response = (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body.to_string(),
        )
            .into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            // A full write queue drains within a commit or two; a database that is down
            // takes longer to come back.
            let after = if code == "overloaded" {
                OVERLOADED_RETRY_AFTER_SECONDS
            } else {
                RETRY_AFTER_SECONDS
            };
            response.headers_mut().insert(
                header::RETRY_AFTER,
                axum::http::HeaderValue::from_static(after),
            );
        }
        if matches!(
            status,
            StatusCode::PAYLOAD_TOO_LARGE | StatusCode::UNSUPPORTED_MEDIA_TYPE
        ) {
            // The rest of the body is left unread, so the server closes the connection
            // after this answer; saying so keeps a client from sending its next request
            // on a connection that is about to close.
            response.headers_mut().insert(
                header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
        }
        response
    }
}

impl ApiError {
    /// A 422 naming one field.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        ApiError::Validation {
            title: format!("字段“{field}”：{message}"),
            extra: json!({"errors": [{"field": field, "message": message}]}),
        }
    }
}

impl ApiError {
    /// A 422 naming one field, with the kind of its problem (`errors[].code`).
    pub fn field_with_code(field: &str, code: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        ApiError::Validation {
            title: format!("字段“{field}”：{message}"),
            extra: json!({"errors": [{"field": field, "code": code, "message": message}]}),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        let code = error.code();
        Self::from_store(error).with_code(code)
    }
}

impl ApiError {
    fn from_store(error: StoreError) -> Self {
        match error {
            StoreError::NotFound(missing) => ApiError::NotFound(missing.to_string()),
            StoreError::Conflict { case } => {
                ApiError::Conflict(format!("办件 {case} 已被他人修改，请刷新后重试"))
            }
            other if other.is_unavailable() => {
                tracing::warn!(error = %lianban_core::privacy::mask_text(&format!("{other:?}")), "database unavailable");
                ApiError::Unavailable
            }
            other => ApiError::Internal(other.into()),
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(error: EngineError) -> Self {
        let code = error.code();
        Self::from_engine(error).with_code(code)
    }
}

impl ApiError {
    fn from_engine(error: EngineError) -> Self {
        match error {
            EngineError::Runtime(RuntimeError::InvalidForm(errors)) => ApiError::Validation {
                title: format!("申请表有 {} 处需要更正", errors.len()),
                extra: json!({ "errors": errors }),
            },
            EngineError::Runtime(RuntimeError::InvalidField {
                field,
                code,
                message,
            }) => ApiError::field_with_code(&format!("data.{field}"), code.as_str(), message),
            EngineError::Runtime(RuntimeError::InvalidReason { code, message }) => {
                ApiError::field_with_code("reason", code.as_str(), message)
            }
            EngineError::Runtime(
                e @ (RuntimeError::ReasonRequired { .. }
                | RuntimeError::SecondSupplementReasonRequired { .. }),
            ) => ApiError::field("reason", e.to_string()),
            EngineError::Runtime(RuntimeError::OutcomeBlocked { outcome, problems }) => {
                ApiError::Validation {
                    title: format!("不能“{outcome}”：{}", problems.join("；")),
                    extra: json!({"outcome": outcome, "problems": problems}),
                }
            }
            EngineError::Runtime(e @ RuntimeError::UnknownOutcome { .. }) => {
                ApiError::field("outcome", e.to_string())
            }
            EngineError::Runtime(
                e @ (RuntimeError::ClaimedByOther { .. }
                | RuntimeError::TaskClosed { .. }
                | RuntimeError::CaseEnded(_)
                | RuntimeError::NotWaiting(_)),
            ) => ApiError::Conflict(e.to_string()),
            EngineError::Refused(e) => ApiError::Refused(e.to_string()),
            EngineError::Absence(e @ AbsenceError::NotAllowed) => ApiError::Refused(e.to_string()),
            EngineError::Absence(e @ AbsenceError::UnknownUser(_)) => {
                ApiError::NotFound(e.to_string())
            }
            EngineError::Absence(
                e @ (AbsenceError::Backwards { .. } | AbsenceError::Past { .. }),
            ) => ApiError::field("to", e.to_string()),
            EngineError::Absence(e) => ApiError::field("substitute", e.to_string()),
            EngineError::Reassign(e @ ReassignRefusal::NotSupervisor) => {
                ApiError::Refused(e.to_string())
            }
            EngineError::Reassign(e @ ReassignRefusal::ReasonRequired) => {
                ApiError::field("reason", e.to_string())
            }
            EngineError::Reassign(e) => ApiError::field("to", e.to_string()),
            EngineError::Runtime(e @ RuntimeError::SamePerson { .. }) => {
                ApiError::Refused(e.to_string())
            }
            EngineError::Store(e @ (StoreError::Conflict { .. } | StoreError::NotFound(_))) => {
                ApiError::from_store(e)
            }
            e @ EngineError::UnknownProcess { .. } => ApiError::field("process", e.to_string()),
            EngineError::Migration(e) => {
                let field = match e {
                    lianban_core::runtime::MigrationRefusal::SameVersion { .. } => "to_version",
                    _ => "mapping",
                };
                ApiError::field_with_code(field, e.code(), e.to_string())
            }
            EngineError::Store(e) if e.is_unavailable() => ApiError::from(e),
            EngineError::Overloaded => ApiError::Overloaded,
            EngineError::WriterStopped => ApiError::Unavailable,
            other => ApiError::Internal(other.into()),
        }
    }
}
