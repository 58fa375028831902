//! Reading request input so that every mistake is a 4xx naming the field: JSON bodies
//! (not declared `application/json` → 415, malformed → 400, wrong type or unknown field →
//! 422 with the field's path, too large → 413) and query strings (400).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::ApiError;

/// A JSON body read with the field path of any error.
#[derive(Debug)]
pub(super) struct JsonBody<T>(pub(super) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        // A body sent as `text/plain` (or as nothing in particular) is what a cross-site
        // form or a confused client sends; only a declared JSON body is read as one.
        let declared = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !is_json(declared) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::TooLarge
            } else {
                ApiError::BadRequest {
                    title: "无法读取请求体".into(),
                    extra: json!({}),
                }
            }
        })?;
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        let value: Result<T, _> = serde_path_to_error::deserialize(&mut de);
        match value {
            Ok(value) => match de.end() {
                Ok(()) => Ok(JsonBody(value)),
                Err(e) => Err(malformed("", &e.to_string())),
            },
            Err(e) => {
                let mut field = e.path().to_string();
                let inner = e.into_inner();
                let mut message = inner.to_string();
                // A missing field is reported at the object that lacks it (path `.`); the
                // client needs the field's own name.
                if let Some(missing) = missing_field(&message) {
                    field = if field == "." {
                        missing.to_owned()
                    } else {
                        format!("{field}.{missing}")
                    };
                    message = format!("缺少必填字段“{missing}”");
                }
                if inner.is_data() {
                    Err(ApiError::Validation {
                        title: format!("字段“{field}”有误：{message}"),
                        extra: json!({"errors": [{"field": field, "message": message}]}),
                    })
                } else {
                    Err(malformed(&field, &message))
                }
            }
        }
    }
}

/// Whether a `Content-Type` value declares JSON: `application/json` or `application/*+json`,
/// with any parameters (`; charset=utf-8`), in any letter case.
fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || essence
            .strip_prefix("application/")
            .is_some_and(|sub| sub.ends_with("+json") && sub.len() > "+json".len())
}

/// The name in serde's "missing field `name`" message.
fn missing_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("missing field `")?;
    rest.split_once('`').map(|(name, _)| name)
}

fn malformed(field: &str, message: &str) -> ApiError {
    ApiError::BadRequest {
        title: format!("请求体不是有效的 JSON：{message}"),
        extra: json!({"errors": [{"field": field, "message": message}]}),
    }
}

/// A query string; an unknown parameter or a bad value is a 400 that names it.
#[derive(Debug)]
pub(super) struct QueryParams<T>(pub(super) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(QueryParams)
            .map_err(|e| {
                let field = e.path().to_string();
                let message = query_message(&e.into_inner().to_string());
                ApiError::BadRequest {
                    title: format!("查询参数“{field}”有误：{message}"),
                    extra: json!({"errors": [{"field": field, "message": message}]}),
                }
            })
    }
}

/// The query parser's (English) complaint in the words a clerk reads: the common ones are
/// said in Chinese, anything else is kept as it is.
fn query_message(message: &str) -> String {
    if message.contains("invalid digit") || message.contains("cannot parse integer") {
        "应为不带符号的整数".to_owned()
    } else if message.contains("too large") {
        "数值过大".to_owned()
    } else if message.contains("empty string") {
        "不能为空".to_owned()
    } else if let Some(rest) = message.strip_prefix("unknown field `") {
        let name = rest.split('`').next().unwrap_or_default();
        format!("没有参数“{name}”")
    } else if let Some(rest) = message.strip_prefix("unknown variant `") {
        let name = rest.split('`').next().unwrap_or_default();
        format!("不能取值“{name}”")
    } else {
        message.to_owned()
    }
}

/// The largest `offset` (rows skipped) a list accepts. Nobody pages through a million
/// rows; an offset beyond it is a probe, and out of the database's integer range it would
/// not even bind.
pub(super) const MAX_OFFSET: u64 = 1_000_000;

/// A numeric query parameter outside its range: 400 naming it, with the stable code
/// `out-of-range`.
pub(super) fn out_of_range(field: &str, message: String) -> ApiError {
    ApiError::Coded {
        code: "out-of-range",
        error: Box::new(ApiError::BadRequest {
            title: format!("查询参数“{field}”超出范围：{message}"),
            extra: json!({"errors": [{"field": field, "message": message}]}),
        }),
    }
}

/// Checks `offset`: 0 to [`MAX_OFFSET`], 0 when absent.
pub(super) fn offset(offset: Option<u64>) -> Result<u64, ApiError> {
    match offset.unwrap_or(0) {
        n @ 0..=MAX_OFFSET => Ok(n),
        _ => Err(out_of_range("offset", format!("应为 0 到 {MAX_OFFSET}"))),
    }
}

/// Checks a page number of a paged page (`page`, from 1) and returns the rows it skips:
/// at most [`MAX_OFFSET`]. Absent or 0 is the first page.
pub(super) fn page_offset(page: Option<u64>, page_size: u64) -> Result<(u64, u64), ApiError> {
    let last = MAX_OFFSET / page_size + 1;
    match page.unwrap_or(1).max(1) {
        n @ 1.. if n <= last => Ok((n, (n - 1) * page_size)),
        _ => Err(out_of_range("page", format!("页码应为 1 到 {last}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_json_content_types_are_json() {
        for yes in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/problem+json",
        ] {
            assert!(is_json(yes), "{yes}");
        }
        for no in [
            "",
            "text/plain",
            "application/jsonx",
            "application/+json",
            "text/json",
        ] {
            assert!(!is_json(no), "{no}");
        }
    }

    #[test]
    fn query_complaints_are_said_in_chinese() {
        assert_eq!(
            query_message("invalid digit found in string"),
            "应为不带符号的整数"
        );
        assert_eq!(
            query_message("number too large to fit in target type"),
            "数值过大"
        );
        assert_eq!(
            query_message("unknown field `evil`, expected one of `limit`, `offset`"),
            "没有参数“evil”"
        );
    }

    #[test]
    fn offsets_and_pages_stay_in_range() {
        assert_eq!(offset(None).ok(), Some(0));
        assert_eq!(offset(Some(MAX_OFFSET)).ok(), Some(MAX_OFFSET));
        assert!(offset(Some(MAX_OFFSET + 1)).is_err());
        assert!(offset(Some(u64::MAX)).is_err());
        assert_eq!(page_offset(None, 50).ok(), Some((1, 0)));
        assert_eq!(page_offset(Some(0), 50).ok(), Some((1, 0)));
        assert_eq!(page_offset(Some(3), 50).ok(), Some((3, 100)));
        assert!(page_offset(Some(184_467_440_737_095_518), 50).is_err());
        assert!(page_offset(Some(u64::MAX), 50).is_err());
        let (_, skip) = page_offset(Some(MAX_OFFSET / 50 + 1), 50).unwrap_or_default();
        assert!(skip <= MAX_OFFSET);
    }
}
