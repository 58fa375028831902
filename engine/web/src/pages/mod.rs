//! The clerks' HTML pages: inbox, task, case and definitions, rendered from the built-in
//! templates under `templates/web/` ([`lianban_core::documents::Pages`]). Pages decide nothing
//! about cases: they read through the store and act through the same engine calls as the
//! JSON API, with the same permission checks.
//!
//! A page without a session redirects to `/login?next=…`; every form that changes
//! something carries the session's CSRF token in a `csrf` field, checked here. Files:
//! `inbox` (list, claim, unclaim), `task` (task page, complete), `case` (case page,
//! printing issued documents and previews), `actions` (the case page's forms: events, 撤件), `intake` (the window's application form), `search` (办件查询),
//! `fields` (form fields between HTML and JSON), `guide` (the public 办事指南 and blank 一次性告知单), `definitions` (supervisors and admins), `view` (turning
//! records into what the templates show: Beijing time, Chinese words, masking).
//! `dashboard` (督办看板 for supervisors and admins, its exports and JSON API) draws its
//! charts with `charts` (SVG on the server, no JavaScript).

mod absences;
mod actions;
mod case;
mod charts;
pub(super) mod dashboard;
mod definitions;
mod fields;
mod guide;
mod inbox;
mod intake;
mod overdue;
mod push_tables;
mod search;
mod task;
mod view;

use axum::Router;
use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::session::{same_secret, session_identity};
use super::{ApiError, Ctx, Identity};
use lianban_core::accounts::Role;

/// The stylesheet of every page, served at `/static/app.css`.
const APP_CSS: &str = include_str!("../../../../templates/web/static/app.css");
/// The intake window's live materials checklist, served at `/static/intake.js`.
const INTAKE_JS: &str = include_str!("../../../../templates/web/static/intake.js");

/// The page routes.
pub(super) fn routes() -> Router<Ctx> {
    Router::new()
        .route("/", get(root))
        .route("/static/app.css", get(stylesheet))
        .route("/static/intake.js", get(intake_script))
        .route("/inbox", get(inbox::page))
        .route("/tasks/{id}", get(task::page))
        .route("/tasks/{id}/claim", post(inbox::claim))
        .route("/tasks/{id}/unclaim", post(inbox::unclaim))
        .route("/tasks/{id}/complete", post(task::complete))
        .route("/cases", get(search::page))
        .route("/cases/{id}", get(case::page))
        .route("/cases/{id}/print/{doc}", get(case::print))
        .route("/cases/{id}/download/{doc}", get(case::download))
        .route("/cases/{id}/events/{event}", post(actions::deliver))
        .route("/cases/{id}/cancel", post(actions::cancel))
        .route("/intake", get(intake::page).post(intake::submit))
        .route("/guide/{id}", get(guide::page))
        .route("/cases/{id}/preview/{doc}", get(case::preview))
        .route("/definitions", get(definitions::page))
        .route("/push-tables", get(push_tables::page))
        .route("/push-tables/{file}", get(push_tables::file))
        .route("/outbox", get(push_tables::outbox))
        .route("/outbox/{id}/retry", post(push_tables::retry))
        .route("/overdue", get(overdue::page))
        .route("/absences", get(absences::page).post(absences::record))
        .route("/absences/end", post(absences::end))
        .route("/tasks/{id}/reassign", post(task::reassign))
        .route("/dashboard", get(dashboard::page))
        .route("/dashboard.csv", get(dashboard::export_csv))
        .route("/dashboard.xlsx", get(dashboard::export_xlsx))
        .route(
            "/definitions/{id}/diagram.svg",
            get(definitions::diagram_svg),
        )
        .route("/definitions/{id}/diagram", get(definitions::diagram_page))
        .route(
            "/definitions/{id}/resolved",
            get(definitions::resolved_page),
        )
        .layer(axum::middleware::map_response(html_errors))
}

/// Problem documents from page routes become a short HTML page with the same status and
/// words, and a way back; the JSON API keeps its problem+json.
async fn html_errors(response: Response) -> Response {
    let problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if !problem {
        return response;
    }
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .unwrap_or_default();
    let title = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["title"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "请求未能完成".to_owned());
    let html = format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>{code} · 联办</title>\
         <link rel=\"stylesheet\" href=\"/static/app.css\"></head><body><main><h1>{code}</h1>\
         <p class=\"error\" role=\"alert\">{message}</p><p><a href=\"/inbox\">返回收件箱</a></p>\
         </main></body></html>",
        code = status.as_u16(),
        message = escape(&title),
    );
    (status, Html(html)).into_response()
}

/// HTML-escapes text for element content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

/// A signed-in person on a page. Without a live session the request is redirected to the
/// login page, which sends the person back here afterwards.
#[derive(Debug, Clone)]
pub(super) struct PageUser(pub(super) Identity);

/// Where to go back to after login: only a path on this site (`/…`, never `//host`).
pub(super) fn safe_next(next: &str) -> Option<&str> {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.chars().any(char::is_control);
    ok.then_some(next)
}

