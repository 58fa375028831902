//! Attacks over real HTTP on loopback: cross-site scripting through what applicants type,
//! SQL injection through every filter, path traversal through every name that could reach
//! a file, and forged page forms (CSRF). Login brute force, session fixation and CSRF on the
//! JSON API are covered by tests/acceptance/web.rs
//! (`login_good_bad_and_lockout_without_enumeration`,
//! `login_starts_a_new_session_and_logout_ends_it`, `csrf_is_required_for_changes`). Every
//! test runs on SQLite and on PostgreSQL.

use lianban::accounts::Role;
use lianban_tests::db_test;
use lianban_tests::pages::Browser;
use lianban_tests::web::{Clerk, TestApp};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SCRIPT: &str = "<script>alert(1)</script>";
const IMG: &str = "\"><img src=x onerror=alert(2)>";

fn application(name: &str, address: &str) -> Value {
    json!({
        "process": "yangcheng.retirement",
        "form": {
            "name": name,
            "gender": "男",
            "id_number": "140522196412150317",
            "birth": "1964-12",
            "post": "生产",
            "employer": format!("某煤业有限公司{SCRIPT}"),
            "address": address,
            "phone": "13935600000",
            "veteran": false,
            "item": "企业职工正常退休信息确认、待遇计发",
            "delivery": "现场自取",
            "retirement_type": "正常退休",
        },
        "materials": [],
    })
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_default().to_owned()
}

/// The markup an attacker wanted on the page, in any of the forms it was sent.
fn injected(text: &str) -> Option<&'static str> {
    ["<script>alert(1)", "<img src=x", "onerror=alert(2)>"]
        .into_iter()
        .find(|needle| {
            // `onerror=alert(2)>` may appear escaped as part of an attribute value; only a
            // raw tag opening counts, which the first two catch. The third catches an
            // attribute break-out (`"><img …>` unescaped).
            text.contains(needle) && (*needle != "onerror=alert(2)>" || text.contains("\"><img"))
        })
}

async fn start(app: &TestApp) -> anyhow::Result<(Clerk, Browser, String, String)> {
    let shebao = app.clerk("x_shebao", "shebao", Role::Clerk).await?;
    let case = shebao
        .start(&application(
            &format!("张三{SCRIPT}"),
            &format!("凤城镇{IMG}"),
        ))
        .await?;
    anyhow::ensure!(case.status == 201, "{}", case.text);
    let case = id(&case.json);
    let task = shebao.task_at(&case, "accept").await?;
    let browser = Browser::of(app, &shebao)?;
    Ok((shebao, browser, case, task))
}

db_test!(
    script_typed_into_a_form_is_inert_everywhere_it_is_shown,
    |db| {
        let app = TestApp::start(&db, "processes/yangcheng").await?;
        let (shebao, browser, case, task) = start(&app).await?;
        let mut pages = vec![
            "/inbox".to_owned(),
            "/inbox?q=张三".to_owned(),
            format!("/tasks/{task}"),
            format!("/cases/{case}"),
            "/cases".to_owned(),
            "/cases?q=张三".to_owned(),
            "/overdue".to_owned(),
        ];
        // Every document the process can issue, as previewed for this case.
        let process = app
            .app
            .engine()
            .catalog()
            .latest("yangcheng.retirement")
            .ok_or_else(|| anyhow::anyhow!("the process"))?;
        for key in process.documents.keys() {
            pages.push(format!("/cases/{case}/preview/{key}"));
        }
        // And the one the 补正 outcome issues, printed and fetched through the API.
        shebao.claim(&task).await?.ok()?;
        shebao
            .complete(&task, &json!({"outcome": "supplement"}))
            .await?
            .ok()?;
        pages.push(format!("/cases/{case}/print/supplement_notice"));
        let mut shown = 0;
        for path in &pages {
            let reply = browser.get(path).await?;
            assert!(
                reply.status < 500,
                "{path}: {} {}",
                reply.status,
                reply.text
            );
            if reply.status == 200 {
                shown += 1;
                if let Some(found) = injected(&reply.text) {
                    panic!("{path} carries `{found}` unescaped");
                }
            }
        }
        assert!(shown >= 8, "only {shown} of {} pages showed", pages.len());
        // The case page shows the name, escaped: the value is kept, just made harmless.
        let page = browser.get(&format!("/cases/{case}")).await?;
        assert!(page.text.contains("&lt;script&gt;"), "{}", page.text);
        let documents = shebao.documents(&case).await?.ok()?;
        let mut shown = 0;
        for document in documents.as_array().into_iter().flatten() {
            let key = document["key"].as_str().unwrap_or_default();
            let reply = shebao.document(&case, &id(document)).await?;
            assert_eq!(reply.status, 200, "{key}: {}", reply.text);
            shown += 1;
            if let Some(found) = injected(&reply.text) {
                panic!("document {key} carries `{found}` unescaped");
            }
        }
        assert_eq!(shown, 1, "the supplement notice was issued: {documents}");
        Ok(())
    }
);

