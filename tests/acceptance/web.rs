//! End-to-end tests of the web service over real HTTP on loopback: login, lockout, session
//! fixation, CSRF, department permissions, the demo process walked through the JSON API by
//! the right departments' clerks, concurrent completion, masking and the `view` history, and
//! the definitions API (detail and validation, for supervisors, admins and the admin token).
//! Every test runs on SQLite and on PostgreSQL.

use lianban::accounts::Role;
use lianban_tests::db_test;
use lianban_tests::web::{Clerk, TestApp, closed_early};
use serde_json::{Value, json};

const WRONG: &str = "用户名或密码错误";

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_default().to_owned()
}

fn joint_form(medical: bool, fund: bool) -> Value {
    json!({
        "process": "web.joint",
        "form": {
            "name": "张三",
            "id_number": "11010519491231002X",
            "phone": "13812345678",
            "joint_medical": medical,
            "joint_fund": fund,
        },
    })
}

db_test!(login_good_bad_and_lockout_without_enumeration, |db| {
    let app = TestApp::start(&db, "tests/fixtures/web").await?;
    let password = app.add_user("shebao_li", "shebao", Role::Clerk).await?;

    let (page, _) = app.login_page().await?;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("name=\"csrf\""), "{}", page.text);

    let good = app.try_login("shebao_li", &password).await?;
    assert_eq!(good.status, 200, "{}", good.text);
    let set = good
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("lianban_session="))
        .unwrap_or_default()
        .to_owned();
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Lax") && set.contains("Path=/"));
    assert!(!set.contains("Secure"), "not behind https: {set}");

    let bad = app.try_login("shebao_li", "wrong-password").await?;
    let unknown = app.try_login("nobody_here", "wrong-password").await?;
    assert_eq!((bad.status, unknown.status), (401, 401));
    assert_eq!(bad.json["title"], WRONG);
    assert_eq!(unknown.json, bad.json, "unknown users answer alike");
    assert!(bad.cookie("lianban_session").is_none());

    // Ten failures in a row lock the account; the right password no longer opens it.
    for _ in 0..9 {
        app.try_login("shebao_li", "wrong-password").await?;
    }
    let locked = app.try_login("shebao_li", &password).await?;
    assert_eq!(locked.status, 401, "{}", locked.text);
    let message = locked.json["title"].as_str().unwrap_or_default().to_owned();
    assert!(message.contains("锁定"), "{message}");
    let account = app.app.engine().store().accounts().get("shebao_li").await?;
    assert!(account.is_some_and(|a| a.locked_until.is_some()));

    // An unknown name locks the same way, with the same words.
    for _ in 0..10 {
        app.try_login("nobody_here", "wrong-password").await?;
    }
    let ghost = app.try_login("nobody_here", "wrong-password").await?;
    assert_eq!(ghost.json["title"], message.as_str());
    Ok(())
});

db_test!(login_starts_a_new_session_and_logout_ends_it, |db| {
    let app = TestApp::start(&db, "tests/fixtures/web").await?;
    let password = app.add_user("yibao_wang", "yibao", Role::Clerk).await?;

    // A session id planted before login is never promoted.
    let (_, csrf) = app.login_page().await?;
    let planted = "a".repeat(64);
    let cookies = format!("lianban_login_csrf={csrf}; lianban_session={planted}");
    let reply = app
        .post_login("yibao_wang", &password, &csrf, &cookies)
        .await?;
    let first = reply.cookie("lianban_session").unwrap_or_default();
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_ne!(first, planted);

    // Logging in again from a signed-in browser replaces its session.
    let (_, csrf) = app.login_page().await?;
    let cookies = format!("lianban_login_csrf={csrf}; lianban_session={first}");
    let reply = app
        .post_login("yibao_wang", &password, &csrf, &cookies)
        .await?;
    let second = reply.cookie("lianban_session").unwrap_or_default();
    assert!(!second.is_empty() && second != first);

    let clerk = app.login("yibao_wang", &password).await?;
    assert_eq!(clerk.whoami().await?.ok()?["department"], "yibao");
    let mut stale = clerk.clone();
    stale.session = first;
    assert_eq!(stale.whoami().await?.status, 401);

    // Logout needs the CSRF token, then the session is gone.
    let mut forged = clerk.clone();
    forged.csrf = "0".repeat(64);
    assert_eq!(forged.logout().await?.status, 403);
    assert_eq!(clerk.logout().await?.status, 204);
    let after = clerk.whoami().await?;
    assert_eq!((after.status, after.problem()), (401, "unauthorized"));
    Ok(())
});

