//! Every JSON endpoint fed what a careless or hostile client sends: bodies that are not
//! JSON, not an object, of the wrong types, with unknown fields, nested too deep, too large,
//! not UTF-8, with numbers out of range. Each answer is a 4xx problem document (naming the
//! field where there is one), never a 500, and nothing changes: no case is started, the task
//! stays open, the case's history does not grow. Runs on SQLite and on PostgreSQL.

use lianban::accounts::Role;
use lianban::runtime::CaseId;
use lianban_tests::db_test;
use lianban_tests::web::{Clerk, TestApp, send_refused_body};
use serde_json::{Value, json};

fn joint_form() -> Value {
    json!({
        "process": "web.joint",
        "form": {
            "name": "张三",
            "id_number": "11010519491231002X",
            "phone": "13812345678",
            "joint_medical": false,
            "joint_fund": false,
        },
    })
}

/// A body sent as it is, with its content type.
struct Raw {
    what: &'static str,
    body: Vec<u8>,
    content_type: &'static str,
    /// The field the answer must name, when the problem is in one.
    field: Option<&'static str>,
}

fn raw(what: &'static str, body: impl Into<Vec<u8>>, field: Option<&'static str>) -> Raw {
    Raw {
        what,
        body: body.into(),
        content_type: "application/json",
        field,
    }
}

/// Bodies every JSON endpoint must refuse.
fn common() -> Vec<Raw> {
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let deep_object = format!("{}1{}", "{\"a\":".repeat(3000), "}".repeat(3000));
    vec![
        raw("truncated", "{\"outcome\": ", None),
        raw("not JSON", "outcome=accept", None),
        raw("trailing garbage", "{} {}", None),
        raw("an array", "[]", None),
        raw("a string", "\"accept\"", None),
        raw("a number", "42", None),
        raw("null", "null", None),
        raw("nested too deep (arrays)", deep, None),
        raw("nested too deep (objects)", deep_object, None),
        raw(
            "not UTF-8",
            vec![b'{', b'"', 0xff, 0xfe, b'"', b':', b'1', b'}'],
            None,
        ),
        raw("a lone surrogate", "{\"reason\": \"\\ud800\"}", None),
        raw(
            "too large",
            format!("{{\"reason\": \"{}\"}}", "x".repeat(2 * 1024 * 1024)),
            None,
        ),
    ]
}

/// What to send to one endpoint.
struct Endpoint {
    path: String,
    /// Bodies specific to this endpoint (wrong types, unknown fields).
    specific: Vec<Raw>,
}

