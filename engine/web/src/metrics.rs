//! Prometheus metrics: every HTTP request counted by method, route template and status,
//! its latency in a histogram, and at scrape time the open and overdue tasks of each
//! department from one grouped store query and, per working-day calendar in force, whether
//! a holiday notice is missing (`lianban_calendar_next_year_missing`). The format is prometheus-client's text
//! exposition (OpenMetrics text, which Prometheus scrapes natively).
//!
//! `GET /metrics` answers on the loopback interface, or to anyone with the admin token: the
//! numbers say how busy each department is, which is not for the public.

use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use super::admin::authorize_admin;
use super::{ApiError, Ctx};

/// Route label of requests no route matched: one value, so probing random paths cannot
/// grow the number of series.
const UNMATCHED: &str = "unmatched";

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DepartmentLabels {
    county: String,
    department: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CalendarLabels {
    calendar: String,
}

type LatencyFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 5 ms … about 10 s: pages and API calls are expected well under a second.
    Histogram::new(exponential_buckets(0.005, 2.0, 12))
}

/// The request metrics of one running app (a registry per app, not a global recorder, so
/// that several apps in one test process count apart).
#[derive(Debug)]
pub(super) struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: LatencyFamily,
    panics: Counter,
}

impl Metrics {
    /// Counts a handler that panicked (see `panics`).
    pub(super) fn count_panic(&self) {
        self.panics.inc();
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = LatencyFamily::new_with_constructor(latency_histogram);
        let mut registry = Registry::with_prefix("lianban");
        registry.register(
            "http_requests",
            "HTTP requests by method, route template and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by method and route template",
            latency.clone(),
        );
        let panics = Counter::default();
        registry.register(
            "panics",
            "Requests whose handler panicked (answered 500); each one is a bug",
            panics.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            panics,
        }
    }
}

/// Middleware: counts and times each request under its route template (`/tasks/{id}`,
/// never the id itself).
pub(super) async fn track(State(ctx): State<Ctx>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED, MatchedPath::as_str)
        .to_owned();
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let metrics = &ctx.metrics;
    metrics
        .latency
        .get_or_create(&RouteLabels {
            method: method.clone(),
            route: route.clone(),
        })
        .observe(started.elapsed().as_secs_f64());
    metrics
        .requests
        .get_or_create(&RequestLabels {
            method,
            route,
            status: response.status().as_u16(),
        })
        .inc();
    response
}

/// Whether the request came straight from this machine: a loopback peer, and no proxy
/// header (a reverse proxy on the same host would otherwise make everyone local).
fn from_loopback(request: &Request) -> bool {
    let direct = !["forwarded", "x-forwarded-for", "x-real-ip"]
        .iter()
        .any(|h| request.headers().contains_key(*h));
    direct
        && request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .is_some_and(|ConnectInfo(peer)| peer.ip().is_loopback())
}

/// `GET /metrics`: the request metrics, then the task gauges computed now.
pub(super) async fn scrape(State(ctx): State<Ctx>, request: Request) -> Result<Response, ApiError> {
    if !from_loopback(&request) {
        let headers: &HeaderMap = request.headers();
        authorize_admin(&ctx.app, headers)?;
    }
    let engine = ctx.app.engine();
    let loads = engine.open_task_counts(engine.now()).await?;
    // The gauges live in a registry of their own, made per scrape: a department whose
    // tasks are all done disappears instead of lingering at its last value.
    let open = Family::<DepartmentLabels, Gauge>::default();
    let overdue = Family::<DepartmentLabels, Gauge>::default();
    for load in loads {
        let labels = DepartmentLabels {
            county: load.county,
            department: load.department,
        };
        open.get_or_create(&labels)
            .set(i64::try_from(load.open).unwrap_or(i64::MAX));
        overdue
            .get_or_create(&labels)
            .set(i64::try_from(load.overdue).unwrap_or(i64::MAX));
    }
    // 1 for a calendar in force that lacks next year's notice from 1 November (or this
    // year's at any time), else 0: the policy officer's yearly update, as an alert.
    let missing = Family::<CalendarLabels, Gauge>::default();
    let warnings = engine.calendar_warnings();
    for calendar in engine.calendars() {
        let lacking = warnings.iter().any(|w| w.calendar == calendar.name);
        missing
            .get_or_create(&CalendarLabels {
                calendar: calendar.name.clone(),
            })
            .set(i64::from(lacking));
    }
    let mut gauges = Registry::with_prefix("lianban");
    gauges.register(
        "calendar_next_year_missing",
        "1 when a working-day calendar in force lacks the State Council holiday notice of next year (from 1 November) or of this year",
        missing,
    );
    gauges.register(
        "open_tasks",
        "Open or claimed tasks by county and department",
        open,
    );
    gauges.register(
        "overdue_tasks",
        "Open or claimed tasks past their due time by county and department",
        overdue,
    );
    let mut body = String::new();
    encode_registry(&mut body, &ctx.metrics.registry)
        .and_then(|()| encode_registry(&mut body, &gauges))
        .and_then(|()| encode_eof(&mut body))
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("encoding metrics: {e}")))?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response())
}
