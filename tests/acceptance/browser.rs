//! A real browser (headless Chromium through chromedriver) walks one 企业职工退休 case of
//! processes/yangcheng from intake to 办结 across the four departments' clerks, each logging
//! in and out in the browser: the shebao clerk fills the application (a bad ID number first),
//! ticks materials, starts the case, issues a 一次性补正告知 and takes the supplement, accepts;
//! the veteran's file is incomplete, so the 退役军人信息确认函 goes out and the veterans clerk
//! answers it; a shebao reviewer confirms the retirement; yibao refuses its joint item (with
//! the required reason) and gjj completes its own; shebao delivers 办结 and finds the case
//! in 办件查询; the department head opens the definitions page; last, a clerk records her
//! leave and her substitute completes her claimed task, marked 代办, on her behalf. Every page shot must fit
//! 1366 px without sideways scrolling, and the notices print to A4.
//!
//! Full-page screenshots land in `<repo>/target/screenshots/`; with
//! `LIANBAN_GUIDE_SCREENSHOTS=1` they are also copied to `docs/images/` for the clerk's guide.
//!
//! The test needs `chromium`, `chromedriver` and the Noto CJK fonts; without them it fails
//! (`tests/run` installs them). SQLite only: the pages' database behaviour is covered on
//! both backends by tests/acceptance/pages.rs.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use chrono::{TimeZone as _, Utc};
use fantoccini::wd::{PrintConfiguration, PrintMargins, PrintSize};
use fantoccini::{Client, ClientBuilder, Locator};
use lianban::accounts::Role;
use lianban::scheduler::{Clock as _, ManualClock};
use lianban_tests::web::{TestApp, repo};
use lianban_tests::{Backend, TestDb};
use serde_json::{Value, json};

/// Debian's paths; `LIANBAN_CHROMIUM` and `LIANBAN_CHROMEDRIVER` point elsewhere.
const CHROMIUM: (&str, &str) = ("LIANBAN_CHROMIUM", "/usr/bin/chromium");
const CHROMEDRIVER: (&str, &str) = ("LIANBAN_CHROMEDRIVER", "/usr/bin/chromedriver");
const INSTALL_HINT: &str = "run `tests/run` (it installs them) or \
    `apt-get install -y chromium chromium-driver chromium-l10n fonts-noto-cjk`";
/// How long to wait for the browser to show something before giving up.
const PATIENCE: Duration = Duration::from_secs(20);
const WIDTH: u32 = 1366;
const HEIGHT: u32 = 900;

/// The applicant: retirement.yaml's example 退役军人档案资料缺失 with both joint items.
const ID_NUMBER: &str = "140522196501151012";
const MASKED_ID: &str = "140522********1012";
const BAD_ID: &str = "140522196501151013";

/// chromedriver in its own process group; dropping it ends the group (chromedriver and the
/// Chromium it started), also when the test fails half-way.
struct Driver {
    child: Child,
    port: u16,
    profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The group id is the child's id (process_group(0)); `kill -- -ID` ends exactly it.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tool((env, default): (&str, &str)) -> String {
    std::env::var(env).unwrap_or_else(|_| default.to_owned())
}

fn require_tools() -> anyhow::Result<()> {
    for tool in [tool(CHROMIUM), tool(CHROMEDRIVER)] {
        if !Path::new(&tool).exists() {
            bail!("the browser test needs {tool}, which is missing: {INSTALL_HINT}");
        }
    }
    let fonts = Command::new("fc-list").arg(":lang=zh").output();
    let has_cjk = fonts
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("Noto"))
        .unwrap_or(false);
    if !has_cjk {
        bail!("the browser test needs the Noto CJK fonts (fc-list :lang=zh): {INSTALL_HINT}");
    }
    Ok(())
}

fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

async fn start_driver() -> anyhow::Result<(Driver, Client)> {
    use std::os::unix::process::CommandExt as _;
    require_tools()?;
    let (chromium, chromedriver) = (tool(CHROMIUM), tool(CHROMEDRIVER));
    let port = free_port()?;
    let child = Command::new(&chromedriver)
        .arg(format!("--port={port}"))
        .arg("--allowed-ips=127.0.0.1")
        // Chromium on Linux takes its UI locale (the month picker's words) from LANGUAGE.
        .env("LANGUAGE", "zh_CN:zh")
        .env("LANG", "zh_CN.UTF-8")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .with_context(|| format!("starting {chromedriver}: {INSTALL_HINT}"))?;
    let profile = tempfile::tempdir()?;
    let mut driver = Driver {
        child,
        port,
        profile,
    };
    let profile_dir = driver.profile.path().display().to_string();
    let caps = json!({
        "goog:chromeOptions": {
            "binary": chromium,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                format!("--window-size={WIDTH},{HEIGHT}"),
                format!("--user-data-dir={profile_dir}"),
                "--lang=zh-CN", "--hide-scrollbars", "--force-device-scale-factor=1",
            ],
            "prefs": {"intl": {"accept_languages": "zh-CN,zh"}},
        }
    });
    let caps = match caps {
        Value::Object(map) => map,
        _ => bail!("capabilities are not an object"),
    };
    let url = format!("http://127.0.0.1:{}", driver.port);
    // chromedriver takes a moment to listen; poll until a session is granted.
    let started = Instant::now();
    let client = loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(client) => break client,
            Err(e) if driver.child.try_wait()?.is_some() => {
                bail!("{chromedriver} exited at once ({e}): {INSTALL_HINT}")
            }
            Err(_) if started.elapsed() < PATIENCE => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => bail!("no WebDriver session from {chromedriver} on {url}: {e}"),
        }
    };
    Ok((driver, client))
}

