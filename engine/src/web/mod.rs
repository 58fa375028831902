//! HTTP: translates requests into engine calls and results into JSON. The only module that
//! imports axum; it decides nothing about cases itself.

mod admin;
mod error;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use tokio::net::TcpListener;

pub use error::ApiError;

use crate::app::App;

/// The application's routes.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/healthz", get(admin::health))
        .route("/api/v1/processes", get(admin::list_processes))
        .route("/api/v1/admin/reload", post(admin::reload))
        .fallback(admin::not_found)
        .with_state(app)
}

/// Serves the router until `shutdown` resolves, finishing requests in flight.
///
/// # Errors
/// When accepting connections fails.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}
