//! Drawing a [`Layout`] as a self-contained SVG: no scripts, no external references, every
//! text escaped, presentation attributes rather than `style` (pages may forbid inline CSS).

use std::collections::HashMap;
use std::fmt::Write;

use super::layout::{BoxGeom, EdgeGeom, Layout, Shape};
use super::text::{LABEL_FONT, NAME_FONT, NOTE_FONT, escape};
use crate::definition::StepId;

const FONTS: &str = "'Noto Sans CJK SC', 'Source Han Sans SC', 'Microsoft YaHei', sans-serif";

/// Where a case stands at a step, for a case map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mark {
    /// The case passed the step.
    Done,
    /// The case is at the step now.
    Current,
    /// The case went another way past the step (or ended without it).
    Skipped,
}

impl Mark {
    fn word(&self) -> &'static str {
        match self {
            Mark::Done => "已办",
            Mark::Current => "当前",
            Mark::Skipped => "未经过",
        }
    }
}

/// A case's marks on the map: per step, and the edges the case took.
#[derive(Debug, Clone, Default)]
pub struct Marks {
    /// Step marks; a step without one is not reached (yet).
    pub steps: HashMap<StepId, Mark>,
    /// Edges the case took, as (from, to).
    pub taken: Vec<(StepId, StepId)>,
    /// The labels of the outcomes chosen at task steps, as (from, label): an edge leaving a
    /// task step counts as taken only with one of them (认定完成 and 不予办理 may both lead
    /// to the same join).
    pub outcomes: Vec<(StepId, String)>,
}

fn fmt(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r.fract() == 0.0 {
        format!("{}", r as i64)
    } else {
        format!("{r:.1}")
    }
}

fn path_d(points: &[(f64, f64)]) -> String {
    let mut d = String::new();
    for (i, (x, y)) in points.iter().enumerate() {
        let _ = write!(
            d,
            "{}{} {} ",
            if i == 0 { "M" } else { "L" },
            fmt(*x),
            fmt(*y)
        );
    }
    d.trim_end().to_owned()
}

/// Renders `layout` with `title` (in `<title>` and as a heading); `marks` turns it into a
/// case map.
///
/// `key` makes the marker ids unique when several maps are inlined in one page (it is
/// reduced to ASCII letters, digits and `-`).
pub(super) fn render(layout: &Layout, title: &str, key: &str, marks: Option<&Marks>) -> String {
    let key: String = key
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let mut s = String::new();
    let w = fmt(layout.width);
    let h = fmt(layout.height);
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" \
         font-family=\"{FONTS}\" role=\"img\" aria-label=\"{t}\" class=\"flow-map\">\n<title>{t}</title>\n",
        t = escape(title)
    );
    let _ = writeln!(
        s,
        "<defs><marker id=\"arrow-{key}\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\">\
         <path d=\"M0 0 L10 5 L0 10 z\" fill=\"#444\"/></marker>\
         <marker id=\"arrow-taken-{key}\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\">\
         <path d=\"M0 0 L10 5 L0 10 z\" fill=\"#1b7f3b\"/></marker></defs>",
    );
    let _ = writeln!(
        s,
        "<rect x=\"0\" y=\"0\" width=\"{w}\" height=\"{h}\" fill=\"#ffffff\"/>"
    );
    // Lanes.
    for (i, lane) in layout.lanes.iter().enumerate() {
        let r = lane.rect;
        let fill = if i % 2 == 0 { "#f7f9fc" } else { "#eef2f7" };
        let _ = writeln!(
            s,
            "<g class=\"lane\"><rect x=\"{}\" y=\"0\" width=\"{}\" height=\"{h}\" fill=\"{fill}\" stroke=\"#b8c2cf\" stroke-width=\"1\"/>\
             <rect x=\"{}\" y=\"0\" width=\"{}\" height=\"40\" fill=\"#dde5ef\" stroke=\"#b8c2cf\" stroke-width=\"1\"/>",
            fmt(r.x),
            fmt(r.w),
            fmt(r.x),
            fmt(r.w)
        );
        let lines = super::text::wrap(&lane.name, r.w - 10.0, NAME_FONT);
        let first = if lines.len() > 1 { 17.0 } else { 25.0 };
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" font-size=\"{}\" font-weight=\"bold\" text-anchor=\"middle\" fill=\"#1f2d3d\">",
            fmt(r.x + r.w / 2.0),
            fmt(first),
            fmt(NAME_FONT)
        );
        for (k, line) in lines.iter().take(2).enumerate() {
            let _ = write!(
                s,
                "<tspan x=\"{}\" dy=\"{}\">{}</tspan>",
                fmt(r.x + r.w / 2.0),
                if k == 0 {
                    "0".to_owned()
                } else {
                    fmt(NAME_FONT + 2.0)
                },
                escape(line)
            );
        }
        s.push_str("</text></g>\n");
    }
    // Start marker.
    let (sx, sy) = layout.start;
    let _ = writeln!(
        s,
        "<g class=\"start\"><circle cx=\"{}\" cy=\"{}\" r=\"7\" fill=\"#1f2d3d\"/>\
         <text x=\"{}\" y=\"{}\" font-size=\"{}\" text-anchor=\"end\" fill=\"#1f2d3d\">开始</text>\
         <path d=\"M{} {} L{} {}\" stroke=\"#444\" stroke-width=\"1.5\" fill=\"none\" marker-end=\"url(#arrow-{key})\"/></g>",
        fmt(sx),
        fmt(sy),
        fmt(sx - 11.0),
        fmt(sy + 4.0),
        fmt(NOTE_FONT),
        fmt(sx),
        fmt(sy + 7.0),
        fmt(sx),
        fmt(sy + 22.0)
    );
    // Edges under boxes, labels over edges.
    for e in &layout.edges {
        edge(&mut s, e, &key, marks);
    }
    for e in &layout.edges {
        label(&mut s, e);
    }
    for b in &layout.boxes {
        step_box(
            &mut s,
            b,
            marks.and_then(|m| m.steps.get(&b.step)),
            marks.is_some(),
        );
    }
    s.push_str("</svg>\n");
    s
}

