//! `GET /login`, `POST /login`, `POST /logout`. Login checks the form's CSRF token (one
//! this server signed, the same in the pre-session cookie and the form), verifies the
//! password on a blocking thread, and answers every failure with the same words whether or
//! not the user exists. A correct password is answered at once; wrong ones are answered
//! more slowly after repeated failures (of the name or of the client address), and ten in
//! a row lock the account for strangers — not for a browser the account signed in from
//! before (`keys`), so failures by someone else cannot lock the rightful user out. A
//! successful login always starts a new session (the token a browser brought is never
//! promoted).

use std::net::SocketAddr;
use std::sync::OnceLock;

use axum::extract::rejection::FormRejection;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::{Form, Json};
use serde::Deserialize;
use serde_json::json;

use super::keys::{DEVICE_TTL, LOGIN_TOKEN_TTL};
use super::pages::safe_next;
use super::session::{
    CSRF_HEADER, DEVICE_COOKIE, LOGIN_CSRF_COOKIE, SESSION_COOKIE, SESSION_TTL, cookie, new_token,
    same_secret, session_identity, set_cookie, token_hash,
};
use super::{ApiError, Ctx};
use lianban_core::accounts::{self, Account, LOCK_AFTER, LOCK_FOR};

const WRONG: &str = "用户名或密码错误";
const LOCKED: &str = "连续登录失败次数过多，该账号已暂时锁定 15 分钟：请在本人常用的电脑上登录（不受锁定影响），或稍后再试，或请管理员重设密码";

/// The login form.
#[derive(Debug, Deserialize)]
pub(super) struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
    /// Where to go after login (a path on this site; anything else is ignored).
    #[serde(default)]
    next: String,
}

/// Query of `GET /login`.
#[derive(Debug, Default, Deserialize)]
pub(super) struct LoginQuery {
    #[serde(default)]
    next: String,
}

/// A form that carries only the CSRF token (logout).
#[derive(Debug, Deserialize)]
pub(super) struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"))
}

/// The login page, with a fresh pre-session CSRF token in a cookie and in the form.
pub(super) async fn page(
    State(ctx): State<Ctx>,
    Query(query): Query<LoginQuery>,
) -> Result<Response, ApiError> {
    render(&ctx, StatusCode::OK, None, "", &query.next).await
}

async fn render(
    ctx: &Ctx,
    status: StatusCode,
    error: Option<&str>,
    username: &str,
    next: &str,
) -> Result<Response, ApiError> {
    let engine = ctx.app.engine();
    let csrf = ctx.login_key.login_token(engine, engine.now()).await?;
    let next = safe_next(next).unwrap_or_default();
    let html = ctx
        .app
        .pages()
        .render_page(
            "web/login.html.j2",
            &json!({"error": error, "csrf": csrf, "username": username, "next": next}),
        )
        .map_err(|e| ApiError::Internal(e.into()))?;
    let secure = ctx.app.settings().secure_cookies;
    let cookie = set_cookie(
        LOGIN_CSRF_COOKIE,
        &csrf,
        "/login",
        LOGIN_TOKEN_TTL.num_seconds(),
        secure,
    );
    Ok((status, [(header::SET_COOKIE, cookie)], Html(html)).into_response())
}

/// A failed login, as a page or as problem+json.
async fn refuse(
    ctx: &Ctx,
    json: bool,
    message: &'static str,
    username: &str,
    next: &str,
) -> Result<Response, ApiError> {
    if json {
        return Ok(ApiError::LoginFailed(message).into_response());
    }
    render(ctx, StatusCode::UNAUTHORIZED, Some(message), username, next).await
}

