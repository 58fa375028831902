//! [`TestApp`]: the real app on a loopback port with a fresh database, and a signed-in
//! [`Clerk`] with one method per endpoint, so a web test reads like a clerk's day.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, bail};
use lianban::accounts::{self, Role};
use lianban::app::{App, Settings, Workers};
use lianban::scheduler::{Clock, SystemClock};
use lianban::store::NewAccount;
use reqwest::header::{HeaderMap, SET_COOKIE};
use serde_json::Value;

use crate::TestDb;

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// An HTTP answer: status, headers, text and (when it parses) JSON.
#[derive(Debug)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: HeaderMap,
    /// The body as text.
    pub text: String,
    /// The body as JSON (`Null` when it is not JSON).
    pub json: Value,
}

impl Reply {
    async fn read(response: reqwest::Response) -> anyhow::Result<Reply> {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await?;
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(Reply {
            status,
            headers,
            text,
            json,
        })
    }

    /// The JSON body of a 2xx answer.
    ///
    /// # Errors
    /// Any other status, with the body.
    pub fn ok(self) -> anyhow::Result<Value> {
        if !(200..300).contains(&self.status) {
            bail!("expected success, got {}: {}", self.status, self.text);
        }
        Ok(self.json)
    }

    /// The problem document's `type` (empty when there is none).
    pub fn problem(&self) -> &str {
        self.json["type"].as_str().unwrap_or_default()
    }

    /// The `code` of a problem document: the stable code of the domain error behind it
    /// (`claimed-by-other`, `second-supplement-reason-required`…), empty when it has none.
    pub fn code(&self) -> &str {
        self.json["code"].as_str().unwrap_or_default()
    }

    /// The value of a cookie this answer sets.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next())
            .filter_map(|pair| pair.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_owned())
    }
}

/// The app served on `127.0.0.1:0`.
#[derive(Debug)]
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The app itself (for its store).
    pub app: Arc<App>,
    client: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // The workers stop after their pass; the server need not finish its connections.
        self.app.stop();
        self.server.abort();
    }
}

impl TestApp {
    /// Builds the app on a fresh database with the definitions of `processes` (relative to
    /// the repository) and the repository's templates, and serves it as `lianban serve`
    /// does, background workers included; login delays are off.
    ///
    /// # Errors
    /// When the app does not build or the port cannot be bound.
    pub async fn start(db: &TestDb, processes: &str) -> anyhow::Result<TestApp> {
        TestApp::start_with(db, processes, |_| {}).await
    }

    /// Like [`TestApp::start`], with `configure` changing the settings last (e.g. the
    /// admin token).
    ///
    /// # Errors
    /// When the app does not build or the port cannot be bound.
    pub async fn start_with(
        db: &TestDb,
        processes: &str,
        configure: impl FnOnce(&mut Settings),
    ) -> anyhow::Result<TestApp> {
        TestApp::launch(
            db,
            processes,
            Arc::new(SystemClock),
            Workers::Run,
            configure,
        )
        .await
    }

    /// Like [`TestApp::start_with`], on a clock the test controls (a
    /// [`lianban::scheduler::ManualClock`], so deadlines pass without sleeping). The
    /// background workers are off ([`Workers::Off`]): such a test fires timers, schedules
    /// and deliveries itself at the instants it sets, and a worker ticking on its own would
    /// race it; `configure` may turn them back on.
    ///
    /// # Errors
    /// When the app does not build or the port cannot be bound.
    pub async fn start_with_clock(
        db: &TestDb,
        processes: &str,
        clock: Arc<dyn Clock>,
        configure: impl FnOnce(&mut Settings),
    ) -> anyhow::Result<TestApp> {
        TestApp::launch(db, processes, clock, Workers::Off, configure).await
    }

    /// Builds and serves the app the way `lianban serve` does, stopping when the
    /// [`TestApp`] is dropped instead of on a signal.
    async fn launch(
        db: &TestDb,
        processes: &str,
        clock: Arc<dyn Clock>,
        workers: Workers,
        configure: impl FnOnce(&mut Settings),
    ) -> anyhow::Result<TestApp> {
        let mut settings = Settings::new(db.url.clone());
        settings.processes_dir = repo().join(processes);
        settings.templates_dir = repo().join("templates");
        settings.login_slowdown = 0.0;
        settings.workers = workers;
        configure(&mut settings);
        let app = App::build_with_clock(settings, clock).await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let serving = Arc::clone(&app);
        let stopped = app.stopped();
        let server = tokio::spawn(async move {
            if let Err(e) = lianban::web::run_until(serving, listener, stopped).await {
                tracing::error!(error = %e, "test server failed");
            }
        });
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(TestApp {
            base,
            app,
            client,
            server,
        })
    }

