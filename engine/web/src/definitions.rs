//! `/api/v1/processes/{id}` and `/api/v1/processes/validate`: a definition in detail, and
//! checking a definition's YAML with the server's loader, templates and rule files before a
//! policy officer puts it in place. For supervisors and admins signed in, and the
//! operator's admin token; not for API keys (they act as clerks). Nothing here changes
//! anything.

use std::path::{Path, PathBuf};

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequestParts, Path as UrlPath, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use serde_json::{Value, json};

use super::answers::{ProcessDetail, ProcessInfo, Processes, StoredVersion, Validated};
use super::session::bearer;
use super::{ApiError, Ctx, Identity, admin};
use lianban_core::accounts::{API_KEY_PREFIX, Role, county_of};
use lianban_core::definition::{Diagnostic, SourceFile};
use lianban_service::{EngineError, StoreError};

/// Who may read definitions in detail through the API: the admin token (every county), or
/// a signed-in supervisor or admin (with the CSRF token on a POST, as for every cookie
/// request), limited to their county when they have one.
#[derive(Debug)]
pub(super) struct Overseer {
    /// The county the caller is limited to; `None` for every county.
    county: Option<String>,
}

impl Overseer {
    /// Whether the caller may see the process `id`: a process of another county answers
    /// exactly as one that is not loaded (404), as cases and tasks of another county do.
    fn sees(&self, id: &str) -> bool {
        self.county.as_deref().is_none_or(|c| county_of(id) == c)
    }
}

impl FromRequestParts<Ctx> for Overseer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, ctx: &Ctx) -> Result<Self, ApiError> {
        if let Some(token) = bearer(&parts.headers) {
            // An API key acts as a clerk: known, but not allowed here. Anything else must
            // be the admin token.
            if token.starts_with(API_KEY_PREFIX) {
                Identity::from_request_parts(parts, ctx).await?;
                return Err(ApiError::Forbidden("API 密钥不能查看或校验流程定义"));
            }
            admin::authorize_admin(&ctx.app, &parts.headers)?;
            return Ok(Overseer { county: None });
        }
        let identity = Identity::from_request_parts(parts, ctx).await?;
        if identity
            .roles
            .iter()
            .any(|r| matches!(r, Role::Supervisor | Role::Admin))
        {
            Ok(Overseer {
                county: identity.county,
            })
        } else {
            Err(ApiError::Forbidden("只有负责人和管理员可以查看流程定义"))
        }
    }
}

/// Who may list the definitions in force: anyone signed in (session or API key) sees their
/// county's; the admin token and admins also see the file each was loaded from (a path on
/// the server, which is nobody else's business).
#[derive(Debug)]
pub(super) struct Reader {
    /// The county the caller is limited to; `None` for every county.
    county: Option<String>,
    /// Whether file paths may be shown.
    admin: bool,
}

impl Reader {
    /// The county the caller is limited to; `None` for every county.
    pub(super) fn county(&self) -> Option<&str> {
        self.county.as_deref()
    }
}

impl FromRequestParts<Ctx> for Reader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, ctx: &Ctx) -> Result<Self, ApiError> {
        if let Some(token) = bearer(&parts.headers)
            && !token.starts_with(API_KEY_PREFIX)
        {
            admin::authorize_admin(&ctx.app, &parts.headers)?;
            return Ok(Reader {
                county: None,
                admin: true,
            });
        }
        let identity = Identity::from_request_parts(parts, ctx).await?;
        Ok(Reader {
            admin: identity.principal().is_admin(),
            county: identity.county,
        })
    }
}

/// The definitions in force that the caller may see.
#[utoipa::path(
    get,
    path = "/api/v1/processes",
    operation_id = "listProcesses",
    tag = "definitions",
    responses(
        (status = 200, description = "the definitions in force of the caller's county (every county for an account or key without one); `file` for admins and the admin token only", body = Processes),
        super::openapi::AuthProblems,
    ),
    security(("session" = []), ("api_key" = []), ("admin_token" = []))
)]
pub(super) async fn list(State(ctx): State<Ctx>, reader: Reader) -> Json<Processes> {
    let catalog = ctx.app.engine().catalog();
    let processes = catalog
        .iter()
        .filter(|p| {
            reader
                .county
                .as_deref()
                .is_none_or(|c| county_of(&p.id) == c)
        })
        .map(|p| ProcessInfo::of(p, reader.admin))
        .collect();
    Json(Processes { processes })
}

