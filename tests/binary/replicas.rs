//! Two real `lianban serve` replicas on one PostgreSQL database share the work safely:
//! a session made on one is valid on the other, cases started on both are seen by both,
//! each task completed through both at once is completed exactly once (2xx on one replica,
//! 409 on the other), every outbox message is delivered once to the department's system,
//! every overdue timer fires once and every schedule firing runs once, although both
//! replicas run delivery, timer and schedule workers.
//!
//! Time is not simulated inside the binaries (they run on the system clock): the test moves
//! the overdue timers' `fire_at` into the past in the database, and the retirement
//! definition's push-table schedule is edited to fire every ten seconds.
//!
//! Needs `TEST_POSTGRES_URL` (a server where the user may `CREATE DATABASE`); fails without
//! it, like the other PostgreSQL tests.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use axum::http::{HeaderMap, StatusCode};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};

use crate::files::copy_dir;

const SECRET: &str = "replica-test-secret";
const PASSWORD: &str = "Replica-Test-2026";
const CASES_PER_REPLICA: usize = 6;

/// The bench's standard process with the 医保局's system at `hook`, and an overdue
/// escalation (notify the supervisor) on the 医保 task.
fn definition(hook: &str) -> String {
    lianban_bench::STANDARD_YAML
        .replace(
            "  yibao: {name: 医保局}",
            &format!("  yibao: {{name: 医保局, system: {{url: \"{hook}\", secret_env: LIANBAN_SECRET_YIBAO}}}}"),
        )
        .replace(
            "    role: yibao_clerk\n",
            "    role: yibao_clerk\n    due: 2 hours\n    escalate: [{on: overdue, notify: supervisor}]\n",
        )
}

/// The 阳城 retirement definition (with its base and the calendars) with the daily push-table schedule
/// firing every ten seconds instead (six fields: seconds first), on any day.
fn retirement(processes: &Path) -> anyhow::Result<()> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for sub in ["yangcheng", "shanxi", "calendars"] {
        copy_dir(&repo.join("processes").join(sub), &processes.join(sub))?;
    }
    let file = processes.join("shanxi/retirement.yaml");
    let text = std::fs::read_to_string(&file)?;
    let daily = r#"cron: "0 17 * * 1-5", action: push_tables, workdays_only: true"#;
    ensure!(
        text.contains(daily),
        "the retirement schedule changed; update this test"
    );
    std::fs::write(
        &file,
        text.replace(daily, r#"cron: "*/10 * * * * *", action: push_tables"#),
    )?;
    Ok(())
}

struct Replica {
    child: Child,
    base: String,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lianban"))
}

fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

