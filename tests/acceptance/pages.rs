//! End-to-end tests of the clerks' HTML pages over real HTTP: redirects to the login page,
//! the inbox (department only, masked), claim and unclaim as forms (CSRF checked), the task
//! page's outcome buttons and completing through it, the case page's timeline and recorded
//! view, escaping of user data, and the definitions page's permission. Every test runs on
//! SQLite and on PostgreSQL. tests/acceptance/browser.rs walks a whole case in a real browser.

use anyhow::Context as _;
use lianban::accounts::Role;
use lianban::runtime::CaseId;
use lianban_tests::db_test;
use lianban_tests::pages::Browser;
use lianban_tests::web::TestApp;
use serde_json::{Value, json};

const FULL_ID: &str = "11010519491231002X";
const MASKED_ID: &str = "110105********002X";
const SCRIPT: &str = "<script>alert(1)</script>";

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_default().to_owned()
}

fn application(name: &str) -> Value {
    json!({
        "process": "web.joint",
        "form": {"name": name, "id_number": FULL_ID, "phone": "13812345678",
                 "joint_medical": true, "joint_fund": false},
    })
}

async fn views(app: &TestApp, case: &str) -> anyhow::Result<usize> {
    let case = CaseId(case.parse()?);
    let history = app.app.engine().history(case).await?;
    Ok(history.iter().filter(|h| h.action == "view").count())
}