db_test!(csrf_is_required_for_changes, |db| {
    let app = TestApp::start(&db, "tests/fixtures/web").await?;
    let clerk = app.clerk("shebao_li", "shebao", Role::Clerk).await?;
    let case = clerk.start(&joint_form(false, false)).await?.ok()?;
    let task = clerk.task_at(&id(&case), "accept").await?;
    let path = format!("/api/v1/tasks/{task}/claim");

    let missing = clerk.post_raw(&path, "", None).await?;
    assert_eq!((missing.status, missing.problem()), (403, "forbidden"));
    let wrong = clerk.post_raw(&path, "", Some(&"f".repeat(64))).await?;
    assert_eq!(wrong.status, 403);
    assert_eq!(clerk.claim(&task).await?.status, 200);

    // The login form needs its pre-session token too.
    let password = app.add_user("yibao_wang", "yibao", Role::Clerk).await?;
    let no_cookie = app.post_login("yibao_wang", &password, "x", "").await?;
    assert_eq!(no_cookie.status, 403);
    assert!(no_cookie.cookie("lianban_session").is_none());

    let anonymous = app.get("/api/v1/inbox").await?;
    assert_eq!(
        (anonymous.status, anonymous.problem()),
        (401, "unauthorized")
    );
    assert_eq!(app.get("/readyz").await?.status, 200);
    Ok(())
});

db_test!(departments_see_only_their_part, |db| {
    let app = TestApp::start(&db, "tests/fixtures/web").await?;
    let shebao = app.clerk("shebao_li", "shebao", Role::Clerk).await?;
    let yibao = app.clerk("yibao_wang", "yibao", Role::Clerk).await?;
    let yibao2 = app.clerk("yibao_zhao", "yibao", Role::Clerk).await?;
    let fund = app.clerk("gjj_chen", "gongjijin", Role::Clerk).await?;
    let boss = app.clerk("yibao_boss", "yibao", Role::Supervisor).await?;

    let joint = id(&shebao.start(&joint_form(true, true)).await?.ok()?);
    let alone = id(&shebao.start(&joint_form(false, false)).await?.ok()?);
    let accept = shebao.task_at(&joint, "accept").await?;

    // Before the hand-off 医保 has nothing, and guessing ids gives 404, not 403.
    assert_eq!(yibao.inbox("").await?.ok()?, json!([]));
    let guess = yibao.claim(&accept).await?;
    assert_eq!((guess.status, guess.problem()), (404, "not-found"));
    assert_eq!(yibao.case(&joint).await?.status, 404);
    assert_eq!(yibao.claim("not-a-uuid").await?.status, 404);

    shebao
        .complete(&accept, &json!({"outcome": "accept"}))
        .await?
        .ok()?;
    let alone_accept = shebao.task_at(&alone, "accept").await?;
    shebao
        .complete(&alone_accept, &json!({"outcome": "accept"}))
        .await?
        .ok()?;

    let medical = yibao.task_at(&joint, "medical").await?;
    let fund_task = fund.task_at(&joint, "fund").await?;
    // 医保 cannot open the 公积金 task, nor the case 医保 takes no part in.
    assert_eq!(yibao.claim(&fund_task).await?.status, 404);
    assert_eq!(fund.claim(&medical).await?.status, 404);
    assert_eq!(yibao.case(&alone).await?.status, 404);
    assert_eq!(yibao.case(&joint).await?.status, 200);
    let listed = yibao.cases("").await?.ok()?;
    let ids: Vec<String> = listed.as_array().into_iter().flatten().map(id).collect();
    assert_eq!(ids, std::slice::from_ref(&joint));
    let shebao_cases = shebao.cases("").await?.ok()?;
    assert_eq!(shebao_cases.as_array().map(Vec::len), Some(2));

    // A clerk's claim holds against colleagues; the supervisor sees it and can release it.
    yibao.claim(&medical).await?.ok()?;
    let taken = yibao2.claim(&medical).await?;
    assert_eq!(
        (taken.status, taken.problem(), taken.code()),
        (409, "conflict", "claimed-by-other")
    );
    let not_theirs = yibao2.unclaim(&medical).await?;
    assert_eq!(
        (not_theirs.status, not_theirs.code()),
        (409, "claimed-by-other")
    );
    let seen = boss.inbox("claimed=me").await?.ok()?;
    assert_eq!(seen, json!([]));
    let all = boss.inbox("status=claimed").await?.ok()?;
    assert_eq!(all[0]["claimed_by"], "yibao_wang");
    let released = boss.unclaim(&medical).await?.ok()?;
    assert_eq!(released["status"], "open");
    assert_eq!(released["claimed_by"], Value::Null);
    assert_eq!(
        yibao.inbox("claimed=none").await?.ok()?[0]["id"],
        medical.as_str()
    );
    Ok(())
});

