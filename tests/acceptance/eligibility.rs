//! The 阳城 retirement over real HTTP, as issue 17 wants it: the acceptance condition
//! (阳人社字〔2023〕45号 三) blocks 受理 in the runtime — the API refuses it, the task page
//! shows why with the button disabled and the refusal's reason prefilled, and 不予受理 with
//! that reason ends the case; the 退役军人事务局 gets its task as soon as the letter is
//! issued and enters the reply there; the case page shows case data under Chinese labels
//! with dates in words and folds the views, which the audit history keeps one by one; the
//! intake page shows only the fields that apply and, without JavaScript, more as the
//! answers change (更新申请表和材料清单), while the server checks every field at start.
//! Every test runs on SQLite and on PostgreSQL.

use lianban::accounts::Role;
use lianban::runtime::CaseId;
use lianban_tests::db_test;
use lianban_tests::pages::Browser;
use lianban_tests::web::{Clerk, TestApp};
use serde_json::{Value, json};

const NOT_INSURED: &str = "未参加阳城县企业职工基本养老保险";

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_default().to_owned()
}

/// A 阳城 retirement application with `changes` laid over a plain one.
fn application(changes: Value) -> Value {
    let mut form = json!({
        "name": "张三", "gender": "男", "id_number": "140522196412150317", "birth": "1964-12",
        "post": "生产", "employer": "某煤业有限公司", "address": "凤城镇",
        "phone": "13935600000", "veteran": false,
        "item": "企业职工正常退休信息确认、待遇计发", "delivery": "现场自取",
        "retirement_type": "正常退休",
    });
    if let (Some(form), Value::Object(changes)) = (form.as_object_mut(), changes) {
        form.extend(changes);
    }
    json!({"process": "yangcheng.retirement", "form": form, "materials": []})
}

async fn person(app: &TestApp, user: &str, department: &str) -> anyhow::Result<Clerk> {
    let password = app
        .add_user_in(user, department, Some("yangcheng"), Role::Clerk)
        .await?;
    app.login(user, &password).await
}

