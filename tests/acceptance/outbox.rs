//! The outbox to department systems, against a real receiver (an axum server on a loopback
//! port inside the test) that checks each message's HMAC signature: a message is written
//! with the task it announces, retried with backoff until the receiver accepts it, its
//! receipt lands in the case history; a receiver that never accepts dead-letters it after
//! the last attempt, and an admin's retry requeues it; two workers never deliver one
//! message twice. Time is a manual clock passed to each round.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Duration, TimeZone, Utc};
use hmac::{Hmac, Mac};
use lianban::accounts::Role;
use lianban::runtime::{CaseId, Event};
use lianban::scheduler::outbox::DeliveryReport;
use lianban::scheduler::{ManualClock, OutboxPolicy, OutboxWorker, Secrets};
use lianban::service::Engine;
use lianban::store::OutboxStatus;
use lianban_tests::db_test;
use lianban_tests::files::copy_dir;
use lianban_tests::retirement::start_confirmed;
use lianban_tests::web::{TestApp, repo};
use serde_json::{Value, json};
use sha2::Sha256;

const SECRET: &str = "test-secret-of-yibao";

fn beijing(y: i32, m: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    // Beijing time has been UTC+8 all year since 1991.
    chrono::FixedOffset::east_opt(8 * 3600)
        .expect("UTC+8")
        .with_ymd_and_hms(y, m, d, h, mi, 0)
        .single()
        .map(|t| t.with_timezone(&Utc))
        .expect("a valid Beijing time")
}

// ---- the receiving department's system ----

#[derive(Debug, Default)]
struct Seen {
    /// Requests per Idempotency-Key.
    attempts: HashMap<String, u32>,
    /// 2xx answers per Idempotency-Key.
    accepted: HashMap<String, u32>,
    bad_signatures: u32,
    bodies: Vec<Value>,
    /// Failures still to answer (500) before accepting; `u32::MAX` = never accept.
    failures_left: u32,
}

#[derive(Debug, Clone)]
struct Receiver {
    url: String,
    seen: Arc<Mutex<Seen>>,
}

impl Receiver {
    async fn start(failures: u32) -> anyhow::Result<Receiver> {
        let seen = Arc::new(Mutex::new(Seen {
            failures_left: failures,
            ..Seen::default()
        }));
        let router = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(Arc::clone(&seen));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/hook", listener.local_addr()?);
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(Receiver { url, seen })
    }

    fn seen<T>(&self, f: impl FnOnce(&mut Seen) -> T) -> T {
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut seen)
    }
}

