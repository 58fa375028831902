//! Who completes a task, over real HTTP on loopback: completing a task nobody holds claims
//! it for the completer in the same transition (the API and the task page alike), a task
//! someone else holds cannot be completed, and separation of duties (受审分离, `not_same_as:
//! accept` on 退休信息确认 in the retirement definitions) keeps whoever accepted a case —
//! a clerk or a department system's key — from claiming or completing its confirmation.
//! Every test runs on SQLite and on PostgreSQL.

use lianban::accounts::{self, Role};
use lianban::store::NewApiKey;
use lianban_tests::db_test;
use lianban_tests::pages::Browser;
use lianban_tests::web::{Clerk, Reply, TestApp};
use serde_json::{Value, json};

/// A 阳城 retirement application.
fn application() -> Value {
    json!({
        "process": "yangcheng.retirement",
        "form": {
            "name": "张三", "gender": "男", "id_number": "140522196412150317", "birth": "1964-12",
            "post": "生产", "employer": "某煤业有限公司", "address": "凤城镇",
            "phone": "13935600000", "veteran": false,
            "item": "企业职工正常退休信息确认、待遇计发", "delivery": "现场自取",
            "retirement_type": "正常退休",
        },
        "materials": [],
    })
}

fn confirmation() -> Value {
    json!({"outcome": "confirm", "data": {"retirement_date": "2025-02", "pension_monthly": 3000}})
}

async fn shebao(app: &TestApp, user: &str) -> anyhow::Result<Clerk> {
    let password = app
        .add_user_in(user, "shebao", Some("yangcheng"), Role::Clerk)
        .await?;
    app.login(user, &password).await
}

/// The task `id` as the inbox of `clerk` lists it.
async fn listed(clerk: &Clerk, step: &str, id: &str) -> anyhow::Result<Value> {
    let inbox = clerk.inbox(&format!("step={step}")).await?.ok()?;
    inbox
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| t["id"] == id)
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("{id} not in {inbox}"))
}

fn refused_for_duties(reply: &Reply, who: &str) {
    assert_eq!(
        (reply.status, reply.problem(), reply.code()),
        (403, "forbidden", "separation-of-duties"),
        "{}",
        reply.text
    );
    let title = reply.json["title"].as_str().unwrap_or_default();
    assert!(
        title.contains(&format!("受审分离：{who} 已办理本办件的“受理”")),
        "{title}"
    );
}

db_test!(who_accepted_a_case_may_not_confirm_it, |db| {
    let app = TestApp::start(&db, "processes").await?;
    let window = shebao(&app, "d_window").await?;
    let reviewer = shebao(&app, "d_reviewer").await?;

    let case = window.start(&application()).await?.ok()?;
    let case = case["id"].as_str().unwrap_or_default().to_owned();
    let accept = window.task_at(&case, "accept").await?;
    window
        .complete(&accept, &json!({"outcome": "accept"}))
        .await?
        .ok()?;
    let confirm = window.task_at(&case, "confirm").await?;

    // Told at the claim already, and again when completing, over the API and on the pages.
    refused_for_duties(&window.claim(&confirm).await?, "d_window");
    refused_for_duties(
        &window.complete(&confirm, &confirmation()).await?,
        "d_window",
    );
    let page = Browser::of(&app, &window)?;
    let claim = page
        .post(
            &format!("/tasks/{confirm}/claim"),
            &[("back", "/inbox")],
            true,
        )
        .await?;
    assert_eq!(claim.status, 403);
    assert!(claim.text.contains("受审分离"), "{}", claim.text);
    let complete = page
        .post(
            &format!("/tasks/{confirm}/complete"),
            &[
                ("outcome", "confirm"),
                ("data.retirement_date", "2025-02"),
                ("data.pension_monthly", "3000"),
            ],
            true,
        )
        .await?;
    assert_eq!(complete.status, 403);
    assert!(
        complete.text.contains(
            "受审分离：d_window 已办理本办件的“受理”，不能再认领或办理“退休信息确认、待遇计发”"
        ),
        "{}",
        complete.text
    );

    // Nothing changed: the task is open and nobody holds it; the reviewer does it.
    let task = listed(&reviewer, "confirm", &confirm).await?;
    assert_eq!(
        (&task["status"], &task["claimed_by"]),
        (&json!("open"), &Value::Null)
    );
    let done = reviewer.complete(&confirm, &confirmation()).await?.ok()?;
    assert_eq!(done["task"]["completed_by"], "d_reviewer");
    Ok(())
});

