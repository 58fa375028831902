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
