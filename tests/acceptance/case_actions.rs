//! End-to-end tests of the case page's actions over real HTTP: the event a wait step waits
//! for (补正材料已收齐) delivered through the page with the materials ticked, and 撤件 with
//! and without a reason; another department gets 404. Every test runs on SQLite and on
//! PostgreSQL.

use lianban::accounts::Role;
use lianban_tests::db_test;
use lianban_tests::pages::Browser;
use lianban_tests::web::TestApp;
use serde_json::{Value, json};

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_default().to_owned()
}

db_test!(supplement_delivered_through_the_case_page, |db| {
    let app = TestApp::start(&db, "processes/examples").await?;
    let jiuye = app.clerk("jiuye_clerk", "jiuye", Role::Clerk).await?;
    let form = json!({"name": "赵六", "id_number": "11010519491231002X", "gender": "女",
                      "level": "初级", "insured_months": 24, "pay_to_card": false});
    let case = id(&jiuye
        .start(&json!({"process": "examples.demo", "form": form, "materials": []}))
        .await?
        .ok()?);
    let browser = Browser::of(&app, &jiuye)?;
    let page = browser.get(&format!("/cases/{case}")).await?;
    // (The page's process map names the event on its edge; the form is what must be absent.)
    assert!(!page.text.contains("/events/supplied"), "not waiting yet");
    assert!(
        page.text.contains("撤件理由"),
        "an active case can be withdrawn"
    );

    let first = jiuye.task_at(&case, "accept").await?;
    jiuye
        .complete(&first, &json!({"outcome": "supplement"}))
        .await?
        .ok()?;
    let page = browser.get(&format!("/cases/{case}")).await?;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("补正材料已收齐 → 受理"), "{}", page.text);
    assert!(
        page.text
            .contains(r#"name="materials" value="certificate""#),
        "{}",
        page.text
    );
    // Without the CSRF token nothing happens.
    let forged = browser
        .post(
            &format!("/cases/{case}/events/supplied"),
            &[("materials", "certificate")],
            false,
        )
        .await?;
    assert_eq!(forged.status, 403);
    // An event the case does not wait for: 409, the page again with the message.
    let wrong = browser
        .post(&format!("/cases/{case}/events/replied"), &[], true)
        .await?;
    assert_eq!(wrong.status, 409, "{}", wrong.text);
    assert!(wrong.text.contains("不在等待事件"), "{}", wrong.text);

    let done = browser
        .post(
            &format!("/cases/{case}/events/supplied"),
            &[("materials", "certificate")],
            true,
        )
        .await?;
    assert_eq!(done.status, 303, "{}", done.text);
    assert_eq!(done.location, format!("/cases/{case}"));
    let again = jiuye.task_at(&case, "accept").await?;
    assert_ne!(again, first, "a new 受理 task after the supplement");
    let detail = jiuye.case(&case).await?.ok()?;
    assert!(
        detail["materials"]
            .as_array()
            .is_some_and(|m| m.contains(&json!("certificate"))),
        "{detail}"
    );
    Ok(())
});

db_test!(withdrawal_needs_a_reason_and_the_department, |db| {
    let app = TestApp::start(&db, "processes/examples").await?;
    let jiuye = app.clerk("jiuye_clerk", "jiuye", Role::Clerk).await?;
    let form = json!({"name": "钱七", "id_number": "11010519491231002X", "gender": "女",
                      "level": "初级", "insured_months": 24, "pay_to_card": false});
    let case = id(&jiuye
        .start(&json!({"process": "examples.demo", "form": form, "materials": []}))
        .await?
        .ok()?);
    let path = format!("/cases/{case}/cancel");

    let other = app.clerk("caizheng_clerk", "caizheng", Role::Clerk).await?;
    let stranger = Browser::of(&app, &other)?;
    let denied = stranger.post(&path, &[("reason", "试试")], true).await?;
    assert_eq!(denied.status, 404, "{}", denied.text);

    let browser = Browser::of(&app, &jiuye)?;
    let blank = browser.post(&path, &[("reason", "  ")], true).await?;
    assert_eq!(blank.status, 422, "{}", blank.text);
    assert!(blank.text.contains("撤件需要填写理由"), "{}", blank.text);
    assert_eq!(
        jiuye.case(&case).await?.ok()?["status"],
        "active",
        "nothing changed"
    );

    let done = browser
        .post(&path, &[("reason", "申请人撤回申请")], true)
        .await?;
    assert_eq!(done.status, 303, "{}", done.text);
    let detail = jiuye.case(&case).await?.ok()?;
    assert_eq!(detail["status"], "cancelled", "{detail}");
    let page = browser.get(&format!("/cases/{case}")).await?;
    assert!(page.text.contains("申请人撤回申请"), "{}", page.text);
    assert!(!page.text.contains("撤件理由"), "no 撤件 form once ended");
    let late = browser.post(&path, &[("reason", "再撤")], true).await?;
    assert_eq!(late.status, 409, "{}", late.text);
    Ok(())
});
