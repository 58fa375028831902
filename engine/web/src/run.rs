//! Running the service: the HTTP server and the background workers together, until the
//! process is told to stop. `lianban serve` calls [`run`]; the acceptance tests call
//! [`run_until`] with a shutdown of their own, so both run the same thing.

use std::sync::Arc;

use lianban_service::app::App;
use tokio::net::TcpListener;

/// What `lianban serve` runs: [`run_until`] SIGTERM or Ctrl-C, reloading the definitions
/// on SIGHUP, with panics logged as one line each ([`crate::install_panic_hook`]).
///
/// # Errors
/// As [`run_until`].
pub async fn run(app: Arc<App>, listener: TcpListener) -> anyhow::Result<()> {
    crate::install_panic_hook();
    spawn_reload_on_sighup(Arc::clone(&app));
    run_until(app, listener, shutdown_signal()).await
}

/// Serves HTTP on the listener and runs the background workers (unless the settings say
/// they are off) until `shutdown` resolves; then stops accepting, finishes the requests in
/// flight and stops the workers, which give back their leases.
///
/// # Errors
/// When the server fails.
pub async fn run_until(
    app: Arc<App>,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    app.hint_when_no_accounts().await;
    let workers = app.spawn_workers();
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "listening");
    let router = crate::router(Arc::clone(&app));
    let served = crate::serve(listener, router, shutdown).await;
    app.stop();
    if let Some(workers) = workers
        && let Err(e) = workers.await
    {
        tracing::warn!(error = %e, "background workers ended abnormally");
    }
    served?;
    tracing::info!("stopped");
    Ok(())
}

fn spawn_reload_on_sighup(app: Arc<App>) {
    #[cfg(unix)]
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            tracing::warn!("cannot listen for SIGHUP; reload only through the admin call");
            return;
        };
        while hangups.recv().await.is_some() {
            tracing::info!("SIGHUP: reloading definitions");
            if let Err(e) = app.reload().await {
                tracing::error!("reload refused, old definitions stay in force:\n{e}");
            }
        }
    });
    #[cfg(not(unix))]
    let _ = app;
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}