    /// Creates an account; returns its password.
    ///
    /// # Errors
    /// A database error.
    pub async fn add_user(
        &self,
        username: &str,
        department: &str,
        role: Role,
    ) -> anyhow::Result<String> {
        self.add_user_in(username, department, None, role).await
    }

    /// Creates an account limited to `county` (all counties when `None`); returns its
    /// password.
    ///
    /// # Errors
    /// A database error.
    pub async fn add_user_in(
        &self,
        username: &str,
        department: &str,
        county: Option<&str>,
        role: Role,
    ) -> anyhow::Result<String> {
        let password = format!("pw-{username}-2026");
        let new = NewAccount {
            username: username.to_owned(),
            name: format!("{username}（测试）"),
            department: department.to_owned(),
            county: county.map(str::to_owned),
            roles: vec![role],
            password_hash: accounts::hash_password(&password)?,
        };
        self.app
            .engine()
            .store()
            .accounts()
            .create(&new, chrono::Utc::now())
            .await?;
        Ok(password)
    }

    /// `GET` without a session.
    ///
    /// # Errors
    /// Transport errors.
    pub async fn get(&self, path: &str) -> anyhow::Result<Reply> {
        Reply::read(
            self.client
                .get(format!("{}{path}", self.base))
                .send()
                .await?,
        )
        .await
    }

    /// `GET /login`: the page, and the pre-session CSRF cookie it sets.
    ///
    /// # Errors
    /// Transport errors, or no CSRF cookie.
    pub async fn login_page(&self) -> anyhow::Result<(Reply, String)> {
        let reply = self.get("/login").await?;
        let csrf = reply
            .cookie("lianban_login_csrf")
            .context("login page sets no CSRF cookie")?;
        Ok((reply, csrf))
    }

    /// `POST /login` as JSON, sending `cookies` as they are (e.g. a planted session).
    ///
    /// # Errors
    /// Transport errors.
    pub async fn post_login(
        &self,
        username: &str,
        password: &str,
        csrf: &str,
        cookies: &str,
    ) -> anyhow::Result<Reply> {
        let response = self
            .client
            .post(format!("{}/login", self.base))
            .header("accept", "application/json")
            .header("cookie", cookies)
            .form(&[
                ("username", username),
                ("password", password),
                ("csrf", csrf),
            ])
            .send()
            .await?;
        Reply::read(response).await
    }

    /// Opens the login page and logs in (a fresh browser).
    ///
    /// # Errors
    /// Transport errors.
    pub async fn try_login(&self, username: &str, password: &str) -> anyhow::Result<Reply> {
        let (_, csrf) = self.login_page().await?;
        let cookies = format!("lianban_login_csrf={csrf}");
        self.post_login(username, password, &csrf, &cookies).await
    }

    /// Logs in and returns the signed-in clerk.
    ///
    /// # Errors
    /// When the login is refused.
    pub async fn login(&self, username: &str, password: &str) -> anyhow::Result<Clerk> {
        let reply = self.try_login(username, password).await?;
        let cookie = reply
            .cookie("lianban_session")
            .with_context(|| format!("no session cookie: {} {}", reply.status, reply.text))?;
        let body = reply.ok()?;
        Ok(Clerk {
            base: self.base.clone(),
            client: self.client.clone(),
            user: username.to_owned(),
            session: cookie,
            csrf: body["csrf"].as_str().unwrap_or_default().to_owned(),
        })
    }

    /// Adds an account and logs it in.
    ///
    /// # Errors
    /// As [`TestApp::add_user`] and [`TestApp::login`].
    pub async fn clerk(
        &self,
        username: &str,
        department: &str,
        role: Role,
    ) -> anyhow::Result<Clerk> {
        let password = self.add_user(username, department, role).await?;
        self.login(username, &password).await
    }
}

/// A signed-in person: their session cookie and CSRF token.
#[derive(Debug, Clone)]
pub struct Clerk {
    base: String,
    client: reqwest::Client,
    /// User name.
    pub user: String,
    /// The session token (the cookie's value).
    pub session: String,
    /// The session's CSRF token.
    pub csrf: String,
}