/// Verifies the signature the way a department would (documented in docs/push.md).
async fn receive(
    State(seen): State<Arc<Mutex<Seen>>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (key, timestamp, signature) = (
        header("idempotency-key"),
        header("x-lianban-timestamp"),
        header("x-lianban-signature"),
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(&body);
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    let mut seen = seen
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if signature != expected || key.is_empty() {
        seen.bad_signatures += 1;
        return (StatusCode::UNAUTHORIZED, "bad signature".into());
    }
    *seen.attempts.entry(key.clone()).or_default() += 1;
    if seen.failures_left > 0 {
        if seen.failures_left != u32::MAX {
            seen.failures_left -= 1;
        }
        return (StatusCode::INTERNAL_SERVER_ERROR, "系统维护中".into());
    }
    *seen.accepted.entry(key).or_default() += 1;
    seen.bodies
        .push(serde_json::from_slice(&body).unwrap_or(Value::Null));
    let n = seen.bodies.len();
    (
        StatusCode::OK,
        json!({"receipt_id": format!("R-{n}")}).to_string(),
    )
}

// ---- the service ----

/// The 阳城 definition (and the base it extends) with the 医保局's system at the receiver.
fn processes(receiver: &Receiver) -> anyhow::Result<tempfile::TempDir> {
    let dir = tempfile::tempdir()?;
    let source = repo().join("processes");
    for sub in ["yangcheng", "shanxi", "calendars"] {
        copy_dir(&source.join(sub), &dir.path().join(sub))?;
    }
    let file = dir.path().join("yangcheng/retirement.yaml");
    let text = std::fs::read_to_string(&file)?;
    let old = "phone: 0356-3201052}";
    anyhow::ensure!(text.contains(old), "the yibao department line changed");
    let new = format!(
        "phone: 0356-3201052, system: {{url: \"{}\", secret_env: LIANBAN_SECRET_YIBAO}}}}",
        receiver.url
    );
    std::fs::write(&file, text.replacen(old, &new, 1))?;
    Ok(dir)
}

fn policy() -> OutboxPolicy {
    OutboxPolicy {
        max_attempts: 3,
        base_delay: Duration::seconds(30),
        max_delay: Duration::seconds(60),
        ..OutboxPolicy::default()
    }
}

fn worker(engine: &Engine) -> anyhow::Result<OutboxWorker> {
    let secrets = Secrets::from_lookup(&engine.catalog(), |name| {
        (name == "LIANBAN_SECRET_YIBAO").then(|| SECRET.to_owned())
    })?;
    Ok(OutboxWorker::new(engine.clone(), secrets, policy())?)
}

/// Starts, accepts and confirms a retirement of 张三 with ID number `id`.
async fn confirmed(engine: &Engine, id: &str, medical: bool, fund: bool) -> anyhow::Result<CaseId> {
    start_confirmed(engine, "张三", id, medical, fund).await
}

async fn request(
    app: &TestApp,
    session: &str,
    method: reqwest::Method,
    path: &str,
    csrf: Option<&str>,
    form: Option<&[(&str, &str)]>,
) -> anyhow::Result<(u16, String)> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let mut request = client
        .request(method, format!("{}{path}", app.base))
        .header("cookie", format!("lianban_session={session}"));
    if let Some(csrf) = csrf {
        request = request.header("x-csrf-token", csrf);
    }
    if let Some(form) = form {
        request = request.form(form);
    }
    let response = request.send().await?;
    Ok((response.status().as_u16(), response.text().await?))
}

fn report(delivered: u32, retrying: u32, dead: u32) -> DeliveryReport {
    DeliveryReport {
        delivered,
        retrying,
        dead,
    }
}

