//! End-to-end tests of what operators read: Prometheus `/metrics` (request counters by
//! route template, latency, open and overdue tasks by department, loopback or admin token
//! only) and the OpenAPI document at `/api/openapi.json` against docs/api.md. Every test
//! runs on SQLite and on PostgreSQL. What the server logs is checked in `tests/logs.rs`,
//! a test binary of its own.

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
        .reads()
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

db_test!(a_panicking_handler_answers_500_and_is_counted, |db| {
    // No route of the service panics (that would be a bug); the test adds one of its own
    // behind the same layers, and serves the same app on a second port.
    let app = TestApp::start(&db, "tests/fixtures/web").await?;
    let extra = axum::Router::new().route(
        "/test/panic",
        axum::routing::get(|| async {
            if std::hint::black_box(true) {
                panic!("deliberate panic for the test");
            }
            "unreachable"
        }),
    );
    let router = lianban::web::router_with(std::sync::Arc::clone(&app.app), extra);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let server = tokio::spawn(lianban::web::serve(
        listener,
        router,
        std::future::pending::<()>(),
    ));
    let client = reqwest::Client::new();
    for _ in 0..2 {
        let reply = client.get(format!("{base}/test/panic")).send().await?;
        assert_eq!(reply.status(), 500);
        let header = |name: &str| {
            reply
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        assert_eq!(header("content-type"), "application/problem+json");
        assert_eq!(header("cache-control"), "no-store");
        let body: serde_json::Value = reply.json().await?;
        assert_eq!(body["type"], "internal");
        assert!(!body.to_string().contains("deliberate"), "{body}");
    }
    // Serving goes on, and the panics are counted.
    let health = client.get(format!("{base}/healthz")).send().await?;
    assert_eq!(health.status(), 200);
    let metrics = client
        .get(format!("{base}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    assert!(metrics.contains("lianban_panics_total 2"), "{metrics}");
    assert!(
        metrics.contains(
            r#"lianban_http_requests_total{method="GET",route="/test/panic",status="500"} 2"#
        ),
        "{metrics}"
    );
    server.abort();
    Ok(())
});