impl Clerk {
    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base))
            .header("cookie", format!("lianban_session={}", self.session))
    }

    /// `GET` any path with the session.
    ///
    /// # Errors
    /// Transport errors.
    pub async fn get(&self, path: &str) -> anyhow::Result<Reply> {
        Reply::read(self.request(reqwest::Method::GET, path).send().await?).await
    }

    async fn post(&self, path: &str, body: Option<&Value>) -> anyhow::Result<Reply> {
        let mut request = self
            .request(reqwest::Method::POST, path)
            .header("x-csrf-token", &self.csrf);
        if let Some(body) = body {
            request = request.json(body);
        }
        Reply::read(request.send().await?).await
    }

    /// `POST` with a raw body and no CSRF token unless given.
    ///
    /// # Errors
    /// Transport errors.
    pub async fn post_raw(
        &self,
        path: &str,
        body: impl Into<reqwest::Body>,
        csrf: Option<&str>,
    ) -> anyhow::Result<Reply> {
        let mut request = self
            .request(reqwest::Method::POST, path)
            .header("content-type", "application/json")
            .body(body);
        if let Some(csrf) = csrf {
            request = request.header("x-csrf-token", csrf);
        }
        Reply::read(request.send().await?).await
    }

    /// `POST /api/v1/admin/cases/migrate`.
    ///
    /// # Errors
    /// Transport errors.
    pub async fn migrate_cases(&self, body: &Value) -> anyhow::Result<Reply> {
        self.post("/api/v1/admin/cases/migrate", Some(body)).await
    }

    /// `GET /api/v1/session`.
    ///
    /// # Errors
    /// Transport errors.
    pub async fn whoami(&self) -> anyhow::Result<Reply> {
        self.get("/api/v1/session").await
    }

    /// `GET /api/v1/inbox?{query}`.
    ///
    /// # Errors
    /// Transport errors.
    pub async fn inbox(&self, query: &str) -> anyhow::Result<Reply> {
        self.get(&format!("/api/v1/inbox?{query}")).await
    }

    /// `POST /api/v1/tasks/{task}/claim`.
    ///
    /// # Errors
    /// Transport errors.
    pub async fn claim(&self, task: &str) -> anyhow::Result<Reply> {
        self.post(&format!("/api/v1/tasks/{task}/claim"), None)
            .await
    }

    /// `POST /api/v1/tasks/{task}/unclaim`.
    ///
    /// # Errors
    /// Transport errors.
    pub async fn unclaim(&self, task: &str) -> anyhow::Result<Reply> {
        self.post(&format!("/api/v1/tasks/{task}/unclaim"), None)
            .await
    }

    /// `POST /api/v1/tasks/{task}/complete` with `{"outcome": …}` and more.
    ///
    /// # Errors
    /// Transport errors.
    pub async fn complete(&self, task: &str, body: &Value) -> anyhow::Result<Reply> {
        self.post(&format!("/api/v1/tasks/{task}/complete"), Some(body))
            .await
    }

    /// `POST /api/v1/cases/{id}/events/{event}`.
    ///
    /// # Errors
    /// Transport errors.
    pub async fn deliver(&self, case: &str, event: &str, body: &Value) -> anyhow::Result<Reply> {
        self.post(&format!("/api/v1/cases/{case}/events/{event}"), Some(body))
            .await
    }

    /// `POST /api/v1/cases/{id}/cancel`.
    ///
    /// # Errors
    /// Transport errors.
    pub async fn cancel(&self, case: &str, reason: &str) -> anyhow::Result<Reply> {
        let body = serde_json::json!({ "reason": reason });
        self.post(&format!("/api/v1/cases/{case}/cancel"), Some(&body))
            .await
    }

    /// `POST /api/v1/cases`.
    ///
    /// # Errors
    /// Transport errors.
    pub async fn start(&self, body: &Value) -> anyhow::Result<Reply> {
        self.post("/api/v1/cases", Some(body)).await
    }

    /// `GET /api/v1/cases/{id}`.
    ///
    /// # Errors
    /// Transport errors.
    pub async fn case(&self, id: &str) -> anyhow::Result<Reply> {
        self.get(&format!("/api/v1/cases/{id}")).await
    }

    /// `GET /api/v1/cases?{query}`.
    ///
    /// # Errors
    /// Transport errors.
    pub async fn cases(&self, query: &str) -> anyhow::Result<Reply> {
        self.get(&format!("/api/v1/cases?{query}")).await
    }

    /// `GET /api/v1/cases/{id}/documents`.
    ///
    /// # Errors
    /// Transport errors.
    pub async fn documents(&self, case: &str) -> anyhow::Result<Reply> {
        self.get(&format!("/api/v1/cases/{case}/documents")).await
    }

    /// `GET /api/v1/cases/{case}/documents/{doc}`.
    ///
    /// # Errors
    /// Transport errors.
    pub async fn document(&self, case: &str, doc: &str) -> anyhow::Result<Reply> {
        self.get(&format!("/api/v1/cases/{case}/documents/{doc}"))
            .await
    }

    /// `POST /api/v1/tasks/{task}/reassign` (a supervisor's 改派).
    ///
    /// # Errors
    /// Transport errors.
    pub async fn reassign(&self, task: &str, to: &str, reason: &str) -> anyhow::Result<Reply> {
        let body = serde_json::json!({ "to": to, "reason": reason });
        self.post(&format!("/api/v1/tasks/{task}/reassign"), Some(&body))
            .await
    }

    /// `POST /api/v1/absences` (请假 with its substitute).
    ///
    /// # Errors
    /// Transport errors.
    pub async fn record_absence(&self, body: &Value) -> anyhow::Result<Reply> {
        self.post("/api/v1/absences", Some(body)).await
    }

    /// `POST /api/v1/absences/{user}/end` (销假).
    ///
    /// # Errors
    /// Transport errors.
    pub async fn end_absence(&self, user: &str) -> anyhow::Result<Reply> {
        self.post(&format!("/api/v1/absences/{user}/end"), None)
            .await
    }

    /// `GET /api/v1/push-tables`.
    ///
    /// # Errors
    /// Transport errors.
    pub async fn push_tables(&self) -> anyhow::Result<Reply> {
        self.get("/api/v1/push-tables").await
    }

    /// `POST /logout` with the CSRF token in the header.
    ///
    /// # Errors
    /// Transport errors.
    pub async fn logout(&self) -> anyhow::Result<Reply> {
        let request = self
            .request(reqwest::Method::POST, "/logout")
            .header("accept", "application/json")
            .header("x-csrf-token", &self.csrf);
        Reply::read(request.send().await?).await
    }

    /// The id of the one open task at `step` in this clerk's inbox.
    ///
    /// # Errors
    /// When there is not exactly one.
    pub async fn task_at(&self, case: &str, step: &str) -> anyhow::Result<String> {
        let inbox = self.inbox(&format!("step={step}")).await?.ok()?;
        let ids: Vec<&str> = inbox
            .as_array()
            .context("inbox is not a list")?
            .iter()
            .filter(|t| t["case_id"] == case)
            .filter_map(|t| t["id"].as_str())
            .collect();
        match ids.as_slice() {
            [one] => Ok((*one).to_owned()),
            other => bail!("{} has {} tasks at {step}: {inbox}", self.user, other.len()),
        }
    }
}