db_test!(
    an_applicant_failing_the_acceptance_condition_cannot_be_accepted,
    |db| {
        let app = TestApp::start(&db, "processes").await?;
        let window = person(&app, "shebao_wang", "shebao").await?;
        let case = id(&window
            .start(&application(json!({"insured_in_county": false})))
            .await?
            .ok()?);
        let task = window.task_at(&case, "accept").await?;

        // The API refuses 受理 with the reasons, and nothing changes.
        let refused = window
            .complete(&task, &json!({"outcome": "accept"}))
            .await?;
        assert_eq!(
            (refused.status, refused.code()),
            (422, "outcome-blocked"),
            "{}",
            refused.text
        );
        let problems = refused.json["problems"].to_string();
        assert!(problems.contains(NOT_INSURED), "{}", refused.text);
        assert_eq!(
            window.task_at(&case, "accept").await?,
            task,
            "still at 受理"
        );
        let detail = window.case(&case).await?.ok()?;
        assert_eq!(detail["status"], "active", "{detail}");
        assert!(detail["data"].get("accepted_on").is_none(), "{detail}");

        // The task page says why before anyone claims it; once claimed, 受理 is disabled and
        // the refusal's reason prefilled.
        let browser = Browser::of(&app, &window)?;
        let page = browser.get(&format!("/tasks/{task}")).await?;
        assert_eq!(page.status, 200, "{}", page.text);
        assert!(page.text.contains("暂不能“受理”"), "{}", page.text);
        assert!(page.text.contains(NOT_INSURED), "{}", page.text);
        window.claim(&task).await?.ok()?;
        let page = browser.get(&format!("/tasks/{task}")).await?;
        assert!(
            page.text
                .contains(r#"value="accept" disabled title="不符合条件，原因见上方""#),
            "{}",
            page.text
        );
        let textarea = page
            .text
            .split(r#"<textarea id="reason" name="reason">"#)
            .nth(1)
            .and_then(|rest| rest.split("</textarea>").next())
            .unwrap_or_default()
            .to_owned();
        assert!(textarea.starts_with("不符合受理条件："), "{textarea}");
        assert!(textarea.contains(NOT_INSURED), "{textarea}");

        // Posting 受理 anyway (an old page) shows the refusal again; nothing changes.
        let forced = browser
            .post(
                &format!("/tasks/{task}/complete"),
                &[("outcome", "accept")],
                true,
            )
            .await?;
        assert_eq!(forced.status, 422, "{}", forced.text);
        assert!(forced.text.contains("不能“受理”"), "{}", forced.text);
        assert_eq!(window.task_at(&case, "accept").await?, task);

        // 不予受理 with the prefilled reason ends the case with it.
        let reason = textarea.replace("&#x2f;", "/");
        let done = browser
            .post(
                &format!("/tasks/{task}/complete"),
                &[("outcome", "reject"), ("reason", reason.as_str())],
                true,
            )
            .await?;
        assert_eq!(done.status, 303, "{}", done.text);
        let detail = window.case(&case).await?.ok()?;
        assert_eq!(detail["status"], "completed", "{detail}");
        assert_eq!(detail["result"], "不予受理", "{detail}");
        let page = browser.get(&format!("/cases/{case}")).await?;
        assert!(
            page.text.contains(NOT_INSURED),
            "the reason is on the case page"
        );
        Ok(())
    }
);

db_test!(
    an_eligible_applicant_is_accepted_and_unknowns_do_not_block,
    |db| {
        let app = TestApp::start(&db, "processes").await?;
        let window = person(&app, "shebao_wang", "shebao").await?;
        for changes in [
            json!({"insured_in_county": true, "pays_medical": false, "pays_fund": true}),
            // Not yet filled in: advice in the evaluation, not a block.
            json!({}),
        ] {
            let case = id(&window.start(&application(changes.clone())).await?.ok()?);
            let task = window.task_at(&case, "accept").await?;
            let page = Browser::of(&app, &window)?
                .get(&format!("/tasks/{task}"))
                .await?;
            assert!(!page.text.contains("暂不能"), "{changes}: {}", page.text);
            let done = window
                .complete(&task, &json!({"outcome": "accept"}))
                .await?;
            assert_eq!(done.status, 200, "{changes}: {}", done.text);
        }

        // Paying neither 医保 nor 公积金 is a block as well.
        let case = id(&window
            .start(&application(
                json!({"insured_in_county": true, "pays_medical": false, "pays_fund": false}),
            ))
            .await?
            .ok()?);
        let task = window.task_at(&case, "accept").await?;
        let refused = window
            .complete(&task, &json!({"outcome": "accept"}))
            .await?;
        assert_eq!(refused.status, 422, "{}", refused.text);
        assert!(
            refused.json["problems"]
                .to_string()
                .contains("既未缴纳企业职工基本医疗保险，也未缴纳住房公积金"),
            "{}",
            refused.text
        );
        Ok(())
    }
);

db_test!(
    the_veterans_bureau_gets_its_task_when_the_letter_is_issued,
    |db| {
        let app = TestApp::start(&db, "processes").await?;
        let window = person(&app, "shebao_wang", "shebao").await?;
        let bureau = person(&app, "tuiyi_zhao", "veterans").await?;
        let case = id(&window
            .start(&application(json!({
                "veteran": true, "veteran_archive": "阳城县人武部", "veteran_placed": true,
                "veteran_archive_complete": false,
            })))
            .await?
            .ok()?);
        let accept = window.task_at(&case, "accept").await?;
        window
            .complete(&accept, &json!({"outcome": "accept"}))
            .await?
            .ok()?;
        let letter = window.task_at(&case, "veteran_request").await?;
        window.claim(&letter).await?.ok()?;
        let page = Browser::of(&app, &window)?
            .get(&format!("/tasks/{letter}"))
            .await?;
        assert!(
            page.text.contains("出具确认函，转退役军人事务局复函"),
            "the button says what it does: {}",
            page.text
        );
        window
            .complete(
                &letter,
                &json!({"outcome": "sent", "data": {"veteran_confirm_items": ["部队服役"]}}),
            )
            .await?
            .ok()?;

        // At once in the bureau's inbox: nobody at 社保 presses anything more.
        let reply = bureau.task_at(&case, "veteran_confirm").await?;
        bureau.claim(&reply).await?.ok()?;
        let case_page = Browser::of(&app, &window)?
            .get(&format!("/cases/{case}"))
            .await?;
        assert!(
            !case_page.text.contains("/events/replied"),
            "no 已收到答复 button: {}",
            case_page.text
        );
        let bureau_page = Browser::of(&app, &bureau)?
            .get(&format!("/tasks/{reply}"))
            .await?;
        assert_eq!(bureau_page.status, 200, "{}", bureau_page.text);
        assert!(
            bureau_page.text.contains("出具复函，转社保退休审核"),
            "{}",
            bureau_page.text
        );
        assert!(
            bureau_page.text.contains("入伍时间"),
            "the reply is entered here"
        );
        bureau
            .complete(
                &reply,
                &json!({"outcome": "confirmed", "data": {
                    "veteran_birth": "1964-12", "veteran_enlisted": "1983-10",
                    "veteran_discharged": "1987-12", "veteran_placement": "由政府安排工作",
                }}),
            )
            .await?
            .ok()?;
        let documents = window.documents(&case).await?.ok()?.to_string();
        assert!(
            documents.contains("退役军人信息确认函（申请）"),
            "{documents}"
        );
        assert!(
            documents.contains("退役军人信息确认函（复函）"),
            "{documents}"
        );
        let detail = window.case(&case).await?.ok()?;
        assert_eq!(detail["current_steps"], json!(["confirm"]), "{detail}");
        Ok(())
    }
);

db_test!(the_case_page_labels_data_and_folds_views, |db| {
    let app = TestApp::start(&db, "processes").await?;
    let window = person(&app, "shebao_wang", "shebao").await?;
    let figures =
        json!({"contribution_months": 300, "average_index": 1.0, "account_balance": 139000});
    let case = id(&window.start(&application(figures)).await?.ok()?);
    let task = window.task_at(&case, "accept").await?;
    window
        .complete(&task, &json!({"outcome": "accept"}))
        .await?
        .ok()?;
    let browser = Browser::of(&app, &window)?;
    for _ in 0..4 {
        browser.get(&format!("/cases/{case}")).await?;
    }
    let page = browser.get(&format!("/cases/{case}")).await?;
    assert_eq!(page.status, 200);
    let data = page
        .text
        .split("<h2>办理数据</h2>")
        .nth(1)
        .and_then(|rest| rest.split("</dl>").next())
        .unwrap_or_default()
        .to_owned();
    assert!(data.contains("<dt>受理日期</dt>"), "{data}");
    assert!(!data.contains("accepted_on"), "{data}");
    // The date in words (2026年3月5日), not 2026-03-05.
    let shown = data
        .split("<dt>受理日期</dt><dd>")
        .nth(1)
        .and_then(|rest| rest.split("</dd>").next())
        .unwrap_or_default();
    assert!(
        shown.ends_with('日') && shown.contains('年') && !shown.contains('-'),
        "{shown}"
    );
    // The pension estimate: no figure while the 计发基数 is not confirmed.
    let estimate = page
        .text
        .split("<dt>养老金测算</dt><dd>")
        .nth(1)
        .and_then(|rest| rest.split("</dd>").next())
        .unwrap_or_default();
    assert!(estimate.starts_with("未测算：计发基数"), "{estimate}");
    assert!(!page.text.contains("元/月（基础"), "no figure on the page");
    // Five views in a row are one folded row; the history keeps each.
    assert!(page.text.contains("查看办件 ×5"), "{}", page.text);
    assert!(page.text.contains("<details>"), "{}", page.text);
    let history = app.app.engine().history(CaseId(case.parse()?)).await?;
    let views = history.iter().filter(|h| h.action == "view").count();
    assert!(views >= 5, "{views} views in the history");
    Ok(())
});

db_test!(the_intake_form_shows_the_fields_that_apply, |db| {
    let app = TestApp::start(&db, "processes").await?;
    let window = person(&app, "shebao_wang", "shebao").await?;
    let page = Browser::of(&app, &window)?;
    let blank = page.get("/intake?process=yangcheng.retirement").await?;
    assert_eq!(blank.status, 200, "{}", blank.text);
    // Hidden and disabled (not posted) until they apply; the others in sight.
    for key in [
        "veteran_archive",
        "special_job_kind",
        "medical_months",
        "bank_card",
        "mail_address",
        "other_post_as",
    ] {
        assert!(
            blank
                .text
                .contains(&format!(r#"data-field="form.{key}" hidden>"#)),
            "{key} hidden: {}",
            blank.text
        );
        assert!(
            blank
                .text
                .contains(&format!(r#"name="form.{key}" disabled"#)),
            "{key} disabled"
        );
    }
    assert!(
        blank.text.contains(r#"data-field="form.name">"#),
        "{}",
        blank.text
    );
    assert!(blank.text.contains("更新申请表和材料清单"));

    // Without JavaScript: the answers posted with 更新申请表和材料清单 bring the fields that
    // now apply, required ones starred.
    let answers = [
        ("process", "yangcheng.retirement"),
        ("form.veteran", "true"),
        ("form.joint_fund", "true"),
        ("form.retirement_type", "特殊工种提前退休"),
        ("form.post", "其他"),
        ("form.gender", "女"),
    ];
    let refreshed = page
        .post(
            "/intake",
            &[answers.to_vec(), vec![("action", "refresh")]].concat(),
            true,
        )
        .await?;
    assert_eq!(refreshed.status, 200, "{}", refreshed.text);
    for key in [
        "veteran_archive",
        "special_job_kind",
        "bank_card",
        "other_post_as",
    ] {
        assert!(
            refreshed
                .text
                .contains(&format!(r#"data-field="form.{key}">"#)),
            "{key} shown: {}",
            refreshed.text
        );
    }
    assert!(
        refreshed
            .text
            .contains("军人档案保管处 <span class=\"missing\">*</span>"),
        "{}",
        refreshed.text
    );
    for key in ["medical_months", "mail_address", "disability_appraised"] {
        assert!(
            refreshed
                .text
                .contains(&format!(r#"data-field="form.{key}" hidden>"#)),
            "{key} still hidden"
        );
    }

    // The server checks every field at start, those that appeared included.
    let refused = page
        .post(
            "/intake",
            &[answers.to_vec(), vec![("action", "start")]].concat(),
            true,
        )
        .await?;
    assert_eq!(refused.status, 422, "{}", refused.text);
    for label in [
        "军人档案保管处",
        "特殊工种类别",
        "岗位“其他”按哪类岗位确定原法定退休年龄",
    ] {
        assert!(
            refused.text.contains(&format!("“{label}”为必填项")),
            "{label}: {}",
            refused.text
        );
    }
    assert_eq!(window.cases("").await?.ok()?, json!([]), "nothing started");
    Ok(())
});
