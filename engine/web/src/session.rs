//! Sessions from the browser's side: the cookies, the 256-bit tokens (stored only as their
//! SHA-256), and the [`Identity`] extractor that turns a session cookie — or a department
//! system's API key sent as `Authorization: Bearer` — into the person a request acts for,
//! checking the CSRF token of every cookie request that may change something.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use sha2::{Digest as _, Sha256};

use super::{ApiError, Ctx};
use lianban_core::accounts::{API_KEY_PREFIX, Principal, Role, api_key_hash};
use lianban_core::runtime::Actor;

/// The session cookie.
pub(super) const SESSION_COOKIE: &str = "lianban_session";
/// The pre-session cookie that carries the login form's CSRF token.
pub(super) const LOGIN_CSRF_COOKIE: &str = "lianban_login_csrf";
/// The cookie of a browser an account signed in from (see `keys`), sent to `/login` only.
pub(super) const DEVICE_COOKIE: &str = "lianban_device";
/// The header API clients send the session's CSRF token in.
pub(super) const CSRF_HEADER: &str = "x-csrf-token";
/// How long a session lasts.
pub(super) const SESSION_TTL: chrono::Duration = chrono::Duration::hours(12);

/// A fresh random 256-bit token, hex encoded.
pub(super) fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    hex::encode(bytes)
}

/// What the database keeps of a token.
pub(super) fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The value of a cookie in the request, if sent.
pub(super) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, `Secure` when configured.
pub(super) fn set_cookie(
    name: &str,
    value: &str,
    path: &str,
    max_age: i64,
    secure: bool,
) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}")
}

/// The token of an `Authorization: Bearer …` header, if the request sends one.
pub(super) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Compares two secrets in time independent of where they differ. An empty secret never
/// matches (an identity without a CSRF token must not pass a CSRF check).
pub(super) fn same_secret(a: &str, b: &str) -> bool {
    !b.is_empty()
        && a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The signed-in person a request acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Login name.
    pub user: String,
    /// Display name.
    pub name: String,
    /// Department key.
    pub department: String,
    /// County the person (or key) is limited to; `None` for every county.
    pub county: Option<String>,
    /// Roles.
    pub roles: Vec<Role>,
    /// The session's CSRF token (empty for an API key, which needs none).
    pub(super) csrf: String,
}

impl Identity {
    /// What permissions are checked against.
    pub fn principal(&self) -> Principal {
        Principal {
            user: self.user.clone(),
            name: self.name.clone(),
            department: self.department.clone(),
            county: self.county.clone(),
            roles: self.roles.clone(),
        }
    }

    /// Who the history records.
    pub fn actor(&self) -> Actor {
        Actor {
            user: self.user.clone(),
            department: Some(self.department.clone()),
            on_behalf_of: None,
        }
    }
}

/// The identity of a request's session cookie, without the CSRF check (for handlers that
/// read the token from a form field themselves).
pub(super) async fn session_identity(
    ctx: &Ctx,
    headers: &HeaderMap,
) -> Result<Option<(String, Identity)>, ApiError> {
    let Some(token) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let hash = token_hash(token);
    let engine = ctx.app.engine();
    let Some(session) = engine.get_session(&hash, engine.now()).await? else {
        return Ok(None);
    };
    let a = session.account;
    Ok(Some((
        hash,
        Identity {
            user: a.username,
            name: a.name,
            department: a.department,
            county: a.county,
            roles: a.roles,
            csrf: session.csrf,
        },
    )))
}

/// The identity of an API key: a clerk of the key's department (and county), recorded in
/// the history as `apikey:<name>`. `None` for an unknown or revoked key.
async fn api_key_identity(ctx: &Ctx, key: &str) -> Result<Option<Identity>, ApiError> {
    // Anything without the prefix (the admin token, a session token) is no API key; it is
    // not even looked up.
    if !key.starts_with(API_KEY_PREFIX) {
        return Ok(None);
    }
    let engine = ctx.app.engine();
    let Some(record) = engine.get_api_key(&api_key_hash(key), engine.now()).await? else {
        return Ok(None);
    };
    Ok(Some(Identity {
        user: format!("apikey:{}", record.name),
        name: format!("{}（系统对接）", record.name),
        department: record.department,
        county: record.county,
        roles: vec![Role::Clerk],
        csrf: String::new(),
    }))
}

impl FromRequestParts<Ctx> for Identity {
    type Rejection = ApiError;

    /// With `Authorization: Bearer`: the API key's identity, 401 for an unknown or revoked
    /// key (no CSRF check: no cookie is involved, and a browser never adds the header on
    /// its own). Otherwise the session cookie's: 401 without a live session; 403 when a
    /// request other than GET/HEAD lacks the session's CSRF token in `X-CSRF-Token`.
    async fn from_request_parts(parts: &mut Parts, ctx: &Ctx) -> Result<Self, ApiError> {
        if let Some(key) = bearer(&parts.headers) {
            return api_key_identity(ctx, key).await?.ok_or(ApiError::BadApiKey);
        }
        let (_, identity) = session_identity(ctx, &parts.headers)
            .await?
            .ok_or(ApiError::Unauthorized)?;
        if !matches!(parts.method, Method::GET | Method::HEAD) {
            let given = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if !same_secret(given, &identity.csrf) {
                return Err(ApiError::Forbidden(
                    "缺少或错误的 CSRF 令牌，请刷新页面后重试",
                ));
            }
        }
        Ok(identity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn reads_cookies_from_every_header() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("a=1; b=2"));
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("lianban_session=xyz"),
        );
        assert_eq!(cookie(&headers, "b"), Some("2"));
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("xyz"));
        assert_eq!(cookie(&headers, "c"), None);
    }

    #[test]
    fn tokens_are_long_and_hashed() {
        let t = new_token();
        assert_eq!(t.len(), 64);
        assert_ne!(t, new_token());
        assert_eq!(token_hash(&t).len(), 64);
        assert_ne!(token_hash(&t), t);
        assert!(set_cookie("n", "v", "/", 10, true).ends_with("; Secure"));
    }

    #[test]
    fn bearer_tokens_and_empty_secrets() {
        let mut headers = HeaderMap::new();
        assert_eq!(bearer(&headers), None);
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer lbk_abc"),
        );
        assert_eq!(bearer(&headers), Some("lbk_abc"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic xyz"));
        assert_eq!(bearer(&headers), None);
        assert!(!same_secret("", ""));
        assert!(same_secret("abc", "abc"));
    }
}