fn edge(s: &mut String, e: &EdgeGeom, key: &str, marks: Option<&Marks>) {
    let taken = marks.is_some_and(|m| {
        let chosen: Vec<&String> = m
            .outcomes
            .iter()
            .filter(|(step, _)| *step == e.from)
            .map(|(_, label)| label)
            .collect();
        m.taken.iter().any(|(a, b)| *a == e.from && *b == e.to)
            && (chosen.is_empty() || e.label.as_ref().is_none_or(|l| chosen.contains(&l)))
    });
    let (stroke, width, marker) = if taken {
        ("#1b7f3b", "2.5", "arrow-taken")
    } else if marks.is_some() {
        ("#8a94a3", "1.2", "arrow")
    } else {
        ("#444444", "1.4", "arrow")
    };
    let dash = if e.back || e.fallback {
        " stroke-dasharray=\"6 3\""
    } else {
        ""
    };
    let _ = writeln!(
        s,
        "<path class=\"edge{}{}\" d=\"{}\" fill=\"none\" stroke=\"{stroke}\" stroke-width=\"{width}\"{dash} marker-end=\"url(#{marker}-{key})\"><title>{} → {}</title></path>",
        if e.back { " back" } else { "" },
        if taken { " taken" } else { "" },
        path_d(&e.points),
        escape(e.from.as_str()),
        escape(e.to.as_str()),
    );
}

fn label(s: &mut String, e: &EdgeGeom) {
    let Some(r) = e.label_rect else { return };
    if e.label_lines.is_empty() {
        return;
    }
    let _ = write!(
        s,
        "<g class=\"edge-label\"><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"3\" fill=\"#ffffff\" fill-opacity=\"0.92\" stroke=\"#d0d7e0\" stroke-width=\"0.6\"/>\
         <text x=\"{}\" y=\"{}\" font-size=\"{}\" fill=\"#24466b\">",
        fmt(r.x),
        fmt(r.y),
        fmt(r.w),
        fmt(r.h),
        fmt(r.x + 3.0),
        fmt(r.y + LABEL_FONT),
        fmt(LABEL_FONT)
    );
    for (k, line) in e.label_lines.iter().enumerate() {
        let _ = write!(
            s,
            "<tspan x=\"{}\" dy=\"{}\">{}</tspan>",
            fmt(r.x + 3.0),
            if k == 0 {
                "0".to_owned()
            } else {
                fmt(LABEL_FONT + 2.0)
            },
            escape(line)
        );
    }
    s.push_str("</text></g>\n");
}