/// The latest loaded version of a process in detail, and every version stored.
#[utoipa::path(
    get,
    path = "/api/v1/processes/{id}",
    operation_id = "getProcess",
    tag = "definitions",
    params(("id" = String, Path, description = "process id, e.g. `yangcheng.retirement`")),
    responses(
        (status = 200, description = "the latest version in detail, and the stored versions", body = ProcessDetail),
        super::openapi::AuthProblems,
        (status = 404, description = "no process with this id is loaded, or it is another county's", body = super::openapi::Problem, content_type = "application/problem+json"),
    ),
    security(("session" = []), ("admin_token" = []))
)]
pub(super) async fn get(
    State(ctx): State<Ctx>,
    who: Overseer,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<ProcessDetail>, ApiError> {
    let engine = ctx.app.engine();
    let process = engine
        .catalog()
        .latest(&id)
        .filter(|_| who.sees(&id))
        .ok_or_else(|| ApiError::NotFound(format!("没有流程 {id}")))?;
    let versions = engine
        .definition_versions(&id)
        .await?
        .iter()
        .map(|v| StoredVersion::of(v, engine.catalog().get(&id, v.version).is_some()))
        .collect();
    Ok(Json(ProcessDetail::new(&process, versions)))
}

/// The YAML of a validate request: the body as is (`text/yaml`, `application/yaml`), or
/// the `yaml` member of a JSON object.
fn yaml_text(headers: &HeaderMap, bytes: &[u8]) -> Result<String, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let unreadable = |title: &str| ApiError::BadRequest {
        title: title.to_owned(),
        extra: json!({}),
    };
    match content_type.as_str() {
        "application/json" => {
            let value: Value = serde_json::from_slice(bytes)
                .map_err(|e| unreadable(&format!("请求体不是有效的 JSON：{e}")))?;
            match value.get("yaml") {
                Some(Value::String(text)) => Ok(text.clone()),
                _ => Err(ApiError::field("yaml", "应为字符串：定义文件的全文")),
            }
        }
        "text/yaml" | "application/yaml" | "application/x-yaml" | "text/x-yaml" | "text/plain" => {
            String::from_utf8(bytes.to_vec())
                .map_err(|_| unreadable("定义文件应为 UTF-8 编码的文本"))
        }
        _ => Err(unreadable(
            "请用 Content-Type: text/yaml 发送定义文件，或用 application/json 发送 {\"yaml\": \"…\"}",
        )),
    }
}

/// The value of the top-level `id:` line, so the definition can be checked where it would
/// live (its county's folder, beside its rule files and calendars). Only a guess to find
/// those files; the loader itself reads the id properly.
fn declared_id(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("id:"))
        .map(|v| v.split('#').next().unwrap_or_default())
        .map(|v| v.trim().trim_matches(['"', '\'']).to_owned())
        .filter(|v| !v.is_empty())
}

/// Where the uploaded text is checked as if it were, and the server's files it may use:
/// the file of the loaded version of the same id (so `rules:` paths resolve to the same
/// rule files), else a file in the county's folder with every source file of that county.
fn placement(ctx: &Ctx, text: &str) -> (String, Vec<SourceFile>) {
    let dir: PathBuf = ctx.app.settings().processes_dir.clone();
    let catalog = ctx.app.engine().catalog();
    let id = declared_id(text);
    let county = id.as_deref().map(county_of).unwrap_or_default().to_owned();
    let same = id.as_deref().and_then(|id| catalog.latest(id));
    let path = match &same {
        Some(p) => p.file.clone(),
        None if !county.is_empty() => dir
            .join(&county)
            .join("_validate.yaml")
            .display()
            .to_string(),
        None => dir.join("_validate.yaml").display().to_string(),
    };
    let mut others: Vec<SourceFile> = Vec::new();
    for process in catalog
        .iter()
        .filter(|p| !county.is_empty() && county_of(&p.id) == county)
    {
        for source in process.sources.iter().skip(1) {
            if !others.iter().any(|s| s.path == source.path) {
                others.push(source.clone());
            }
        }
    }
    (path, others)
}

fn diagnostic_json(d: &Diagnostic, uploaded: &str) -> Value {
    json!({
        "code": d.code,
        "message": d.message,
        "hint": d.hint,
        "line": d.line,
        "column": d.column,
        "path": d.path,
        // The uploaded text itself is `null`; other files (rules, templates) by name.
        "file": (d.file != uploaded).then(|| relative(&d.file)),
    })
}