/// One browser walking the app, saving numbered screenshots.
struct Walk {
    c: Client,
    base: String,
    shots: PathBuf,
    guide: Option<PathBuf>,
}

impl Walk {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn goto(&self, path: &str) -> anyhow::Result<()> {
        self.c.goto(&self.url(path)).await?;
        Ok(())
    }

    /// The visible text of the page.
    async fn text(&self) -> anyhow::Result<String> {
        Ok(self.c.find(Locator::Css("body")).await?.text().await?)
    }

    async fn path(&self) -> anyhow::Result<String> {
        Ok(self.c.current_url().await?.path().to_owned())
    }

    /// Polls until the page shows every one of `texts`; returns the page's text.
    async fn expect(&self, texts: &[&str]) -> anyhow::Result<String> {
        let started = Instant::now();
        loop {
            let text = self.text().await.unwrap_or_default();
            if texts.iter().all(|t| text.contains(t)) {
                return Ok(text);
            }
            if started.elapsed() > PATIENCE {
                let missing: Vec<&&str> = texts.iter().filter(|t| !text.contains(**t)).collect();
                bail!(
                    "page {} does not show {missing:?}; it shows:\n{text}",
                    self.c.current_url().await?
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Marks the page, clicks `button` and waits until another page has loaded: clicks
    /// that submit forms must not race the next assertion against the old page.
    async fn submit(&self, button: Locator<'_>) -> anyhow::Result<()> {
        self.c
            .execute("document.documentElement.dataset.walked = '1';", vec![])
            .await?;
        self.c
            .find(button)
            .await
            .with_context(|| format!("no {button:?} on this page"))?
            .click()
            .await?;
        let started = Instant::now();
        loop {
            let state = self
                .c
                .execute(
                    "return [document.readyState, document.documentElement.dataset.walked || ''];",
                    vec![],
                )
                .await;
            if let Ok(Value::Array(v)) = state
                && v.first() == Some(&json!("complete"))
                && v.get(1) == Some(&json!(""))
            {
                return Ok(());
            }
            if started.elapsed() > PATIENCE {
                bail!("clicking {button:?} led to no new page");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn fill(&self, id: &str, value: &str) -> anyhow::Result<()> {
        let field = self
            .c
            .find(Locator::XPath(&format!("//*[@id='{id}']")))
            .await
            .with_context(|| format!("no field #{id}"))?;
        field.clear().await?;
        field.send_keys(value).await?;
        Ok(())
    }

    async fn fill_named(&self, name: &str, value: &str) -> anyhow::Result<()> {
        let field = self
            .c
            .find(Locator::Css(&format!("input[name='{name}']")))
            .await
            .with_context(|| format!("no input {name}"))?;
        field.clear().await?;
        field.send_keys(value).await?;
        Ok(())
    }

    async fn choose(&self, id: &str, value: &str) -> anyhow::Result<()> {
        self.c
            .find(Locator::XPath(&format!("//*[@id='{id}']")))
            .await
            .with_context(|| format!("no field #{id}"))?
            .select_by_value(value)
            .await?;
        Ok(())
    }

    /// `<input type=month>` takes locale-dependent keystrokes; set it as the picker would.
    async fn month(&self, id: &str, value: &str) -> anyhow::Result<()> {
        let field = self
            .c
            .find(Locator::XPath(&format!("//*[@id='{id}']")))
            .await?;
        let arg = serde_json::to_value(&field)?;
        self.c
            .execute(
                "arguments[0].value = arguments[1]; \
                 arguments[0].dispatchEvent(new Event('change', {bubbles: true}));",
                vec![arg, json!(value)],
            )
            .await?;
        Ok(())
    }

    async fn tick(&self, css: &str) -> anyhow::Result<()> {
        self.materials_settled().await?;
        let b = self
            .c
            .find(Locator::Css(css))
            .await
            .with_context(|| format!("no {css}"))?;
        if !b.is_selected().await? {
            b.click().await?;
        }
        Ok(())
    }

    /// Waits until the intake page's live checklist is not being refreshed (intake.js marks
    /// it `aria-busy` from the keystroke that schedules a refresh until the answer is in):
    /// a box found before the list is replaced is gone when it is clicked.
    async fn materials_settled(&self) -> anyhow::Result<()> {
        let started = Instant::now();
        loop {
            let busy = self
                .c
                .execute(
                    "var l = document.getElementById('materials'); \
                     return !!l && l.getAttribute('aria-busy') === 'true';",
                    vec![],
                )
                .await?;
            if busy != json!(true) {
                return Ok(());
            }
            if started.elapsed() > PATIENCE {
                bail!("the materials checklist stayed busy");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A full-page PNG: the window grows to the page's height (plus what the window
    /// itself takes) for the shot. Every page shot must fit the window's width.
    async fn shot(&self, name: &str) -> anyhow::Result<()> {
        if self.scrolls_sideways().await? {
            bail!("{name}: the page is wider than {WIDTH} px");
        }
        let height = self
            .c
            .execute(
                "return Math.ceil(document.documentElement.scrollHeight \
                   + window.outerHeight - window.innerHeight);",
                vec![],
            )
            .await?
            .as_u64()
            .unwrap_or(u64::from(HEIGHT));
        let height = u32::try_from(height).unwrap_or(HEIGHT).clamp(HEIGHT, 9000);
        self.c.set_window_size(WIDTH, height).await?;
        let png = self.c.screenshot().await?;
        self.c.set_window_size(WIDTH, HEIGHT).await?;
        let file = format!("{name}.png");
        std::fs::write(self.shots.join(&file), &png)?;
        if let Some(guide) = &self.guide {
            std::fs::write(guide.join(&file), &png)?;
        }
        Ok(())
    }

    /// Prints the page as the browser would on A4 paper (backgrounds off, the page's own
    /// margins), saves the PDF beside the screenshots and returns its number of pages.
    async fn print_a4(&self, name: &str) -> anyhow::Result<usize> {
        let config = PrintConfiguration::builder()
            .size(PrintSize::A4)
            .margins(PrintMargins {
                top: 0.0,
                bottom: 0.0,
                left: 0.0,
                right: 0.0,
            })
            .background(false)
            .build()
            .map_err(|e| anyhow::anyhow!("print settings: {e}"))?;
        let pdf = self.c.print(config).await?;
        std::fs::write(self.shots.join(format!("{name}.pdf")), &pdf)?;
        // The page tree's `/Count` (Chromium writes it uncompressed) is the number of pages.
        let text = String::from_utf8_lossy(&pdf);
        let count = text
            .split("/Count ")
            .nth(1)
            .map(|rest| {
                rest.chars()
                    .take_while(char::is_ascii_digit)
                    .collect::<String>()
            })
            .context("the PDF has no page count")?;
        Ok(count.parse()?)
    }

    /// Puts a long unbroken value (as rule results and file names can be) into the first
    /// element matching `css` and tells whether the page then fits the window. The page is
    /// loaded again afterwards, so nothing of it stays.
    async fn fits_long_value(&self, css: &str) -> anyhow::Result<bool> {
        let element = self
            .c
            .find(Locator::Css(css))
            .await
            .with_context(|| format!("no {css}"))?;
        self.c
            .execute(
                "arguments[0].textContent = arguments[1];",
                vec![serde_json::to_value(&element)?, json!("x".repeat(400))],
            )
            .await?;
        let fits = !self.scrolls_sideways().await?;
        self.c.refresh().await?;
        Ok(fits)
    }

    /// Whether the page is wider than the window (a horizontal scroll bar).
    async fn scrolls_sideways(&self) -> anyhow::Result<bool> {
        let wide = self
            .c
            .execute(
                "return document.documentElement.scrollWidth > window.innerWidth;",
                vec![],
            )
            .await?;
        Ok(wide == json!(true))
    }

    async fn login(&self, username: &str, password: &str) -> anyhow::Result<()> {
        self.goto("/login").await?;
        self.sign_in(username, password).await
    }

    /// Fills the login page the browser is on and waits for the page it leads to.
    async fn sign_in(&self, username: &str, password: &str) -> anyhow::Result<()> {
        self.expect(&["工作人员登录", "用户名", "密码"]).await?;
        self.fill("username", username).await?;
        self.fill("password", password).await?;
        self.submit(Locator::Css("button[type=submit]")).await?;
        self.expect(&["收件箱", "退出"]).await?;
        Ok(())
    }

    async fn logout(&self) -> anyhow::Result<()> {
        self.submit(Locator::XPath("//header//button[normalize-space()='退出']"))
            .await?;
        self.expect(&["工作人员登录"]).await?;
        Ok(())
    }

    /// From the inbox: claims the task at `step_name` of the case and opens its page.
    async fn claim_from_inbox(&self, step_name: &str) -> anyhow::Result<String> {
        self.goto("/inbox").await?;
        self.expect(&[step_name, "待认领"]).await?;
        let row = format!("//tr[td[normalize-space()='{step_name}']][td/a[contains(., ' 张三 ')]]");
        self.submit(Locator::XPath(&format!(
            "{row}//button[normalize-space()='认领']"
        )))
        .await?;
        self.expect(&["已认领"]).await?;
        self.submit(Locator::XPath(&format!(
            "{row}//a[normalize-space()='办理']"
        )))
        .await?;
        let page = self.expect(&["办理", step_name]).await?;
        if self.scrolls_sideways().await? {
            bail!("the task page of {step_name} is wider than {WIDTH} px");
        }
        Ok(page)
    }

    /// Follows the first link whose text contains `text`.
    async fn follow(&self, text: &str) -> anyhow::Result<()> {
        self.submit(Locator::XPath(&format!("//main//a[contains(., '{text}')]")))
            .await
    }

    /// Whether the element `id` is in sight.
    async fn displayed(&self, id: &str) -> anyhow::Result<bool> {
        Ok(self
            .c
            .find(Locator::Id(id))
            .await
            .with_context(|| format!("no #{id}"))?
            .is_displayed()
            .await?)
    }

    /// Polls until the element `id` is in sight (a field that came to apply).
    async fn appears(&self, id: &str) -> anyhow::Result<()> {
        let started = Instant::now();
        while !self.displayed(id).await? {
            if started.elapsed() > PATIENCE {
                bail!("#{id} did not appear");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    async fn outcome(&self, key: &str) -> anyhow::Result<()> {
        self.submit(Locator::Css(&format!(
            "button[name=outcome][value='{key}']"
        )))
        .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_case_from_intake_to_completion_in_a_real_browser() -> anyhow::Result<()> {
    lianban_tests::run(Backend::Sqlite, walk).await
}

async fn walk(db: TestDb) -> anyhow::Result<()> {
    let shots = repo().join("target").join("screenshots");
    std::fs::create_dir_all(&shots)?;
    let guide = match std::env::var("LIANBAN_GUIDE_SCREENSHOTS").as_deref() {
        Ok("1") => {
            let dir = repo().join("docs").join("images");
            std::fs::create_dir_all(&dir)?;
            Some(dir)
        }
        _ => None,
    };
    let (driver, client) = start_driver().await?;

    // A working Tuesday morning in Yangcheng (09:05 Beijing time), so deadlines are stable.
    let start = Utc
        .with_ymd_and_hms(2026, 12, 1, 1, 5, 0)
        .single()
        .context("a valid start time")?;
    let clock = Arc::new(ManualClock::new(start));
    let app = TestApp::start_with_clock(&db, "processes/yangcheng", clock.clone(), |_| {}).await?;
    let shebao = app.add_user("shebao_li", "shebao", Role::Clerk).await?;
    let reviewer = app.add_user("shebao_zhao", "shebao", Role::Clerk).await?;
    let yibao = app.add_user("yibao_wang", "yibao", Role::Clerk).await?;
    let gjj = app.add_user("gjj_chen", "gjj", Role::Clerk).await?;
    let veterans = app
        .add_user("veterans_liu", "veterans", Role::Clerk)
        .await?;
    let head = app
        .add_user("shebao_sun", "shebao", Role::Supervisor)
        .await?;

    // Two earlier applications wait at 受理 in the shebao inbox: one overdue, one due today.
    let earlier = app.login("shebao_li", &shebao).await?;
    for (at, form) in [
        (
            Utc.with_ymd_and_hms(2026, 11, 26, 2, 0, 0),
            other_applicant("李梅", "140522197004150427", "女", "1970-04"),
        ),
        (
            Utc.with_ymd_and_hms(2026, 11, 30, 8, 0, 0),
            // Not insured in the county: 受理 is blocked below, and refused in writing.
            {
                let mut form = other_applicant("王强", "140522196504150314", "男", "1965-04");
                form["insured_in_county"] = json!(false);
                form
            },
        ),
    ] {
        clock.set(at.single().context("a valid time")?);
        earlier
            .start(&json!({"process": "yangcheng.retirement", "form": form}))
            .await?
            .ok()?;
    }
    clock.set(start);

    let w = Walk {
        c: client.clone(),
        base: app.base.clone(),
        shots,
        guide,
    };
    let result = steps(
        &w,
        &clock,
        &[&shebao, &reviewer, &yibao, &gjj, &veterans, &head],
    )
    .await;
    let closed = client.close().await;
    drop(driver);
    result?;
    closed?;
    Ok(())
}

/// A plain application (no veteran, no joint items) from retirement.tests.yaml's examples;
/// a woman's 岗位 of 其他 is taken as 管理 (the clerk's choice the form asks for).
fn other_applicant(name: &str, id_number: &str, gender: &str, birth: &str) -> Value {
    let mut form = json!({
        "name": name, "gender": gender, "id_number": id_number, "birth": birth,
        "post": "其他", "employer": "阳城县某煤业有限公司", "address": "阳城县凤城镇",
        "phone": "13935600000", "veteran": false, "item": "企业职工正常退休信息确认、待遇计发",
        "delivery": "现场自取", "retirement_type": "正常退休",
    });
    if gender == "女" {
        form["other_post_as"] = json!("管理（干部）岗位");
    }
    form
}

async fn steps(w: &Walk, clock: &ManualClock, pw: &[&String]) -> anyhow::Result<()> {
    let [shebao, reviewer, yibao, gjj, veterans, head] = pw else {
        bail!("six passwords expected");
    };
    let later = |minutes: i64| clock.advance(chrono::Duration::minutes(minutes));

    // 1. Login page, then the shebao window clerk's empty inbox.
    w.goto("/inbox").await?;
    w.expect(&["联办 · 工作人员登录"]).await?;
    assert!(w.path().await?.starts_with("/login"));
    w.shot("01-login").await?;
    w.login("shebao_li", shebao).await?;
    let first = w
        .expect(&["李梅", "王强", "已超期", "今天到期（预警）"])
        .await?;
    assert!(!first.contains("张三"), "{first}");

    // 2. Intake: choose the process, see the checklist follow the form.
    w.submit(Locator::LinkText("新建申请")).await?;
    w.expect(&["请选择要受理的事项"]).await?;
    w.follow("企业职工退休").await?;
    let blank = w
        .expect(&["申请表", "应交材料（一次性告知）", "更新申请表和材料清单"])
        .await?;
    assert!(!blank.contains("晋城市住房公积金汇缴变更清册"), "{blank}");
    // Fields that do not apply yet are out of sight: no 军人档案 before 退役军人身份 is 是,
    // no 银行卡 before the 公积金 item is asked for, no 特殊工种 for a normal retirement.
    for id in [
        "f-form.veteran_archive",
        "f-form.bank_card",
        "f-form.special_job_kind",
        "f-form.medical_months",
    ] {
        assert!(!w.displayed(id).await?, "{id} shown on the blank form");
    }
    assert!(!blank.contains("军人档案保管处"), "{blank}");
    w.fill("f-form.name", "张三").await?;
    w.choose("f-form.gender", "男").await?;
    w.fill("f-form.employer", "阳城县某煤业有限公司").await?;
    w.fill("f-form.id_number", BAD_ID).await?;
    w.month("f-form.birth", "1965-01").await?;
    w.fill("f-form.address", "阳城县凤城镇凤凰西街12号").await?;
    w.choose("f-form.post", "生产").await?;
    w.fill("f-form.phone", "13800000000").await?;
    w.fill("f-form.community", "凤城镇东关社区").await?;
    w.choose("f-form.veteran", "true").await?;
    // They appear as the answers call for them (intake.js asks the server, which decides
    // with the definition's `when:`).
    w.appears("f-form.veteran_archive").await?;
    w.shot("02a-intake-fields-appear").await?;
    w.fill("f-form.veteran_archive", "阳城县人武部").await?;
    w.choose("f-form.veteran_placed", "true").await?;
    w.choose("f-form.veteran_archive_complete", "false").await?;
    w.choose("f-form.item", "企业职工正常退休信息确认、待遇计发")
        .await?;
    w.choose("f-form.joint_medical", "true").await?;
    w.choose("f-form.joint_fund", "true").await?;
    w.appears("f-form.bank_card").await?;
    w.fill("f-form.bank_card", "6228480048081234568").await?;
    // The push table's 参加工作时间, required once a joint item is asked for.
    w.month("f-form.work_start", "1983-07").await?;
    w.choose("f-form.delivery", "现场自取").await?;
    w.choose("f-form.retirement_type", "正常退休").await?;
    // The 公积金 item asks for one more paper; the list follows what was typed, without
    // pressing 更新材料清单 (static/intake.js posts the form and swaps the checklist).
    w.expect(&["晋城市住房公积金汇缴变更清册", "职工正常退休信息确认花名表"])
        .await?;
    for m in [
        "application",
        "id_card",
        "personnel_file",
        "bank_card",
        "confirmation_form",
        "roster",
        "publicity_form",
        "fund_change_list",
    ] {
        w.tick(&format!("input[name=materials][value={m}]")).await?;
    }
    // (1寸彩色照片 not handed in yet: it comes with the 补正 below.)
    w.submit(Locator::Css("button[value=start]")).await?;
    let invalid = w.expect(&["申请表有需要更正的地方", "未开始办理"]).await?;
    assert!(w.path().await?.starts_with("/intake"));
    let error = w
        .c
        .find(Locator::XPath(
            "//div[contains(@class,'field') and contains(@class,'invalid')][.//input[@id='f-form.id_number']]/div[@class='error']",
        ))
        .await
        .context("the ID number's error is not next to the field")?
        .text()
        .await?;
    assert!(error.contains("校验"), "{error} / {invalid}");
    // What was typed and ticked stays.
    let kept =
        w.c.find(Locator::XPath("//*[@id='f-form.name']"))
            .await?
            .prop("value")
            .await?;
    assert_eq!(kept.as_deref(), Some("张三"));
    assert!(
        w.c.find(Locator::Css("input[name=materials][value=roster]"))
            .await?
            .is_selected()
            .await?
    );
    w.shot("02-intake-field-error").await?;
    w.fill("f-form.id_number", ID_NUMBER).await?;
    w.submit(Locator::Css("button[value=start]")).await?;
    let case_page = w.expect(&["办理中", "受理", "打印"]).await?;
    let path = w.path().await?;
    let case = path
        .strip_prefix("/cases/")
        .with_context(|| format!("not on a case page: {path}"))?
        .to_owned();
    // The title (as in lists) is masked and led by the case's number; the case page itself
    // shows the application in full.
    // (李梅 and 王强 were started before: 张三's is the year's third.)
    let number = format!(
        "阳城退休〔{}〕0003",
        lianban::case_number::CaseNumber::year_of(clock.now())
    );
    assert!(
        case_page.contains(&format!("{number} 张三 {MASKED_ID}")),
        "{case_page}"
    );
    assert!(case_page.contains("✘ 未收") && case_page.contains("1寸彩色照片"));
    w.shot("03-case-started").await?;

    // The application form and the 一次性告知单, printed from the case.
    w.goto(&format!("/cases/{case}/preview/application_form"))
        .await?;
    let form_paper = w.expect(&["申请表", "张三", "1965年1月"]).await?;
    assert!(
        form_paper.contains(&format!("办件编号：{number}")) && !form_paper.contains(&case),
        "the form shows the number, not the UUID: {form_paper}"
    );
    w.shot("04-application-form").await?;
    // The declaration fits its cell on A4.
    w.print_a4("04-application-form").await?;
    w.goto(&format!("/cases/{case}/preview/notice")).await?;
    let notice = w
        .expect(&["一次性告知单", "1寸彩色照片，2张", "流程图"])
        .await?;
    assert!(
        !notice.contains("附件"),
        "no 附件N on an issued paper: {notice}"
    );
    w.shot("05-notice").await?;
    let pages = w.print_a4("05-notice").await?;
    // For the applicant to take home: the notice on one sheet of A4, the process map (the
    // policy's 附件3) on the next.
    assert_eq!(pages, 2, "the 一次性告知单 printed to {pages} A4 pages");

    // 3. Inbox: the 受理 task; claim it; the papers are short, so 一次性告知补正.
    later(10);
    w.goto("/inbox").await?;
    let inbox = w.expect(&["张三", "受理", "待认领"]).await?;
    assert!(
        inbox.contains(MASKED_ID) && !inbox.contains(ID_NUMBER),
        "{inbox}"
    );
    w.shot("06-inbox").await?;
    let task = w.claim_from_inbox("受理").await?;
    assert!(
        task.contains("1寸彩色照片") && task.contains("放弃认领"),
        "{task}"
    );
    w.shot("07-task").await?;
    // A long web address wraps on every page (each shot checks the width).
    w.fill(
        "f-data.accept_remark",
        "缺1寸彩色照片2张。照片可交到窗口，也可在网上上传：https://yangcheng.example.cn/\
         zwfw/retirement/supplement/upload?case=20261201_0001&materials=photos_1inch_color_2\
         &window=shebao_4&lang=zh_CN",
    )
    .await?;
    w.outcome("supplement").await?;
    w.expect(&["等待补正材料", "一次性补正材料告知书"]).await?;
    w.follow("一次性补正材料告知书").await?;
    w.expect(&["一次性补正材料告知书", "1寸彩色照片"]).await?;
    w.shot("08-supplement-notice").await?;

    // The applicant brings the photos the next day; yesterday's session has ended, and
    // after logging in again the browser returns to the case.
    later(60 * 24);
    w.goto(&format!("/cases/{case}")).await?;
    assert!(w.path().await?.starts_with("/login"));
    w.sign_in("shebao_li", shebao).await?;
    assert_eq!(w.path().await?, format!("/cases/{case}"));
    w.expect(&["等待事项", "补正材料已收齐 → 受理"]).await?;
    w.shot("09-case-waiting").await?;
    w.tick("input[name=materials][value=photos]").await?;
    w.submit(Locator::XPath(
        "//button[normalize-space()='补正材料已收齐 → 受理']",
    ))
    .await?;
    let resumed = w.expect(&["✔ 已收", "受理"]).await?;
    assert!(!resumed.contains("✘ 未收"), "{resumed}");

    later(5);
    w.claim_from_inbox("受理").await?;
    w.outcome("accept").await?;
    // The veteran's file is incomplete: the letter step opens.
    w.expect(&["发退役军人信息确认函"]).await?;

    // 4. The 退役军人信息确认函.
    later(20);
    w.claim_from_inbox("发退役军人信息确认函").await?;
    w.tick("input[name='data.veteran_confirm_items'][value='部队服役']")
        .await?;
    w.tick("input[name='data.veteran_confirm_items'][value='安置就业']")
        .await?;
    // The button says what it does; the bureau's task opens with the letter, and nobody at
    // 社保 presses anything more.
    assert!(
        w.text().await?.contains("出具确认函，转退役军人事务局复函"),
        "the letter's button"
    );
    w.outcome("sent").await?;
    let sent = w
        .expect(&["退役军人信息确认（复函）", "退役军人信息确认函（申请）"])
        .await?;
    assert!(!sent.contains("已收到答复"), "{sent}");
    w.follow("退役军人信息确认函（申请）").await?;
    w.expect(&["退役军人信息确认函", "部队服役"]).await?;
    w.shot("10-veteran-letter").await?;
    w.goto("/inbox").await?;
    w.logout().await?;

    // 5. The veterans bureau answers (复函).
    later(30);
    w.login("veterans_liu", veterans).await?;
    let bureau = w.claim_from_inbox("退役军人信息确认（复函）").await?;
    assert!(bureau.contains("出具复函，转社保退休审核"), "{bureau}");
    w.month("f-data.veteran_birth", "1965-01").await?;
    w.month("f-data.veteran_enlisted", "1983-10").await?;
    w.month("f-data.veteran_discharged", "1987-12").await?;
    w.fill("f-data.veteran_placement", "由政府安排到阳城县煤炭运销公司")
        .await?;
    w.shot("10a-veteran-reply-task").await?;
    w.outcome("confirmed").await?;
    w.expect(&["退役军人信息确认函（复函）", "退休信息确认、待遇计发"])
        .await?;
    w.logout().await?;

    // 6. A shebao reviewer confirms the retirement.
    later(60);
    w.login("shebao_zhao", reviewer).await?;
    w.claim_from_inbox("退休信息确认、待遇计发").await?;
    w.month("f-data.retirement_date", "2025-02").await?;
    w.fill("f-data.pension_monthly", "3300").await?;
    w.outcome("confirm").await?;
    w.expect(&["企业职工医疗缴费年限认定", "企业退休职工提取住房公积金"])
        .await?;
    w.logout().await?;

    // 7. Yibao refuses its item; the reason is required.
    later(60);
    w.login("yibao_wang", yibao).await?;
    w.claim_from_inbox("企业职工医疗缴费年限认定").await?;
    w.outcome("refuse").await?;
    let refused = w.expect(&["理由"]).await?;
    let reason_error =
        w.c.find(Locator::XPath(
            "//div[contains(@class,'invalid')][.//textarea[@id='reason']]/div[@class='error']",
        ))
        .await
        .with_context(|| format!("no error at the reason: {refused}"))?
        .text()
        .await?;
    assert!(!reason_error.is_empty());
    w.shot("11-reason-required").await?;
    w.fill("reason", "医保缴费记录不全，请先到医保中心补齐缴费记录")
        .await?;
    w.outcome("refuse").await?;
    w.expect(&["不予办理（书面说明理由）"]).await?;
    w.logout().await?;

    // 8. Gjj pays out the housing fund.
    later(30);
    w.login("gjj_chen", gjj).await?;
    w.claim_from_inbox("企业退休职工提取住房公积金").await?;
    w.fill("f-data.fund_amount", "52000").await?;
    w.outcome("done").await?;
    w.expect(&["提取完成", "办结送达"]).await?;
    w.logout().await?;

    // 9. Shebao delivers: 办结.
    later(30);
    w.login("shebao_li", shebao).await?;
    w.claim_from_inbox("办结送达").await?;
    // Handed over at the window: no 邮寄单号 to fill in.
    assert!(
        !w.displayed("f-data.mail_tracking").await?,
        "邮寄单号 shown"
    );
    w.outcome("delivered").await?;
    let done = w.expect(&["已办结", "办结通知书", "办理经过"]).await?;
    assert!(done.contains(&format!("张三 {MASKED_ID}")), "{done}");
    for text in [
        "一次性补正材料告知书",
        "退役军人信息确认函（申请）",
        "退役军人信息确认函（复函）",
        "不予办理（书面说明理由）",
        "企业职工医疗缴费年限认定不予办理通知书",
        "提取完成",
        "办结并送达",
    ] {
        assert!(done.contains(text), "case page lacks {text}: {done}");
    }
    // The 医保 refusal is a written notice of its own, numbered, signed by the 医疗保障局.
    w.follow("企业职工医疗缴费年限认定不予办理通知书").await?;
    let refusal = w
        .expect(&[
            "医保缴费记录不全，请先到医保中心补齐缴费记录",
            "阳城县医疗保障局",
            &number,
        ])
        .await?;
    assert!(refusal.contains("阳医不办〔"), "{refusal}");
    w.shot("12-refusal-notice").await?;
    w.print_a4("12-refusal-notice").await?;
    w.goto(&format!("/cases/{case}")).await?;
    w.shot("12-case-done").await?;
    assert!(
        w.fits_long_value("dl.facts dd").await?,
        "a long value widens the case page"
    );
    w.print_a4("12-case-done").await?;
    w.follow("企业职工退休“一件事一次办”办结通知书").await?;
    let completion = w
        .expect(&[
            "办结通知书",
            "张三",
            "医保缴费记录不全，请先到医保中心补齐缴费记录",
            "阳城县社会保险服务中心",
        ])
        .await?;
    assert!(
        completion.contains(&number) && completion.contains("阳医不办〔"),
        "{completion}"
    );
    w.shot("13-completion-notice").await?;
    assert!(
        w.fits_long_value("p").await?,
        "a long value widens the 办结通知书"
    );
    w.print_a4("13-completion-notice").await?;
    // 办件查询 finds it by the full ID number.
    w.goto("/inbox").await?;
    w.submit(Locator::XPath("//header//a[normalize-space()='办件查询']"))
        .await?;
    w.fill_named("q", ID_NUMBER).await?;
    w.submit(Locator::XPath("//button[normalize-space()='查询']"))
        .await?;
    let found = w.expect(&["张三", "已办结：办结"]).await?;
    assert!(
        found.contains(MASKED_ID) && !found.contains("李梅"),
        "{found}"
    );
    w.shot("14-case-search").await?;

    // 王强 is not insured in the county: 受理 is disabled with the reason, which starts the
    // 不予受理 reason; the refusal ends his case.
    w.goto("/inbox").await?;
    let wang = "//tr[td[normalize-space()='受理']][td/a[contains(., ' 王强 ')]]";
    w.submit(Locator::XPath(&format!(
        "{wang}//button[normalize-space()='认领']"
    )))
    .await?;
    w.submit(Locator::XPath(&format!(
        "{wang}//a[normalize-space()='办理']"
    )))
    .await?;
    w.expect(&["暂不能“受理”", "未参加阳城县企业职工基本养老保险"])
        .await?;
    let accept =
        w.c.find(Locator::Css("button[name=outcome][value='accept']"))
            .await?;
    assert!(!accept.is_enabled().await?, "受理 is disabled");
    let reason =
        w.c.find(Locator::Id("reason"))
            .await?
            .prop("value")
            .await?
            .unwrap_or_default();
    assert!(
        reason.starts_with("不符合受理条件：未参加阳城县"),
        "{reason}"
    );
    w.shot("18-acceptance-blocked").await?;
    w.outcome("reject").await?;
    w.expect(&["不予受理", "未参加阳城县企业职工基本养老保险"])
        .await?;
    w.goto("/inbox").await?;
    let last = w.expect(&["李梅"]).await?;
    assert!(!last.contains("张三") && !last.contains("王强"), "{last}");
    w.logout().await?;

    // 10. The department head looks at the loaded definition (本地设置 and all).
    w.login("shebao_sun", head).await?;
    w.submit(Locator::XPath("//header//a[normalize-space()='流程定义']"))
        .await?;
    w.expect(&["阳城县企业职工退休", "本地设置", "一次性补正材料告知书"])
        .await?;
    w.shot("15-definitions").await?;
    w.logout().await?;

    // 11. 请假与代办: shebao_li holds 李梅's 受理 and goes on leave from today; her colleague
    // shebao_zhao finds it in his inbox marked 代办 and completes it on her behalf.
    later(30);
    w.login("shebao_li", shebao).await?;
    let limei = "//tr[td[normalize-space()='受理']][td/a[contains(., ' 李梅 ')]]";
    w.submit(Locator::XPath(&format!(
        "{limei}//button[normalize-space()='认领']"
    )))
    .await?;
    w.submit(Locator::XPath(
        "//header//a[normalize-space()='请假与代办']",
    ))
    .await?;
    let today = clock
        .now()
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).context("UTC+8")?)
        .date_naive();
    w.choose("absence-substitute", "shebao_zhao").await?;
    w.month("absence-from", &today.to_string()).await?;
    w.month("absence-to", &(today + chrono::Days::new(2)).to_string())
        .await?;
    w.submit(Locator::XPath("//button[normalize-space()='登记']"))
        .await?;
    w.expect(&["请假中", "shebao_zhao（测试）", "销假"]).await?;
    w.shot("16-absence").await?;
    w.logout().await?;
    later(10);
    w.login("shebao_zhao", reviewer).await?;
    w.expect(&["您正在代办 shebao_li（测试）", "代办", "李梅"])
        .await?;
    w.shot("17-inbox-on-behalf").await?;
    w.submit(Locator::XPath(&format!(
        "{limei}//a[normalize-space()='办理']"
    )))
    .await?;
    w.expect(&["代为办理", "受理"]).await?;
    w.outcome("accept").await?;
    let done = w.expect(&["办理经过"]).await?;
    assert!(
        done.contains("shebao_zhao（测试）（代shebao_li（测试））"),
        "{done}"
    );
    w.logout().await?;
    Ok(())
}