db_test!(concurrent_completion_lets_exactly_one_win, |db| {
    let app = TestApp::start(&db, "tests/fixtures/web").await?;
    let a = app.clerk("shebao_a", "shebao", Role::Clerk).await?;
    let b = app.clerk("shebao_b", "shebao", Role::Clerk).await?;
    let case = id(&a.start(&joint_form(false, false)).await?.ok()?);
    let task = a.task_at(&case, "accept").await?;
    let body = json!({"outcome": "accept"});
    let (ra, rb) = tokio::join!(a.complete(&task, &body), b.complete(&task, &body));
    let mut statuses = [ra?.status, rb?.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409]);
    let case = a.case(&case).await?.ok()?;
    let completions = case["history"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|h| h["action"] == "complete")
        .count();
    assert_eq!(completions, 1);
    Ok(())
});

db_test!(bad_input_is_a_4xx_naming_the_field, |db| {
    let app = TestApp::start(&db, "tests/fixtures/web").await?;
    let clerk = app.clerk("shebao_li", "shebao", Role::Clerk).await?;
    let csrf = Some(clerk.csrf.as_str());

    let malformed = clerk
        .post_raw("/api/v1/cases", "{\"process\": ", csrf)
        .await?;
    assert_eq!((malformed.status, malformed.problem()), (400, "validation"));
    let unknown = clerk
        .post_raw(
            "/api/v1/cases",
            r#"{"process": "web.joint", "colour": 1}"#,
            csrf,
        )
        .await?;
    assert_eq!(unknown.status, 422, "{}", unknown.text);
    assert!(unknown.text.contains("colour"), "{}", unknown.text);
    let wrong_type = clerk
        .post_raw(
            "/api/v1/cases",
            r#"{"process": "web.joint", "form": []}"#,
            csrf,
        )
        .await?;
    assert_eq!(wrong_type.status, 422);
    assert_eq!(wrong_type.json["errors"][0]["field"], "form");
    // The server answers 413 as soon as it sees the length and closes the connection; on a
    // loaded machine the client may still be sending and see only the close. The refusal
    // must arrive as an answer within a few tries.
    let huge = format!("{{\"process\": \"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let mut answered = None;
    for _ in 0..5 {
        match clerk.post_raw("/api/v1/cases", huge.clone(), csrf).await {
            Ok(reply) => {
                answered = Some(reply.status);
                assert_eq!(
                    reply.headers.get("connection").map(|v| v.as_bytes()),
                    Some(&b"close"[..])
                );
                break;
            }
            Err(e) if closed_early(&e) => continue,
            Err(e) => return Err(e),
        }
    }
    assert_eq!(answered, Some(413));
    // The next request goes on a new connection: the refusal said `Connection: close`.

    let bad_form = clerk
        .start(&json!({"process": "web.joint", "form": {"id_number": "110105194912310021", "phone": "123"}}))
        .await?;
    assert_eq!(bad_form.status, 422, "{}", bad_form.text);
    let fields: Vec<&str> = bad_form.json["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert_eq!(fields, ["name", "id_number", "phone"], "{}", bad_form.text);
    let no_process = clerk.start(&json!({"process": "nope"})).await?;
    assert_eq!(no_process.json["errors"][0]["field"], "process");

    let case = id(&clerk.start(&joint_form(false, false)).await?.ok()?);
    let task = clerk.task_at(&case, "accept").await?;
    let outcome = clerk.complete(&task, &json!({"outcome": 5})).await?;
    assert_eq!(
        outcome.json["errors"][0]["field"], "outcome",
        "{}",
        outcome.text
    );
    let unknown_outcome = clerk.complete(&task, &json!({"outcome": "maybe"})).await?;
    assert_eq!(unknown_outcome.status, 422);
    let no_reason = clerk.complete(&task, &json!({"outcome": "reject"})).await?;
    assert_eq!(
        no_reason.json["errors"][0]["field"], "reason",
        "{}",
        no_reason.text
    );
    let bad_query = clerk.inbox("limit=lots").await?;
    assert_eq!(bad_query.status, 400);
    assert_eq!(bad_query.json["errors"][0]["field"], "limit");
    assert_eq!(clerk.inbox("colour=red").await?.status, 400);
    Ok(())
});

db_test!(the_demo_process_walks_through_the_api, |db| {
    let app = TestApp::start(&db, "processes/examples").await?;
    let jiuye = app.clerk("jiuye_clerk", "jiuye", Role::Clerk).await?;
    let shebao = app.clerk("shebao_clerk", "shebao", Role::Clerk).await?;
    let caizheng = app.clerk("caizheng_clerk", "caizheng", Role::Clerk).await?;

    let started = jiuye
        .start(&json!({
            "process": "examples.demo",
            "form": {
                "name": "李四", "id_number": "11010519491231002X", "gender": "女",
                "level": "中级", "insured_months": 24, "pay_to_card": false,
                "need_invoice": true, "notify_sms": true, "phone": "13812345678",
            },
            "materials": ["certificate"],
        }))
        .await?;
    assert_eq!(started.status, 201, "{}", started.text);
    let case = id(&started.json);
    assert_eq!(started.json["status"], "active");
    assert_eq!(started.json["tasks"][0]["step"], "accept");

    let step = |who: &Clerk, at: &'static str, outcome: &'static str| {
        let (who, case) = (who.clone(), case.clone());
        async move {
            let task = who.task_at(&case, at).await?;
            who.claim(&task).await?.ok()?;
            who.complete(&task, &json!({"outcome": outcome}))
                .await?
                .ok()
        }
    };
    step(&jiuye, "accept", "accept").await?;
    step(&shebao, "verify_insurance", "done").await?;
    step(&jiuye, "verify_certificate", "done").await?;
    step(&caizheng, "invoice", "done").await?;
    step(&jiuye, "sms", "done").await?;
    let last = step(&caizheng, "pay", "paid").await?;
    assert_eq!(last["case"]["status"], "completed", "{last}");
    assert_eq!(last["case"]["result"], "办结");

    // Lists mask personal data; the case itself shows it to those who take part.
    let listed = caizheng.cases("status=completed").await?.ok()?;
    let title = listed[0]["title"].as_str().unwrap_or_default();
    assert_eq!(title, "李四 110105********002X");
    assert!(!listed.to_string().contains("11010519491231002X"));
    let full = shebao.case(&case).await?.ok()?;
    assert_eq!(full["form"]["id_number"], "11010519491231002X");
    assert_eq!(full["form"]["phone"], "13812345678");

    // Every look at the case is on record.
    let again = jiuye.case(&case).await?.ok()?;
    let views: Vec<&Value> = again["history"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|h| h["action"] == "view")
        .collect();
    assert_eq!(views.len(), 2);
    assert_eq!(views[0]["actor"], "shebao_clerk");
    assert_eq!(views[1]["actor_department"], "jiuye");
    assert_eq!(again["status"], "completed");
    assert_eq!(jiuye.documents(&case).await?.ok()?, json!([]));
    Ok(())
});

db_test!(supplement_notices_are_listed_and_fetched, |db| {
    let app = TestApp::start(&db, "processes/examples").await?;
    let jiuye = app.clerk("jiuye_clerk", "jiuye", Role::Clerk).await?;
    let case = id(&jiuye
        .start(&json!({
            "process": "examples.demo",
            "form": {"name": "王五", "id_number": "11010519491231002X", "gender": "女",
                     "level": "初级", "insured_months": 24, "pay_to_card": false},
            "materials": [],
        }))
        .await?
        .ok()?);
    let task = jiuye.task_at(&case, "accept").await?;
    jiuye
        .complete(&task, &json!({"outcome": "supplement"}))
        .await?
        .ok()?;
    let documents = jiuye.documents(&case).await?.ok()?;
    assert_eq!(documents[0]["key"], "supplement_notice", "{documents}");
    let html = jiuye.document(&case, &id(&documents[0])).await?;
    assert_eq!(html.status, 200);
    assert!(html.text.contains("一次性补正材料告知书"));
    assert!(
        html.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/html"))
    );
    let history = jiuye.case(&case).await?.ok()?;
    let views = history["history"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|h| h["action"] == "view")
        .count();
    assert_eq!(views, 2, "the document and the case page");
    Ok(())
});

db_test!(
    supplied_materials_loop_back_and_a_case_can_be_withdrawn,
    |db| {
        let app = TestApp::start(&db, "processes/examples").await?;
        let jiuye = app.clerk("jiuye_clerk", "jiuye", Role::Clerk).await?;
        let form = json!({"name": "赵六", "id_number": "11010519491231002X", "gender": "女",
                      "level": "初级", "insured_months": 24, "pay_to_card": false});
        let case = id(&jiuye
            .start(&json!({"process": "examples.demo", "form": form, "materials": []}))
            .await?
            .ok()?);
        let first = jiuye.task_at(&case, "accept").await?;
        jiuye
            .complete(&first, &json!({"outcome": "supplement"}))
            .await?
            .ok()?;
        // Not waiting for a reply: 409; the wrong body shape: 422 naming the field.
        let wrong = jiuye.deliver(&case, "replied", &json!({})).await?;
        assert_eq!(wrong.status, 409, "{}", wrong.text);
        let typo = jiuye
            .deliver(&case, "supplied", &json!({"materails": []}))
            .await?;
        assert_eq!(typo.status, 422, "{}", typo.text);
        let back = jiuye
            .deliver(&case, "supplied", &json!({"materials": ["certificate"]}))
            .await?
            .ok()?;
        assert_eq!(back["case"]["current_steps"], json!(["accept"]), "{back}");
        let again = jiuye.task_at(&case, "accept").await?;
        assert_ne!(again, first, "a new 受理 task after the supplement");

        // Another department cannot touch the case.
        let other = app.clerk("caizheng_clerk", "caizheng", Role::Clerk).await?;
        assert_eq!(other.cancel(&case, "试试").await?.status, 404);

        let blank = jiuye.cancel(&case, "  ").await?;
        assert_eq!(blank.status, 422, "{}", blank.text);
        let withdrawn = jiuye.cancel(&case, "申请人撤回申请").await?.ok()?;
        assert_eq!(withdrawn["case"]["status"], "cancelled", "{withdrawn}");
        assert_eq!(
            jiuye.inbox("").await?.ok()?.as_array().map(Vec::len),
            Some(0)
        );
        Ok(())
    }
);

/// A request to the definitions API as a signed-in person (`clerk`), with the admin token,
/// or with nothing; POSTs carry the session's CSRF token unless `csrf` is false.
async fn definitions_call(
    app: &TestApp,
    who: Option<&Clerk>,
    token: Option<&str>,
    post: Option<(&str, String)>,
    path: &str,
    csrf: bool,
) -> anyhow::Result<(u16, Value)> {
    let client = reqwest::Client::new();
    let url = format!("{}{path}", app.base);
    let mut request = match &post {
        Some((content_type, body)) => client
            .post(url)
            .header("content-type", *content_type)
            .body(body.clone()),
        None => client.get(url),
    };
    if let Some(clerk) = who {
        request = request.header("cookie", format!("lianban_session={}", clerk.session));
        if csrf {
            request = request.header("x-csrf-token", &clerk.csrf);
        }
    }
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    let text = response.text().await?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

db_test!(definitions_api_shows_and_validates_definitions, |db| {
    let app = TestApp::start_with(&db, "tests/fixtures/web", |s| {
        s.admin_token = Some("operator-secret".into());
    })
    .await?;
    let boss = app.clerk("shebao_boss", "shebao", Role::Supervisor).await?;
    let clerk = app.clerk("shebao_li", "shebao", Role::Clerk).await?;
    let path = "/api/v1/processes/web.joint";

    let (status, detail) = definitions_call(&app, Some(&boss), None, None, path, false).await?;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["county"], "web");
    assert_eq!(detail["version"], 1);
    let accept = &detail["steps"][0];
    assert_eq!(
        (
            &accept["id"],
            &accept["type"],
            &accept["role"],
            &accept["department"]
        ),
        (
            &json!("accept"),
            &json!("task"),
            &json!("shebao_clerk"),
            &json!("shebao")
        )
    );
    assert_eq!(accept["outcomes"][1]["reason_required"], true, "{accept}");
    assert_eq!(detail["departments"][1]["name"], "医保局");
    assert_eq!(detail["versions"][0]["in_force"], true, "{detail}");
    assert_eq!(detail["versions"][0]["cases"], 0);
    let (status, _) =
        definitions_call(&app, None, Some("operator-secret"), None, path, false).await?;
    assert_eq!(status, 200);
    let (status, _) = definitions_call(&app, Some(&clerk), None, None, path, false).await?;
    assert_eq!(status, 403);
    let (status, _) = definitions_call(&app, None, None, None, path, false).await?;
    assert_eq!(status, 401);
    let (status, _) = definitions_call(&app, None, Some("wrong"), None, path, false).await?;
    assert_eq!(status, 401);
    let (status, missing) = definitions_call(
        &app,
        Some(&boss),
        None,
        None,
        "/api/v1/processes/nowhere.nothing",
        false,
    )
    .await?;
    assert_eq!((status, &missing["type"]), (404, &json!("not-found")));

    let validate = "/api/v1/processes/validate";
    let good =
        std::fs::read_to_string(lianban_tests::web::repo().join("tests/fixtures/web/joint.yaml"))?;
    let yaml = Some(("text/yaml", good.clone()));
    let (status, answer) =
        definitions_call(&app, Some(&boss), None, yaml.clone(), validate, true).await?;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["valid"], true);
    assert_eq!(answer["summary"]["id"], "web.joint");
    assert_eq!(answer["summary"]["stored_versions"], json!([1]));
    let wrapped = Some(("application/json", json!({"yaml": good}).to_string()));
    let (status, _) = definitions_call(
        &app,
        None,
        Some("operator-secret"),
        wrapped,
        validate,
        false,
    )
    .await?;
    assert_eq!(status, 200);
    // A session POST needs its CSRF token; a clerk may not validate.
    let (status, _) =
        definitions_call(&app, Some(&boss), None, yaml.clone(), validate, false).await?;
    assert_eq!(status, 403);
    let (status, _) =
        definitions_call(&app, Some(&clerk), None, yaml.clone(), validate, true).await?;
    assert_eq!(status, 403);
    // A supervisor of another county may not check this county's definition against its
    // rule files and stored versions.
    let password = app
        .add_user_in("far_boss", "shebao", Some("faraway"), Role::Supervisor)
        .await?;
    let far = app.login("far_boss", &password).await?;
    let (status, refused) = definitions_call(&app, Some(&far), None, yaml, validate, true).await?;
    assert_eq!(
        (status, &refused["code"]),
        (403, &json!("other-county")),
        "{refused}"
    );

    // Broken: an unknown role, reported at its line and column.
    let broken = good.replace("role: yibao_clerk", "role: yibao_clrk");
    let line = broken
        .lines()
        .position(|l| l.contains("yibao_clrk"))
        .map(|i| i + 1)
        .unwrap_or_default();
    let (status, problem) = definitions_call(
        &app,
        Some(&boss),
        None,
        Some(("application/yaml", broken)),
        validate,
        true,
    )
    .await?;
    assert_eq!(
        (status, &problem["type"]),
        (422, &json!("validation")),
        "{problem}"
    );
    let first = &problem["diagnostics"][0];
    assert_eq!(first["line"], line, "{problem}");
    assert!(first["column"].as_u64().is_some_and(|c| c > 1), "{problem}");
    assert!(
        first["code"].as_str().is_some_and(|c| c.starts_with("E-")),
        "{problem}"
    );
    assert!(
        first["message"]
            .as_str()
            .is_some_and(|m| m.contains("yibao_clrk")),
        "{problem}"
    );
    let (status, problem) = definitions_call(
        &app,
        Some(&boss),
        None,
        Some(("text/yaml", "id: [unclosed\n".into())),
        validate,
        true,
    )
    .await?;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["diagnostics"][0]["code"], "E-YAML", "{problem}");
    assert!(
        problem["diagnostics"][0]["line"]
            .as_u64()
            .is_some_and(|l| l >= 1)
    );
    let (status, _) = definitions_call(
        &app,
        Some(&boss),
        None,
        Some(("application/json", json!({"yml": "x"}).to_string())),
        validate,
        true,
    )
    .await?;
    assert_eq!(status, 422);
    let (status, problem) = definitions_call(
        &app,
        Some(&boss),
        None,
        Some(("text/yaml", format!("# {}\n", "长".repeat(400_000)))),
        validate,
        true,
    )
    .await?;
    assert_eq!((status, &problem["type"]), (413, &json!("too-large")));
    // Validating changed nothing.
    let (_, after) = definitions_call(&app, Some(&boss), None, None, path, false).await?;
    assert_eq!(after["versions"], detail["versions"]);
    Ok(())
});