async fn endpoints(
    clerk: &Clerk,
    app: &TestApp,
) -> anyhow::Result<(Vec<Endpoint>, String, String)> {
    let case = clerk.start(&joint_form()).await?.ok()?;
    let case = case["id"].as_str().unwrap_or_default().to_owned();
    let task = clerk.task_at(&case, "accept").await?;
    let _ = app;
    let endpoints = vec![
        Endpoint {
            path: "/api/v1/cases".into(),
            specific: vec![
                raw("process a number", r#"{"process": 5}"#, Some("process")),
                raw(
                    "form a list",
                    r#"{"process": "web.joint", "form": []}"#,
                    Some("form"),
                ),
                raw(
                    "materials a string",
                    r#"{"process": "web.joint", "materials": "id_card"}"#,
                    Some("materials"),
                ),
                raw(
                    "materials of numbers",
                    r#"{"process": "web.joint", "materials": [1]}"#,
                    Some("materials[0]"),
                ),
                raw(
                    "unknown field",
                    r#"{"process": "web.joint", "colour": "red"}"#,
                    Some("colour"),
                ),
                raw("process missing", r#"{"form": {}}"#, Some("process")),
                raw(
                    "a huge number",
                    r#"{"process": "web.joint", "form": {"name": 1e400}}"#,
                    None,
                ),
            ],
        },
        Endpoint {
            path: format!("/api/v1/tasks/{task}/complete"),
            specific: vec![
                raw("outcome a number", r#"{"outcome": 5}"#, Some("outcome")),
                raw("outcome missing", r#"{}"#, Some("outcome")),
                raw(
                    "data a string",
                    r#"{"outcome": "accept", "data": "x"}"#,
                    Some("data"),
                ),
                raw(
                    "reason an object",
                    r#"{"outcome": "reject", "reason": {}}"#,
                    Some("reason"),
                ),
                raw(
                    "unknown field",
                    r#"{"outcome": "accept", "approve": true}"#,
                    Some("approve"),
                ),
                raw(
                    "unknown outcome",
                    r#"{"outcome": "'; DROP TABLE tasks; --"}"#,
                    Some("outcome"),
                ),
            ],
        },
        Endpoint {
            path: format!("/api/v1/cases/{case}/cancel"),
            specific: vec![
                raw("reason a number", r#"{"reason": 1}"#, Some("reason")),
                raw("reason missing", r#"{}"#, Some("reason")),
                raw(
                    "unknown field",
                    r#"{"reason": "撤回", "force": true}"#,
                    Some("force"),
                ),
            ],
        },
        Endpoint {
            path: format!("/api/v1/cases/{case}/events/supplied"),
            specific: vec![
                raw("data a list", r#"{"data": []}"#, Some("data")),
                raw(
                    "materials a number",
                    r#"{"materials": 3}"#,
                    Some("materials"),
                ),
                raw("unknown field", r#"{"colour": 1}"#, Some("colour")),
            ],
        },
    ];
    Ok((endpoints, case, task))
}

db_test!(
    bad_bodies_get_a_4xx_naming_the_field_and_change_nothing,
    |db| {
        let app = TestApp::start(&db, "tests/fixtures/web").await?;
        let clerk = app.clerk("input_li", "shebao", Role::Clerk).await?;
        let (endpoints, case, task) = endpoints(&clerk, &app).await?;
        let engine = app.app.engine();
        let case_id = CaseId(case.parse()?);
        let history = engine.history(case_id).await?.len();
        // No kept-alive connections: after a 413 the server closes one with the body unread.
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()?;
        let mut wrong = Vec::new();
        for endpoint in &endpoints {
            for body in common().iter().chain(&endpoint.specific) {
                let response = send_refused_body(|| {
                    client
                        .post(format!("{}{}", app.base, endpoint.path))
                        .header("cookie", format!("lianban_session={}", clerk.session))
                        .header("x-csrf-token", &clerk.csrf)
                        .header("content-type", body.content_type)
                        .body(body.body.clone())
                })
                .await?;
                let status = response.status().as_u16();
                let content_type = response
                    .headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let text = response.text().await?;
                let json: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                let place = format!("{} ({})", endpoint.path, body.what);
                if !(400..500).contains(&status) {
                    wrong.push(format!("{place}: {status} {text}"));
                    continue;
                }
                if !content_type.starts_with("application/problem+json")
                    || json["title"].as_str().is_none()
                {
                    wrong.push(format!(
                        "{place}: not a problem document: {content_type} {text}"
                    ));
                }
                if body.what == "too large" && status != 413 {
                    wrong.push(format!("{place}: {status}, not 413"));
                }
                if let Some(field) = body.field {
                    let named = json["errors"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|e| e["field"] == field);
                    if !named {
                        wrong.push(format!("{place}: does not name `{field}`: {text}"));
                    }
                }
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
        // Nothing changed: still one case, its task open, its history as it was.
        assert_eq!(
            clerk.cases("").await?.ok()?.as_array().map(Vec::len),
            Some(1)
        );
        assert_eq!(clerk.task_at(&case, "accept").await?, task);
        assert_eq!(clerk.inbox("").await?.ok()?[0]["status"], "open");
        assert_eq!(engine.history(case_id).await?.len(), history);
        Ok(())
    }
);

db_test!(bad_query_strings_get_a_4xx_naming_the_parameter, |db| {
    let app = TestApp::start(&db, "tests/fixtures/web").await?;
    let clerk = app.clerk("input_li", "shebao", Role::Clerk).await?;
    for (query, field) in [
        ("limit=lots", "limit"),
        ("limit=-1", "limit"),
        ("limit=99999999999999999999999", "limit"),
        ("offset=x", "offset"),
        ("colour=red", "colour"),
    ] {
        for reply in [clerk.inbox(query).await?, clerk.cases(query).await?] {
            assert_eq!(reply.status, 400, "{query}: {}", reply.text);
            assert_eq!(
                reply.json["errors"][0]["field"], field,
                "{query}: {}",
                reply.text
            );
        }
    }
    Ok(())
});

db_test!(page_forms_too_large_or_malformed_are_refused, |db| {
    let app = TestApp::start(&db, "tests/fixtures/web").await?;
    let clerk = app.clerk("input_li", "shebao", Role::Clerk).await?;
    let case = clerk.start(&joint_form()).await?.ok()?;
    let case = case["id"].as_str().unwrap_or_default().to_owned();
    let task = clerk.task_at(&case, "accept").await?;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let huge = format!("csrf={}&reason={}", clerk.csrf, "x".repeat(2 * 1024 * 1024));
    for path in [
        "/intake".to_owned(),
        format!("/tasks/{task}/complete"),
        format!("/cases/{case}/cancel"),
    ] {
        for (what, body, content_type) in [
            (
                "too large",
                huge.clone().into_bytes(),
                "application/x-www-form-urlencoded",
            ),
            (
                "not UTF-8",
                vec![b'c', b'=', 0xff, 0xfe],
                "application/x-www-form-urlencoded",
            ),
            (
                "JSON instead of a form",
                b"{\"csrf\": 1}".to_vec(),
                "application/json",
            ),
        ] {
            let reply = send_refused_body(|| {
                client
                    .post(format!("{}{path}", app.base))
                    .header("cookie", format!("lianban_session={}", clerk.session))
                    .header("content-type", content_type)
                    .body(body.clone())
            })
            .await?;
            let status = reply.status().as_u16();
            assert!((400..500).contains(&status), "{path} ({what}): {status}");
            if what == "too large" {
                assert_eq!(status, 413, "{path}");
            }
        }
    }
    assert_eq!(clerk.inbox("").await?.ok()?[0]["status"], "open");
    Ok(())
});
