//! End-to-end tests of department systems' API keys over real HTTP on loopback: a key works
//! the inbox of its department like a clerk (claim, complete, start and read cases, without
//! a CSRF token), sees nothing of another department, stops working when revoked, never
//! reaches the admin calls, and the history names it as `apikey:<name>`. An intake key
//! (一网通办) starts cases of its county and reads only the cases it started. The keys are made
//! by the same library calls as `lianban apikey create` (the command itself is tested in
//! tests/binary/users.rs). Every test runs on SQLite and on PostgreSQL.

use lianban::accounts::{self, Role};
use lianban::store::NewApiKey;
use lianban_tests::db_test;
use lianban_tests::web::{Reply, TestApp};
use serde_json::{Value, json};

/// A department system calling the API with its key.
struct System {
    base: String,
    key: String,
    client: reqwest::Client,
}

impl System {
    async fn create(
        app: &TestApp,
        name: &str,
        department: &str,
        county: Option<&str>,
    ) -> anyhow::Result<System> {
        let key = accounts::new_api_key();
        let new = NewApiKey {
            name: name.to_owned(),
            key_hash: accounts::api_key_hash(&key),
            department: department.to_owned(),
            county: county.map(str::to_owned),
            intake: false,
        };
        app.app
            .engine()
            .store()
            .accounts()
            .create_api_key(&new, chrono::Utc::now())
            .await?;
        Ok(System::with_key(app, &key))
    }

    /// An intake key (`lianban apikey create --intake --county C --name N`).
    async fn intake(app: &TestApp, name: &str, county: &str) -> anyhow::Result<System> {
        let key = accounts::new_api_key();
        let new = NewApiKey {
            name: name.to_owned(),
            key_hash: accounts::api_key_hash(&key),
            department: String::new(),
            county: Some(county.to_owned()),
            intake: true,
        };
        app.app
            .engine()
            .store()
            .accounts()
            .create_api_key(&new, chrono::Utc::now())
            .await?;
        Ok(System::with_key(app, &key))
    }

    fn with_key(app: &TestApp, key: &str) -> System {
        System {
            base: app.base.clone(),
            key: key.to_owned(),
            client: reqwest::Client::new(),
        }
    }

    async fn get(&self, path: &str) -> anyhow::Result<Reply> {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .send()
            .await?;
        read(response).await
    }

    /// A POST with the key and no cookie and no CSRF token.
    async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Reply> {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .json(body)
            .send()
            .await?;
        read(response).await
    }
}

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

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_default().to_owned()
}

fn joint_form(medical: bool) -> Value {
    json!({
        "process": "web.joint",
        "form": {
            "name": "张三",
            "id_number": "11010519491231002X",
            "phone": "13812345678",
            "joint_medical": medical,
            "joint_fund": false,
        },
    })
}