db_test!(
    validation_uses_the_servers_rules_and_stored_versions,
    |db| {
        let app = TestApp::start(&db, "processes").await?;
        let boss = app.clerk("shebao_boss", "shebao", Role::Supervisor).await?;
        let validate = "/api/v1/processes/validate";
        let text = std::fs::read_to_string(
            lianban_tests::web::repo().join("processes/yangcheng/retirement.yaml"),
        )?;
        // Its rules file and calendar are the server's.
        let (status, answer) = definitions_call(
            &app,
            Some(&boss),
            None,
            Some(("text/yaml", text.clone())),
            validate,
            true,
        )
        .await?;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["summary"]["county"], "yangcheng");

        // Once a case runs on version 1, changed content under version 1 is refused.
        let clerk = app.clerk("shebao_li", "shebao", Role::Clerk).await?;
        let form = json!({"process": "yangcheng.retirement", "materials": [], "form": {
        "name": "张三", "gender": "男", "id_number": "140522196412150317", "birth": "1964-12",
        "post": "生产", "employer": "阳城县某煤业有限公司", "address": "阳城县凤城镇",
        "phone": "13935600000", "veteran": false, "item": "企业职工正常退休信息确认、待遇计发",
        "delivery": "现场自取", "retirement_type": "正常退休"}});
        clerk.start(&form).await?.ok()?;
        let changed = text.replacen("name: 阳城县", "name: 山西省阳城县", 1);
        let (status, problem) = definitions_call(
            &app,
            Some(&boss),
            None,
            Some(("text/yaml", changed)),
            validate,
            true,
        )
        .await?;
        assert_eq!(status, 422, "{problem}");
        assert_eq!(problem["diagnostics"][0]["code"], "E-VERSION", "{problem}");
        assert_eq!(problem["diagnostics"][0]["path"], "version");
        Ok(())
    }
);

