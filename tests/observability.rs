//! End-to-end tests of what operators read: Prometheus `/metrics` (request counters by
//! route template, latency, open and overdue tasks by department, loopback or admin token
//! only), the OpenAPI document at `/api/openapi.json` against docs/api.md, and the log of a
//! server handling personal data (no full ID or phone number at any level). Every test
//! runs on SQLite and on PostgreSQL.

use chrono::Duration;
use lianban::accounts::Role;
use lianban_tests::db_test;
use lianban_tests::web::TestApp;
use serde_json::json;

db_test!(metrics_count_requests_and_open_tasks, |db| {
    let app = TestApp::start(&db, "processes/examples").await?;
    let jiuye = app.clerk("jiuye_clerk", "jiuye", Role::Clerk).await?;
    let form = json!({"name": "赵六", "id_number": "11010519491231002X", "gender": "女",
                      "level": "初级", "insured_months": 24, "pay_to_card": false});
    let case = jiuye
        .start(&json!({"process": "examples.demo", "form": form, "materials": []}))
        .await?
        .ok()?;
    let case = case["id"].as_str().unwrap_or_default().to_owned();
    jiuye.case(&case).await?.ok()?;
    jiuye.case("not-a-case").await?;

    let client = reqwest::Client::new();
    let scrape = client.get(format!("{}/metrics", app.base)).send().await?;
    assert_eq!(scrape.status(), 200);
    let content_type = scrape
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let text = scrape.text().await?;
    // Route templates, never the ids themselves.
    assert!(
        text.contains(
            r#"lianban_http_requests_total{method="GET",route="/api/v1/cases/{id}",status="200"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains(
            r#"lianban_http_requests_total{method="GET",route="/api/v1/cases/{id}",status="404"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"route="/api/v1/cases",status="201"} 1"#),
        "{text}"
    );
    assert!(!text.contains(&case), "no case id as a label");
    assert!(
        text.contains(r#"lianban_http_request_duration_seconds_count{method="GET",route="/api/v1/cases/{id}"} 2"#),
        "{text}"
    );
    assert!(
        text.contains(r#"lianban_open_tasks{county="examples",department="jiuye"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"lianban_overdue_tasks{county="examples",department="jiuye"} 0"#),
        "{text}"
    );
    assert!(text.trim_end().ends_with("# EOF"));

    // The 受理 task is due in one workday: a week on, it is overdue.
    let engine = app.app.engine();
    let later = engine
        .store()
        .open_task_counts(engine.now() + Duration::days(7))
        .await?;
    assert_eq!(later.len(), 1, "{later:?}");
    assert_eq!((later[0].open, later[0].overdue), (1, 1), "{later:?}");
    Ok(())
});

db_test!(metrics_are_not_for_the_public, |db| {
    let app = TestApp::start(&db, "processes/examples").await?;
    let client = reqwest::Client::new();
    // Through a reverse proxy the peer is loopback too; the proxy header gives it away.
    let proxied = client
        .get(format!("{}/metrics", app.base))
        .header("x-forwarded-for", "203.0.113.9")
        .send()
        .await?;
    assert_eq!(proxied.status(), 403, "no admin token configured");
    Ok(())
});

db_test!(metrics_from_afar_need_the_admin_token, |db| {
    let app = TestApp::start_with(&db, "processes/examples", |s| {
        s.admin_token = Some("metrics-secret".into());
    })
    .await?;
    let client = reqwest::Client::new();
    let scrape = |token: Option<&'static str>| {
        let mut request = client
            .get(format!("{}/metrics", app.base))
            .header("x-forwarded-for", "203.0.113.9");
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    assert_eq!(scrape(None).await?.status(), 401);
    assert_eq!(scrape(Some("wrong")).await?.status(), 401);
    let allowed = scrape(Some("metrics-secret")).await?;
    assert_eq!(allowed.status(), 200);
    assert!(allowed.text().await?.contains("# EOF"));
    Ok(())
});

/// `(METHOD, /api/v1/…)` of every route in the tables of docs/api.md.
fn documented_routes() -> anyhow::Result<Vec<(String, String)>> {
    let docs = std::fs::read_to_string(lianban_tests::web::repo().join("docs/api.md"))?;
    let mut routes = Vec::new();
    for line in docs.lines().filter(|l| l.starts_with("| `")) {
        let cell = line.split('`').nth(1).unwrap_or_default();
        let Some((method, path)) = cell.split_once(' ') else {
            continue;
        };
        let path = path.split('?').next().unwrap_or_default();
        if path.starts_with("/api/v1/") {
            routes.push((method.to_lowercase(), path.to_owned()));
        }
    }
    Ok(routes)
}

db_test!(openapi_lists_every_documented_route, |db| {
    let app = TestApp::start(&db, "processes/examples").await?;
    let reply = reqwest::get(format!("{}/api/openapi.json", app.base)).await?;
    assert_eq!(reply.status(), 200);
    let doc: serde_json::Value = reply.json().await?;
    let version = doc["openapi"].as_str().unwrap_or_default();
    assert!(version.starts_with("3."), "{version}");
    let routes = documented_routes()?;
    assert!(routes.len() >= 14, "{routes:?}");
    for (method, path) in &routes {
        let operation = &doc["paths"][path][method];
        assert!(
            operation.is_object(),
            "{method} {path} missing from the document"
        );
        assert!(
            operation["responses"]
                .as_object()
                .is_some_and(|r| r.keys().any(|code| code.starts_with('2'))),
            "{method} {path} has no success answer"
        );
    }
    // Errors are documented as problem+json with the shared schema.
    let not_found = &doc["paths"]["/api/v1/cases/{id}"]["get"]["responses"]["404"];
    assert_eq!(
        not_found["content"]["application/problem+json"]["schema"]["$ref"],
        "#/components/schemas/Problem",
        "{not_found}"
    );
    assert!(doc["components"]["schemas"]["StartBody"].is_object());
    // 401 and 403 are the shared answers, also problem+json.
    let unauthorized = &doc["paths"]["/api/v1/inbox"]["get"]["responses"]["401"];
    assert_eq!(
        unauthorized["content"]["application/problem+json"]["schema"]["$ref"],
        "#/components/schemas/Problem",
        "{unauthorized}"
    );
    assert!(doc["paths"]["/api/v1/cases/{id}"]["get"]["responses"]["403"].is_object());
    // Department systems sign with an API key, the operator with the admin token.
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["api_key"]["scheme"], "bearer", "{schemes}");
    assert_eq!(schemes["admin_token"]["scheme"], "bearer", "{schemes}");
    assert_eq!(
        doc["paths"]["/api/v1/admin/reload"]["post"]["security"],
        json!([{"admin_token": []}])
    );
    Ok(())
});

/// Everything the test process logs, from the moment [`capture_logs`] is first called.
static LOGS: std::sync::OnceLock<std::sync::Arc<std::sync::Mutex<Vec<u8>>>> =
    std::sync::OnceLock::new();

/// A `MakeWriter` appending to [`LOGS`].
#[derive(Clone)]
struct LogBuffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut buffer) = self.0.lock() {
            buffer.extend_from_slice(bytes);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;

    fn make_writer(&'a self) -> LogBuffer {
        self.clone()
    }
}

/// Installs, once for the whole test process, a subscriber that records every event at
/// every level, of lianban and of the libraries (database, HTTP), as text.
fn capture_logs() -> std::sync::Arc<std::sync::Mutex<Vec<u8>>> {
    LOGS.get_or_init(|| {
        let buffer = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("trace"))
            .with_ansi(false)
            .with_writer(LogBuffer(std::sync::Arc::clone(&buffer)))
            .finish();
        // Another test of this binary may not have installed one; if one is installed
        // anyway, the assertion on a non-empty log below says so.
        let _ = tracing::subscriber::set_global_default(subscriber);
        buffer
    })
    .clone()
}

