//! `GET /api/v1/processes/{id}/form`: the start form of a process as JSON Schema 2020-12
//! (built by `lianban_core`'s `Process::form_schema`), for other systems' portal forms and
//! client generators. Anyone signed in may read their county's (a session, any API key of
//! the county, intake keys included), and the admin token every county's.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use lianban_core::accounts::county_of;

use super::definitions::Reader;
use super::{ApiError, Ctx};

/// The media type of a JSON Schema document.
const SCHEMA_JSON: &str = "application/schema+json";

/// The start form of the latest loaded version of a process, as JSON Schema 2020-12.
#[utoipa::path(
    get,
    path = "/api/v1/processes/{id}/form",
    operation_id = "getProcessForm",
    tag = "definitions",
    params(("id" = String, Path, description = "process id, e.g. `yangcheng.retirement`")),
    responses(
        (status = 200, description = "the start form (`form` of `POST /api/v1/cases`) as JSON Schema 2020-12: Chinese `title`s and `description`s, `enum`s for choices, `pattern`s for ID numbers, phones and year-months, `required`, and the fields' `when:` conditions as `if`/`then`", body = serde_json::Value, content_type = "application/schema+json"),
        super::openapi::AuthProblems,
        (status = 404, description = "no process with this id is loaded, or it is another county's", body = super::openapi::Problem, content_type = "application/problem+json"),
    ),
    security(("session" = []), ("api_key" = []), ("admin_token" = []))
)]
pub(super) async fn get(
    State(ctx): State<Ctx>,
    reader: Reader,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let process = ctx
        .app
        .engine()
        .catalog()
        .latest(&id)
        // A base (`abstract: true`) is not in force by itself: no case starts on its form.
        .filter(|p| !p.is_abstract)
        .filter(|_| reader.county().is_none_or(|c| county_of(&id) == c))
        .ok_or_else(|| ApiError::NotFound(format!("没有流程 {id}")))?;
    Ok((
        [(header::CONTENT_TYPE, SCHEMA_JSON)],
        Json(process.form_schema()),
    )
        .into_response())
}