db_test!(the_login_token_must_be_one_the_server_issued, |db| {
    let app = TestApp::start(&db, "tests/fixtures/web").await?;
    let password = app.add_user("token_li", "shebao", Role::Clerk).await?;
    // Any value the same in cookie and field was once enough; now it must be signed here.
    for forged in ["a", &"0".repeat(64), "9999999999.abc.def"] {
        let cookies = format!("lianban_login_csrf={forged}");
        let reply = app
            .post_login("token_li", &password, forged, &cookies)
            .await?;
        assert_eq!(
            (reply.status, reply.problem()),
            (403, "forbidden"),
            "{forged}"
        );
    }
    // A real token with another signature part, or in the field only, fails as well.
    let (_, csrf) = app.login_page().await?;
    let (payload, _) = csrf.rsplit_once('.').unwrap_or_default();
    let tampered = format!("{payload}.{}", "0".repeat(64));
    let cookies = format!("lianban_login_csrf={tampered}");
    let reply = app
        .post_login("token_li", &password, &tampered, &cookies)
        .await?;
    assert_eq!(reply.status, 403);
    let reply = app.post_login("token_li", &password, &csrf, "").await?;
    assert_eq!(reply.status, 403);
    // The token the login page issued works.
    let cookies = format!("lianban_login_csrf={csrf}");
    let reply = app
        .post_login("token_li", &password, &csrf, &cookies)
        .await?;
    assert_eq!(reply.status, 200, "{}", reply.text);
    Ok(())
});

