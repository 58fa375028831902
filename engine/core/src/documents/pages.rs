//! The web layer's own pages (login, inbox, task, case, definitions): MiniJinja templates under
//! `templates/web/`, built into the binary so the service works whatever templates
//! directory the definitions use. Same settings as documents: strict undefined values,
//! HTML escaping for `*.html.j2`.

use minijinja::Environment;

use super::{RenderError, environment};

/// The built-in page templates, by name (`web/login.html.j2`).
const PAGES: &[(&str, &str)] = &[
    (
        "web/login.html.j2",
        include_str!("../../../../templates/web/login.html.j2"),
    ),
    (
        "web/_layout.html.j2",
        include_str!("../../../../templates/web/_layout.html.j2"),
    ),
    (
        "web/_fields.html.j2",
        include_str!("../../../../templates/web/_fields.html.j2"),
    ),
    (
        "web/_case.html.j2",
        include_str!("../../../../templates/web/_case.html.j2"),
    ),
    (
        "web/inbox.html.j2",
        include_str!("../../../../templates/web/inbox.html.j2"),
    ),
    (
        "web/task.html.j2",
        include_str!("../../../../templates/web/task.html.j2"),
    ),
    (
        "web/case.html.j2",
        include_str!("../../../../templates/web/case.html.j2"),
    ),
    (
        "web/intake.html.j2",
        include_str!("../../../../templates/web/intake.html.j2"),
    ),
    (
        "web/cases.html.j2",
        include_str!("../../../../templates/web/cases.html.j2"),
    ),
    (
        "web/definitions.html.j2",
        include_str!("../../../../templates/web/definitions.html.j2"),
    ),
    (
        "web/push_tables.html.j2",
        include_str!("../../../../templates/web/push_tables.html.j2"),
    ),
    (
        "web/outbox.html.j2",
        include_str!("../../../../templates/web/outbox.html.j2"),
    ),
    (
        "web/overdue.html.j2",
        include_str!("../../../../templates/web/overdue.html.j2"),
    ),
    (
        "web/absences.html.j2",
        include_str!("../../../../templates/web/absences.html.j2"),
    ),
    (
        "web/dashboard.html.j2",
        include_str!("../../../../templates/web/dashboard.html.j2"),
    ),
    (
        "web/resolved.html.j2",
        include_str!("../../../../templates/web/resolved.html.j2"),
    ),
    (
        "web/diagram.html.j2",
        include_str!("../../../../templates/web/diagram.html.j2"),
    ),
    (
        "web/guide.html.j2",
        include_str!("../../../../templates/web/guide.html.j2"),
    ),
];

/// The parsed page templates.
#[derive(Debug)]
pub struct Pages {
    env: Environment<'static>,
}

impl Pages {
    /// Parses the built-in pages.
    ///
    /// # Errors
    /// [`RenderError::Syntax`] when a page does not parse (a build that ships a broken
    /// page fails at start, not at the first request).
    pub fn builtin() -> Result<Pages, RenderError> {
        let mut env = environment();
        for (name, source) in PAGES {
            env.add_template(name, source)
                .map_err(|e| RenderError::Syntax {
                    file: format!("templates/{name}"),
                    line: e.line().unwrap_or(0),
                    column: 0,
                    message: e.detail().unwrap_or_default().to_owned(),
                })?;
        }
        Ok(Pages { env })
    }

    /// Renders a page with a JSON context.
    ///
    /// # Errors
    /// [`RenderError::NotFound`] or [`RenderError::Render`].
    pub fn render_page(&self, name: &str, ctx: &serde_json::Value) -> Result<String, RenderError> {
        let template = self
            .env
            .get_template(name)
            .map_err(|_| RenderError::NotFound {
                name: name.to_owned(),
            })?;
        template
            .render(minijinja::value::Serde(ctx))
            .map_err(|e| RenderError::Render {
                name: name.to_owned(),
                message: e.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_page_renders_and_escapes() {
        let pages = Pages::builtin().expect("pages parse");
        let html = pages
            .render_page(
                "web/login.html.j2",
                &serde_json::json!({"error": null, "csrf": "t0k", "username": "<b>", "next": ""}),
            )
            .expect("render");
        assert!(html.contains("value=\"t0k\""));
        assert!(html.contains("&lt;b&gt;"));
    }
}
