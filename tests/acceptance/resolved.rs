//! The 合并后的定义 view of the definitions page: the merged definition (base + county
//! overlay), each line with the `file:line` it is written at and 本县 on what the county
//! writes itself, the same lines `lianban show --resolved` prints. Supervisors and admins
//! of the definition's county only.

use anyhow::Context as _;
use lianban::accounts::Role;
use lianban_tests::db_test;
use lianban_tests::web::TestApp;

/// `text` as the page writes it (minijinja escapes HTML).
fn escaped(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
        .replace('/', "&#x2f;")
}

db_test!(
    the_definitions_page_shows_the_merged_definition_with_origins,
    |db| {
        let app = TestApp::start(&db, "processes").await?;
        let supervisor = app.clerk("qs_boss", "shebao", Role::Supervisor).await?;
        let list = supervisor.get("/definitions").await?;
        assert_eq!(list.status, 200);
        assert!(
            list.text
                .contains("href=\"/definitions/qinshui.retirement/resolved?version="),
            "the definitions page links the merged view"
        );

        let process = app
            .app
            .engine()
            .catalog()
            .latest("qinshui.retirement")
            .context("qinshui")?;
        let page = supervisor
            .get(&format!(
                "/definitions/qinshui.retirement/resolved?version={}",
                process.version
            ))
            .await?;
        assert_eq!(page.status, 200, "{}", page.text);
        assert!(page.text.contains("合并后的定义"));
        let lines = process.resolved_lines();
        assert!(lines.len() > 300, "{}", lines.len());
        let name = lines.iter().find(|l| l.path == "name").context("name")?;
        let calendar = lines
            .iter()
            .find(|l| l.path == "calendar")
            .context("calendar")?;
        for line in [name, calendar] {
            let origin = line.origin.as_deref().context("placed")?;
            let row = format!(
                "<code style=\"white-space: pre-wrap\">{}</code></td><td class=\"muted\">{}",
                escaped(&line.text),
                escaped(origin)
            );
            assert!(page.text.contains(&row), "{row} not in the page");
        }
        assert!(
            name.own
                && name
                    .origin
                    .as_deref()
                    .is_some_and(|o| o.contains("qinshui/"))
        );
        assert!(
            !calendar.own
                && calendar
                    .origin
                    .as_deref()
                    .is_some_and(|o| o.contains("shanxi/"))
        );
        assert!(page.text.contains("<span class=\"badge\">本县</span>"));

        // A clerk sees no definitions; an unknown version is 404.
        let clerk = app.clerk("qs_li", "shebao", Role::Clerk).await?;
        let refused = clerk
            .get("/definitions/qinshui.retirement/resolved")
            .await?;
        assert_eq!(refused.status, 403);
        let missing = supervisor
            .get("/definitions/qinshui.retirement/resolved?version=99")
            .await?;
        assert_eq!(missing.status, 404);
        Ok(())
    }
);
