//! Horizontal bar charts drawn as SVG on the server, so the dashboard needs no JavaScript
//! (pages send `script-src 'none'`). Colours and sizes are SVG presentation attributes, not
//! `style=""`, which a strict CSP may also forbid. Each row can be a link to the list the
//! number comes from. Labels and values are escaped; nothing else comes from data.

use std::fmt::Write as _;

use super::escape;

/// Width of the whole chart in user units.
const WIDTH: f64 = 640.0;
/// Width of the label column.
const LABEL: f64 = 190.0;
/// Room right of the longest bar for its value.
const VALUE_ROOM: f64 = 70.0;
/// Height of one bar.
const BAR: f64 = 16.0;
/// Space between rows.
const GAP: f64 = 8.0;
/// Height of the legend line.
const LEGEND: f64 = 22.0;
/// Fill of each series, in order (blue, orange, green): readable in print as well.
const COLOURS: [&str; 3] = ["#2f6db5", "#e08a1e", "#3a9a5b"];

/// One row of a chart: a label, one value per series, and where a click leads.
#[derive(Debug, Clone)]
pub(super) struct Row {
    /// Text left of the bars.
    pub(super) label: String,
    /// One value per series (same order as the chart's series names).
    pub(super) values: Vec<f64>,
    /// A path on this site listing what the row counts.
    pub(super) href: Option<String>,
}

/// Draws `rows` as horizontal bars, one bar per series in each row, with the value at the
/// end of each bar; `unit` follows each value (e.g. “件”, “个工作日”). An empty chart says
/// so instead of drawing nothing.
pub(super) fn bar_chart(title: &str, series: &[&str], rows: &[Row], unit: &str) -> String {
    let per_row = BAR * series.len().max(1) as f64 + GAP;
    let legend = if series.len() > 1 { LEGEND } else { 0.0 };
    let body = if rows.is_empty() {
        per_row
    } else {
        per_row * rows.len() as f64
    };
    let height = legend + body + GAP;
    let max = rows
        .iter()
        .flat_map(|r| r.values.iter().copied())
        .filter(|v| v.is_finite())
        .fold(0.0_f64, f64::max);
    let span = WIDTH - LABEL - VALUE_ROOM;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" aria-label="{title}" font-size="12" font-family="sans-serif"><title>{title}</title>"#,
        title = escape(title),
    );
    if series.len() > 1 {
        let mut x = LABEL;
        for (i, name) in series.iter().enumerate() {
            let colour = COLOURS[i % COLOURS.len()];
            let _ = write!(
                svg,
                r##"<rect x="{x}" y="4" width="12" height="12" fill="{colour}"/><text x="{tx}" y="14" fill="#333">{name}</text>"##,
                tx = x + 16.0,
                name = escape(name),
            );
            x += 100.0;
        }
    }
    if rows.is_empty() {
        let _ = write!(
            svg,
            r##"<text x="{LABEL}" y="{y}" fill="#777">暂无数据</text>"##,
            y = legend + BAR,
        );
    }
    for (i, row) in rows.iter().enumerate() {
        let top = legend + per_row * i as f64;
        if let Some(href) = &row.href {
            let _ = write!(svg, r#"<a href="{}">"#, escape(href));
        }
        let label_y = top + BAR * series.len().max(1) as f64 / 2.0 + 4.0;
        let _ = write!(
            svg,
            r##"<text x="{x}" y="{label_y}" text-anchor="end" fill="#222">{label}</text>"##,
            x = LABEL - 8.0,
            label = escape(&row.label),
        );
        for (s, value) in row.values.iter().enumerate() {
            let value = if value.is_finite() { *value } else { 0.0 };
            let width = if max > 0.0 { span * value / max } else { 0.0 };
            let y = top + BAR * s as f64;
            let colour = COLOURS[s % COLOURS.len()];
            let _ = write!(
                svg,
                r##"<rect x="{LABEL}" y="{y}" width="{width:.1}" height="{h}" fill="{colour}"/><text x="{tx:.1}" y="{ty}" fill="#222">{text}{unit}</text>"##,
                h = BAR - 2.0,
                tx = LABEL + width + 4.0,
                ty = y + BAR - 4.0,
                text = number(value),
                unit = escape(unit),
            );
        }
        if row.href.is_some() {
            svg.push_str("</a>");
        }
    }
    svg.push_str("</svg>");
    svg
}

/// A value as people read it: whole numbers without decimals, others with one.
pub(super) fn number(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::{Row, bar_chart, number};

    #[test]
    fn bars_are_scaled_to_the_largest_value_and_escaped() {
        let rows = vec![
            Row {
                label: "受理<审核>".into(),
                values: vec![4.0],
                href: Some("/inbox?step=a&due=overdue".into()),
            },
            Row {
                label: "复核".into(),
                values: vec![2.0],
                href: None,
            },
        ];
        let svg = bar_chart("按步骤", &["办件"], &rows, "件");
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("受理&lt;审核&gt;"));
        assert!(svg.contains(r#"<a href="/inbox?step=a&amp;due=overdue">"#));
        // The longest bar spans the whole bar area (640 - 190 - 70 = 380), the other half.
        assert!(svg.contains(r#"width="380.0""#));
        assert!(svg.contains(r#"width="190.0""#));
        assert!(svg.contains(">4件<"));
        assert!(!svg.contains("style="));
    }

    #[test]
    fn an_empty_chart_says_so() {
        let svg = bar_chart("空", &["a", "b"], &[], "件");
        assert!(svg.contains("暂无数据"));
        assert!(svg.ends_with("</svg>"));
    }

    #[test]
    fn numbers_drop_needless_decimals() {
        assert_eq!(number(3.0), "3");
        assert_eq!(number(2.5), "2.5");
    }
}
