//! Input the rules refuse (issue 14): an ID number born in the future, negative and absurd
//! counts, amounts and months, keys the form or the material list does not define,
//! control characters, texts and reasons beyond their length, and JSON bodies not declared
//! as JSON. Over HTTP, through the API (problem+json with stable codes) and the intake page
//! (Chinese messages at the fields); nothing is stored. Runs on SQLite and on PostgreSQL.

use lianban::accounts::Role;
use lianban_tests::db_test;
use lianban_tests::pages::Browser;
use lianban_tests::web::{Clerk, TestApp};
use serde_json::{Map, Value, json};

const PROCESS: &str = "yangcheng.retirement";

/// A valid 阳城 application, with `changes` applied (`null` removes a key).
fn application(changes: Value) -> Value {
    let mut form = json!({
        "name": "张三", "gender": "男", "id_number": "140522196412150317", "birth": "1964-12",
        "post": "生产", "employer": "阳城县某煤业有限公司", "address": "阳城县凤城镇",
        "phone": "13935600000", "veteran": false, "item": "企业职工正常退休信息确认、待遇计发",
        "delivery": "现场自取", "retirement_type": "正常退休"
    });
    if let (Value::Object(form), Value::Object(changes)) = (&mut form, changes) {
        for (k, v) in changes {
            if v.is_null() {
                form.remove(&k);
            } else {
                form.insert(k, v);
            }
        }
    }
    form
}

