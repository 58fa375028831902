//! The log of a server handling personal data: no full ID or phone number, no password,
//! session or CSRF token and no API key at any level, on SQLite and on PostgreSQL.
//!
//! A test binary of its own, so that no other test shares its process: it installs a
//! process-wide subscriber that records every event at `trace` level. Beside other tests it
//! would record their events as well (its verdict would depend on which tests run at the
//! same time) and slow them all down.

use lianban::accounts::Role;
use lianban_tests::db_test;
use lianban_tests::web::TestApp;
use serde_json::json;

/// Everything the test process logs, from the moment [`capture_logs`] is first called.
static LOGS: std::sync::OnceLock<std::sync::Arc<std::sync::Mutex<Vec<u8>>>> =
    std::sync::OnceLock::new();

/// A `MakeWriter` appending to [`LOGS`].
#[derive(Clone)]
struct LogBuffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut buffer) = self.0.lock() {
            buffer.extend_from_slice(bytes);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;

    fn make_writer(&'a self) -> LogBuffer {
        self.clone()
    }
}

/// Installs, once for the whole test process, a subscriber that records every event at
/// every level, of lianban and of the libraries (database, HTTP), as text.
fn capture_logs() -> std::sync::Arc<std::sync::Mutex<Vec<u8>>> {
    LOGS.get_or_init(|| {
        let buffer = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("trace"))
            .with_ansi(false)
            .with_writer(LogBuffer(std::sync::Arc::clone(&buffer)))
            .finish();
        // Another test of this binary may not have installed one; if one is installed
        // anyway, the assertion on a non-empty log below says so.
        let _ = tracing::subscriber::set_global_default(subscriber);
        buffer
    })
    .clone()
}

db_test!(logs_carry_no_full_id_number_or_phone, |db| {
    const ID: &str = "140522196412150317";
    const PHONE: &str = "13935600000";
    let logs = capture_logs();
    let app = TestApp::start(&db, "processes/yangcheng").await?;
    let shebao = app.clerk("shebao_li", "shebao", Role::Clerk).await?;
    let form = json!({
        "name": "张三", "gender": "男", "id_number": ID, "birth": "1964-12", "post": "生产",
        "employer": "阳城县某煤业有限公司", "address": "阳城县凤城镇", "phone": PHONE,
        "veteran": false, "item": "企业职工正常退休信息确认、待遇计发",
        "delivery": "现场自取", "retirement_type": "正常退休",
    });
    // A form with a mistake, then the intake, the lists, the case, and the 受理.
    let mut wrong = form.clone();
    wrong["gender"] = json!("女");
    let refused = shebao
        .start(&json!({"process": "yangcheng.retirement", "form": wrong, "materials": []}))
        .await?;
    assert_eq!(refused.status, 422, "{}", refused.text);
    let case = shebao
        .start(&json!({"process": "yangcheng.retirement", "form": form,
                       "materials": ["application", "id_card"]}))
        .await?
        .ok()?;
    let case = case["id"].as_str().unwrap_or_default().to_owned();
    shebao.cases("").await?.ok()?;
    shebao.case(&case).await?.ok()?;
    let accept = shebao.task_at(&case, "accept").await?;
    shebao.claim(&accept).await?.ok()?;
    shebao
        .complete(&accept, &json!({"outcome": "supplement"}))
        .await?
        .ok()?;
    shebao.documents(&case).await?.ok()?;
    // A failed login and a search by the number itself.
    app.try_login(ID, PHONE).await?;
    let page = lianban_tests::pages::Browser::of(&app, &shebao)?;
    page.get(&format!("/inbox?q={ID}")).await?;
    page.get(&format!("/cases?q={ID}")).await?;
    // Secrets in flight: a password typed wrong, the clerk's own password, the session and
    // CSRF tokens on every request above, and an API key, good and bad.
    const TYPO: &str = "Typo-Secret-2026!";
    app.try_login("shebao_li", TYPO).await?;
    let key = lianban::accounts::new_api_key();
    let new = lianban::store::NewApiKey {
        name: "yibao-system".into(),
        key_hash: lianban::accounts::api_key_hash(&key),
        department: "yibao".into(),
        county: None,
        intake: false,
    };
    app.app
        .engine()
        .store()
        .accounts()
        .create_api_key(&new, chrono::Utc::now())
        .await?;
    let client = reqwest::Client::new();
    let bad_key = format!("{key}x");
    for bearer in [&key, &bad_key] {
        client
            .get(format!("{}/api/v1/inbox", app.base))
            .bearer_auth(bearer)
            .send()
            .await?;
    }
    let password = "pw-shebao_li-2026";

    let text = logs
        .lock()
        .map(|l| String::from_utf8_lossy(&l).into_owned())
        .unwrap_or_default();
    assert!(
        text.contains("definitions loaded"),
        "the server's log was captured: {text}"
    );
    assert!(!text.contains(ID), "full ID number in the log:\n{text}");
    assert!(
        text.contains("140522********0317"),
        "the failed login is logged, masked"
    );
    assert!(!text.contains(PHONE), "full phone in the log:\n{text}");
    for (what, secret) in [
        ("a mistyped password", TYPO),
        ("a password", password),
        ("a session token", shebao.session.as_str()),
        ("a CSRF token", shebao.csrf.as_str()),
        ("an API key", key.as_str()),
        ("a wrong API key", bad_key.as_str()),
    ] {
        assert!(!text.contains(secret), "{what} in the log:\n{text}");
    }
    // Nor their longer prefixes (a key logged cut short still gives most of it away).
    assert!(
        !text.contains(&key[..key.len() - 8]),
        "most of an API key in the log"
    );
    Ok(())
});