db_test!(
    a_message_is_retried_until_delivered_and_its_receipt_recorded,
    |db| {
        let receiver = Receiver::start(2).await?;
        let dir = processes(&receiver)?;
        let t0 = beijing(2026, 11, 30, 10, 0);
        let clock = Arc::new(ManualClock::new(t0));
        let app =
            TestApp::start_with_clock(&db, dir.path().to_str().unwrap_or_default(), clock, |_| {})
                .await?;
        let engine = app.app.engine();

        // The signing secret must be there before the service starts.
        let missing = Secrets::from_lookup(&engine.catalog(), |_| None)
            .map(|_| ())
            .expect_err("a missing secret is refused");
        assert!(
            missing.to_string().contains("LIANBAN_SECRET_YIBAO"),
            "{missing}"
        );

        let case = confirmed(engine, "140522196501151012", true, false).await?;
        // Only departments with a system get messages: this fund-only case has none.
        let other = confirmed(engine, "140522196203041018", false, true).await?;
        let store = engine.store();
        assert!(store.jobs().outbox(None, Some(other), 10).await?.is_empty());
        let queued = store.jobs().outbox(None, Some(case), 10).await?;
        assert_eq!(queued.len(), 1);
        assert_eq!(
            (queued[0].status, queued[0].department.as_str()),
            (OutboxStatus::Pending, "yibao")
        );

        let worker = worker(engine)?;
        assert_eq!(worker.run_once(t0).await?, report(0, 1, 0));
        // Not due yet: nothing is sent.
        assert_eq!(
            worker.run_once(t0 + Duration::seconds(10)).await?,
            report(0, 0, 0)
        );
        assert_eq!(
            worker.run_once(t0 + Duration::seconds(30)).await?,
            report(0, 1, 0)
        );
        let t3 = t0 + Duration::seconds(90);
        assert_eq!(worker.run_once(t3).await?, report(1, 0, 0));
        assert_eq!(
            worker.run_once(t3 + Duration::hours(1)).await?,
            report(0, 0, 0)
        );

        let key = queued[0].id.to_string();
        receiver.seen(|seen| {
            assert_eq!(seen.bad_signatures, 0);
            assert_eq!(seen.attempts.get(&key), Some(&3));
            assert_eq!(seen.accepted.get(&key), Some(&1));
            let body = &seen.bodies[0];
            assert_eq!(body["id"], key.as_str());
            assert_eq!(body["department"], "yibao");
            assert_eq!(body["task"]["step"], "medical");
            assert_eq!(body["case"]["form"]["id_number"], "140522196501151012");
        });
        let sent = store.jobs().outbox(None, Some(case), 10).await?;
        assert_eq!(
            (sent[0].status, sent[0].attempts),
            (OutboxStatus::Delivered, 3)
        );
        assert_eq!(
            sent[0].receipt.as_ref().map(|r| r["receipt_id"].clone()),
            Some(json!("R-1"))
        );

        let history = engine.history(case).await?;
        let push = history
            .iter()
            .find(|h| h.action == "push")
            .ok_or_else(|| anyhow::anyhow!("no push row"))?;
        assert_eq!(
            push.events,
            [Event::PushDelivered {
                department: "yibao".into(),
                message: key.clone(),
                status: 200,
                receipt: Some("R-1".into()),
                attempts: 3,
            }]
        );
        // The case page's timeline names it in Chinese.
        let clerk = app.clerk("clerk1", "shebao", Role::Clerk).await?;
        let (status, page) = request(
            &app,
            &clerk.session,
            reqwest::Method::GET,
            &format!("/cases/{case}"),
            None,
            None,
        )
        .await?;
        assert_eq!(status, 200);
        assert!(
            page.contains("推送至部门系统：阳城县医保局已接收（HTTP 200，回执 R-1，第 3 次推送）"),
            "{page}"
        );
        Ok(())
    }
);