fn step_box(s: &mut String, b: &BoxGeom, mark: Option<&Mark>, case_map: bool) {
    let r = b.rect;
    let (mut fill, mut stroke) = match b.shape {
        Shape::Task => ("#e3efff", "#2f6db5"),
        Shape::Auto => ("#eef0f3", "#5b6675"),
        Shape::Choice | Shape::MultiChoice | Shape::Parallel | Shape::Join => {
            ("#fff6dc", "#b58a1b")
        }
        Shape::Wait => ("#ffffff", "#6b5bb5"),
        Shape::End => {
            if b.caption.as_deref() == Some("结束") && b.name == "办结"
                || b.caption.as_deref() == Some("结果：办结")
            {
                ("#dff3e4", "#1b7f3b")
            } else {
                ("#fbe4e0", "#b5472f")
            }
        }
    };
    let mut stroke_w = "1.5";
    let mut opacity = "1";
    let mut extra = "";
    match (mark, case_map) {
        (Some(Mark::Done), _) => {
            fill = "#d4efd9";
            stroke = "#1b7f3b";
            stroke_w = "2";
        }
        (Some(Mark::Current), _) => {
            fill = "#fff0c2";
            stroke = "#d9480f";
            stroke_w = "3.5";
        }
        (Some(Mark::Skipped), _) => {
            opacity = "0.45";
            extra = " stroke-dasharray=\"2 3\"";
        }
        (None, true) => opacity = "0.8",
        (None, false) => {}
    }
    let class = match mark {
        Some(Mark::Done) => " done",
        Some(Mark::Current) => " current",
        Some(Mark::Skipped) => " skipped",
        None if case_map => " pending",
        None => "",
    };
    let _ = write!(
        s,
        "<g class=\"step{class}\" data-step=\"{}\" opacity=\"{opacity}\"><title>{}{}</title>",
        escape(b.step.as_str()),
        escape(&b.name),
        mark.map(|m| format!("（{}）", m.word()))
            .unwrap_or_default()
    );
    let (x, y, w, h) = (fmt(r.x), fmt(r.y), fmt(r.w), fmt(r.h));
    match b.shape {
        Shape::Task => {
            let _ = write!(
                s,
                "<rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" rx=\"8\" fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"{stroke_w}\"{extra}/>"
            );
        }
        Shape::Auto => {
            let _ = write!(
                s,
                "<rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"{stroke_w}\"{extra}/>\
                <rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"{stroke}\" stroke-width=\"0.8\"/>",
                fmt(r.x + 3.0),
                fmt(r.y + 3.0),
                fmt(r.w - 6.0),
                fmt(r.h - 6.0)
            );
        }
        Shape::Choice | Shape::MultiChoice | Shape::Parallel | Shape::Join => {
            let k = 12.0;
            let pts = [
                (r.x + k, r.y),
                (r.x + r.w - k, r.y),
                (r.x + r.w, r.y + r.h / 2.0),
                (r.x + r.w - k, r.y + r.h),
                (r.x + k, r.y + r.h),
                (r.x, r.y + r.h / 2.0),
            ];
            let p: Vec<String> = pts
                .iter()
                .map(|(a, b)| format!("{},{}", fmt(*a), fmt(*b)))
                .collect();
            let _ = write!(
                s,
                "<polygon points=\"{}\" fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"{stroke_w}\"{extra}/>",
                p.join(" ")
            );
            let symbol = match b.shape {
                Shape::Choice => "×",
                Shape::MultiChoice => "○",
                _ => "+",
            };
            let _ = write!(
                s,
                "<text x=\"{}\" y=\"{}\" font-size=\"11\" font-weight=\"bold\" fill=\"{stroke}\">{symbol}</text>",
                fmt(r.x + 14.0),
                fmt(r.y + 11.0)
            );
        }
        Shape::Wait => {
            let dash = if extra.is_empty() {
                " stroke-dasharray=\"6 3\""
            } else {
                extra
            };
            let _ = write!(
                s,
                "<rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" rx=\"4\" fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"{stroke_w}\"{dash}/>"
            );
        }
        Shape::End => {
            let _ = write!(
                s,
                "<rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" rx=\"{}\" fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"3\"{extra}/>",
                fmt(r.h / 2.0)
            );
        }
    }
    let cx = fmt(r.x + r.w / 2.0);
    let mut ty = r.y + 9.0 + NAME_FONT;
    let _ = write!(
        s,
        "<text x=\"{cx}\" y=\"{}\" font-size=\"{}\" text-anchor=\"middle\" fill=\"#1f2d3d\">",
        fmt(ty),
        fmt(NAME_FONT)
    );
    for (k, line) in b.lines.iter().enumerate() {
        let _ = write!(
            s,
            "<tspan x=\"{cx}\" dy=\"{}\">{}</tspan>",
            if k == 0 {
                "0".to_owned()
            } else {
                fmt(NAME_FONT + 3.0)
            },
            escape(line)
        );
    }
    s.push_str("</text>");
    ty += (b.lines.len() as f64 - 1.0) * (NAME_FONT + 3.0);
    if let Some(caption) = &b.caption {
        ty += NOTE_FONT + 4.0;
        let _ = write!(
            s,
            "<text x=\"{cx}\" y=\"{}\" font-size=\"{}\" text-anchor=\"middle\" fill=\"#5b6675\">{}</text>",
            fmt(ty),
            fmt(NOTE_FONT),
            escape(caption)
        );
    }
    for note in &b.notes {
        ty += NOTE_FONT + 3.0;
        let _ = write!(
            s,
            "<text x=\"{cx}\" y=\"{}\" font-size=\"{}\" text-anchor=\"middle\" fill=\"#1b5e2f\">{}</text>",
            fmt(ty),
            fmt(NOTE_FONT),
            escape(note)
        );
    }
    s.push_str("</g>\n");
}
