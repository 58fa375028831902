//! A panic inside a handler must not drop the connection without an answer, nor fill the
//! log: the catch layer answers 500 problem+json (like any internal error, without inner
//! text) and counts the panic in `/metrics` (`lianban_panics_total`); the panic hook of
//! `lianban serve` writes it to the log as one line, without backtrace and with personal
//! data masked. A panic is a bug: every input the handlers accept is checked first.

use std::any::Any;
use std::sync::{Arc, Once};

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tower_http::catch_panic::CatchPanicLayer;

use super::metrics::Metrics;

/// The layer catching a handler's panic: a 500 problem+json, counted.
pub(super) fn layer(
    metrics: Arc<Metrics>,
) -> CatchPanicLayer<impl Fn(Box<dyn Any + Send + 'static>) -> Response + Clone> {
    CatchPanicLayer::custom(move |_payload: Box<dyn Any + Send + 'static>| {
        // What panicked was logged by the panic hook (with its place in the code).
        metrics.count_panic();
        let body = json!({
            "type": "internal",
            "title": "服务器内部错误，请稍后重试或联系管理员",
            "status": 500,
        });
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body.to_string(),
        )
            .into_response()
    })
}

/// Replaces the process's panic hook, once, by one that logs a panic as a single `error`
/// line with its place in the code and its message (personal data masked), without the
/// default hook's backtrace. For `lianban serve` only: a test process keeps the default
/// hook, which prints its failed assertions.
pub fn install_panic_hook() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let payload = info.payload();
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            let message = lianban_core::privacy::mask_text(&message);
            let at = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()))
                .unwrap_or_default();
            let thread = std::thread::current();
            let thread = thread.name().unwrap_or("unnamed");
            tracing::error!(%at, %thread, %message, "panic");
        }));
    });
}
