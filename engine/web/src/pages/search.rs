//! `GET /cases`: 办件查询 — the cases the person's department takes part in, most recently
//! changed first, by status and by an applicant's exact name or ID number (an index lookup,
//! see the `add_case_search` migration). Titles are masked; the case page shows the rest.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::view::{case_status_text, time};
use super::{PageUser, render};
use crate::input::QueryParams;
use crate::{ApiError, Ctx};
use lianban_service::records::CaseQuery;

/// Rows per page.
const PAGE_SIZE: u64 = 50;

/// The search form's fields.
#[derive(Debug, Default, Deserialize)]
pub(super) struct SearchParams {
    #[serde(default)]
    status: String,
    #[serde(default)]
    q: String,
    /// `week` or `month`: only cases that ended this week or month (Beijing time).
    #[serde(default)]
    ended: String,
    #[serde(default)]
    page: Option<u64>,
}

/// The case search page.
pub(super) async fn page(
    State(ctx): State<Ctx>,
    user: PageUser,
    QueryParams(params): QueryParams<SearchParams>,
) -> Result<Response, ApiError> {
    if !user.0.principal().works_cases() {
        return Err(ApiError::Forbidden("只有经办人和负责人可以查询办件"));
    }
    let (page_no, skip) = crate::input::page_offset(params.page, PAGE_SIZE)?;
    let status = match params.status.as_str() {
        s @ ("active" | "completed" | "cancelled") => vec![s.to_owned()],
        _ => Vec::new(),
    };
    let now = ctx.app.engine().now();
    let ended_since = match params.ended.as_str() {
        "week" => Some(super::dashboard::week_start(now)),
        "month" => Some(super::dashboard::month_start(now)),
        _ => None,
    };
    let query = CaseQuery {
        statuses: status,
        ended_since,
        department: Some(user.0.department.clone()),
        county: user.0.county.clone(),
        search: Some(params.q.trim().to_owned()).filter(|q| !q.is_empty()),
        limit: Some(PAGE_SIZE + 1),
        offset: skip,
        ..CaseQuery::default()
    };
    let mut cases = ctx.app.engine().list_cases(&query).await?;
    let more = cases.len() as u64 > PAGE_SIZE;
    cases.truncate(usize::try_from(PAGE_SIZE).unwrap_or(usize::MAX));
    let catalog = ctx.app.engine().catalog();
    let rows: Vec<Value> = cases
        .iter()
        .map(|c| {
            let process = catalog.get(&c.process, c.version);
            json!({
                "id": c.id.to_string(),
                "number": c.number,
                "title": c.title.as_deref().unwrap_or("（无标题）"),
                "process": process.as_ref().map_or(c.process.as_str(), |p| p.name.as_str()),
                "status": case_status_text(&c.status),
                "result": c.result,
                "steps": super::view::step_names(process.as_deref(), &c.current_steps),
                "updated_at": time(c.updated_at),
            })
        })
        .collect();
    let link = |n: u64| {
        let q: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("status", &params.status)
            .append_pair("q", &params.q)
            .append_pair("ended", &params.ended)
            .append_pair("page", &n.to_string())
            .finish();
        format!("/cases?{q}")
    };
    let page = json!({
        "rows": rows,
        "filters": {"status": params.status, "q": params.q, "ended": params.ended},
        "page": page_no,
        "prev": (page_no > 1).then(|| link(page_no - 1)),
        "next": more.then(|| link(page_no + 1)),
    });
    render(
        &ctx,
        &user,
        StatusCode::OK,
        "web/cases.html.j2",
        "办件查询",
        page,
    )
}
