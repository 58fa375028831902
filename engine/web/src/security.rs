//! Security headers on every response: pages run no inline script or style, may not be
//! framed, the browser must not guess content types, nothing is kept in a cache (answers
//! carry personal data) and, behind HTTPS, the browser sticks to HTTPS.

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use super::Ctx;

/// The policy of the service's own pages and answers. Issued documents set their own,
/// stricter one (no scripts at all; their print styles are inline), which is kept.
pub(super) const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; \
     base-uri 'none'";

/// What `Strict-Transport-Security` says with `--secure-cookies` (the service is reached
/// over HTTPS only): one year, this host only (a county's other hosts are not ours to
/// bind).
pub(super) const STRICT_TRANSPORT_SECURITY: &str = "max-age=31536000";

/// Adds the headers a response does not set itself. Every answer but the static files
/// (which set their own `Cache-Control`) is `no-store`: cases, tasks, printed documents,
/// push tables and API answers carry personal data that must not stay in a shared
/// computer's cache or a proxy.
pub(super) async fn headers(State(ctx): State<Ctx>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let defaults: [(HeaderName, &'static str); 5] = [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::CACHE_CONTROL, "no-store"),
    ];
    for (name, value) in defaults {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
    if ctx.app.settings().secure_cookies {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(STRICT_TRANSPORT_SECURITY),
        );
    }
    response
}