/// A file name without the server's directories.
fn relative(file: &str) -> String {
    Path::new(file)
        .components()
        .rev()
        .take(3)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<PathBuf>()
        .display()
        .to_string()
}

fn invalid(diagnostics: Vec<Value>) -> ApiError {
    ApiError::Validation {
        title: format!("流程定义有 {} 处错误", diagnostics.len()),
        extra: json!({ "valid": false, "diagnostics": diagnostics }),
    }
}

/// Checks a definition's YAML with the server's loader, templates and rule files, and
/// against the stored versions (a version with cases cannot change). Changes nothing.
#[utoipa::path(
    post,
    path = "/api/v1/processes/validate",
    operation_id = "validateProcess",
    tag = "definitions",
    request_body(content = String, description = "the definition file (`text/yaml`), or `{\"yaml\": \"…\"}` as `application/json`", content_type = "text/yaml"),
    responses(
        (status = 200, description = "the definition is valid; a summary of it", body = Validated),
        (status = 400, description = "the body is not readable (content type, encoding, JSON)", body = super::openapi::Problem, content_type = "application/problem+json"),
        super::openapi::AuthProblems,
        (status = 413, description = "larger than 1 MiB", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 422, description = "the definition has errors: `diagnostics` with line and column", body = super::openapi::Invalid, content_type = "application/problem+json"),
    ),
    security(("session" = []), ("admin_token" = []))
)]
pub(super) async fn validate(
    State(ctx): State<Ctx>,
    who: Overseer,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Validated>, ApiError> {
    // The router's body limit (1 MiB) applies to this extractor.
    let bytes = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge
        } else {
            ApiError::BadRequest {
                title: "无法读取请求体".into(),
                extra: json!({}),
            }
        }
    })?;
    let text = yaml_text(&headers, &bytes)?;
    // Checked against the server's files of the id's county: another county's rule files,
    // calendars and stored versions are not a supervisor's to probe.
    if declared_id(&text).is_some_and(|id| !who.sees(&id)) {
        return Err(ApiError::Coded {
            code: "other-county",
            error: Box::new(ApiError::Forbidden(
                "只能校验本县区的流程定义（id 以本县区开头）",
            )),
        });
    }
    let (path, others) = placement(&ctx, &text);
    let mut sources = vec![SourceFile {
        path: path.clone(),
        text,
    }];
    sources.extend(others);
    let templates = ctx.app.templates();
    let process = match lianban_core::definition::load_sources(&sources, &*templates) {
        Ok(process) => process,
        Err(e) => {
            return Err(invalid(
                e.diagnostics
                    .iter()
                    .map(|d| diagnostic_json(d, &path))
                    .collect(),
            ));
        }
    };
    let engine = ctx.app.engine();
    if let Err(EngineError::Store(e @ StoreError::VersionChanged { .. })) =
        engine.check_definition(&process).await
    {
        let text = &sources[0].text;
        let line = text
            .lines()
            .position(|l| l.starts_with("version:"))
            .map_or(1, |i| i + 1);
        return Err(invalid(vec![json!({
            "code": "E-VERSION",
            "message": e.to_string(),
            "hint": format!("修改已有办件的流程时请把 `version` 改为 {}", process.version + 1),
            "line": line,
            "column": 1,
            "path": "version",
            "file": null,
        })]));
    }
    let stored = engine
        .definition_versions(&process.id)
        .await?
        .iter()
        .map(|v| v.version)
        .collect();
    Ok(Json(Validated::new(&process, stored)))
}

#[cfg(test)]
mod tests {
    use super::{declared_id, relative};

    #[test]
    fn finds_the_declared_id() {
        assert_eq!(
            declared_id("# c\nid: yangcheng.retirement # x\nversion: 1").as_deref(),
            Some("yangcheng.retirement")
        );
        assert_eq!(declared_id("id: 'a.b'").as_deref(), Some("a.b"));
        assert_eq!(declared_id("name: x\n  id: nested"), None);
    }

    #[test]
    fn file_names_lose_server_directories() {
        assert_eq!(
            relative("/srv/lianban/processes/yangcheng/rules/r.rhai"),
            "yangcheng/rules/r.rhai"
        );
    }
}