db_test!(a_key_works_its_department_like_a_clerk, |db| {
    let app = TestApp::start_with(&db, "tests/fixtures/web", |s| {
        s.admin_token = Some("operator-secret".into());
    })
    .await?;
    let shebao = System::create(&app, "shebao-system", "shebao", None).await?;
    let yibao = System::create(&app, "yibao-system", "yibao", None).await?;

    // A bearer POST needs no CSRF token: no cookie is involved.
    let case = shebao.post("/api/v1/cases", &joint_form(true)).await?;
    assert_eq!(case.status, 201, "{}", case.text);
    let case = id(&case.json);
    let other = id(&shebao
        .post("/api/v1/cases", &joint_form(false))
        .await?
        .ok()?);

    let inbox = shebao.get("/api/v1/inbox").await?.ok()?;
    let accept = inbox
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| t["case_id"] == case.as_str())
        .map(id)
        .unwrap_or_default();
    assert_eq!(inbox.as_array().map(Vec::len), Some(2), "{inbox}");

    // 医保 has nothing yet and learns nothing by guessing.
    assert_eq!(yibao.get("/api/v1/inbox").await?.ok()?, json!([]));
    let guess = yibao
        .post(&format!("/api/v1/tasks/{accept}/claim"), &json!({}))
        .await?;
    assert_eq!((guess.status, guess.problem()), (404, "not-found"));
    assert_eq!(
        yibao.get(&format!("/api/v1/cases/{case}")).await?.status,
        404
    );

    let claimed = shebao
        .post(&format!("/api/v1/tasks/{accept}/claim"), &json!({}))
        .await?
        .ok()?;
    assert_eq!(claimed["claimed_by"], "apikey:shebao-system");
    let done = shebao
        .post(
            &format!("/api/v1/tasks/{accept}/complete"),
            &json!({"outcome": "accept"}),
        )
        .await?
        .ok()?;
    assert_eq!(done["case"]["current_steps"], json!(["medical"]));

    // Now 医保 has the task and sees the case; the other case stays hidden from it.
    let medical = yibao.get("/api/v1/inbox").await?.ok()?;
    assert_eq!(medical[0]["step"], "medical", "{medical}");
    assert_eq!(
        yibao.get(&format!("/api/v1/cases/{case}")).await?.status,
        200
    );
    assert_eq!(
        yibao.get(&format!("/api/v1/cases/{other}")).await?.status,
        404
    );
    let listed = yibao.get("/api/v1/cases").await?.ok()?;
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(
        yibao
            .get(&format!("/api/v1/cases/{case}/documents"))
            .await?
            .status,
        200
    );

    // The history tells the system from a person, with its department.
    let full = shebao.get(&format!("/api/v1/cases/{case}")).await?.ok()?;
    let history = full["history"].as_array().cloned().unwrap_or_default();
    let complete = history
        .iter()
        .find(|h| h["action"] == "complete")
        .cloned()
        .unwrap_or_default();
    assert_eq!(complete["actor"], "apikey:shebao-system");
    assert_eq!(complete["actor_department"], "shebao");
    assert_eq!(history[0]["actor"], "apikey:shebao-system");
    assert_eq!(
        history.last().map(|h| h["action"].clone()),
        Some(json!("view"))
    );

    // A key is never the admin: reload and the definitions API refuse it.
    let reload = shebao.post("/api/v1/admin/reload", &json!({})).await?;
    assert_eq!((reload.status, reload.problem()), (401, "unauthorized"));
    let detail = shebao.get("/api/v1/processes/web.joint").await?;
    assert_eq!(detail.status, 403, "{}", detail.text);
    // …and the admin token is not a clerk.
    let operator = System::with_key(&app, "operator-secret");
    let inbox = operator.get("/api/v1/inbox").await?;
    assert_eq!((inbox.status, inbox.problem()), (401, "unauthorized"));
    assert_eq!(
        operator
            .post("/api/v1/admin/reload", &json!({}))
            .await?
            .status,
        200
    );
    Ok(())
});

db_test!(revoked_and_unknown_keys_are_refused, |db| {
    let app = TestApp::start(&db, "tests/fixtures/web").await?;
    let system = System::create(&app, "shebao-system", "shebao", None).await?;
    assert_eq!(system.get("/api/v1/inbox").await?.status, 200);
    let store = app.app.engine().store();
    let listed = store.accounts().api_keys().await?;
    assert_eq!(listed.len(), 1);
    assert!(listed[0].last_used_at.is_some(), "{listed:?}");
    assert_ne!(listed[0].name, system.key);

    assert!(
        store
            .accounts()
            .revoke_api_key("shebao-system", chrono::Utc::now())
            .await?
    );
    assert!(
        !store
            .accounts()
            .revoke_api_key("shebao-system", chrono::Utc::now())
            .await?
    );
    for path in ["/api/v1/inbox", "/api/v1/cases", "/api/v1/session"] {
        let refused = system.get(path).await?;
        assert_eq!((refused.status, refused.problem()), (401, "unauthorized"));
        assert!(
            refused.json["title"]
                .as_str()
                .is_some_and(|t| t.contains("API 密钥")),
            "{}",
            refused.text
        );
    }
    let started = system.post("/api/v1/cases", &joint_form(false)).await?;
    assert_eq!(started.status, 401);
    let unknown = System::with_key(&app, &accounts::new_api_key());
    assert_eq!(unknown.get("/api/v1/inbox").await?.status, 401);
    let garbage = System::with_key(&app, "not-a-key");
    assert_eq!(garbage.get("/api/v1/inbox").await?.status, 401);
    assert!(
        app.app
            .engine()
            .store()
            .reads()
            .cases(&Default::default())
            .await?
            .is_empty(),
        "a refused request changes nothing"
    );

    // A duplicate name is refused with its own error.
    let again = NewApiKey {
        name: "shebao-system".into(),
        key_hash: accounts::api_key_hash(&accounts::new_api_key()),
        department: "shebao".into(),
        county: None,
        intake: false,
    };
    let taken = store
        .accounts()
        .create_api_key(&again, chrono::Utc::now())
        .await;
    assert!(
        taken.is_err_and(|e| e.code() == "name-taken"),
        "duplicate names are refused"
    );

    // A session still works as before, and still needs its CSRF token.
    let clerk = app.clerk("shebao_li", "shebao", Role::Clerk).await?;
    let no_csrf = clerk
        .post_raw("/api/v1/cases", joint_form(false).to_string(), None)
        .await?;
    assert_eq!(no_csrf.status, 403);
    Ok(())
});