const INJECTIONS: [&str; 6] = [
    "' OR 1=1 --",
    "\" OR \"1\"=\"1",
    "'; DROP TABLE cases; --",
    "%' OR '%'='",
    "1) OR (1=1",
    "x' UNION SELECT id, form FROM cases --",
];

/// Percent-encodes every byte but ASCII letters and digits.
fn encode(text: &str) -> String {
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

db_test!(sql_injection_in_every_filter_finds_nothing_extra, |db| {
    let app = TestApp::start(&db, "processes/yangcheng").await?;
    let (shebao, browser, case, task) = start(&app).await?;
    let yibao = app.clerk("x_yibao", "yibao", Role::Clerk).await?;
    let yibao_pages = Browser::of(&app, &yibao)?;
    let admin = app.clerk("x_admin", "shebao", Role::Admin).await?;
    let admin_pages = Browser::of(&app, &admin)?;
    for attack in INJECTIONS {
        let a = encode(attack);
        // The JSON lists: a word that is not one of the allowed values is a 400; a free
        // value matches nothing. Never a 500, never a row of another department.
        for (clerk, query) in [
            (&shebao, format!("status={a}")),
            (&shebao, format!("step={a}")),
            (&shebao, format!("claimed={a}")),
            (&yibao, format!("step={a}")),
            (&yibao, format!("status={a}")),
        ] {
            let reply = clerk.inbox(&query).await?;
            assert!(
                matches!(reply.status, 200 | 400 | 422),
                "inbox?{query}: {} {}",
                reply.status,
                reply.text
            );
            if reply.status == 200 {
                assert_eq!(reply.json, json!([]), "inbox?{query}");
            }
        }
        for (clerk, query) in [
            (&shebao, format!("status={a}")),
            (&shebao, format!("process={a}")),
            (&yibao, format!("process={a}")),
            (&yibao, format!("status={a}")),
        ] {
            let reply = clerk.cases(&query).await?;
            assert!(
                matches!(reply.status, 200 | 400 | 422),
                "cases?{query}: {} {}",
                reply.status,
                reply.text
            );
            if reply.status == 200 {
                assert_eq!(reply.json, json!([]), "cases?{query}");
            }
        }
        // The pages' filters and free-text search.
        // Searching or narrowing by the attack matches nothing; a choice the page does not
        // know (status, claimed, due) falls back to its default view of the clerk's own
        // department, which may show the case; another department never sees it.
        for (who, path, may_list) in [
            (&browser, format!("/inbox?q={a}"), false),
            (&browser, format!("/inbox?step={a}"), false),
            (&browser, format!("/inbox?status={a}"), true),
            (&browser, format!("/inbox?claimed={a}"), true),
            (&browser, format!("/inbox?due={a}"), true),
            (&browser, format!("/cases?q={a}"), false),
            (&browser, format!("/cases?status={a}"), true),
            (&yibao_pages, format!("/inbox?q={a}"), false),
            (&yibao_pages, format!("/inbox?status={a}"), false),
            (&yibao_pages, format!("/cases?q={a}"), false),
            (&yibao_pages, format!("/cases?status={a}"), false),
            (&admin_pages, format!("/outbox?status={a}"), false),
        ] {
            let reply = who.get(&path).await?;
            assert!(
                matches!(reply.status, 200 | 400 | 403 | 422),
                "{path}: {} {}",
                reply.status,
                reply.text
            );
            if !may_list {
                assert!(
                    !reply.text.contains(&case) && !reply.text.contains(&task),
                    "{path} lists the case"
                );
            }
        }
    }
    // The tables are all still there and hold what they held.
    assert_eq!(shebao.task_at(&case, "accept").await?, task);
    assert_eq!(
        shebao.cases("").await?.ok()?.as_array().map(Vec::len),
        Some(1)
    );
    Ok(())
});

/// Sends a request line as it is (a client library would tidy `..` away first).
async fn raw_get(base: &str, target: &str, cookie: Option<&str>) -> anyhow::Result<u16> {
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let cookie = cookie
        .map(|c| format!("Cookie: lianban_session={c}\r\n"))
        .unwrap_or_default();
    let request =
        format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\n{cookie}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    let answer = String::from_utf8_lossy(&answer);
    anyhow::ensure!(
        !answer.contains("root:x:0:0"),
        "{target} served /etc/passwd"
    );
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok(status)
}

db_test!(no_name_in_a_path_reaches_outside_its_place, |db| {
    let app = TestApp::start(&db, "processes/yangcheng").await?;
    let (shebao, _browser, case, _task) = start(&app).await?;
    let session = Some(shebao.session.as_str());
    let climbs = [
        "../../../../etc/passwd",
        "..%2f..%2f..%2f..%2fetc%2fpasswd",
        "%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "....//....//etc/passwd",
        "..\\..\\..\\etc\\passwd",
        "%2fetc%2fpasswd",
    ];
    for climb in climbs {
        for target in [
            format!("/static/{climb}"),
            format!("/static/app.css/{climb}"),
            format!("/push-tables/{climb}"),
            format!("/cases/{case}/print/{climb}"),
            format!("/cases/{case}/preview/{climb}"),
            format!("/api/v1/cases/{case}/documents/{climb}"),
            format!("/api/v1/processes/{climb}"),
            format!("/api/v1/push-tables/{climb}"),
            format!("/{climb}"),
        ] {
            let status = raw_get(&app.base, &target, session).await?;
            // 403: the definitions API is not for clerks, whatever the name.
            assert!(matches!(status, 400 | 403 | 404), "{target}: {status}");
        }
    }
    // A definition naming a template outside the templates directory does not load.
    let text = std::fs::read_to_string(
        lianban_tests::web::repo().join("processes/shanxi/retirement.yaml"),
    )?;
    let climbing = text.replacen(
        "template: shanxi/notice.html.j2",
        "template: ../../../etc/passwd",
        1,
    );
    anyhow::ensure!(climbing != text, "the definition names the notice template");
    let path = lianban_tests::web::repo().join("processes/shanxi/retirement.yaml");
    let templates =
        lianban::documents::Templates::load(&lianban_tests::web::repo().join("templates"))?;
    let refused = lianban::definition::load_sources(
        &[lianban::definition::SourceFile {
            path: path.display().to_string(),
            text: climbing,
        }],
        &templates,
    )
    .expect_err("a template outside the directory");
    assert!(
        refused
            .diagnostics
            .iter()
            .any(|d| d.code == "E-UNKNOWN-TEMPLATE" && d.message.contains("../../../etc/passwd")),
        "{refused}"
    );
    Ok(())
});

db_test!(
    page_forms_without_the_session_token_are_refused_and_change_nothing,
    |db| {
        let app = TestApp::start(&db, "processes/yangcheng").await?;
        let (shebao, browser, case, task) = start(&app).await?;
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let post = |path: String, csrf: Option<&str>, fields: Vec<(&str, &str)>| {
            let mut fields: Vec<(String, String)> = fields
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            if let Some(csrf) = csrf {
                fields.push(("csrf".into(), csrf.to_owned()));
            }
            client
                .post(format!("{}{path}", app.base))
                .header("cookie", format!("lianban_session={}", shebao.session))
                // What a forged cross-site form would carry.
                .header("origin", "https://evil.example")
                .form(&fields)
                .send()
        };
        let forged = "f".repeat(64);
        for csrf in [None, Some(forged.as_str()), Some("")] {
            for (path, fields) in [
                (format!("/tasks/{task}/claim"), vec![]),
                (
                    format!("/tasks/{task}/complete"),
                    vec![("outcome", "reject"), ("reason", "伪造")],
                ),
                (format!("/cases/{case}/cancel"), vec![("reason", "伪造")]),
                (format!("/cases/{case}/events/supplied"), vec![]),
                (
                    "/intake".to_owned(),
                    vec![("process", "yangcheng.retirement"), ("action", "start")],
                ),
            ] {
                let reply = post(path.clone(), csrf, fields).await?;
                assert_eq!(reply.status().as_u16(), 403, "{path} with {csrf:?}");
            }
        }
        // Nothing happened: the task is still open and unclaimed, the case active, one case.
        let case_now = shebao.case(&case).await?.ok()?;
        assert_eq!(case_now["status"], "active");
        let tasks = shebao.inbox("").await?.ok()?;
        assert_eq!(tasks[0]["status"], "open", "{tasks}");
        assert_eq!(
            shebao.cases("").await?.ok()?.as_array().map(Vec::len),
            Some(1)
        );
        // The cookie a browser holds cannot be read by scripts nor sent by other sites' forms.
        let login = app.try_login("x_shebao", "pw-x_shebao-2026").await?;
        let set_cookie: Vec<String> = login
            .headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .filter(|v| v.starts_with("lianban_session="))
            .collect();
        assert_eq!(set_cookie.len(), 1, "{set_cookie:?}");
        let attributes = set_cookie[0].to_ascii_lowercase();
        assert!(attributes.contains("httponly"), "{attributes}");
        assert!(
            attributes.contains("samesite=strict") || attributes.contains("samesite=lax"),
            "{attributes}"
        );
        drop(browser);
        Ok(())
    }
);

db_test!(
    numeric_query_parameters_out_of_range_are_refused_and_serving_goes_on,
    |db| {
        // These values once reached the database driver and panicked there (no answer, the
        // connection dropped): an `offset` past i64, a `page` whose offset is.
        let app = TestApp::start(&db, "tests/fixtures/web").await?;
        let clerk = app.clerk("probe_li", "shebao", Role::Clerk).await?;
        for _ in 0..3 {
            for (query, field, code) in [
                ("offset=9223372036854775808", "offset", "out-of-range"),
                ("offset=1000001", "offset", "out-of-range"),
                ("limit=0", "limit", "out-of-range"),
                ("limit=501", "limit", "out-of-range"),
                ("offset=18446744073709551616", "offset", ""),
            ] {
                for reply in [clerk.inbox(query).await?, clerk.cases(query).await?] {
                    assert_eq!(
                        (reply.status, reply.problem(), reply.code()),
                        (400, "validation", code),
                        "{query}: {}",
                        reply.text
                    );
                    assert_eq!(reply.json["errors"][0]["field"], field, "{query}");
                }
            }
        }
        let browser = Browser::of(&app, &clerk)?;
        for path in [
            "/inbox?page=184467440737095518",
            "/cases?page=184467440737095518",
            "/inbox?page=18446744073709551615",
            "/cases?page=abc",
        ] {
            let page = browser.get(path).await?;
            assert_eq!(page.status, 400, "{path}: {}", page.text);
            let content_type = page
                .headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            assert!(
                content_type.starts_with("text/html"),
                "{path}: {content_type}"
            );
            assert!(
                page.text.contains("查询参数“page”"),
                "{path}: {}",
                page.text
            );
        }
        // The server is still there, and a sensible page number still works.
        assert_eq!(clerk.inbox("offset=1000000").await?.status, 200);
        assert_eq!(browser.get("/inbox?page=2").await?.status, 200);
        assert_eq!(browser.get("/cases?page=20001").await?.status, 200);
        Ok(())
    }
);