impl FromRequestParts<Ctx> for PageUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, ctx: &Ctx) -> Result<Self, Response> {
        match session_identity(ctx, &parts.headers).await {
            Ok(Some((_, identity))) => Ok(PageUser(identity)),
            Ok(None) => {
                // A form posted after the session ended cannot be replayed by a GET: such a
                // browser goes back to the inbox after signing in.
                let here = if parts.method == axum::http::Method::GET {
                    parts.uri.path_and_query().map_or("/", |p| p.as_str())
                } else {
                    "/inbox"
                };
                let next: String = form_urlencoded::byte_serialize(here.as_bytes()).collect();
                Err(Redirect::to(&format!("/login?next={next}")).into_response())
            }
            Err(e) => Err(e.into_response()),
        }
    }
}

impl OptionalFromRequestParts<Ctx> for PageUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, ctx: &Ctx) -> Result<Option<Self>, Response> {
        match session_identity(ctx, &parts.headers).await {
            Ok(found) => Ok(found.map(|(_, identity)| PageUser(identity))),
            Err(e) => Err(e.into_response()),
        }
    }
}

impl PageUser {
    /// Checks the `csrf` field of a form against the session's token.
    ///
    /// # Errors
    /// [`ApiError::Forbidden`] when it is missing or wrong.
    pub(super) fn check_csrf(&self, given: &str) -> Result<(), ApiError> {
        if same_secret(given, &self.0.csrf) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "缺少或错误的 CSRF 令牌，请刷新页面后重试",
            ))
        }
    }

    /// Whether the person may see definitions (supervisors and admins).
    pub(super) fn oversees(&self) -> bool {
        self.0
            .roles
            .iter()
            .any(|r| matches!(r, Role::Supervisor | Role::Admin))
    }
}

/// The display name of department `key` of `county` (the county of the process a table,
/// task, notice or message belongs to: [`lianban_core::accounts::county_of`]), or the key
/// when no definition of the county declares it. Every page names departments through
/// here: two counties may both call a department `shebao`.
pub(super) fn department_name(ctx: &Ctx, county: &str, key: &str) -> String {
    ctx.app
        .engine()
        .catalog()
        .department(county, key)
        .map_or_else(|| key.to_owned(), |d| d.name.clone())
}

/// The name of the person's own department, for the page header: that of their county, or,
/// for an account of every county, the name all counties agree on (else the key).
fn home_department_name(ctx: &Ctx, me: &Identity) -> String {
    if let Some(county) = me.county.as_deref() {
        return department_name(ctx, county, &me.department);
    }
    let catalog = ctx.app.engine().catalog();
    let mut counties: Vec<&str> = catalog
        .iter()
        .map(|p| lianban_core::accounts::county_of(&p.id))
        .collect();
    counties.sort_unstable();
    counties.dedup();
    let mut names: Vec<&str> = counties
        .iter()
        .filter_map(|c| catalog.department(c, &me.department))
        .map(|d| d.name.as_str())
        .collect();
    names.sort_unstable();
    names.dedup();
    match names.as_slice() {
        [one] => (*one).to_owned(),
        _ => me.department.clone(),
    }
}

/// Renders a page inside the layout: `page` is the page's own context; the layout gets
/// `me` (name, department, roles, CSRF token, what the menu shows) and `title`.
pub(super) fn render(
    ctx: &Ctx,
    user: &PageUser,
    status: StatusCode,
    template: &str,
    title: &str,
    page: Value,
) -> Result<Response, ApiError> {
    let me = &user.0;
    let context = json!({
        "title": title,
        "me": {
            "user": me.user,
            "name": me.name,
            "department": home_department_name(ctx, me),
            "roles": me.roles.iter().map(|r| r.label()).collect::<Vec<_>>(),
            "csrf": me.csrf,
            "oversees": user.oversees(),
            "works": me.principal().works_cases(),
            "admin": me.roles.contains(&Role::Admin),
            "intake": !intake::startable(ctx, &user.0).is_empty(),
        },
        "page": page,
    });
    let html = ctx
        .app
        .pages()
        .render_page(template, &context)
        .map_err(|e| ApiError::Internal(e.into()))?;
    // The security layer adds the service's CSP (scripts and styles from our own static
    // files only) to every page.
    Ok((status, Html(html)).into_response())
}

/// `GET /`: the inbox when signed in, else the login page.
async fn root(user: Option<PageUser>) -> Redirect {
    match user {
        Some(_) => Redirect::to("/inbox"),
        None => Redirect::to("/login"),
    }
}

/// `GET /static/app.css`.
async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        APP_CSS,
    )
        .into_response()
}

/// `GET /static/intake.js`.
async fn intake_script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        INTAKE_JS,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::{escape, safe_next};

    #[test]
    fn error_text_is_escaped() {
        assert_eq!(escape("<b>&\"'"), "&lt;b&gt;&amp;&quot;&#x27;");
    }

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next("/tasks/1?x=2"), Some("/tasks/1?x=2"));
        assert_eq!(safe_next("//evil.example/"), None);
        assert_eq!(safe_next("/\\evil.example"), None);
        assert_eq!(safe_next("https://evil.example/"), None);
        assert_eq!(safe_next(""), None);
    }
}