db_test!(a_correct_password_is_never_slowed_down, |db| {
    // Twenty times the normal pauses: a pause before a correct password would take 10 s.
    let app = TestApp::start_with(&db, "tests/fixtures/web", |s| s.login_slowdown = 20.0).await?;
    let password_a = app.add_user("nat_a", "shebao", Role::Clerk).await?;
    let password_b = app.add_user("nat_b", "shebao", Role::Clerk).await?;
    // Five failures for one account from this address (all behind one NAT, say): the
    // next failure of the account or the address would be answered after a pause.
    for _ in 0..5 {
        let reply = app.try_login("nat_a", "wrong-password").await?;
        assert_eq!(reply.status, 401);
    }
    for (user, password) in [("nat_b", &password_b), ("nat_a", &password_a)] {
        let started = std::time::Instant::now();
        let reply = app.try_login(user, password).await?;
        let took = started.elapsed();
        assert_eq!(reply.status, 200, "{user}: {}", reply.text);
        assert!(took < std::time::Duration::from_secs(5), "{user}: {took:?}");
    }
    Ok(())
});

db_test!(a_browser_the_account_signed_in_from_passes_the_lock, |db| {
    let app = TestApp::start(&db, "tests/fixtures/web").await?;
    let password = app.add_user("owner_li", "shebao", Role::Clerk).await?;
    let other = app.add_user("other_wang", "shebao", Role::Clerk).await?;
    // The owner signs in once at their desk: the browser keeps a device cookie for /login.
    let first = app.try_login("owner_li", &password).await?;
    assert_eq!(first.status, 200, "{}", first.text);
    let device = first.cookie("lianban_device").unwrap_or_default();
    assert!(!device.is_empty(), "{:?}", first.headers);
    let set = first
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("lianban_device="))
        .unwrap_or_default()
        .to_owned();
    assert!(
        set.contains("Path=/login") && set.contains("HttpOnly"),
        "{set}"
    );
    let other_device = app
        .try_login("other_wang", &other)
        .await?
        .cookie("lianban_device")
        .unwrap_or_default();

    // Someone else fails ten times: the account is locked for strangers.
    for _ in 0..10 {
        app.try_login("owner_li", "wrong-password").await?;
    }
    let stranger = app.try_login("owner_li", &password).await?;
    assert_eq!(stranger.status, 401);
    assert!(
        stranger.json["title"]
            .as_str()
            .is_some_and(|t| t.contains("锁定"))
    );
    let with = |cookie: String| {
        let app = &app;
        let password = password.clone();
        async move {
            let (_, csrf) = app.login_page().await?;
            let cookies = format!("lianban_login_csrf={csrf}; lianban_device={cookie}");
            app.post_login("owner_li", &password, &csrf, &cookies).await
        }
    };
    // Another account's browser, or a forged cookie, does not pass.
    assert_eq!(with(other_device).await?.status, 401);
    assert_eq!(with(format!("{device}0")).await?.status, 401);
    // The owner's own browser does, with the right password only.
    let (_, csrf) = app.login_page().await?;
    let cookies = format!("lianban_login_csrf={csrf}; lianban_device={device}");
    let wrong = app
        .post_login("owner_li", "wrong-again", &csrf, &cookies)
        .await?;
    assert_eq!(wrong.status, 401);
    let owner = with(device.clone()).await?;
    assert_eq!(owner.status, 200, "{}", owner.text);
    // Signing in cleared the lock.
    let account = app.app.engine().store().accounts().get("owner_li").await?;
    assert!(account.is_some_and(|a| a.locked_until.is_none() && a.failed_logins == 0));
    Ok(())
});
