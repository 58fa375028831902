//! Security headers on every kind of answer: a page, an API answer, a 404; and the pages
//! need no inline script or style to work under that policy.

use lianban::accounts::Role;
use lianban_tests::db_test;
use lianban_tests::web::{Reply, TestApp};

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   frame-ancestors 'none'; form-action 'self'; base-uri 'none'";

fn assert_secure(what: &str, reply: &Reply) {
    let header = |name: &str| {
        reply
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(header("content-security-policy"), CSP, "{what}");
    assert_eq!(header("x-frame-options"), "DENY", "{what}");
    assert_eq!(header("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(header("referrer-policy"), "same-origin", "{what}");
}

db_test!(every_answer_carries_the_security_headers, |db| {
    let app = TestApp::start(&db, "tests/fixtures/web").await?;
    let (login, _) = app.login_page().await?;
    assert_eq!(login.status, 200);
    assert_secure("login page", &login);
    // The page works under the policy: no inline style or script, its CSS is its own.
    for inline in ["<style", "<script", "style=", "onclick=", "javascript:"] {
        assert!(
            !login.text.contains(inline),
            "inline {inline} on the login page"
        );
    }
    assert!(login.text.contains("/static/app.css"));
    let css = app.get("/static/app.css").await?;
    assert_eq!(css.status, 200);
    assert!(css.text.contains(".login-page"));

    let health = app.get("/healthz").await?;
    assert_secure("health", &health);
    let missing = app.get("/no/such/page").await?;
    assert_eq!(missing.status, 404);
    assert_secure("404", &missing);
    let unauthorized = app.get("/api/v1/inbox").await?;
    assert_eq!(unauthorized.status, 401);
    assert_secure("401", &unauthorized);

    let clerk = app.clerk("shebao_li", "shebao", Role::Clerk).await?;
    let inbox = clerk.inbox("").await?;
    assert_eq!(inbox.status, 200);
    assert_secure("API answer", &inbox);
    Ok(())
});

fn cache_control(reply: &Reply) -> String {
    reply
        .headers
        .get("cache-control")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

db_test!(nothing_but_static_files_is_kept_in_a_cache, |db| {
    let app = TestApp::start(&db, "tests/fixtures/web").await?;
    let clerk = app.clerk("cache_li", "shebao", Role::Clerk).await?;
    let supervisor = app.clerk("cache_boss", "shebao", Role::Supervisor).await?;
    let case = clerk
        .start(&serde_json::json!({
            "process": "web.joint",
            "form": {"name": "张三", "id_number": "11010519491231002X", "phone": "13812345678",
                     "joint_medical": false, "joint_fund": false},
        }))
        .await?
        .ok()?;
    let case = case["id"].as_str().unwrap_or_default().to_owned();
    let task = clerk.task_at(&case, "accept").await?;
    let mut answers = vec![
        ("login page".to_owned(), app.login_page().await?.0),
        ("health".to_owned(), app.get("/healthz").await?),
        ("401".to_owned(), app.get("/api/v1/inbox").await?),
        ("404".to_owned(), app.get("/no/such/page").await?),
        ("openapi".to_owned(), app.get("/api/openapi.json").await?),
        ("login answer".to_owned(), {
            let password = app.add_user("cache_wang", "yibao", Role::Clerk).await?;
            app.try_login("cache_wang", &password).await?
        }),
        (
            "failed login".to_owned(),
            app.try_login("cache_wang", "wrong").await?,
        ),
    ];
    for path in [
        "/api/v1/session".to_owned(),
        "/api/v1/inbox".to_owned(),
        "/api/v1/cases".to_owned(),
        format!("/api/v1/cases/{case}"),
        format!("/api/v1/cases/{case}/documents"),
        "/api/v1/push-tables".to_owned(),
        "/api/v1/processes".to_owned(),
        "/inbox".to_owned(),
        "/cases".to_owned(),
        format!("/cases/{case}"),
        format!("/tasks/{task}"),
        format!("/cases/{case}/print/nothing"),
        "/intake".to_owned(),
        "/push-tables".to_owned(),
    ] {
        answers.push((path.clone(), clerk.get(&path).await?));
    }
    for path in [
        "/dashboard",
        "/dashboard.csv",
        "/overdue",
        "/api/v1/dashboard",
    ] {
        answers.push((path.to_owned(), supervisor.get(path).await?));
    }
    for (what, reply) in &answers {
        assert!(reply.status < 500, "{what}: {}", reply.status);
        assert_eq!(
            cache_control(reply),
            "no-store",
            "{what} ({})",
            reply.status
        );
        assert!(
            reply.headers.get("strict-transport-security").is_none(),
            "{what}: no HSTS without --secure-cookies"
        );
    }
    // Static files keep their own caching.
    for path in ["/static/app.css", "/static/intake.js"] {
        let reply = app.get(path).await?;
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(cache_control(&reply), "public, max-age=3600", "{path}");
    }
    Ok(())
});

db_test!(secure_cookies_also_send_strict_transport_security, |db| {
    let app = TestApp::start_with(&db, "tests/fixtures/web", |s| s.secure_cookies = true).await?;
    for path in [
        "/login",
        "/healthz",
        "/api/v1/inbox",
        "/static/app.css",
        "/nowhere",
    ] {
        let reply = app.get(path).await?;
        let hsts = reply
            .headers
            .get("strict-transport-security")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert_eq!(hsts, "max-age=31536000", "{path}");
    }
    Ok(())
});
