//! HTTP: translates requests into engine calls and results into JSON. The only module that
//! imports axum; it decides nothing about cases itself, and asks [`lianban_core::accounts`] who
//! may see and do what.
//!
//! Files: `session` (cookies, tokens, the [`Identity`] extractor and CSRF), `login` (login
//! and logout, with `throttle` slowing and locking repeated failures and `keys` signing
//! login tokens and known browsers), `input` (JSON and
//! query input whose errors name the field), `tasks` (inbox, claim, unclaim, complete),
//! `cases` (cases and their documents), `admin` (health, definitions, reload),
//! `definitions` (a definition in detail, validating YAML), `forms` (a start form as JSON
//! Schema), `metrics`
//! (Prometheus: requests, latencies, open and overdue tasks), `openapi` (the JSON API's
//! OpenAPI document), `pages` (the clerks' HTML
//! pages), `panics` (a handler's panic answered 500 and counted), `security` (headers on
//! every answer).

mod absences;
mod admin;
mod answers;
mod cases;
mod definitions;
mod error;
mod forms;
mod idempotency;
mod input;
mod keys;
mod login;
mod metrics;
mod openapi;
mod pages;
mod panics;
mod push;
mod run;
mod security;
mod session;
mod tasks;
mod throttle;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, FromRef, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use tokio::net::TcpListener;

pub use error::ApiError;
pub use panics::install_panic_hook;
pub use run::{run, run_until};
pub use session::Identity;

use lianban_service::app::App;

/// Largest request body accepted (JSON forms are small; documents are not uploaded here).
pub const BODY_LIMIT: usize = 1024 * 1024;

/// What every handler can reach.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    app: Arc<App>,
    throttle: Arc<throttle::Throttle>,
    login_key: Arc<keys::LoginKey>,
    metrics: Arc<metrics::Metrics>,
}

impl FromRef<Ctx> for Arc<App> {
    fn from_ref(ctx: &Ctx) -> Self {
        Arc::clone(&ctx.app)
    }
}

/// The application's routes.
pub fn router(app: Arc<App>) -> Router {
    router_with(app, Router::new())
}

/// The application's routes and the caller's `extra` ones, all behind the same layers
/// (panic catching, metrics, security headers…). The tests prove the panic layer with a
/// route of their own that panics; no route of the service's does.
pub fn router_with(app: Arc<App>, extra: Router) -> Router {
    let ctx = Ctx {
        app,
        throttle: Arc::default(),
        login_key: Arc::default(),
        metrics: Arc::default(),
    };
    Router::new()
        .route("/healthz", get(admin::health))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics::scrape))
        .route("/login", get(login::page).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/api/openapi.json", get(openapi::document))
        .route("/api/v1/session", get(login::current))
        .route("/api/v1/inbox", get(tasks::inbox))
        .route("/api/v1/tasks/{id}/claim", post(tasks::claim))
        .route("/api/v1/tasks/{id}/unclaim", post(tasks::unclaim))
        .route("/api/v1/tasks/{id}/complete", post(tasks::complete))
        .route("/api/v1/tasks/{id}/reassign", post(tasks::reassign))
        .route(
            "/api/v1/absences",
            get(absences::list).post(absences::record),
        )
        .route("/api/v1/absences/{user}/end", post(absences::end))
        .route("/api/v1/cases", get(cases::list).post(cases::start))
        .route("/api/v1/cases/{id}", get(cases::get))
        .route("/api/v1/cases/{id}/events/{event}", post(cases::deliver))
        .route("/api/v1/cases/{id}/cancel", post(cases::cancel))
        .route("/api/v1/cases/{id}/documents", get(cases::documents))
        .route("/api/v1/cases/{id}/documents/{doc}", get(cases::document))
        .route("/api/v1/processes", get(definitions::list))
        .route("/api/v1/admin/reload", post(admin::reload))
        .route("/api/v1/admin/cases/migrate", post(admin::migrate_cases))
        .route("/api/v1/push-tables", get(push::list))
        .route("/api/v1/push-tables/{id}", get(push::get))
        .route("/api/v1/admin/outbox", get(push::outbox))
        .route("/api/v1/admin/outbox/{id}/retry", post(push::retry))
        .route("/api/v1/processes/validate", post(definitions::validate))
        .route("/api/v1/processes/{id}", get(definitions::get))
        .route("/api/v1/processes/{id}/form", get(forms::get))
        .route("/api/v1/dashboard", get(pages::dashboard::api))
        .merge(pages::routes())
        .fallback(admin::not_found)
        .with_state(ctx.clone())
        .merge(extra)
        // Innermost, so that what a panic answers is tracked, made idempotent and given
        // the security headers like any other answer.
        .layer(panics::layer(Arc::clone(&ctx.metrics)))
        .layer(axum::middleware::from_fn_with_state(
            ctx.clone(),
            idempotency::layer,
        ))
        .layer(axum::middleware::from_fn_with_state(
            ctx.clone(),
            metrics::track,
        ))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(ctx, security::headers))
}

/// `/readyz`: 200 when the database answers, 503 otherwise. `warnings` lists what an
/// operator must attend to without the service being unready: a working-day calendar that
/// lacks next year's holiday notice from 1 November (or this year's).
async fn ready(State(ctx): State<Ctx>) -> axum::response::Response {
    let engine = ctx.app.engine();
    match engine.ping().await {
        Ok(()) => {
            let warnings: Vec<_> = engine
                .calendar_warnings()
                .into_iter()
                .map(|w| {
                    json!({
                        "code": "calendar-next-year-missing",
                        "calendar": w.calendar,
                        "year": w.year,
                        "provisional": w.provisional,
                        "message": w.message,
                    })
                })
                .collect();
            Json(json!({"status": "ready", "warnings": warnings})).into_response()
        }
        Err(e) => {
            tracing::warn!(error = ?e, "database not reachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "unavailable"})),
            )
                .into_response()
        }
    }
}

/// Serves the router until `shutdown` resolves, finishing requests in flight. Handlers see
/// the client's address (login throttling).
///
/// # Errors
/// When accepting connections fails.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
