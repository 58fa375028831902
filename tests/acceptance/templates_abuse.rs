//! Document templates that try to hang or leak: loops nested past any real notice, a
//! `range` asking for a hundred million items, macros and includes recursing without end,
//! reads of values that are not there, and includes reaching outside the templates
//! directory. Each render stops with a clear error (the engine's fuel and recursion limits),
//! none hangs, none prints a file from outside.

use std::path::Path;

use lianban::documents::{RenderError, Templates};
use serde_json::json;

fn templates(files: &[(&str, &str)]) -> (tempfile::TempDir, Templates) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    for (name, text) in files {
        let path = dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("a directory");
        }
        std::fs::write(&path, text).expect("a template");
    }
    let templates = Templates::load(dir.path()).expect("templates load");
    (dir, templates)
}

fn render_error(templates: &Templates, name: &str) -> String {
    let ctx = json!({"case": {"form": {"name": "<script>alert(1)</script>"}}});
    match templates.render(name, &ctx) {
        Ok(text) => panic!("{name} rendered {} bytes", text.len()),
        Err(e @ RenderError::Render { .. }) => e.to_string(),
        Err(other) => panic!("{name}: not a render error: {other}"),
    }
}

#[test]
fn loops_nested_past_any_notice_run_out_of_fuel() {
    let (_dir, t) = templates(&[
        (
            "nested.html.j2",
            "{% for i in range(100000) %}{% for j in range(100000) %}{{ j }}{% endfor %}{% endfor %}",
        ),
        (
            "cycle.txt.j2",
            "{% for x in range(100000) %}{% for y in range(100000) %}{% if x == y %}.{% endif %}{% endfor %}{% endfor %}",
        ),
    ]);
    for name in ["nested.html.j2", "cycle.txt.j2"] {
        let e = render_error(&t, name);
        assert!(e.contains("模板运算步数超过上限"), "{name}: {e}");
        assert!(e.contains(name), "{e}");
    }
}

#[test]
fn a_range_too_large_is_refused_before_it_starts() {
    let (_dir, t) = templates(&[(
        "range.html.j2",
        "{% for i in range(100000000) %}{{ i }}{% endfor %}",
    )]);
    let e = render_error(&t, "range.html.j2");
    assert!(e.contains("range"), "{e}");
}

#[test]
fn recursion_through_macros_and_includes_hits_the_limit() {
    let (_dir, t) = templates(&[
        (
            "macro.html.j2",
            "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
        ),
        ("self.html.j2", "a{% include \"self.html.j2\" %}"),
        ("ping.html.j2", "{% include \"pong.html.j2\" %}"),
        ("pong.html.j2", "{% include \"ping.html.j2\" %}"),
    ]);
    for name in ["macro.html.j2", "self.html.j2", "ping.html.j2"] {
        let e = render_error(&t, name);
        assert!(
            e.contains("recursion") || e.contains("模板运算步数超过上限"),
            "{name}: {e}"
        );
    }
}

#[test]
fn reading_a_value_that_is_not_there_fails_and_names_it() {
    let (_dir, t) = templates(&[
        ("typo.html.j2", "{{ case.from.name }}"),
        ("missing.txt.j2", "{{ nothing_here }}"),
        (
            "loop.txt.j2",
            "{% for x in not_a_list %}{{ x }}{% endfor %}",
        ),
    ]);
    for (name, words) in [
        ("typo.html.j2", "undefined"),
        ("missing.txt.j2", "undefined"),
        ("loop.txt.j2", "undefined"),
    ] {
        let e = render_error(&t, name);
        assert!(e.contains(words), "{name}: {e}");
    }
}

#[test]
fn includes_cannot_reach_outside_the_templates_directory() {
    let outside = tempfile::tempdir().expect("a directory");
    let secret = outside.path().join("secret.html.j2");
    std::fs::write(&secret, "TOP-SECRET").expect("a file");
    let relative = Path::new("..")
        .join(outside.path().file_name().expect("a name"))
        .join("secret.html.j2");
    let (_dir, t) = templates(&[
        ("up.html.j2", "{% include \"../../../../etc/passwd\" %}"),
        (
            "abs.html.j2",
            &format!("{{% include \"{}\" %}}", secret.display()),
        ),
        (
            "rel.html.j2",
            &format!("{{% include \"{}\" %}}", relative.display()),
        ),
    ]);
    for name in ["up.html.j2", "abs.html.j2", "rel.html.j2"] {
        let e = render_error(&t, name);
        assert!(!e.contains("TOP-SECRET") && !e.contains("root:"), "{e}");
        assert!(
            e.contains("not found") || e.contains("不存在"),
            "{name}: {e}"
        );
    }
    // And a name from a definition that climbs out is simply not a template.
    assert!(!t.has("../../etc/passwd"));
    assert!(t.check("../secret.html.j2").is_err());
}

#[test]
fn html_documents_escape_what_applicants_typed() {
    let (_dir, t) = templates(&[("notice.html.j2", "<p>{{ case.form.name }}</p>")]);
    let text = t
        .render(
            "notice.html.j2",
            &json!({"case": {"form": {"name": "<script>alert(1)</script>"}}}),
        )
        .expect("renders");
    assert!(!text.contains("<script>"), "{text}");
    assert!(text.contains("&lt;script&gt;"), "{text}");
}