db_test!(logs_carry_no_full_id_number_or_phone, |db| {
    const ID: &str = "140522196412150317";
    const PHONE: &str = "13935600000";
    let logs = capture_logs();
    let app = TestApp::start(&db, "processes/yangcheng").await?;
    let shebao = app.clerk("shebao_li", "shebao", Role::Clerk).await?;
    let form = json!({
        "name": "张三", "gender": "男", "id_number": ID, "birth": "1964-12", "post": "生产",
        "employer": "阳城县某煤业有限公司", "address": "阳城县凤城镇", "phone": PHONE,
        "veteran": false, "item": "企业职工正常退休信息确认、待遇计发",
        "delivery": "现场自取", "retirement_type": "正常退休",
    });
    // A form with a mistake, then the intake, the lists, the case, and the 受理.
    let mut wrong = form.clone();
    wrong["gender"] = json!("女");
    let refused = shebao
        .start(&json!({"process": "yangcheng.retirement", "form": wrong, "materials": []}))
        .await?;
    assert_eq!(refused.status, 422, "{}", refused.text);
    let case = shebao
        .start(&json!({"process": "yangcheng.retirement", "form": form,
                       "materials": ["application", "id_card"]}))
        .await?
        .ok()?;
    let case = case["id"].as_str().unwrap_or_default().to_owned();
    shebao.cases("").await?.ok()?;
    shebao.case(&case).await?.ok()?;
    let accept = shebao.task_at(&case, "accept").await?;
    shebao.claim(&accept).await?.ok()?;
    shebao
        .complete(&accept, &json!({"outcome": "supplement"}))
        .await?
        .ok()?;
    shebao.documents(&case).await?.ok()?;
    // A failed login and a search by the number itself.
    app.try_login(ID, PHONE).await?;
    let page = lianban_tests::pages::Browser::of(&app, &shebao)?;
    page.get(&format!("/inbox?q={ID}")).await?;
    page.get(&format!("/cases?q={ID}")).await?;
    // Secrets in flight: a password typed wrong, the clerk's own password, the session and
    // CSRF tokens on every request above, and an API key, good and bad.
    const TYPO: &str = "Typo-Secret-2026!";
    app.try_login("shebao_li", TYPO).await?;
    let key = lianban::accounts::new_api_key();
    let new = lianban::store::NewApiKey {
        name: "yibao-system".into(),
        key_hash: lianban::accounts::api_key_hash(&key),
        department: "yibao".into(),
        county: None,
    };
    app.app
        .engine()
        .store()
        .create_api_key(&new, chrono::Utc::now())
        .await?;
    let client = reqwest::Client::new();
    let bad_key = format!("{key}x");
    for bearer in [&key, &bad_key] {
        client
            .get(format!("{}/api/v1/inbox", app.base))
            .bearer_auth(bearer)
            .send()
            .await?;
    }
    let password = "pw-shebao_li-2026";

    let text = logs
        .lock()
        .map(|l| String::from_utf8_lossy(&l).into_owned())
        .unwrap_or_default();
    assert!(
        text.contains("definitions loaded"),
        "the server's log was captured: {text}"
    );
    assert!(!text.contains(ID), "full ID number in the log:\n{text}");
    assert!(
        text.contains("140522********0317"),
        "the failed login is logged, masked"
    );
    assert!(!text.contains(PHONE), "full phone in the log:\n{text}");
    for (what, secret) in [
        ("a mistyped password", TYPO),
        ("a password", password),
        ("a session token", shebao.session.as_str()),
        ("a CSRF token", shebao.csrf.as_str()),
        ("an API key", key.as_str()),
        ("a wrong API key", bad_key.as_str()),
    ] {
        assert!(!text.contains(secret), "{what} in the log:\n{text}");
    }
    // Nor their longer prefixes (a key logged cut short still gives most of it away).
    assert!(
        !text.contains(&key[..key.len() - 8]),
        "most of an API key in the log"
    );
    Ok(())
});
