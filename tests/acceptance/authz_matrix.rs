//! The authorization matrix: every route of the router, asked by every kind of caller —
//! anonymous, a clerk of each of the four departments, a 社保 supervisor, an admin, a 医保
//! department system's API key, a 社保 clerk of another county, and an intake key of the
//! county (一网通办: starts cases, reads only its own, no inbox) — gets the status this
//! table says. The routes are read from the router's source, so a route added without a row
//! here fails the test. Ids are real: the case and task belong to 阳城 社保, so every other
//! department (and county) guessing them gets 404, never the case.
//!
//! A second test takes every route with a task or case id to a 医保 clerk and key holding
//! the id of a 公积金 task and of a case 医保 takes no part in: 404 everywhere.
//!
//! A third replays the attack of issue 14 (other departments starting and withdrawing
//! cases through the API) against the one rule for starting and withdrawing.
//!
//! Changing requests run on a fresh case per caller, so one caller's success does not change
//! what the next one sees. Runs on SQLite and on PostgreSQL.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use lianban::accounts::{self, Role};
use lianban::runtime::CaseId;
use lianban::store::{NewApiKey, TaskQuery};
use lianban_tests::web::{Clerk, Reply, TestApp, repo};
use lianban_tests::{TestDb, db_test};
use serde_json::{Value, json};

/// The callers, in column order.
const CALLERS: [&str; 10] = [
    "anonymous",
    "shebao",
    "yibao",
    "gjj",
    "veterans",
    "supervisor",
    "admin",
    "apikey",
    "county",
    "intake",
];