db_test!(one_department_key_may_not_accept_and_confirm, |db| {
    let app = TestApp::start(&db, "processes").await?;
    let key = accounts::new_api_key();
    let new = NewApiKey {
        name: "yangcheng-shebao-system".into(),
        key_hash: accounts::api_key_hash(&key),
        department: "shebao".into(),
        county: Some("yangcheng".into()),
        intake: false,
    };
    let engine = app.app.engine();
    engine
        .store()
        .accounts()
        .create_api_key(&new, chrono::Utc::now())
        .await?;
    let client = reqwest::Client::new();
    let post = |path: String, body: Value| {
        let request = client
            .post(format!("{}{path}", app.base))
            .bearer_auth(&key)
            .json(&body);
        async move {
            let response = request.send().await?;
            let status = response.status().as_u16();
            let text = response.text().await?;
            anyhow::Ok((
                status,
                serde_json::from_str::<Value>(&text).unwrap_or(Value::Null),
            ))
        }
    };
    let (status, case) = post("/api/v1/cases".into(), application()).await?;
    assert_eq!(status, 201, "{case}");
    let task_at = |state: &Value, step: &str| {
        state["tasks"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["step"] == step && t["status"] == "open")
            .and_then(|t| t["id"].as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let accept = task_at(&case, "accept");
    let (status, done) = post(
        format!("/api/v1/tasks/{accept}/complete"),
        json!({"outcome": "accept"}),
    )
    .await?;
    assert_eq!(status, 200, "{done}");
    let confirm = engine
        .list_tasks(&lianban::store::TaskQuery {
            steps: vec!["confirm".into()],
            ..Default::default()
        })
        .await?;
    let confirm = confirm
        .first()
        .map(|t| t.id.to_string())
        .unwrap_or_default();
    let (status, refused) =
        post(format!("/api/v1/tasks/{confirm}/complete"), confirmation()).await?;
    assert_eq!(
        (status, &refused["code"]),
        (403, &json!("separation-of-duties")),
        "{refused}"
    );
    assert!(
        refused["title"]
            .as_str()
            .is_some_and(|t| t.contains("apikey:yangcheng-shebao-system")),
        "{refused}"
    );
    Ok(())
});

db_test!(
    completing_claims_the_task_and_only_its_holder_completes,
    |db| {
        let app = TestApp::start(&db, "processes").await?;
        let window = shebao(&app, "c_window").await?;
        let other = shebao(&app, "c_other").await?;

        // Completed from the task page without pressing 认领: the completer holds the claim,
        // and the history says it was claimed in the same step.
        let case = window.start(&application()).await?.ok()?;
        let case = case["id"].as_str().unwrap_or_default().to_owned();
        let accept = window.task_at(&case, "accept").await?;
        let page = Browser::of(&app, &window)?;
        let done = page
            .post(
                &format!("/tasks/{accept}/complete"),
                &[("outcome", "accept")],
                true,
            )
            .await?;
        assert_eq!(
            (done.status, done.location.as_str()),
            (303, format!("/cases/{case}").as_str())
        );
        let full = window.case(&case).await?.ok()?;
        let task = full["tasks"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["id"] == accept.as_str())
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            (&task["claimed_by"], &task["completed_by"]),
            (&json!("c_window"), &json!("c_window"))
        );
        let completion = full["history"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|h| h["action"] == "complete")
            .cloned()
            .unwrap_or_default();
        let kinds: Vec<&str> = completion["events"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["type"].as_str())
            .take(2)
            .collect();
        assert_eq!(kinds, ["task_claimed", "task_completed"], "{completion}");

        // A task someone else holds: 409 on the page and over the API, and it stays theirs.
        let second = window.start(&application()).await?.ok()?;
        let second = second["id"].as_str().unwrap_or_default().to_owned();
        let accept = window.task_at(&second, "accept").await?;
        window.claim(&accept).await?.ok()?;
        let refused = Browser::of(&app, &other)?
            .post(
                &format!("/tasks/{accept}/complete"),
                &[("outcome", "accept")],
                true,
            )
            .await?;
        assert_eq!(refused.status, 409);
        assert!(
            refused.text.contains("已由 c_window 认领"),
            "{}",
            refused.text
        );
        let api = other
            .complete(&accept, &json!({"outcome": "accept"}))
            .await?;
        assert_eq!(
            (api.status, api.code()),
            (409, "claimed-by-other"),
            "{}",
            api.text
        );
        let task = listed(&window, "accept", &accept).await?;
        assert_eq!(
            (&task["status"], &task["claimed_by"]),
            (&json!("claimed"), &json!("c_window"))
        );
        Ok(())
    }
);