async fn start_replica(url: &str, dir: &Path) -> anyhow::Result<Replica> {
    let port = free_port()?;
    let child = bin()
        .arg("serve")
        .args(["--db", url])
        .args(["--bind", &format!("127.0.0.1:{port}")])
        .arg("--processes")
        .arg(dir.join("processes"))
        .arg("--templates")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../templates"))
        .env("LIANBAN_SECRET_YIBAO", SECRET)
        .env("LIANBAN_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("spawn serve")?;
    let replica = Replica {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    // Readiness, not timing: wait until the replica answers (bounded, so a broken start
    // fails the test instead of hanging it).
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(r) = client.get(format!("{}/readyz", replica.base)).send().await
            && r.status().is_success()
        {
            return Ok(replica);
        }
        ensure!(
            Instant::now() < deadline,
            "replica {} did not start",
            replica.base
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn add_user(url: &str, dir: &Path, username: &str, department: &str) -> anyhow::Result<()> {
    let mut child = bin()
        .args(["user", "add", "--db", url, "--username", username])
        .args([
            "--department",
            department,
            "--role",
            "clerk",
            "--county",
            "bench",
        ])
        .arg("--processes")
        .arg(dir.join("processes"))
        .arg("--templates")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../templates"))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    child
        .stdin
        .take()
        .context("stdin")?
        .write_all(format!("{PASSWORD}\n").as_bytes())?;
    let out = child.wait_with_output()?;
    ensure!(
        out.status.success(),
        "user add {username}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// A signed-in clerk: the session cookie and its CSRF token.
#[derive(Clone)]
struct Session {
    cookie: String,
    csrf: String,
}

fn cookie_of(headers: &reqwest::header::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
}

async fn login(client: &reqwest::Client, base: &str, username: &str) -> anyhow::Result<Session> {
    let page = client.get(format!("{base}/login")).send().await?;
    let csrf = cookie_of(page.headers(), "lianban_login_csrf").context("login CSRF cookie")?;
    let reply = client
        .post(format!("{base}/login"))
        .header("accept", "application/json")
        .header("cookie", format!("lianban_login_csrf={csrf}"))
        .form(&[
            ("username", username),
            ("password", PASSWORD),
            ("csrf", &csrf),
        ])
        .send()
        .await?;
    let cookie = cookie_of(reply.headers(), "lianban_session").context("session cookie")?;
    let body: Value = reply.json().await?;
    Ok(Session {
        cookie: format!("lianban_session={cookie}"),
        csrf: body["csrf"].as_str().unwrap_or_default().to_owned(),
    })
}

async fn call(
    client: &reqwest::Client,
    session: &Session,
    method: reqwest::Method,
    url: String,
    body: Option<Value>,
) -> anyhow::Result<(StatusCode, Value)> {
    let mut request = client
        .request(method, url)
        .header("cookie", &session.cookie)
        .header("x-csrf-token", &session.csrf);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let reply = request.send().await?;
    let status = StatusCode::from_u16(reply.status().as_u16())?;
    let text = reply.text().await?;
    Ok((
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    ))
}

/// The department system: counts the 2xx answers per Idempotency-Key.
async fn receiver() -> anyhow::Result<(String, Arc<Mutex<HashMap<String, u32>>>)> {
    let seen: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    let state = Arc::clone(&seen);
    let router = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap| {
            let state = Arc::clone(&state);
            async move {
                let key = headers
                    .get("idempotency-key")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let mut seen = state
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                *seen.entry(key).or_default() += 1;
                let n = seen.len();
                (
                    StatusCode::OK,
                    json!({"receipt_id": format!("R-{n}")}).to_string(),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok((url, seen))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_share_the_work_safely() -> anyhow::Result<()> {
    let Ok(server) = std::env::var("TEST_POSTGRES_URL") else {
        bail!(
            "TEST_POSTGRES_URL is not set: this test needs PostgreSQL (two replicas share one database)"
        );
    };
    let name = format!("lianban_replicas_{}", uuid::Uuid::new_v4().simple());
    let admin = Database::connect(server.as_str()).await?;
    admin
        .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await?;
    let base = server.rsplit_once('/').map_or(server.as_str(), |(b, _)| b);
    let url = format!("{base}/{name}");
    let outcome = scenario(&url).await;
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .await?;
    outcome
}

async fn scenario(url: &str) -> anyhow::Result<()> {
    let (hook, seen) = receiver().await?;
    let dir = tempfile::tempdir()?;
    std::fs::create_dir_all(dir.path().join("processes"))?;
    std::fs::write(
        dir.path().join("processes/standard.yaml"),
        definition(&hook),
    )?;
    retirement(&dir.path().join("processes"))?;
    // Migrations run once, before the replicas start (as docs/deployment.md says).
    let migrate = bin().args(["migrate", "--db", url]).output()?;
    ensure!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );
    for (user, department) in [("window", "shebao"), ("yibao1", "yibao"), ("gjj1", "gjj")] {
        add_user(url, dir.path(), user, department)?;
    }
    let a = start_replica(url, dir.path()).await?;
    let b = start_replica(url, dir.path()).await?;
    let client = reqwest::Client::new();

    // A session made on A works on B.
    let window = login(&client, &a.base, "window").await?;
    let (status, me) = call(
        &client,
        &window,
        reqwest::Method::GET,
        format!("{}/api/v1/session", b.base),
        None,
    )
    .await?;
    ensure!(
        status == StatusCode::OK && me.to_string().contains("window"),
        "session on B: {status} {me}"
    );

    // Cases started on both replicas.
    let mut cases = Vec::new();
    for (i, replica) in [&a, &b]
        .iter()
        .cycle()
        .take(2 * CASES_PER_REPLICA)
        .enumerate()
    {
        let (status, case) = call(
            &client,
            &window,
            reqwest::Method::POST,
            format!("{}/api/v1/cases", replica.base),
            Some(json!({"process": "bench.standard", "form": {"name": format!("职工{i}"), "years": 20}})),
        )
        .await?;
        ensure!(
            status == StatusCode::CREATED,
            "start on {}: {status} {case}",
            replica.base
        );
        cases.push(case["id"].as_str().context("case id")?.to_owned());
    }

    // Each 受理 task (listed on B), claimed once, then completed through A and B at once.
    let (_, inbox) = call(
        &client,
        &window,
        reqwest::Method::GET,
        format!("{}/api/v1/inbox?limit=100", b.base),
        None,
    )
    .await?;
    let tasks: Vec<String> = inbox
        .as_array()
        .context("inbox array")?
        .iter()
        .filter_map(|t| t["id"].as_str().map(str::to_owned))
        .collect();
    ensure!(tasks.len() == cases.len(), "inbox on B: {inbox}");
    for task in &tasks {
        let (status, body) = call(
            &client,
            &window,
            reqwest::Method::POST,
            format!("{}/api/v1/tasks/{task}/claim", a.base),
            None,
        )
        .await?;
        ensure!(status == StatusCode::OK, "claim: {status} {body}");
        let complete = |base: &str| {
            call(
                &client,
                &window,
                reqwest::Method::POST,
                format!("{base}/api/v1/tasks/{task}/complete"),
                Some(json!({"outcome": "accept"})),
            )
        };
        let (on_a, on_b) = tokio::join!(complete(&a.base), complete(&b.base));
        let mut statuses = [on_a?.0, on_b?.0];
        statuses.sort();
        ensure!(
            statuses == [StatusCode::OK, StatusCode::CONFLICT],
            "task {task} completed through both replicas: {statuses:?}"
        );
    }

    // Each case has exactly one 医保 task and one history entry for the completion.
    let yibao = login(&client, &b.base, "yibao1").await?;
    let (_, inbox) = call(
        &client,
        &yibao,
        reqwest::Method::GET,
        format!("{}/api/v1/inbox?limit=100", a.base),
        None,
    )
    .await?;
    ensure!(
        inbox.as_array().map(Vec::len) == Some(cases.len()),
        "yibao inbox: {inbox}"
    );
    for case in &cases {
        let (status, body) = call(
            &client,
            &window,
            reqwest::Method::GET,
            format!("{}/api/v1/cases/{case}", a.base),
            None,
        )
        .await?;
        ensure!(status == StatusCode::OK, "{status} {body}");
        let completions = body["history"]
            .as_array()
            .context("history")?
            .iter()
            .filter(|h| h["action"] == "complete")
            .count();
        ensure!(
            completions == 1,
            "case {case}: {completions} completions in {body}"
        );
    }

    overdue_timers_fire_once(url, cases.len()).await?;

    // The 医保 tasks announced to the 医保局's system: one message per case, each delivered
    // once although both replicas deliver. Both replicas' workers run on their own tick;
    // wait (bounded) until every message arrived.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let n = seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len();
        if n >= cases.len() {
            break;
        }
        ensure!(
            Instant::now() < deadline,
            "only {n} of {} messages delivered",
            cases.len()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let seen = seen
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    ensure!(seen.len() == cases.len(), "messages: {seen:?}");
    ensure!(
        seen.values().all(|n| *n == 1),
        "a message was delivered twice: {seen:?}"
    );
    schedule_firings_run_once(url).await?;
    drop((a, b));
    Ok(())
}

/// Polls `count` (bounded) until it reaches `want`.
async fn wait_for(
    what: &str,
    want: i64,
    mut count: impl AsyncFnMut() -> anyhow::Result<i64>,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let n = count().await?;
        if n >= want {
            return Ok(());
        }
        ensure!(Instant::now() < deadline, "{what}: {n} of {want}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn count(db: &sea_orm::DatabaseConnection, sql: &str) -> anyhow::Result<i64> {
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            sql.to_owned(),
        ))
        .await?
        .context("a count")?;
    Ok(row.try_get_by_index(0)?)
}

/// Makes each 医保 task's overdue timer due now, in the database; both replicas' timer
/// workers scan for it, and each fires once: one fired timer and one overdue notice to the
/// 医保局 per task.
async fn overdue_timers_fire_once(url: &str, tasks: usize) -> anyhow::Result<()> {
    let db = Database::connect(url).await?;
    let past = chrono::Utc::now() - chrono::Duration::minutes(1);
    let moved = db
        .execute_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "UPDATE timers SET fire_at = $1 WHERE kind = 'overdue' AND fired_at IS NULL",
            [past.into()],
        ))
        .await?
        .rows_affected();
    ensure!(
        moved == tasks as u64,
        "{moved} overdue timers for {tasks} tasks"
    );
    let want = i64::try_from(tasks)?;
    wait_for("overdue timers fired", want, async || {
        count(
            &db,
            "SELECT count(*) FROM timers WHERE kind = 'overdue' AND fired_at IS NOT NULL",
        )
        .await
    })
    .await?;
    let notices = count(
        &db,
        "SELECT count(*) FROM notices WHERE kind = 'overdue' AND department = 'yibao'",
    )
    .await?;
    let per_task = count(
        &db,
        "SELECT count(DISTINCT task_id) FROM notices WHERE kind = 'overdue'",
    )
    .await?;
    ensure!(
        notices == want && per_task == want,
        "{notices} overdue notices for {per_task} of {tasks} tasks"
    );
    Ok(())
}

/// The retirement schedule fires every ten seconds and both replicas look every few
/// seconds: every firing has one run, recorded by one replica, and none failed.
async fn schedule_firings_run_once(url: &str) -> anyhow::Result<()> {
    let db = Database::connect(url).await?;
    let runs = "SELECT count(*) FROM schedule_runs WHERE process_id = 'yangcheng.retirement'";
    wait_for("schedule firings", 3, async || count(&db, runs).await).await?;
    let firings = count(
        &db,
        "SELECT count(DISTINCT fire_time) FROM schedule_runs \
         WHERE process_id = 'yangcheng.retirement'",
    )
    .await?;
    let total = count(&db, runs).await?;
    let failed = count(
        &db,
        "SELECT count(*) FROM schedule_runs \
         WHERE process_id = 'yangcheng.retirement' AND status = 'failed'",
    )
    .await?;
    ensure!(
        firings == total && failed == 0,
        "{total} runs for {firings} firings, {failed} failed"
    );
    Ok(())
}
