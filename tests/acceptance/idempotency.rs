//! `Idempotency-Key` on the API's POSTs, over real HTTP on SQLite and PostgreSQL: a retry
//! with the same key and body gets the first answer and acts on nothing; the same key
//! with another body is refused; keys are per caller and expire.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use lianban::accounts::{self, Role};
use lianban::scheduler::ManualClock;
use lianban::store::{CaseQuery, NewApiKey};
use lianban_tests::db_test;
use lianban_tests::web::{Clerk, Reply, TestApp};
use serde_json::{Value, json};

fn form(name: &str) -> Value {
    json!({
        "process": "web.joint",
        "form": {
            "name": name,
            "id_number": "11010519491231002X",
            "phone": "13812345678",
            "joint_medical": false,
            "joint_fund": false,
        },
    })
}

/// `POST` with the clerk's session, CSRF token and an `Idempotency-Key`.
async fn post(
    app: &TestApp,
    clerk: &Clerk,
    path: &str,
    key: &str,
    body: &Value,
) -> anyhow::Result<Reply> {
    let response = reqwest::Client::new()
        .post(format!("{}{path}", app.base))
        .header("cookie", format!("lianban_session={}", clerk.session))
        .header("x-csrf-token", &clerk.csrf)
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await?;
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

fn replayed(reply: &Reply) -> bool {
    reply
        .headers
        .get("idempotent-replayed")
        .is_some_and(|v| v == "true")
}

async fn case_count(app: &TestApp) -> anyhow::Result<usize> {
    Ok(app
        .app
        .engine()
        .store()
        .reads()
        .cases(&CaseQuery::default())
        .await?
        .len())
}

db_test!(a_retried_create_makes_one_case, |db| {
    let app = TestApp::start(&db, "tests/fixtures/web").await?;
    let clerk = app.clerk("shebao_li", "shebao", Role::Clerk).await?;
    let first = post(&app, &clerk, "/api/v1/cases", "create-1", &form("张三")).await?;
    assert!((200..300).contains(&first.status), "{}", first.text);
    assert!(!replayed(&first));
    let again = post(&app, &clerk, "/api/v1/cases", "create-1", &form("张三")).await?;
    assert_eq!(again.status, first.status);
    assert_eq!(again.json, first.json);
    assert!(replayed(&again));
    assert_eq!(
        again.headers.get("content-type"),
        first.headers.get("content-type")
    );
    assert_eq!(case_count(&app).await?, 1);

    // The same key for another body is a client bug: refused, nothing done.
    let other = post(&app, &clerk, "/api/v1/cases", "create-1", &form("李四")).await?;
    assert_eq!(other.status, 422, "{}", other.text);
    assert!(other.text.contains("Idempotency-Key"), "{}", other.text);
    assert_eq!(case_count(&app).await?, 1);

    // A new key acts; without a key every POST acts.
    post(&app, &clerk, "/api/v1/cases", "create-2", &form("张三"))
        .await?
        .ok()?;
    clerk.start(&form("张三")).await?.ok()?;
    assert_eq!(case_count(&app).await?, 3);

    // Keys are per caller: another clerk's "create-1" is their own.
    let other_clerk = app.clerk("shebao_wang", "shebao", Role::Clerk).await?;
    let theirs = post(
        &app,
        &other_clerk,
        "/api/v1/cases",
        "create-1",
        &form("张三"),
    )
    .await?;
    assert!(!replayed(&theirs));
    assert_eq!(case_count(&app).await?, 4);

    // A malformed key is refused before anything happens.
    let bad = post(&app, &clerk, "/api/v1/cases", "two words", &form("张三")).await?;
    assert_eq!(bad.status, 400, "{}", bad.text);
    assert!(bad.text.contains("Idempotency-Key"), "{}", bad.text);
    assert_eq!(case_count(&app).await?, 4);
    Ok(())
});

db_test!(a_retried_claim_and_complete_act_once, |db| {
    let app = TestApp::start(&db, "tests/fixtures/web").await?;
    let clerk = app.clerk("shebao_li", "shebao", Role::Clerk).await?;
    let case = clerk.start(&form("张三")).await?.ok()?;
    let case = case["id"].as_str().unwrap_or_default().to_owned();
    let task = clerk.task_at(&case, "accept").await?;
    let claim = format!("/api/v1/tasks/{task}/claim");
    let first = post(&app, &clerk, &claim, "claim-1", &json!({})).await?;
    assert_eq!(first.status, 200, "{}", first.text);
    let again = post(&app, &clerk, &claim, "claim-1", &json!({})).await?;
    assert_eq!((again.status, replayed(&again)), (200, true));
    let complete = format!("/api/v1/tasks/{task}/complete");
    let body = json!({"outcome": "accept"});
    let done = post(&app, &clerk, &complete, "complete-1", &body).await?;
    assert_eq!(done.status, 200, "{}", done.text);
    let retry = post(&app, &clerk, &complete, "complete-1", &body).await?;
    assert_eq!((retry.status, retry.json.clone()), (200, done.json.clone()));
    assert!(replayed(&retry));
    // Without the key the repeat reaches the engine and is refused: the task is closed.
    assert_eq!(clerk.complete(&task, &body).await?.status, 409);

    let id = uuid::Uuid::parse_str(&case)?;
    let history = app
        .app
        .engine()
        .history(lianban::runtime::CaseId(id))
        .await?;
    let actions: Vec<&str> = history.iter().map(|h| h.action.as_str()).collect();
    assert_eq!(
        actions.iter().filter(|a| **a == "claim").count(),
        1,
        "{actions:?}"
    );
    assert_eq!(
        actions.iter().filter(|a| **a == "complete").count(),
        1,
        "{actions:?}"
    );
    Ok(())
});

db_test!(keys_expire_after_a_day, |db| {
    let start = Utc
        .with_ymd_and_hms(2026, 9, 30, 1, 0, 0)
        .single()
        .unwrap_or_default();
    let clock = Arc::new(ManualClock::new(start));
    let app = TestApp::start_with_clock(&db, "tests/fixtures/web", clock.clone(), |_| {}).await?;
    // A department's system with an API key: the caller a day later is still the same.
    let key = accounts::new_api_key();
    let new = NewApiKey {
        name: "shebao-system".into(),
        key_hash: accounts::api_key_hash(&key),
        department: "shebao".into(),
        county: None,
        intake: false,
    };
    app.app
        .engine()
        .store()
        .accounts()
        .create_api_key(&new, start)
        .await?;
    let create = || async {
        let response = reqwest::Client::new()
            .post(format!("{}/api/v1/cases", app.base))
            .bearer_auth(&key)
            .header("idempotency-key", "daily")
            .json(&form("张三"))
            .send()
            .await?;
        let replayed = response.headers().get("idempotent-replayed").is_some();
        let status = response.status().as_u16();
        anyhow::Ok((status, replayed))
    };
    assert_eq!(create().await?, (201, false));
    clock.advance(chrono::Duration::hours(23));
    assert_eq!(create().await?, (201, true));
    assert_eq!(case_count(&app).await?, 1);
    clock.advance(chrono::Duration::hours(2));
    assert_eq!(create().await?, (201, false));
    assert_eq!(case_count(&app).await?, 2);
    Ok(())
});