db_test!(
    a_receiver_that_never_accepts_gets_a_dead_letter_an_admin_can_retry,
    |db| {
        let receiver = Receiver::start(u32::MAX).await?;
        let dir = processes(&receiver)?;
        let t0 = beijing(2026, 11, 30, 10, 0);
        let clock = Arc::new(ManualClock::new(t0));
        let app =
            TestApp::start_with_clock(&db, dir.path().to_str().unwrap_or_default(), clock, |_| {})
                .await?;
        let engine = app.app.engine();
        let case = confirmed(engine, "140522196501151012", true, true).await?;
        let worker = worker(engine)?;
        assert_eq!(worker.run_once(t0).await?, report(0, 1, 0));
        assert_eq!(
            worker.run_once(t0 + Duration::seconds(30)).await?,
            report(0, 1, 0)
        );
        assert_eq!(
            worker.run_once(t0 + Duration::seconds(90)).await?,
            report(0, 0, 1)
        );
        assert_eq!(
            worker.run_once(t0 + Duration::days(1)).await?,
            report(0, 0, 0)
        );
        let history = engine.history(case).await?;
        assert!(
            history
                .iter()
                .any(|h| matches!(h.events.as_slice(), [Event::PushFailed { attempts: 3, .. }])),
            "{history:?}"
        );

        let admin = app.clerk("admin1", "shebao", Role::Admin).await?;
        let clerk = app.clerk("clerk1", "shebao", Role::Supervisor).await?;
        let get = reqwest::Method::GET;
        let (status, text) = request(
            &app,
            &admin.session,
            get.clone(),
            "/api/v1/admin/outbox?status=dead",
            None,
            None,
        )
        .await?;
        assert_eq!(status, 200, "{text}");
        let dead: Value = serde_json::from_str(&text)?;
        assert_eq!(dead.as_array().map(Vec::len), Some(1));
        assert_eq!(dead[0]["attempts"], 3);
        assert!(
            !text.contains("140522196501151012"),
            "lists carry no personal data"
        );
        let id = dead[0]["id"].as_str().unwrap_or_default().to_owned();
        let (status, _) = request(
            &app,
            &clerk.session,
            get.clone(),
            "/api/v1/admin/outbox?status=dead",
            None,
            None,
        )
        .await?;
        assert_eq!(status, 403);
        let (status, text) = request(
            &app,
            &admin.session,
            get.clone(),
            "/api/v1/admin/outbox?status=lost",
            None,
            None,
        )
        .await?;
        assert_eq!(status, 400, "{text}");
        let (status, page) =
            request(&app, &admin.session, get.clone(), "/outbox", None, None).await?;
        assert_eq!(status, 200);
        assert!(page.contains(&format!("/outbox/{id}/retry")) && page.contains("重新推送"));

        // Retrying needs the CSRF token; then the message is pending again, once.
        let post = reqwest::Method::POST;
        let retry = format!("/api/v1/admin/outbox/{id}/retry");
        let (status, _) = request(&app, &admin.session, post.clone(), &retry, None, None).await?;
        assert_eq!(status, 403);
        let (status, _) = request(
            &app,
            &clerk.session,
            post.clone(),
            &retry,
            Some(&clerk.csrf),
            None,
        )
        .await?;
        assert_eq!(status, 403);
        let (status, _) = request(
            &app,
            &admin.session,
            post.clone(),
            &format!("/outbox/{id}/retry"),
            None,
            Some(&[("csrf", admin.csrf.as_str())]),
        )
        .await?;
        assert_eq!(status, 303);
        let (status, _) = request(
            &app,
            &admin.session,
            post.clone(),
            &retry,
            Some(&admin.csrf),
            None,
        )
        .await?;
        assert_eq!(status, 404, "only a dead message can be retried");

        receiver.seen(|seen| seen.failures_left = 0);
        let t1 = t0 + Duration::days(1) + Duration::seconds(1);
        assert_eq!(worker.run_once(t1).await?, report(1, 0, 0));
        let (status, text) = request(
            &app,
            &admin.session,
            get,
            "/api/v1/admin/outbox?status=dead",
            None,
            None,
        )
        .await?;
        assert_eq!((status, text.as_str()), (200, "[]"));
        receiver.seen(|seen| {
            assert_eq!(seen.accepted.get(&id), Some(&1));
            assert_eq!(seen.attempts.get(&id), Some(&4));
        });
        Ok(())
    }
);

db_test!(two_workers_deliver_each_message_once, |db| {
    let receiver = Receiver::start(0).await?;
    let dir = processes(&receiver)?;
    let t0 = beijing(2026, 11, 30, 10, 0);
    let clock = Arc::new(ManualClock::new(t0));
    let app =
        TestApp::start_with_clock(&db, dir.path().to_str().unwrap_or_default(), clock, |_| {})
            .await?;
    let engine = app.app.engine();
    for id in [
        "140522196501151012",
        "140522196203041018",
        "140522196607082035",
        "14052219640923101X",
        "140522196406113018",
    ] {
        confirmed(engine, id, true, false).await?;
    }
    let (a, b) = (worker(engine)?, worker(engine)?);
    let at = t0 + Duration::seconds(1);
    let (ra, rb) = tokio::join!(a.run_once(at), b.run_once(at));
    let (ra, rb) = (ra?, rb?);
    assert_eq!(ra.delivered + rb.delivered, 5, "{ra:?} {rb:?}");
    assert_eq!(ra.retrying + rb.retrying + ra.dead + rb.dead, 0);
    receiver.seen(|seen| {
        assert_eq!(seen.accepted.len(), 5);
        assert!(
            seen.accepted.values().all(|n| *n == 1),
            "{:?}",
            seen.accepted
        );
        assert!(
            seen.attempts.values().all(|n| *n == 1),
            "{:?}",
            seen.attempts
        );
    });
    Ok(())
});
