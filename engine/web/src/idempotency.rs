//! `Idempotency-Key` on the API's POSTs: a client that retries after a timeout gets the
//! first answer again (with `Idempotent-Replayed: true`) instead of acting twice.
//!
//! The key is taken in the database before the handler runs ("in progress"), so two
//! concurrent requests with one key cannot both act; the answer is stored after. Keys are
//! per caller (the SHA-256 of the API key or session token, never the credential itself)
//! and forgotten after [`KEY_LIFETIME_HOURS`]. A key sent again with another body or to
//! another route is refused (422). A 5xx answer (the database was down: nothing was
//! written) gives the key back, so the retry acts. If the process dies between acting and
//! storing the answer, the key stays "in progress" (409) until it expires: the client must
//! then look the result up rather than repeat the request.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use sha2::{Digest as _, Sha256};

use super::session::{SESSION_COOKIE, bearer, cookie, token_hash};
use super::{ApiError, BODY_LIMIT, Ctx};
use lianban_service::records::{KeyClaim, KeyUse, StoredAnswer};

/// The request header.
pub(super) const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// The header on a replayed answer.
pub(super) const REPLAYED: &str = "idempotent-replayed";
/// How long a key is remembered.
pub(super) const KEY_LIFETIME_HOURS: i64 = 24;
/// Largest answer that is stored for replay (API answers are small JSON).
const ANSWER_LIMIT: usize = 4 * 1024 * 1024;

/// Applies to `POST /api/v1/…` with the header; everything else passes untouched.
pub(super) async fn layer(State(ctx): State<Ctx>, request: Request, next: Next) -> Response {
    if request.method() != Method::POST || !request.uri().path().starts_with("/api/v1/") {
        return next.run(request).await;
    }
    let Some(key) = request.headers().get(IDEMPOTENCY_KEY) else {
        return next.run(request).await;
    };
    let key = match key.to_str() {
        Ok(k) if !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| b.is_ascii_graphic()) => {
            k.to_owned()
        }
        _ => {
            return ApiError::BadRequest {
                title: "请求头 Idempotency-Key 应为 1 到 255 个可见 ASCII 字符".into(),
                extra: json!({"errors": [{"field": "Idempotency-Key", "message": "格式不对"}]}),
            }
            .into_response();
        }
    };
    // No credential: the handler answers 401 and acts on nothing, so there is nothing to
    // remember.
    let Some(credential) = bearer(request.headers())
        .or_else(|| cookie(request.headers(), SESSION_COOKIE))
        .map(token_hash)
    else {
        return next.run(request).await;
    };
    let route = format!("POST {}", request.uri().path());
    let (parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, BODY_LIMIT).await else {
        return ApiError::TooLarge.into_response();
    };
    let request_hash = hex::encode(Sha256::digest(&bytes));
    let engine = ctx.app.engine();
    let now = engine.now();
    let use_ = KeyUse {
        principal: &credential,
        key: &key,
        route: &route,
        request_hash: &request_hash,
    };
    let expired_before = now - chrono::Duration::hours(KEY_LIFETIME_HOURS);
    match engine
        .claim_idempotency_key(use_, now, expired_before)
        .await
    {
        Ok(KeyClaim::New) => {}
        Ok(KeyClaim::Replay(answer)) => return replay(answer),
        Ok(KeyClaim::InProgress) => {
            return ApiError::Conflict(
                "使用同一 Idempotency-Key 的请求正在处理中，请稍后查询结果".into(),
            )
            .into_response();
        }
        Ok(KeyClaim::Mismatch) => {
            return ApiError::Validation {
                title: "该 Idempotency-Key 已用于另一个请求（地址或内容不同），请换一个新的键".into(),
                extra: json!({"errors": [{"field": "Idempotency-Key", "message": "已用于另一个请求"}]}),
            }
            .into_response();
        }
        Err(e) => return ApiError::from(e).into_response(),
    }
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let status = response.status();
    // Decided before acting (credentials, throttling) or failed without writing: a retry
    // must be free to act.
    let keep = !(status.is_server_error()
        || status == StatusCode::UNAUTHORIZED
        || status == StatusCode::FORBIDDEN
        || status == StatusCode::TOO_MANY_REQUESTS);
    if !keep {
        if let Err(e) = engine.release_idempotency_key(&credential, &key).await {
            tracing::warn!(error = ?e, "idempotency key not released");
        }
        return response;
    }
    let (parts, body) = response.into_parts();
    let bytes = match to_bytes(body, ANSWER_LIMIT).await {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::error!(error = ?e, "answer not readable for the idempotency store");
            return ApiError::Internal(anyhow::anyhow!("answer body: {e}")).into_response();
        }
    };
    let answer = StoredAnswer {
        status: status.as_u16(),
        content_type: parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body: String::from_utf8_lossy(&bytes).into_owned(),
    };
    if let Err(e) = engine
        .finish_idempotency_key(&credential, &key, &answer)
        .await
    {
        // The action happened; the client gets its answer. A retry will see "in progress".
        tracing::warn!(error = ?e, "idempotent answer not stored");
    }
    Response::from_parts(parts, Body::from(bytes))
}

fn replay(answer: StoredAnswer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let mut response = (status, answer.body).into_response();
    let headers = response.headers_mut();
    if let Some(value) = answer
        .content_type
        .and_then(|c| HeaderValue::from_str(&c).ok())
    {
        headers.insert(header::CONTENT_TYPE, value);
    }
    headers.insert(REPLAYED, HeaderValue::from_static("true"));
    response
}