/// `method path → expected status per caller` (columns as in [`CALLERS`]). `303` is the
/// page redirect to the login page (or from `/` onwards).
#[rustfmt::skip]
const MATRIX: &[(&str, &str, [u16; 10])] = &[
    // method, route,                                anon shebao yibao gjj vet  sup  admin key county intake
    ("GET", "/healthz", [200, 200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET", "/readyz", [200, 200, 200, 200, 200, 200, 200, 200, 200, 200]),
    // Metrics are open on loopback only (the test client is on loopback).
    ("GET", "/metrics", [200, 200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET", "/login", [200, 200, 200, 200, 200, 200, 200, 200, 200, 200]),
    // The 办事指南 with the blank 一次性告知单 is public: shown to enterprises before any case.
    ("GET", "/guide/{id}", [200, 200, 200, 200, 200, 200, 200, 200, 200, 200]),
    // Without the login page's CSRF cookie no login is even tried.
    ("POST", "/login", [403, 403, 403, 403, 403, 403, 403, 403, 403, 403]),
    ("GET", "/api/openapi.json", [200, 200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET", "/api/v1/session", [401, 200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET", "/api/v1/inbox", [401, 200, 200, 200, 200, 200, 403, 200, 200, 403]),
    ("POST", "/api/v1/tasks/{id}/claim", [401, 200, 404, 404, 404, 200, 404, 404, 404, 404]),
    // Giving back a task nobody holds is a no-op.
    ("POST", "/api/v1/tasks/{id}/unclaim", [401, 200, 404, 404, 404, 200, 404, 404, 404, 404]),
    ("POST", "/api/v1/tasks/{id}/complete", [401, 422, 404, 404, 404, 422, 404, 404, 404, 404]),
    // 改派 is a supervisor's, within the department; the body names a 社保 clerk.
    ("POST", "/api/v1/tasks/{id}/reassign", [401, 403, 404, 404, 404, 200, 404, 404, 404, 404]),
    // Absences: people who work cases, for themselves (a department's system has none).
    ("GET", "/api/v1/absences", [401, 200, 200, 200, 200, 200, 403, 403, 200, 403]),
    // The body names a 社保 clerk of 阳城 as substitute: fine for 社保, refused for the others.
    ("POST", "/api/v1/absences", [401, 201, 422, 422, 422, 201, 403, 403, 422, 403]),
    // Ending m_shebao's absence: m_shebao or a 社保 supervisor of the county.
    ("POST", "/api/v1/absences/{user}/end", [401, 200, 403, 403, 403, 200, 403, 403, 403, 403]),
    ("GET", "/api/v1/cases", [401, 200, 200, 200, 200, 200, 403, 200, 200, 200]),
    // Only the department of the first task (社保, the window) starts a case, over the API as on
    // the intake page; another county may not, nor an admin.
    ("POST", "/api/v1/cases", [401, 201, 403, 403, 403, 201, 403, 403, 403, 201]),
    ("GET", "/api/v1/cases/{id}", [401, 200, 404, 404, 404, 200, 404, 404, 404, 404]),
    // Nothing waits for `supplied` on a case at `accept`. An admin works no cases at all.
    ("POST", "/api/v1/cases/{id}/events/{event}", [401, 409, 404, 404, 404, 409, 403, 404, 404, 403]),
    // An admin sees no case, so learns nothing of this one either.
    ("POST", "/api/v1/cases/{id}/cancel", [401, 200, 404, 404, 404, 200, 404, 404, 404, 404]),
    ("GET", "/api/v1/cases/{id}/documents", [401, 200, 404, 404, 404, 200, 404, 404, 404, 404]),
    ("GET", "/api/v1/cases/{id}/documents/{doc}", [401, 404, 404, 404, 404, 404, 404, 404, 404, 404]),
    // The definitions in force, of the caller's county: for anyone signed in (file paths
    // for admins only).
    ("GET", "/api/v1/processes", [401, 200, 200, 200, 200, 200, 200, 200, 200, 200]),
    // Reload takes the operator's admin token, not a role; without one configured it is off.
    ("POST", "/api/v1/admin/reload", [403, 403, 403, 403, 403, 403, 403, 403, 403, 403]),
    ("GET", "/api/v1/push-tables", [401, 200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET", "/api/v1/dashboard", [401, 403, 403, 403, 403, 200, 200, 403, 403, 403]),
    ("GET", "/api/v1/push-tables/{id}", [401, 404, 404, 404, 404, 404, 404, 404, 404, 404]),
    ("GET", "/api/v1/admin/outbox", [401, 403, 403, 403, 403, 403, 200, 403, 403, 403]),
    // Moving cases to another version: admins only. Version 2 of 阳城 is not known, so an
    // admin let in gets 422.
    ("POST", "/api/v1/admin/cases/migrate", [401, 403, 403, 403, 403, 403, 422, 403, 403, 403]),
    ("POST", "/api/v1/admin/outbox/{id}/retry", [401, 403, 403, 403, 403, 403, 404, 403, 403, 403]),
    // The body is a definition with problems: 422 means the caller was let in.
    ("POST", "/api/v1/processes/validate", [401, 403, 403, 403, 403, 422, 422, 403, 403, 403]),
    ("GET", "/api/v1/processes/{id}", [401, 403, 403, 403, 403, 200, 200, 403, 403, 403]),
    // The start form as JSON Schema: anyone signed in of the process's county, any key.
    ("GET", "/api/v1/processes/{id}/form", [401, 200, 200, 200, 200, 200, 200, 200, 404, 200]),
    // Pages: without a session (an API key is no session) they send to the login page.
    ("GET", "/", [303, 303, 303, 303, 303, 303, 303, 303, 303, 303]),
    ("GET", "/static/app.css", [200, 200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET", "/inbox", [303, 200, 200, 200, 200, 200, 403, 303, 200, 303]),
    ("GET", "/tasks/{id}", [303, 200, 404, 404, 404, 200, 404, 303, 404, 303]),
    ("POST", "/tasks/{id}/claim", [303, 303, 404, 404, 404, 303, 404, 303, 404, 303]),
    ("POST", "/tasks/{id}/unclaim", [303, 303, 404, 404, 404, 303, 404, 303, 404, 303]),
    ("POST", "/tasks/{id}/complete", [303, 422, 404, 404, 404, 422, 404, 303, 404, 303]),
    ("POST", "/tasks/{id}/reassign", [303, 403, 404, 404, 404, 303, 404, 303, 404, 303]),
    ("GET", "/absences", [303, 200, 200, 200, 200, 200, 403, 303, 200, 303]),
    // An empty form: the page again with the message (an admin has no such page).
    ("POST", "/absences", [303, 422, 422, 422, 422, 422, 403, 303, 422, 303]),
    ("POST", "/absences/end", [303, 303, 403, 403, 403, 303, 403, 303, 403, 303]),
    ("GET", "/cases", [303, 200, 200, 200, 200, 200, 403, 303, 200, 303]),
    ("GET", "/cases/{id}", [303, 200, 404, 404, 404, 200, 404, 303, 404, 303]),
    // Only issued documents print; the application form was not issued.
    ("GET", "/cases/{id}/print/{doc}", [303, 404, 404, 404, 404, 404, 404, 303, 404, 303]),
    ("GET", "/cases/{id}/download/{doc}", [303, 404, 404, 404, 404, 404, 404, 303, 404, 303]),
    ("POST", "/cases/{id}/events/{event}", [303, 409, 404, 404, 404, 409, 404, 303, 404, 303]),
    ("POST", "/cases/{id}/cancel", [303, 303, 404, 404, 404, 303, 404, 303, 404, 303]),
    // The page lists what the caller may start (maybe nothing).
    ("GET", "/intake", [303, 200, 200, 200, 200, 200, 200, 303, 200, 303]),
    // Starting from the page is for the window of the first task (社保) only.
    ("POST", "/intake", [303, 303, 403, 403, 403, 303, 403, 303, 403, 303]),
    ("GET", "/cases/{id}/preview/{doc}", [303, 200, 404, 404, 404, 200, 404, 303, 404, 303]),
    ("GET", "/definitions", [303, 403, 403, 403, 403, 200, 200, 303, 403, 303]),
    ("GET", "/push-tables", [303, 200, 200, 200, 200, 200, 200, 303, 200, 303]),
    ("GET", "/push-tables/{file}", [303, 404, 404, 404, 404, 404, 404, 303, 404, 303]),
    ("GET", "/outbox", [303, 403, 403, 403, 403, 403, 200, 303, 403, 303]),
    ("POST", "/outbox/{id}/retry", [303, 403, 403, 403, 403, 403, 404, 303, 403, 303]),
    // Overdue supervision is for supervisors and admins.
    ("GET", "/overdue", [303, 403, 403, 403, 403, 200, 200, 303, 403, 303]),
    ("GET", "/dashboard", [303, 403, 403, 403, 403, 200, 200, 303, 403, 303]),
    ("GET", "/dashboard.csv", [303, 403, 403, 403, 403, 200, 200, 303, 403, 303]),
    ("GET", "/dashboard.xlsx", [303, 403, 403, 403, 403, 200, 200, 303, 403, 303]),
    // The process map has no personal data: anyone signed in of the definition's county.
    // The merged definition with where each value is written: as /definitions.
    ("GET", "/definitions/{id}/resolved", [303, 403, 403, 403, 403, 200, 200, 303, 403, 303]),
    ("GET", "/definitions/{id}/diagram", [303, 200, 200, 200, 200, 200, 200, 303, 404, 303]),
    ("GET", "/definitions/{id}/diagram.svg", [303, 200, 200, 200, 200, 200, 200, 303, 404, 303]),
    ("GET", "/static/intake.js", [200, 200, 200, 200, 200, 200, 200, 200, 200, 200]),
    // Last: it ends the caller's session. A page form is answered with a redirect.
    ("POST", "/logout", [303, 303, 303, 303, 303, 303, 303, 303, 303, 303]),
];

/// `.route(` calls that rustfmt spread over several lines, put on one line each.
fn collapse_route_calls(text: &str) -> String {
    let mut out = String::new();
    let mut pending: Option<String> = None;
    for line in text.lines() {
        let t = line.trim();
        match pending.as_mut() {
            Some(call) => {
                call.push_str(t);
                if t.starts_with(')') {
                    out.push_str(call);
                    out.push('\n');
                    pending = None;
                }
            }
            None if t == ".route(" => pending = Some(t.to_owned()),
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

/// Every `METHOD path` the router declares, read from its source.
fn declared_routes() -> BTreeSet<String> {
    let mut routes = BTreeSet::new();
    for file in ["engine/web/src/lib.rs", "engine/web/src/pages/mod.rs"] {
        let text = std::fs::read_to_string(repo().join(file)).expect("router source");
        // rustfmt breaks a long `.route(` call over several lines: join it back up.
        let text = collapse_route_calls(&text);
        for line in text.lines() {
            let Some(rest) = line.trim().strip_prefix(".route(\"") else {
                continue;
            };
            let Some((path, handlers)) = rest.split_once('"') else {
                continue;
            };
            for method in ["get", "post", "put", "patch", "delete"] {
                let called = format!("{method}(");
                let found = handlers.match_indices(&called).any(|(at, _)| {
                    at == 0 || matches!(handlers.as_bytes()[at - 1], b' ' | b'.' | b',')
                });
                if found {
                    routes.insert(format!("{} {path}", method.to_uppercase()));
                }
            }
        }
    }
    routes
}

#[test]
fn the_matrix_covers_every_route_of_the_router() {
    let declared = declared_routes();
    assert!(declared.len() > 40, "{declared:?}");
    let covered: BTreeSet<String> = MATRIX.iter().map(|(m, p, _)| format!("{m} {p}")).collect();
    let missing: Vec<_> = declared.difference(&covered).collect();
    let stale: Vec<_> = covered.difference(&declared).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "routes without a row in the matrix: {missing:?}; rows without a route: {stale:?}"
    );
}

/// One caller: how it authenticates.
#[derive(Debug, Clone)]
enum Caller {
    Anonymous,
    Session(Clerk),
    Key(String),
}

/// A retirement application for 阳城 (as tests/acceptance/tenancy.rs).
fn application(process: &str) -> Value {
    json!({
        "process": process,
        "form": {
            "name": "张三",
            "gender": "男",
            "id_number": "140522196412150317",
            "birth": "1964-12",
            "post": "生产",
            "employer": "某煤业有限公司",
            "address": "凤城镇",
            "phone": "13935600000",
            "veteran": false,
            "item": "企业职工正常退休信息确认、待遇计发",
            "delivery": "现场自取",
            "retirement_type": "正常退休",
        },
        "materials": [],
    })
}

/// The same application as a page form.
fn intake_form() -> Vec<(String, String)> {
    let app = application("yangcheng.retirement");
    let mut fields = vec![
        ("process".to_owned(), "yangcheng.retirement".to_owned()),
        ("action".to_owned(), "start".to_owned()),
    ];
    if let Some(form) = app["form"].as_object() {
        for (k, v) in form {
            let v = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            fields.push((format!("form.{k}"), v));
        }
    }
    fields
}

struct World {
    app: TestApp,
    client: reqwest::Client,
    starter: Clerk,
}

impl World {
    /// A fresh 阳城 case started by 社保, and its open `accept` task.
    async fn case(&self) -> anyhow::Result<(String, String)> {
        let case = self
            .starter
            .start(&application("yangcheng.retirement"))
            .await?
            .ok()?;
        let case = case["id"].as_str().unwrap_or_default().to_owned();
        let query = TaskQuery {
            case: Some(CaseId(case.parse()?)),
            ..TaskQuery::default()
        };
        let tasks = self.app.app.engine().list_tasks(&query).await?;
        let task = tasks
            .iter()
            .find(|t| t.step.as_str() == "accept")
            .map(|t| t.id.0.to_string())
            .unwrap_or_default();
        Ok((case, task))
    }

    async fn send(
        &self,
        caller: &Caller,
        method: &str,
        path: &str,
        page_form: Option<PageForm>,
        json_body: Option<Value>,
    ) -> anyhow::Result<Reply> {
        let method = reqwest::Method::from_bytes(method.as_bytes())?;
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.app.base));
        let mut form = page_form;
        match caller {
            Caller::Anonymous => {}
            Caller::Key(key) => request = request.bearer_auth(key),
            Caller::Session(clerk) => {
                request = request
                    .header("cookie", format!("lianban_session={}", clerk.session))
                    .header("x-csrf-token", &clerk.csrf);
                if let Some(form) = form.as_mut() {
                    form.push(("csrf".into(), clerk.csrf.clone()));
                }
            }
        }
        if let Some(form) = form {
            request = request.form(&form);
        } else if let Some(body) = json_body {
            request = request.json(&body);
        }
        let response = request.send().await?;
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
}

async fn callers(app: &TestApp) -> anyhow::Result<Vec<Caller>> {
    let mut callers = vec![Caller::Anonymous];
    for (user, department, role) in [
        ("m_shebao", "shebao", Role::Clerk),
        ("m_yibao", "yibao", Role::Clerk),
        ("m_gjj", "gjj", Role::Clerk),
        ("m_veterans", "veterans", Role::Clerk),
        ("m_boss", "shebao", Role::Supervisor),
        ("m_admin", "shebao", Role::Admin),
    ] {
        let password = app
            .add_user_in(user, department, Some("yangcheng"), role)
            .await?;
        callers.push(Caller::Session(app.login(user, &password).await?));
    }
    let key = accounts::new_api_key();
    let new = NewApiKey {
        name: "yibao-system".into(),
        key_hash: accounts::api_key_hash(&key),
        department: "yibao".into(),
        county: Some("yangcheng".into()),
        intake: false,
    };
    app.app
        .engine()
        .store()
        .accounts()
        .create_api_key(&new, chrono::Utc::now())
        .await?;
    callers.push(Caller::Key(key));
    let password = app
        .add_user_in("m_qinshui", "shebao", Some("qinshui"), Role::Clerk)
        .await?;
    callers.push(Caller::Session(app.login("m_qinshui", &password).await?));
    let key = accounts::new_api_key();
    let new = NewApiKey {
        name: "一网通办".into(),
        key_hash: accounts::api_key_hash(&key),
        department: String::new(),
        county: Some("yangcheng".into()),
        intake: true,
    };
    app.app
        .engine()
        .store()
        .accounts()
        .create_api_key(&new, chrono::Utc::now())
        .await?;
    callers.push(Caller::Key(key));
    Ok(callers)
}

/// Fields of a page form.
type PageForm = Vec<(String, String)>;

/// The concrete path and body of a row for one caller, on `case` and `task`.
fn request_for(route: &str, case: &str, task: &str) -> (String, Option<PageForm>, Option<Value>) {
    let nobody = uuid::Uuid::new_v4().to_string();
    let path = route
        .replace("/api/v1/tasks/{id}", &format!("/api/v1/tasks/{task}"))
        .replace("/tasks/{id}", &format!("/tasks/{task}"))
        .replace("/cases/{id}", &format!("/cases/{case}"))
        .replace("{event}", "supplied")
        .replace("documents/{doc}", "documents/notice")
        .replace("{doc}", "application_form")
        .replace(
            "/api/v1/processes/{id}",
            "/api/v1/processes/yangcheng.retirement",
        )
        .replace("/definitions/{id}", "/definitions/yangcheng.retirement")
        .replace("/guide/{id}", "/guide/yangcheng.retirement")
        .replace("{file}", "nothing.csv")
        .replace("{user}", "m_shebao")
        .replace("{id}", &nobody);
    let string = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    let (form, json) = match route {
        "/login" => (
            Some(string(&[("username", "m_shebao"), ("password", "x")])),
            None,
        ),
        "/api/v1/tasks/{id}/complete" => (None, Some(json!({"outcome": "no-such-outcome"}))),
        "/api/v1/cases" => (None, Some(application("yangcheng.retirement"))),
        "/api/v1/cases/{id}/events/{event}" => (None, Some(json!({}))),
        "/api/v1/cases/{id}/cancel" => (None, Some(json!({"reason": "申请人撤回"}))),
        "/api/v1/processes/validate" => (
            None,
            Some(json!({"files": [{"path": "x.yaml", "text": "id: x"}]})),
        ),
        "/tasks/{id}/complete" => (Some(string(&[("outcome", "no-such-outcome")])), None),
        "/api/v1/tasks/{id}/reassign" => (None, Some(json!({"to": "m_starter", "reason": "调剂"}))),
        "/tasks/{id}/reassign" => (
            Some(string(&[("to", "m_starter"), ("reason", "调剂")])),
            None,
        ),
        "/api/v1/absences" => (
            None,
            Some(json!({"substitute": "m_starter", "from": "2030-01-07", "to": "2030-01-08"})),
        ),
        "/absences/end" => (Some(string(&[("user", "m_shebao")])), None),
        "/api/v1/admin/cases/migrate" => (
            None,
            Some(
                json!({"process": "yangcheng.retirement", "from_version": 2, "to_version": 3, "dry_run": true}),
            ),
        ),
        "/cases/{id}/cancel" => (Some(string(&[("reason", "申请人撤回")])), None),
        "/intake" => (Some(intake_form()), None),
        r if r.starts_with('/') && !r.starts_with("/api/") => (Some(Vec::new()), None),
        _ => (None, None),
    };
    (path, form, json)
}

db_test!(every_route_answers_every_caller_as_the_matrix_says, |db| {
    run_matrix(&db).await
});

async fn run_matrix(db: &TestDb) -> anyhow::Result<()> {
    let app = TestApp::start(db, "processes").await?;
    let password = app
        .add_user_in("m_starter", "shebao", Some("yangcheng"), Role::Clerk)
        .await?;
    let starter = app.login("m_starter", &password).await?;
    let world = World {
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?,
        starter,
        app,
    };
    let callers = callers(&world.app).await?;
    let (case, task) = world.case().await?;
    let mut wrong = String::new();
    let mut table = String::new();
    for (method, route, expected) in MATRIX {
        let mut row = Vec::new();
        for (i, caller) in callers.iter().enumerate() {
            // A changing request gets a case of its own; reads share one.
            let (case, task) = if *method == "POST" && route.contains("{id}") {
                world.case().await?
            } else {
                (case.clone(), task.clone())
            };
            let (path, form, json) = request_for(route, &case, &task);
            let reply = world.send(caller, method, &path, form, json).await?;
            row.push(reply.status);
            if reply.status >= 500 {
                let _ = writeln!(
                    wrong,
                    "{method} {route} as {}: {} {}",
                    CALLERS[i], reply.status, reply.text
                );
            } else if reply.status != expected[i] {
                let _ = writeln!(
                    wrong,
                    "{method} {route} as {}: expected {}, got {} {}",
                    CALLERS[i],
                    expected[i],
                    reply.status,
                    reply.text.chars().take(200).collect::<String>()
                );
            }
            // Nobody but 社保 of 阳城 ever sees the case's applicant (whoever starts a case
            // gets back what they sent).
            let started = *method == "POST" && *route == "/api/v1/cases";
            if !started && !matches!(i, 1 | 5) && reply.text.contains("140522196412150317") {
                let _ = writeln!(
                    wrong,
                    "{method} {route} as {} shows the ID number",
                    CALLERS[i]
                );
            }
        }
        let _ = writeln!(table, "(\"{method}\", \"{route}\", {row:?}),");
    }
    assert!(wrong.is_empty(), "{wrong}\nobserved:\n{table}");
    Ok(())
}

db_test!(
    guessed_ids_of_other_departments_are_404_on_every_route,
    |db| {
        let app = TestApp::start(&db, "tests/fixtures/web").await?;
        let shebao = app.clerk("g_shebao", "shebao", Role::Clerk).await?;
        let yibao = app.clerk("g_yibao", "yibao", Role::Clerk).await?;
        let form = |medical: bool, fund: bool| {
            json!({"process": "web.joint", "form": {"name": "张三", "id_number": "11010519491231002X",
            "phone": "13812345678", "joint_medical": medical, "joint_fund": fund}})
        };
        let joint = shebao.start(&form(true, true)).await?.ok()?;
        let joint = joint["id"].as_str().unwrap_or_default().to_owned();
        let alone = shebao.start(&form(false, false)).await?.ok()?;
        let alone = alone["id"].as_str().unwrap_or_default().to_owned();
        let accept = shebao.task_at(&joint, "accept").await?;
        shebao
            .complete(&accept, &json!({"outcome": "accept"}))
            .await?
            .ok()?;
        let fund = {
            let query = TaskQuery {
                case: Some(CaseId(joint.parse()?)),
                steps: vec!["fund".into()],
                ..TaskQuery::default()
            };
            let tasks = app.app.engine().list_tasks(&query).await?;
            tasks
                .first()
                .map(|t| t.id.0.to_string())
                .unwrap_or_default()
        };
        anyhow::ensure!(!fund.is_empty(), "the 公积金 task exists");
        let key = accounts::new_api_key();
        let new = NewApiKey {
            name: "yibao-system".into(),
            key_hash: accounts::api_key_hash(&key),
            department: "yibao".into(),
            county: None,
            intake: false,
        };
        app.app
            .engine()
            .store()
            .accounts()
            .create_api_key(&new, chrono::Utc::now())
            .await?;
        let world = World {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
            starter: shebao,
            app,
        };
        // Every route that takes a task id, on the 公积金 task; every route that takes a case
        // id, on the case 医保 takes no part in.
        let mut wrong = Vec::new();
        for (method, route, _) in MATRIX {
            let on_task = route.contains("tasks/{id}");
            let on_case = route.contains("cases/{id}");
            if !on_task && !on_case {
                continue;
            }
            let (path, form, json) = request_for(route, &alone, &fund);
            for caller in [Caller::Session(yibao.clone()), Caller::Key(key.clone())] {
                let is_page = !route.starts_with("/api/");
                if is_page && matches!(caller, Caller::Key(_)) {
                    continue;
                }
                let reply = world
                    .send(&caller, method, &path, form.clone(), json.clone())
                    .await?;
                if reply.status != 404 {
                    wrong.push(format!(
                        "{method} {path} as {caller:?}: {} {}",
                        reply.status, reply.text
                    ));
                }
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
        // Nothing changed on the 公积金 task.
        let task = world
            .app
            .app
            .engine()
            .list_tasks(&TaskQuery {
                case: Some(CaseId(joint.parse()?)),
                steps: vec!["fund".into()],
                ..TaskQuery::default()
            })
            .await?;
        assert_eq!(task.len(), 1);
        assert_eq!(task[0].status, lianban::runtime::TaskStatus::Open);
        Ok(())
    }
);

/// A 阳城 application asking for both joint items (医保, 公积金).
fn joint_application() -> Value {
    let mut app = application("yangcheng.retirement");
    app["form"]["joint_medical"] = json!(true);
    app["form"]["joint_fund"] = json!(true);
    app["form"]["bank_card"] = json!("6228480048081234568");
    app["form"]["work_start"] = json!("1983-07");
    app
}

// The attack of issue 14: the 医保 system's key (and a 医保 or 退役军人 clerk) started a case
// through the API, read its personal data and withdrew it, while `POST /intake` refused the
// same clerk. Now both follow one rule: only the department of the first task (社保, the
// window) starts; only the department holding the case's current step, or a supervisor,
// withdraws. Every refusal is 403 with a stable code (a Chinese message on the page) and
// changes nothing.
db_test!(
    other_departments_can_neither_start_nor_withdraw_a_case,
    |db| {
        let app = TestApp::start(&db, "processes").await?;
        let mut people = Vec::new();
        for (user, department, role) in [
            ("a_shebao", "shebao", Role::Clerk),
            ("a_reviewer", "shebao", Role::Clerk),
            ("a_yibao", "yibao", Role::Clerk),
            ("a_veterans", "veterans", Role::Clerk),
            ("a_boss", "shebao", Role::Supervisor),
        ] {
            let password = app
                .add_user_in(user, department, Some("yangcheng"), role)
                .await?;
            people.push(app.login(user, &password).await?);
        }
        let [shebao, reviewer, yibao, veterans, boss] =
            <[Clerk; 5]>::try_from(people).map_err(|_| anyhow::anyhow!("five people"))?;
        let key = accounts::new_api_key();
        let new = NewApiKey {
            name: "yangcheng-yibao-system".into(),
            key_hash: accounts::api_key_hash(&key),
            department: "yibao".into(),
            county: Some("yangcheng".into()),
            intake: false,
        };
        let engine = app.app.engine();
        engine
            .store()
            .accounts()
            .create_api_key(&new, chrono::Utc::now())
            .await?;
        let world = World {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
            starter: shebao.clone(),
            app,
        };
        let engine = world.app.app.engine();
        let all_cases = || async {
            let query = lianban::store::CaseQuery::default();
            anyhow::Ok(engine.list_cases(&query).await?.len())
        };

        // Starting: the key and the clerks of other departments, over the API and the page.
        let as_key = Caller::Key(key.clone());
        for caller in [
            as_key.clone(),
            Caller::Session(yibao.clone()),
            Caller::Session(veterans.clone()),
        ] {
            let reply = world
                .send(
                    &caller,
                    "POST",
                    "/api/v1/cases",
                    None,
                    Some(joint_application()),
                )
                .await?;
            assert_eq!(
                (reply.status, reply.problem(), reply.code()),
                (403, "forbidden", "not-intake-department"),
                "{caller:?}: {}",
                reply.text
            );
            assert!(
                reply.json["title"]
                    .as_str()
                    .is_some_and(|t| t.contains("阳城县社保中心企业保险股受理")),
                "{}",
                reply.text
            );
        }
        let page = world
            .send(
                &Caller::Session(yibao.clone()),
                "POST",
                "/intake",
                Some(intake_form()),
                None,
            )
            .await?;
        assert_eq!(page.status, 403);
        assert!(
            page.text.contains("不是“阳城县企业职工退休"),
            "{}",
            page.text
        );
        assert_eq!(all_cases().await?, 0, "no refused start left a case");

        // The window starts one; a 社保 supervisor may start too.
        let case = shebao.start(&joint_application()).await?.ok()?;
        let case = case["id"].as_str().unwrap_or_default().to_owned();
        let started = boss.start(&application("yangcheng.retirement")).await?;
        assert_eq!(started.status, 201, "{}", started.text);
        let accept = shebao.task_at(&case, "accept").await?;
        shebao
            .complete(&accept, &json!({"outcome": "accept"}))
            .await?
            .ok()?;
        let confirm = reviewer.task_at(&case, "confirm").await?;
        reviewer
            .complete(
                &confirm,
                &json!({"outcome": "confirm", "data": {"retirement_date": "2025-02", "pension_monthly": 3000}}),
            )
            .await?
            .ok()?;
        // The 医保 system does its item; the case now waits on 公积金 only.
        let medical = world
            .send(&as_key, "GET", "/api/v1/inbox?step=medical", None, None)
            .await?
            .ok()?;
        let medical = medical[0]["id"].as_str().unwrap_or_default().to_owned();
        let done = world
            .send(
                &as_key,
                "POST",
                &format!("/api/v1/tasks/{medical}/complete"),
                None,
                Some(json!({"outcome": "done"})),
            )
            .await?;
        assert_eq!(done.status, 200, "{}", done.text);

        // Withdrawing: 医保 took part, so it sees the case, but no longer holds it; neither
        // does the 社保 window clerk. 退役军人 took no part: 404.
        // What the case went through so far; a refused withdrawal adds nothing (the page
        // that shows the refusal shows the case, and records that view).
        let changes = || async {
            let history = engine.history(CaseId(case.parse()?)).await?;
            anyhow::Ok(
                history
                    .into_iter()
                    .filter(|h| h.action != "view")
                    .map(|h| (h.seq, h.action))
                    .collect::<Vec<_>>(),
            )
        };
        let history = changes().await?;
        let cancel = format!("/api/v1/cases/{case}/cancel");
        let reason = || Some(json!({"reason": "申请人撤回"}));
        for caller in [
            as_key.clone(),
            Caller::Session(yibao.clone()),
            Caller::Session(shebao.clone()),
        ] {
            let reply = world.send(&caller, "POST", &cancel, None, reason()).await?;
            assert_eq!(
                (reply.status, reply.problem(), reply.code()),
                (403, "forbidden", "not-current-department"),
                "{caller:?}: {}",
                reply.text
            );
        }
        let page = world
            .send(
                &Caller::Session(yibao.clone()),
                "POST",
                &format!("/cases/{case}/cancel"),
                Some(vec![("reason".into(), "申请人撤回".into())]),
                None,
            )
            .await?;
        assert_eq!(page.status, 403);
        assert!(
            page.text
                .contains("办件当前由阳城县住房公积金管理中心办理，只有该部门或负责人可以撤件"),
            "{}",
            page.text
        );
        let hidden = world
            .send(
                &Caller::Session(veterans.clone()),
                "POST",
                &cancel,
                None,
                reason(),
            )
            .await?;
        assert_eq!(hidden.status, 404, "{}", hidden.text);
        // Nothing changed: the case is active and its history has no new change.
        let record = engine.get_case(CaseId(case.parse()?)).await?;
        assert!(record.is_some_and(|r| r.state.status == lianban::runtime::CaseStatus::Active));
        assert_eq!(changes().await?, history);

        // The 社保 supervisor may withdraw it.
        let withdrawn = boss.cancel(&case, "申请人撤回").await?;
        assert_eq!(withdrawn.status, 200, "{}", withdrawn.text);
        assert_eq!(withdrawn.json["case"]["status"], "cancelled");
        Ok(())
    }
);

// What a case waits for (a reply, papers received at the window) is handed in by the
// department holding it, not by every department that takes part: 医保 asked for the reply
// and still reads the case, but the window receives it (tests/fixtures/waits/reply.yaml).
db_test!(
    only_the_department_holding_a_case_hands_in_what_it_waits_for,
    |db| {
        let app = TestApp::start(&db, "tests/fixtures/waits").await?;
        let mut people = Vec::new();
        for (user, department) in [("w_shebao", "shebao"), ("w_yibao", "yibao")] {
            let password = app
                .add_user_in(user, department, Some("waits"), Role::Clerk)
                .await?;
            people.push(app.login(user, &password).await?);
        }
        let [shebao, yibao] =
            <[Clerk; 2]>::try_from(people).map_err(|_| anyhow::anyhow!("two people"))?;
        let key = accounts::new_api_key();
        app.app
            .engine()
            .store()
            .accounts()
            .create_api_key(
                &NewApiKey {
                    name: "waits-yibao".into(),
                    key_hash: accounts::api_key_hash(&key),
                    department: "yibao".into(),
                    county: Some("waits".into()),
                    intake: false,
                },
                chrono::Utc::now(),
            )
            .await?;
        let world = World {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
            starter: shebao.clone(),
            app,
        };
        let started = shebao
            .start(&json!({"process": "waits.reply", "form": {"name": "张三"}}))
            .await?
            .ok()?;
        let case = started["id"].as_str().unwrap_or_default().to_owned();
        let accept = shebao.task_at(&case, "accept").await?;
        shebao
            .complete(&accept, &json!({"outcome": "accept"}))
            .await?
            .ok()?;
        let check = yibao.task_at(&case, "check").await?;
        yibao
            .complete(&check, &json!({"outcome": "ask"}))
            .await?
            .ok()?;
        let engine = world.app.app.engine();
        let id = CaseId(case.parse()?);
        let before = engine.get_case(id).await?.map(|r| r.revision);

        let replied = format!("/api/v1/cases/{case}/events/replied");
        for caller in [Caller::Key(key.clone()), Caller::Session(yibao.clone())] {
            let reply = world
                .send(&caller, "POST", &replied, None, Some(json!({})))
                .await?;
            assert_eq!(
                (reply.status, reply.problem(), reply.code()),
                (403, "forbidden", "not-current-department"),
                "{caller:?}: {}",
                reply.text
            );
        }
        let page = world
            .send(
                &Caller::Session(yibao.clone()),
                "POST",
                &format!("/cases/{case}/events/replied"),
                Some(Vec::new()),
                None,
            )
            .await?;
        assert_eq!(page.status, 403, "{}", page.text);
        assert!(
            page.text
                .contains("办件当前由社保中心办理，只有该部门或负责人可以登记收到的材料或答复"),
            "{}",
            page.text
        );
        // 医保's case page offers no form to hand the reply in; the window's does.
        let shown = world
            .send(
                &Caller::Session(yibao),
                "GET",
                &format!("/cases/{case}"),
                None,
                None,
            )
            .await?;
        assert_eq!(shown.status, 200);
        assert!(!shown.text.contains("/events/replied"), "{}", shown.text);
        let window = world
            .send(
                &Caller::Session(shebao.clone()),
                "GET",
                &format!("/cases/{case}"),
                None,
                None,
            )
            .await?;
        assert!(window.text.contains("/events/replied"), "{}", window.text);
        assert_eq!(engine.get_case(id).await?.map(|r| r.revision), before);

        let reply = world
            .send(
                &Caller::Session(shebao),
                "POST",
                &replied,
                None,
                Some(json!({})),
            )
            .await?;
        assert_eq!(reply.status, 200, "{}", reply.text);
        Ok(())
    }
);