db_test!(an_intake_key_starts_cases_and_reads_only_its_own, |db| {
    let app = TestApp::start(&db, "tests/fixtures/web").await?;
    let portal = System::intake(&app, "一网通办", "web").await?;
    let elsewhere = System::intake(&app, "别县一网通办", "yangcheng").await?;
    let yibao = System::create(&app, "yibao-system", "yibao", None).await?;
    let clerk = app.clerk("shebao_wang", "shebao", Role::Clerk).await?;

    // Any process of its county, though it is no department's window; not another county's.
    let started = portal.post("/api/v1/cases", &joint_form(true)).await?;
    assert_eq!(started.status, 201, "{}", started.text);
    let own = id(&started.json);
    let refused = elsewhere.post("/api/v1/cases", &joint_form(true)).await?;
    assert_eq!((refused.status, refused.code()), (403, "other-county"));
    // A department key of a department that is not the window still may not.
    let refused = yibao.post("/api/v1/cases", &joint_form(true)).await?;
    assert_eq!(
        (refused.status, refused.code()),
        (403, "not-intake-department")
    );
    let theirs = id(&clerk.start(&joint_form(false)).await?.ok()?);

    // Its own case, status and documents; nothing of a case it did not hand in.
    let case = portal.get(&format!("/api/v1/cases/{own}")).await?.ok()?;
    assert_eq!(case["status"], "active");
    assert_eq!(case["current_steps"], json!(["accept"]));
    assert_eq!(case["history"][0]["actor"], "apikey:一网通办");
    assert_eq!(case["history"][0]["actor_department"], Value::Null);
    let documents = portal
        .get(&format!("/api/v1/cases/{own}/documents"))
        .await?;
    assert_eq!(documents.status, 200, "{}", documents.text);
    for path in [
        format!("/api/v1/cases/{theirs}"),
        format!("/api/v1/cases/{theirs}/documents"),
    ] {
        assert_eq!(portal.get(&path).await?.status, 404, "{path}");
    }
    assert_eq!(
        elsewhere.get(&format!("/api/v1/cases/{own}")).await?.status,
        404
    );
    let listed = portal.get("/api/v1/cases").await?.ok()?;
    let ids: Vec<String> = listed.as_array().into_iter().flatten().map(id).collect();
    assert_eq!(ids, std::slice::from_ref(&own), "{listed}");
    assert_eq!(elsewhere.get("/api/v1/cases").await?.ok()?, json!([]));

    // Never an inbox, never a task, never a step of the case.
    let inbox = portal.get("/api/v1/inbox").await?;
    assert_eq!((inbox.status, inbox.problem()), (403, "forbidden"));
    let accept = clerk.task_at(&own, "accept").await?;
    for path in [
        format!("/api/v1/tasks/{accept}/claim"),
        format!("/api/v1/tasks/{accept}/complete"),
    ] {
        let reply = portal.post(&path, &json!({"outcome": "accept"})).await?;
        assert_eq!(reply.status, 404, "{path}: {}", reply.text);
    }
    let cancel = portal
        .post(
            &format!("/api/v1/cases/{own}/cancel"),
            &json!({"reason": "撤回"}),
        )
        .await?;
    assert_eq!((cancel.status, cancel.code()), (403, "not-case-worker"));
    let event = portal
        .post(&format!("/api/v1/cases/{own}/events/supplied"), &json!({}))
        .await?;
    assert_eq!(event.status, 403, "{}", event.text);

    // The window works the case the portal handed in, as any other.
    let inbox = clerk.inbox("").await?.ok()?;
    assert!(
        inbox
            .as_array()
            .into_iter()
            .flatten()
            .any(|t| t["case_id"] == own.as_str()),
        "{inbox}"
    );
    assert_eq!(clerk.case(&own).await?.status, 200);
    Ok(())
});