/// Checks a login and starts a session.
pub(super) async fn submit(
    State(ctx): State<Ctx>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Result<Response, ApiError> {
    let json = wants_json(&headers);
    let Ok(Form(form)) = form else {
        return refuse(&ctx, json, WRONG, "", "").await;
    };
    let engine = ctx.app.engine();
    let now = engine.now();
    // The token must be the one this browser was given (cookie = field) and one this
    // server made (signed, not expired): a value an attacker chose is neither.
    let expected = cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    if expected.is_empty()
        || !same_secret(&form.csrf, expected)
        || !ctx
            .login_key
            .check_login_token(engine, expected, now)
            .await?
    {
        return Err(ApiError::Forbidden("登录页面已过期，请刷新后重新登录"));
    }
    let username = form.username.trim().to_owned();
    let address = peer.ip();
    let row = engine.login_row(&username).await?;
    let device = known_device(&ctx, &headers, row.as_ref().map(|(a, _)| a), now).await?;
    let account_failures = row.as_ref().map_or(0, |(a, _)| a.failed_logins);
    let failures = ctx
        .throttle
        .failures(address, &username, now)
        .max(account_failures);
    let locked = ctx.throttle.name_locked(&username, now)
        || row.as_ref().is_some_and(|(a, _)| a.is_locked(now));
    if locked && device.is_none() {
        ctx.throttle.fail(address, &username, now);
        slow_down(&ctx, failures).await;
        return refuse(&ctx, json, LOCKED, &username, &form.next).await;
    }
    let (account, hash) = match row {
        Some((account, hash)) => (Some(account), hash),
        None => (None, dummy_hash().to_owned()),
    };
    let password = form.password;
    let matches = tokio::task::spawn_blocking(move || accounts::verify_password(&password, &hash))
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    match account {
        // A correct password is answered at once, whatever failed before from this
        // address (an office behind one NAT) or for this name.
        Some(account) if matches && !account.disabled => {
            ctx.throttle.succeed(&username);
            engine.record_login_success(account.id).await?;
            let next = safe_next(&form.next).unwrap_or("/inbox");
            start_session(&ctx, &headers, &account, json, next).await
        }
        account => {
            let mut now_locked = ctx.throttle.fail(address, &username, now);
            if let Some(device) = &device {
                ctx.throttle.fail_device(device, now);
            }
            if let Some(account) = account {
                let counted = engine
                    .record_login_failure(account.id, LOCK_AFTER, now + LOCK_FOR)
                    .await?;
                now_locked |= counted >= LOCK_AFTER;
            }
            // People type their ID or phone number into the user name field.
            let user = lianban_core::privacy::mask_text(&username);
            tracing::info!(%user, %address, "login failed");
            slow_down(&ctx, failures).await;
            let message = if now_locked { LOCKED } else { WRONG };
            refuse(&ctx, json, message, &username, &form.next).await
        }
    }
}

/// Pauses the answer to a failed login after `failures` earlier ones
/// ([`accounts::login_delay`], scaled by the `login_slowdown` setting). Never called on a
/// correct password.
async fn slow_down(ctx: &Ctx, failures: i32) {
    let delay = accounts::login_delay(failures).mul_f64(ctx.app.settings().login_slowdown);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
}

/// The browser's known-device cookie, when it is one this server signed for `account` and
/// the browser has not itself failed as often as locks an account: such a browser passes
/// the account's lock. Returns the cookie's signature (what its failures are counted by).
async fn known_device(
    ctx: &Ctx,
    headers: &HeaderMap,
    account: Option<&Account>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Option<String>, ApiError> {
    let (Some(account), Some(token)) = (account, cookie(headers, DEVICE_COOKIE)) else {
        return Ok(None);
    };
    let engine = ctx.app.engine();
    if !ctx
        .login_key
        .check_device_token(engine, token, account.id, now)
        .await?
    {
        return Ok(None);
    }
    let signature = token.rsplit('.').next().unwrap_or_default().to_owned();
    Ok((!ctx.throttle.device_spent(&signature, now)).then_some(signature))
}

/// A hash to verify against when the user does not exist, so that the answer takes as long.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| accounts::hash_password("lianban-no-such-user").unwrap_or_default())
}

async fn start_session(
    ctx: &Ctx,
    headers: &HeaderMap,
    account: &Account,
    json: bool,
    next: &str,
) -> Result<Response, ApiError> {
    let engine = ctx.app.engine();
    let now = engine.now();
    // A token the browser already had is dropped, never reused: no session fixation.
    if let Some(old) = cookie(headers, SESSION_COOKIE) {
        engine.delete_session(&token_hash(old)).await?;
    }
    let token = new_token();
    let csrf = new_token();
    engine
        .create_session(
            &token_hash(&token),
            account.id,
            &csrf,
            now,
            now + SESSION_TTL,
        )
        .await?;
    tracing::info!(user = %account.username, "login");
    let secure = ctx.app.settings().secure_cookies;
    let session = set_cookie(
        SESSION_COOKIE,
        &token,
        "/",
        SESSION_TTL.num_seconds(),
        secure,
    );
    let clear = set_cookie(LOGIN_CSRF_COOKIE, "", "/login", 0, secure);
    // The browser is known to this account from now on (see `known_device`).
    let device = ctx.login_key.device_token(engine, account.id, now).await?;
    let device = set_cookie(
        DEVICE_COOKIE,
        &device,
        "/login",
        DEVICE_TTL.num_seconds(),
        secure,
    );
    let mut response = if json {
        Json(json!({
            "user": account.username,
            "name": account.name,
            "department": account.department,
            "roles": account.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
            "csrf": csrf,
        }))
        .into_response()
    } else {
        (StatusCode::SEE_OTHER, [(header::LOCATION, next)]).into_response()
    };
    let h = response.headers_mut();
    for value in [session, clear, device] {
        if let Ok(value) = value.parse() {
            h.append(header::SET_COOKIE, value);
        }
    }
    Ok(response)
}

/// Ends the session; the CSRF token comes in the form field `csrf` or `X-CSRF-Token`.
pub(super) async fn logout(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, ApiError> {
    if let Some((hash, identity)) = session_identity(&ctx, &headers).await? {
        let given = match &form {
            Ok(Form(f)) if !f.csrf.is_empty() => f.csrf.as_str(),
            _ => headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default(),
        };
        if !same_secret(given, &identity.csrf) {
            return Err(ApiError::Forbidden(
                "缺少或错误的 CSRF 令牌，请刷新页面后重试",
            ));
        }
        ctx.app.engine().delete_session(&hash).await?;
    }
    let secure = ctx.app.settings().secure_cookies;
    let clear = set_cookie(SESSION_COOKIE, "", "/", 0, secure);
    let status = if wants_json(&headers) {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::SEE_OTHER
    };
    Ok((
        status,
        [
            (header::SET_COOKIE, clear),
            (header::LOCATION, "/login".into()),
        ],
    )
        .into_response())
}

/// `GET /api/v1/session`: who is signed in, and the CSRF token API clients send back.
#[utoipa::path(
    get,
    path = "/api/v1/session",
    operation_id = "getSession",
    tag = "session",
    responses(
        (status = 200, description = "who is signed in", body = super::answers::Session),
        (status = 401, description = "no or expired session", body = super::openapi::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn current(identity: super::Identity) -> Json<super::answers::Session> {
    Json(identity.into())
}