db_test!(pages_without_a_session_send_to_login_and_back, |db| {
    let app = TestApp::start(&db, "tests/fixtures/web").await?;
    let password = app.add_user("shebao_li", "shebao", Role::Clerk).await?;
    for (path, next) in [
        ("/inbox", "/login?next=%2Finbox"),
        ("/tasks/abc?x=1", "/login?next=%2Ftasks%2Fabc%3Fx%3D1"),
        ("/definitions", "/login?next=%2Fdefinitions"),
    ] {
        let reply = app.get(path).await?;
        assert_eq!(reply.status, 303, "{path}");
        assert_eq!(reply.headers["location"], next, "{path}");
    }
    assert_eq!(app.get("/").await?.headers["location"], "/login");
    let login = app.get("/login?next=%2Finbox%3Fstatus%3Dopen").await?;
    // (MiniJinja escapes `/` in attribute values as `&#x2f;`; browsers read it back.)
    assert!(
        login
            .text
            .contains(r#"name="next" value="&#x2f;inbox?status=open""#),
        "{}",
        login.text
    );

    // After login the browser goes where it came from, but never off this site.
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    for (next, expected) in [
        ("/tasks/1", "/tasks/1"),
        ("//evil.example/x", "/inbox"),
        ("", "/inbox"),
    ] {
        let (_, csrf) = app.login_page().await?;
        let reply = browser
            .post(format!("{}/login", app.base))
            .header("cookie", format!("lianban_login_csrf={csrf}"))
            .form(&[
                ("username", "shebao_li"),
                ("password", password.as_str()),
                ("csrf", &csrf),
                ("next", next),
            ])
            .send()
            .await?;
        assert_eq!(reply.status().as_u16(), 303);
        assert_eq!(reply.headers()["location"], expected);
    }
    let stale = browser
        .post(format!("{}/tasks/abc/claim", app.base))
        .form(&[("csrf", "x")])
        .send()
        .await?;
    assert_eq!(stale.status().as_u16(), 303);
    assert_eq!(stale.headers()["location"], "/login?next=%2Finbox");
    let css = app.get("/static/app.css").await?;
    assert_eq!(css.status, 200);
    assert!(
        css.headers["content-type"]
            .to_str()?
            .starts_with("text/css")
    );
    Ok(())
});

db_test!(inbox_lists_the_department_masked_and_claims_by_form, |db| {
    let app = TestApp::start(&db, "tests/fixtures/web").await?;
    let shebao = app.clerk("shebao_li", "shebao", Role::Clerk).await?;
    let yibao = app.clerk("yibao_wang", "yibao", Role::Clerk).await?;
    let case = id(&shebao.start(&application(SCRIPT)).await?.ok()?);
    let task = shebao.task_at(&case, "accept").await?;
    let page = Browser::of(&app, &shebao)?;

    let inbox = page.get("/inbox").await?;
    assert_eq!(inbox.status, 200);
    assert!(
        inbox.text.contains(&format!("/tasks/{task}")),
        "{}",
        inbox.text
    );
    assert!(inbox.text.contains(MASKED_ID) && !inbox.text.contains(FULL_ID));
    assert!(inbox.text.contains("待认领") && inbox.text.contains("受理"));
    assert!(inbox.text.contains("&lt;script&gt;") && !inbox.text.contains(SCRIPT));
    assert!(inbox.text.contains("shebao_li（测试）") && inbox.text.contains("社保中心"));
    let other = Browser::of(&app, &yibao)?.get("/inbox").await?;
    assert!(!other.text.contains(&task) && other.text.contains("没有符合条件的待办事项"));

    // Search by the exact name or ID number (either case of the check character).
    let mut other = application("李四");
    other["form"]["id_number"] = json!("110105195001010012");
    let other_case = id(&shebao.start(&other).await?.ok()?);
    for q in [
        FULL_ID,
        "11010519491231002x",
        "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    ] {
        let found = page.get(&format!("/inbox?q={q}")).await?;
        assert!(found.text.contains(&task), "{q}: {}", found.text);
        assert!(!found.text.contains("李四"), "{q}");
    }
    let by_name = page.get("/inbox?q=%E6%9D%8E%E5%9B%9B").await?;
    assert!(by_name.text.contains("李四") && !by_name.text.contains(&task));
    assert!(
        !page.get("/inbox?q=110105").await?.text.contains(&task),
        "no partial match"
    );
    let search = page.get(&format!("/cases?q={FULL_ID}")).await?;
    assert!(
        search.text.contains(&format!("/cases/{case}")),
        "{}",
        search.text
    );
    assert!(search.text.contains(MASKED_ID) && !search.text.contains(&other_case));
    let all = page.get("/cases?status=active").await?;
    assert!(all.text.contains(&case) && all.text.contains(&other_case));

    // A form without the CSRF token changes nothing.
    let forged = page
        .post(&format!("/tasks/{task}/claim"), &[], false)
        .await?;
    assert_eq!(forged.status, 403);
    assert_eq!(shebao.inbox("status=claimed").await?.ok()?, json!([]));

    let claimed = page
        .post(&format!("/tasks/{task}/claim"), &[("back", "/inbox")], true)
        .await?;
    assert_eq!((claimed.status, claimed.location.as_str()), (303, "/inbox"));
    assert_eq!(
        shebao.inbox("claimed=me").await?.ok()?[0]["id"],
        task.as_str()
    );
    let mine = page.get("/inbox?claimed=me").await?;
    assert!(mine.text.contains("已认领") && mine.text.contains("放弃"));
    assert!(!page.get("/inbox?claimed=none").await?.text.contains(&task));
    assert!(!page.get("/inbox?due=overdue").await?.text.contains(&task));

    // An off-site `back` is not followed.
    let released = page
        .post(
            &format!("/tasks/{task}/unclaim"),
            &[("back", "https://evil.example/")],
            true,
        )
        .await?;
    assert_eq!(
        (released.status, released.location.as_str()),
        (303, "/inbox")
    );
    assert_eq!(
        shebao.inbox("claimed=none").await?.ok()?[0]["id"],
        task.as_str()
    );
    assert_eq!(
        Browser::of(&app, &yibao)?
            .post(&format!("/tasks/{task}/claim"), &[], true)
            .await?
            .status,
        404
    );
    Ok(())
});

db_test!(
    task_page_offers_outcomes_and_completing_moves_the_case,
    |db| {
        let app = TestApp::start(&db, "tests/fixtures/web").await?;
        let shebao = app.clerk("shebao_li", "shebao", Role::Clerk).await?;
        let case = id(&shebao.start(&application(SCRIPT)).await?.ok()?);
        let task = shebao.task_at(&case, "accept").await?;
        let page = Browser::of(&app, &shebao)?;

        let before = page.get(&format!("/tasks/{task}")).await?;
        assert_eq!(before.status, 200);
        assert!(before.text.contains("请先认领任务"), "{}", before.text);
        page.post(&format!("/tasks/{task}/claim"), &[], true)
            .await?;
        let open = page.get(&format!("/tasks/{task}")).await?;
        for text in [
            r#"name="outcome" value="accept""#,
            r#"name="outcome" value="reject""#,
            "不予受理",
            "name=\"reason\"",
        ] {
            assert!(open.text.contains(text), "{text}: {}", open.text);
        }
        assert!(open.text.contains(MASKED_ID) && !open.text.contains(FULL_ID));
        assert!(open.text.contains("&lt;script&gt;") && !open.text.contains(SCRIPT));
        assert!(
            open.text.contains("受理申请，办件开始"),
            "timeline: {}",
            open.text
        );

        // A refusal without a reason is shown again with the message at the reason.
        let path = format!("/tasks/{task}/complete");
        let refused = page
            .post(&path, &[("outcome", "reject"), ("reason", " ")], true)
            .await?;
        assert_eq!(refused.status, 422, "{}", refused.text);
        assert!(
            refused.text.contains(r#"class="field invalid""#),
            "{}",
            refused.text
        );
        assert_eq!(
            page.post(&path, &[("outcome", "accept")], false)
                .await?
                .status,
            403
        );

        let done = page.post(&path, &[("outcome", "accept")], true).await?;
        assert_eq!(
            (done.status, done.location.clone()),
            (303, format!("/cases/{case}"))
        );
        let state = shebao.case(&case).await?.ok()?;
        assert_eq!(state["current_steps"], json!(["medical"]));
        Ok(())
    }
);

db_test!(
    case_page_shows_the_timeline_in_full_and_records_the_view,
    |db| {
        let app = TestApp::start(&db, "tests/fixtures/web").await?;
        let shebao = app.clerk("shebao_li", "shebao", Role::Clerk).await?;
        let yibao = app.clerk("yibao_wang", "yibao", Role::Clerk).await?;
        let case = id(&shebao.start(&application(SCRIPT)).await?.ok()?);
        let page = Browser::of(&app, &shebao)?;

        assert_eq!(views(&app, &case).await?, 0);
        let shown = page.get(&format!("/cases/{case}")).await?;
        assert_eq!(shown.status, 200, "{}", shown.text);
        for text in [
            FULL_ID,
            "13812345678",
            "受理申请，办件开始",
            "办理中",
            "社保中心",
            "&lt;script&gt;",
        ] {
            assert!(shown.text.contains(text), "{text}: {}", shown.text);
        }
        assert!(!shown.text.contains(SCRIPT));
        assert_eq!(views(&app, &case).await?, 1);
        let again = page.get(&format!("/cases/{case}")).await?;
        assert!(
            again.text.contains("查看办件"),
            "the view is on the timeline"
        );
        assert_eq!(views(&app, &case).await?, 2);

        // 医保 takes no part yet: no page, no view recorded.
        let stranger = Browser::of(&app, &yibao)?
            .get(&format!("/cases/{case}"))
            .await?;
        assert_eq!(stranger.status, 404);
        assert_eq!(views(&app, &case).await?, 2);
        Ok(())
    }
);

db_test!(definitions_page_is_for_supervisors, |db| {
    let app = TestApp::start(&db, "tests/fixtures/web").await?;
    let clerk = app.clerk("shebao_li", "shebao", Role::Clerk).await?;
    let boss = app.clerk("shebao_boss", "shebao", Role::Supervisor).await?;
    let denied = Browser::of(&app, &clerk)?.get("/definitions").await?;
    assert_eq!(denied.status, 403);
    assert!(
        denied.text.contains("只有负责人和管理员可以查看流程定义") && denied.text.contains("<html")
    );
    let inbox = Browser::of(&app, &clerk)?.get("/inbox").await?;
    assert!(!inbox.text.contains("href=\"/definitions\""));
    let shown = Browser::of(&app, &boss)?.get("/definitions").await?;
    assert_eq!(shown.status, 200);
    for text in [
        "联办权限测试流程",
        "web.joint",
        "第 1 版",
        "人工办理",
        "社保经办人（社保中心）",
        "不予受理 → 不予受理，须写理由",
    ] {
        assert!(shown.text.contains(text), "{text}: {}", shown.text);
    }
    let _ = shown.text.find("流程定义").context("menu")?;
    Ok(())
});

/// The fields of a form post: `form.<key>` for each application value.
fn form_fields<'a>(values: &'a [(&'a str, &'a str)]) -> Vec<(String, &'a str)> {
    values
        .iter()
        .map(|(k, v)| (format!("form.{k}"), *v))
        .collect()
}

db_test!(intake_shows_field_errors_and_starts_a_good_case, |db| {
    let app = TestApp::start(&db, "tests/fixtures/web").await?;
    let shebao = app.clerk("shebao_li", "shebao", Role::Clerk).await?;
    let yibao = app.clerk("yibao_wang", "yibao", Role::Clerk).await?;
    let page = Browser::of(&app, &shebao)?;
    let choose = page.get("/intake").await?;
    assert!(
        choose.text.contains("/intake?process=web.joint"),
        "{}",
        choose.text
    );
    let form = page.get("/intake?process=web.joint").await?;
    assert_eq!(form.status, 200);
    assert!(form.text.contains(r#"name="form.id_number""#) && form.text.contains("开始办理"));
    let denied = Browser::of(&app, &yibao)?
        .get("/intake?process=web.joint")
        .await?;
    assert_eq!(denied.status, 403);

    let bad = form_fields(&[
        ("name", SCRIPT),
        ("id_number", "110105194912310021"),
        ("phone", "12345"),
    ]);
    let mut fields: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    fields.extend([("process", "web.joint"), ("action", "start")]);
    let refused = page.post("/intake", &fields, true).await?;
    assert_eq!(refused.status, 422, "{}", refused.text);
    assert!(
        refused
            .text
            .contains(r#"<div class="field invalid" data-field="#)
    );
    assert!(
        refused.text.contains("校验"),
        "the check character is named: {}",
        refused.text
    );
    assert!(refused.text.contains("&lt;script&gt;") && !refused.text.contains(SCRIPT));
    assert_eq!(shebao.cases("").await?.ok()?, json!([]));
    assert_eq!(page.post("/intake", &fields, false).await?.status, 403);

    let good = form_fields(&[
        ("name", "张三"),
        ("id_number", FULL_ID),
        ("joint_medical", "true"),
    ]);
    let mut fields: Vec<(&str, &str)> = good.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    fields.extend([("process", "web.joint"), ("action", "start")]);
    let started = page.post("/intake", &fields, true).await?;
    assert_eq!(started.status, 303, "{}", started.text);
    let cases = shebao.cases("").await?.ok()?;
    let case = id(&cases[0]);
    assert_eq!(started.location, format!("/cases/{case}"));
    assert_eq!(
        shebao.case(&case).await?.ok()?["form"]["joint_medical"],
        true
    );
    Ok(())
});

db_test!(
    intake_of_the_retirement_lists_materials_and_prints_the_forms,
    |db| {
        let app = TestApp::start(&db, "processes").await?;
        let shebao = app.clerk("shebao_li", "shebao", Role::Clerk).await?;
        let page = Browser::of(&app, &shebao)?;
        let form = page.get("/intake?process=yangcheng.retirement").await?;
        assert_eq!(form.status, 200, "{}", form.text);
        assert!(
            form.text.contains("居民身份证（原件）") && form.text.contains("身份证号里的出生日期")
        );

        let values = form_fields(&[
            ("name", "张三"),
            ("gender", "男"),
            ("id_number", "140522196412150317"),
            ("birth", "1964-12"),
            ("post", "生产"),
            ("employer", "阳城县某煤业有限公司"),
            ("address", "阳城县凤城镇"),
            ("phone", "13935600000"),
            ("veteran", "false"),
            ("item", "企业职工正常退休信息确认、待遇计发"),
            ("delivery", "现场自取"),
            ("retirement_type", "正常退休"),
        ]);
        let mut fields: Vec<(&str, &str)> = values.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        fields.extend([
            ("process", "yangcheng.retirement"),
            ("materials", "id_card"),
        ]);
        let refreshed = page
            .post(
                "/intake",
                &[fields.clone(), vec![("action", "refresh")]].concat(),
                true,
            )
            .await?;
        assert_eq!(refreshed.status, 200, "{}", refreshed.text);
        assert!(
            refreshed.text.contains(r#"value="id_card" checked"#),
            "{}",
            refreshed.text
        );
        assert_eq!(
            shebao.cases("").await?.ok()?,
            json!([]),
            "refreshing starts nothing"
        );

        let started = page
            .post(
                "/intake",
                &[fields, vec![("action", "start")]].concat(),
                true,
            )
            .await?;
        assert_eq!(started.status, 303, "{}", started.text);
        let shown = page.get(&started.location).await?;
        assert!(shown.text.contains("一次性告知单"), "{}", shown.text);
        let case = started.location.trim_start_matches("/cases/").to_owned();
        let notice = page.get(&format!("/cases/{case}/preview/notice")).await?;
        assert_eq!(notice.status, 200, "{}", notice.text);
        assert!(notice.text.contains("张三"));
        assert_eq!(
            page.get(&format!("/cases/{case}/preview/supplement_notice"))
                .await?
                .status,
            404
        );

        let task = shebao.task_at(&case, "accept").await?;
        let task_page = page.get(&format!("/tasks/{task}")).await?;
        assert!(
            task_page.text.contains("规则测算") && task_page.text.contains("2024-12"),
            "{}",
            task_page.text
        );
        assert!(task_page.text.contains("✔ 已收"));
        // The rules' summary is shown in the clerk's words, not as the raw rule data.
        assert!(
            task_page.text.contains("测算结论") && task_page.text.contains("法定退休时间"),
            "{}",
            task_page.text
        );
        assert!(!task_page.text.contains("minimum_contribution"));

        // 一次性告知补正 issues the 补正告知书; the case page offers it to print and to keep.
        page.post(&format!("/tasks/{task}/claim"), &[], true)
            .await?;
        let asked = page
            .post(
                &format!("/tasks/{task}/complete"),
                &[("outcome", "supplement")],
                true,
            )
            .await?;
        assert_eq!(asked.status, 303, "{}", asked.text);
        let docs = shebao.documents(&case).await?.ok()?;
        let notice_id = docs
            .as_array()
            .and_then(|all| all.iter().find(|d| d["key"] == "supplement_notice"))
            .and_then(|d| d["id"].as_str())
            .map(str::to_owned)
            .ok_or_else(|| anyhow::anyhow!("no 补正告知书 among {docs}"))?;
        let shown = page.get(&format!("/cases/{case}")).await?;
        assert!(
            shown
                .text
                .contains(&format!("/cases/{case}/download/{notice_id}")),
            "{}",
            shown.text
        );
        let printed = page
            .get(&format!("/cases/{case}/print/{notice_id}"))
            .await?;
        let kept = page
            .get(&format!("/cases/{case}/download/{notice_id}"))
            .await?;
        assert_eq!(kept.status, 200);
        assert_eq!(kept.text, printed.text, "the file is the stored document");
        let disposition = kept
            .headers
            .get("content-disposition")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert!(
            disposition.starts_with("attachment;") && disposition.contains("filename*=UTF-8''"),
            "{disposition}"
        );
        Ok(())
    }
);

// Issue 17: the source's 六(一) shows the enterprise the 一次性告知单 before any case
// exists. The guide is public, prints on A4, and says everything the definition says about
// each material, the flow, the windows and the phones.
db_test!(the_guide_shows_the_blank_notice_to_anyone, |db| {
    let app = lianban_tests::web::TestApp::start(&db, "processes").await?;
    let guide = app.get("/guide/yangcheng.retirement").await?;
    assert_eq!(guide.status, 200, "{}", guide.text);
    let html = &guide.text;
    for expected in [
        "阳城县企业职工退休“一件事一次办”",
        "一次性告知单",
        // Every material, with its copies and the condition for it.
        "职工正常退休信息确认表/职工提前退休审批表",
        "4份",
        "视情况：灵活就业人员不需要提供",
        "晋城市住房公积金汇缴变更清册",
        // The flow, the windows and phones, the 附件3 map.
        "退休信息确认",
        "县政务中心4层 企业职工养老保险综合窗口",
        "0356-4228486",
        "附件3 流程图",
        "附件3 流程图",
    ] {
        assert!(html.contains(&html_text(expected)), "{expected} missing");
    }
    let process = app.app.engine().catalog();
    let process = process
        .latest("yangcheng.retirement")
        .ok_or_else(|| anyhow::anyhow!("loaded"))?;
    assert!(html.contains("<svg") && html.contains("@page { size: A4"));
    for material in &process.materials {
        assert!(
            html.contains(&html_text(&material.name)),
            "{} missing",
            material.name
        );
    }
    // No script may run on it, and no personal data is on it.
    assert!(
        guide
            .headers
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("default-src 'none'")),
        "{:?}",
        guide.headers
    );
    assert_eq!(app.get("/guide/nowhere.nothing").await?.status, 404);

    // The window's intake page links to it.
    let clerk = app
        .clerk("shebao_li", "shebao", lianban::accounts::Role::Clerk)
        .await?;
    let intake = clerk.get("/intake?process=yangcheng.retirement").await?;
    assert!(
        intake.text.contains("href=\"/guide/yangcheng.retirement\""),
        "{}",
        intake.text
    );
    Ok(())
});

/// `text` as the page templates write it (MiniJinja escapes `/` too).
fn html_text(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
        .replace('/', "&#x2f;")
}

// Issue 17: 经办人 is a person, not a login. The account's name (set with `lianban user
// rename`, here through the same store call) is printed on the documents the clerk issues
// and shown in the case history and the documents list; the records keep the login.
db_test!(papers_and_history_name_the_person_not_the_login, |db| {
    let app = lianban_tests::web::TestApp::start(&db, "processes").await?;
    let clerk = app
        .clerk("shebao_li", "shebao", lianban::accounts::Role::Clerk)
        .await?;
    let engine = app.app.engine();
    assert!(
        engine
            .store()
            .accounts()
            .set_name("shebao_li", "李娜")
            .await?
    );
    let application = serde_json::json!({
        "process": "yangcheng.retirement",
        "form": lianban_tests::retirement::application("张三", "140522196412150317", false, false),
        "materials": [],
    });
    let started = clerk.start(&application).await?.ok()?;
    let case = started["id"].as_str().unwrap_or_default().to_owned();
    let accept = clerk.task_at(&case, "accept").await?;
    clerk.claim(&accept).await?.ok()?;
    let inbox = clerk.get("/inbox").await?;
    assert!(inbox.text.contains("（李娜）"), "{}", inbox.text);
    let task = clerk.get(&format!("/tasks/{accept}")).await?;
    assert!(task.text.contains("（李娜）"), "{}", task.text);
    clerk
        .complete(&accept, &serde_json::json!({"outcome": "supplement"}))
        .await?
        .ok()?;
    let id = lianban::runtime::CaseId(case.parse()?);
    let documents = engine.list_documents(id).await?;
    let notice = documents
        .iter()
        .find(|d| d.key == "supplement_notice")
        .ok_or_else(|| anyhow::anyhow!("a supplement notice"))?;
    assert!(
        notice.html.contains("经办人（审批窗口）：李娜"),
        "{}",
        notice.html
    );
    assert!(!notice.html.contains("shebao_li"));
    assert_eq!(notice.issued_by, "shebao_li", "the record keeps the login");

    let page = clerk.get(&format!("/cases/{case}")).await?;
    assert!(page.text.contains("李娜（"), "{}", page.text);
    Ok(())
});

/// `text` as a URL query value.
fn query_value(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

// Issue 17: a case is called by its readable number (阳城退休〔2026〕0012) on every page
// and list, and found by it, typed as the paper prints it or loosely; the UUID stays in
// the URLs only.
db_test!(cases_are_shown_and_found_by_their_number, |db| {
    let app = lianban_tests::web::TestApp::start(&db, "processes").await?;
    let clerk = app
        .clerk("shebao_li", "shebao", lianban::accounts::Role::Clerk)
        .await?;
    let mut ids = Vec::new();
    for (name, id_number) in [
        ("张三", "140522196412150317"),
        ("李四", "140522196501151012"),
    ] {
        let application = json!({
            "process": "yangcheng.retirement",
            "form": lianban_tests::retirement::application(name, id_number, false, false),
            "materials": [],
        });
        ids.push(id(&clerk.start(&application).await?.ok()?));
    }
    let year = lianban::case_number::CaseNumber::year_of(app.app.engine().now());
    let second = format!("阳城退休〔{year}〕0002");
    let first = format!("阳城退休〔{year}〕0001");

    // The API says each case's number and filters by it.
    let case = clerk.case(&ids[1]).await?.ok()?;
    assert_eq!(case["number"], json!(second));
    let listed = clerk
        .cases(&format!(
            "number={}",
            query_value(&format!("阳城退休[{year}]2"))
        ))
        .await?
        .ok()?;
    let listed = listed.as_array().context("a list")?;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(
        (id(&listed[0]), &listed[0]["number"]),
        (ids[1].clone(), &json!(second))
    );

    // The cases list shows the numbers and finds one by it, exactly or typed loosely.
    let all = clerk.get("/cases").await?;
    assert!(
        all.text.contains(&first) && all.text.contains(&second),
        "{}",
        all.text
    );
    for typed in [
        second.clone(),
        format!("阳城退休({year})2"),
        format!(" 阳城退休【{year}】0002 "),
    ] {
        let found = clerk
            .get(&format!("/cases?q={}", query_value(&typed)))
            .await?;
        assert!(
            found.text.contains(&format!("/cases/{}", ids[1])),
            "{typed}: {}",
            found.text
        );
        assert!(
            !found.text.contains(&format!("/cases/{}", ids[0])),
            "{typed}: {}",
            found.text
        );
    }
    // The inbox shows the number with the applicant and finds the task by it.
    let inbox = clerk.get("/inbox").await?;
    assert!(inbox.text.contains(&second), "{}", inbox.text);
    let task = clerk.task_at(&ids[1], "accept").await?;
    let found = clerk
        .get(&format!("/inbox?q={}", query_value(&second)))
        .await?;
    assert!(
        found.text.contains(&format!("/tasks/{task}")),
        "{}",
        found.text
    );
    let other = clerk.task_at(&ids[0], "accept").await?;
    assert!(
        !found.text.contains(&format!("/tasks/{other}")),
        "{}",
        found.text
    );
    // The case page and the task page call it by its number.
    let page = clerk.get(&format!("/cases/{}", ids[1])).await?;
    assert!(
        page.text.contains("办件编号") && page.text.contains(&second),
        "{}",
        page.text
    );
    let task_page = clerk.get(&format!("/tasks/{task}")).await?;
    assert!(task_page.text.contains(&second), "{}", task_page.text);
    Ok(())
});