/// `(field, code)` of each error of a 422 answer.
fn errors(reply: &Value) -> Vec<(String, String)> {
    reply["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (
                e["field"].as_str().unwrap_or_default().to_owned(),
                e["code"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(f, c)| ((*f).to_owned(), (*c).to_owned()))
        .collect()
}

async fn refused(clerk: &Clerk, form: Value, materials: Value) -> anyhow::Result<Value> {
    let body = json!({"process": PROCESS, "form": form, "materials": materials});
    let reply = clerk.start(&body).await?;
    anyhow::ensure!(reply.status == 422, "{}: {}", reply.status, reply.text);
    anyhow::ensure!(reply.code() == "invalid-form", "{}", reply.text);
    Ok(reply.json)
}

db_test!(the_api_refuses_what_the_rules_do_not_allow, |db| {
    let app = TestApp::start(&db, "processes").await?;
    let clerk = app.clerk("shebao_li", "shebao", Role::Clerk).await?;

    // A birth date in the future, in the ID number and in the birth month.
    let future = application(json!({"id_number": "140522203001150315", "birth": "2030-01"}));
    let reply = refused(&clerk, future, json!([])).await?;
    assert_eq!(
        errors(&reply),
        pairs(&[("id_number", "invalid"), ("birth", "out-of-range")])
    );
    // Negative and absurd counts, months and amounts.
    for (changes, field, code) in [
        (
            json!({"contribution_months": -1}),
            "contribution_months",
            "out-of-range",
        ),
        (
            json!({"contribution_months": 100_000}),
            "contribution_months",
            "out-of-range",
        ),
        (
            json!({"special_job_months": -100}),
            "special_job_months",
            "out-of-range",
        ),
        (
            json!({"work_start": "0000-01"}),
            "work_start",
            "out-of-range",
        ),
        (
            json!({"work_start": "9999-12"}),
            "work_start",
            "out-of-range",
        ),
        // (参加工作时间 applies with a joint item: the push table carries it.)
        (
            json!({"work_start": "1950-01", "joint_medical": true}),
            "work_start",
            "check",
        ),
        (
            json!({"account_balance": 1e308}),
            "account_balance",
            "out-of-range",
        ),
        (
            json!({"account_balance": -5}),
            "account_balance",
            "out-of-range",
        ),
        // Keys the form does not define, named.
        (json!({"evil": "<b>x</b>"}), "evil", "unknown-field"),
        (json!({"../../x": 1}), "../../x", "unknown-field"),
        // Control characters, and a name beyond its length.
        (json!({"name": "张\u{0}三"}), "name", "control-character"),
        (
            json!({"employer": "某公司\u{1b}[2J"}),
            "employer",
            "control-character",
        ),
        (json!({"name": "x".repeat(40_000)}), "name", "too-long"),
    ] {
        let reply = refused(&clerk, application(changes.clone()), json!([])).await?;
        assert_eq!(errors(&reply), pairs(&[(field, code)]), "{changes}");
    }
    let reply = refused(
        &clerk,
        application(json!({"name": "x".repeat(201)})),
        json!([]),
    )
    .await?;
    assert_eq!(
        reply["errors"][0]["message"],
        "“姓名”最多 200 个字，这里有 201 个字"
    );
    // Material keys the definition does not list: 100,000 × "x" is one error.
    let reply = refused(
        &clerk,
        application(json!({})),
        json!(["id_card", "../../x"]),
    )
    .await?;
    assert_eq!(errors(&reply), pairs(&[("materials", "unknown-material")]));
    let reply = refused(&clerk, application(json!({})), json!(vec!["x"; 100_000])).await?;
    assert_eq!(errors(&reply), pairs(&[("materials", "unknown-material")]));
    assert!(reply.to_string().len() < 1000, "a short answer");
    // Nothing was stored.
    assert_eq!(clerk.cases("").await?.ok()?, json!([]));

    // The good application starts; then reasons and decision values are bounded too.
    let case = clerk
        .start(&json!({"process": PROCESS, "form": application(json!({"work_start": "1983-07", "contribution_months": 480})), "materials": ["id_card"]}))
        .await?
        .ok()?;
    let case = case["id"].as_str().unwrap_or_default().to_owned();
    let task = clerk.task_at(&case, "accept").await?;
    clerk.claim(&task).await?.ok()?;
    let long = clerk
        .complete(
            &task,
            &json!({"outcome": "reject", "reason": "x".repeat(900_000)}),
        )
        .await?;
    assert_eq!(
        (long.status, long.code()),
        (422, "invalid-reason"),
        "{}",
        long.text
    );
    assert_eq!(errors(&long.json), pairs(&[("reason", "too-long")]));
    let nul = clerk
        .complete(
            &task,
            &json!({"outcome": "reject", "reason": "不符合\u{0}条件"}),
        )
        .await?;
    assert_eq!(errors(&nul.json), pairs(&[("reason", "control-character")]));
    let cancel = clerk.cancel(&case, &"撤".repeat(2001)).await?;
    assert_eq!(
        (cancel.status, cancel.code()),
        (422, "invalid-reason"),
        "{}",
        cancel.text
    );
    clerk
        .complete(&task, &json!({"outcome": "accept"}))
        .await?
        .ok()?;
    // 受审分离: who accepted may not confirm, so a second clerk confirms.
    let reviewer = app.clerk("shebao_reviewer", "shebao", Role::Clerk).await?;
    let confirm = reviewer.task_at(&case, "confirm").await?;
    reviewer.claim(&confirm).await?.ok()?;
    let absurd = json!({"outcome": "confirm", "data": {"retirement_date": "2025-01", "pension_monthly": 3000, "contribution_years": -3}});
    let reply = reviewer.complete(&confirm, &absurd).await?;
    assert_eq!(
        (reply.status, reply.code()),
        (422, "invalid-field"),
        "{}",
        reply.text
    );
    assert_eq!(
        errors(&reply.json),
        pairs(&[("data.contribution_years", "out-of-range")])
    );
    let record = clerk.case(&case).await?.ok()?;
    assert_eq!(record["status"], "active", "{record}");
    assert!(!record.to_string().contains("\\u0000"));
    Ok(())
});

db_test!(json_bodies_must_be_declared_as_json, |db| {
    let app = TestApp::start(&db, "processes").await?;
    let clerk = app.clerk("shebao_li", "shebao", Role::Clerk).await?;
    let body = json!({"process": PROCESS, "form": application(json!({})), "materials": []});
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()?;
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut request = client
            .post(format!("{}/api/v1/cases", app.base))
            .header("cookie", format!("lianban_session={}", clerk.session))
            .header("x-csrf-token", &clerk.csrf)
            .body(body.to_string());
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let response = request.send().await?;
        assert_eq!(response.status().as_u16(), 415, "{content_type:?}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        let problem: Value = response.json().await?;
        assert_eq!(problem["type"], "unsupported-media-type", "{problem}");
    }
    assert_eq!(clerk.cases("").await?.ok()?, json!([]));
    // Declared with a charset, it is read.
    let reply = client
        .post(format!("{}/api/v1/cases", app.base))
        .header("cookie", format!("lianban_session={}", clerk.session))
        .header("x-csrf-token", &clerk.csrf)
        .header("content-type", "application/json; charset=utf-8")
        .body(body.to_string())
        .send()
        .await?;
    assert_eq!(reply.status().as_u16(), 201);
    Ok(())
});

/// The intake page's fields as posted (`form.` + key), with the process and action.
fn posted(form: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = form
        .as_object()
        .unwrap_or(&Map::new())
        .iter()
        .map(|(k, v)| {
            let text = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
            (format!("form.{k}"), text)
        })
        .collect();
    out.push(("process".into(), PROCESS.into()));
    out.push(("action".into(), "start".into()));
    out.push(("materials".into(), "id_card".into()));
    out
}

db_test!(the_intake_page_names_each_refused_value_in_chinese, |db| {
    let app = TestApp::start(&db, "processes").await?;
    let clerk = app.clerk("shebao_li", "shebao", Role::Clerk).await?;
    let page = Browser::of(&app, &clerk)?;
    for (changes, message) in [
        (
            json!({"id_number": "140522203001150315", "birth": "2030-01"}),
            "晚于今天",
        ),
        (json!({"birth": "2030-01"}), "“出生年月”不能晚于"),
        (
            json!({"contribution_months": "-1"}),
            "“累计缴费月数（含视同缴费）”应在 0 至 720 之间",
        ),
        (
            json!({"account_balance": "1e308"}),
            "“个人账户储存额（元）”应在 0 至 99999999.99 之间",
        ),
        (
            json!({"work_start": "0000-01"}),
            "“参加工作时间”不能早于 1900-01",
        ),
        (
            json!({"name": "张\u{0}三"}),
            "“姓名”含有不可见的控制字符（U+0000）",
        ),
        (
            json!({"name": "张".repeat(201)}),
            "“姓名”最多 200 个字，这里有 201 个字",
        ),
    ] {
        let form = posted(&application(changes.clone()));
        let fields: Vec<(&str, &str)> =
            form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let reply = page.post("/intake", &fields, true).await?;
        assert_eq!(reply.status, 422, "{changes}: {}", reply.text);
        assert!(reply.text.contains(message), "{changes}: {}", reply.text);
        assert!(
            !reply.text.contains('\u{0}'),
            "no NUL drawn back into the page"
        );
    }
    assert_eq!(clerk.cases("").await?.ok()?, json!([]));
    Ok(())
});