/// Sends a request whose body the server refuses before reading it all (413). The server
/// answers and closes the connection at once; on a loaded machine the client may still be
/// writing the body and see only the close (a broken pipe, a reset, "connection closed").
/// That is the refusal as much as the answer is, but the test wants to read the answer, so
/// the request is sent again (up to five times) until the answer arrives first.
///
/// # Errors
/// Any other transport error, or five closes in a row.
pub async fn send_refused_body(
    request: impl Fn() -> reqwest::RequestBuilder,
) -> anyhow::Result<reqwest::Response> {
    let mut last = None;
    for _ in 0..5 {
        match request().send().await {
            Ok(response) => return Ok(response),
            Err(e) => {
                let e = anyhow::Error::from(e);
                if !closed_early(&e) {
                    return Err(e);
                }
                last = Some(e);
            }
        }
    }
    Err(last.unwrap_or_else(|| anyhow::anyhow!("no answer")))
}

/// Whether a request failed because the server closed the connection while the client
/// was still sending (see [`send_refused_body`]); the causes' messages say so.
pub fn closed_early(error: &anyhow::Error) -> bool {
    let text = format!("{error:?}");
    ["Broken pipe", "connection closed", "reset by peer"]
        .iter()
        .any(|sign| text.contains(sign))
}
