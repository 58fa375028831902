//! Text measuring and wrapping without a font: full-width (CJK) characters count as 1em,
//! others as about half of one, which is close enough for the font stack the map uses.

/// Font size of step names.
pub(super) const NAME_FONT: f64 = 13.0;
/// Font size of edge labels.
pub(super) const LABEL_FONT: f64 = 11.0;
/// Font size of captions and notes inside boxes.
pub(super) const NOTE_FONT: f64 = 10.0;

/// Whether a character takes a full em.
fn full_width(c: char) -> bool {
    let u = u32::from(c);
    matches!(u,
        0x1100..=0x115F | 0x2E80..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F | 0xFF00..=0xFF60 | 0xFFE0..=0xFFE6
        | 0x2010..=0x2027 | 0x2190..=0x21FF | 0x25A0..=0x27BF)
}

/// Estimated width of `text` at `font` pixels.
pub(super) fn width(text: &str, font: f64) -> f64 {
    text.chars()
        .map(|c| if full_width(c) { font } else { font * 0.56 })
        .sum()
}

/// Closing punctuation that should not start a line.
fn no_line_start(c: char) -> bool {
    "，。、；：？！）》」』”’,.;:?!)".contains(c)
}

/// Wraps `text` into lines no wider than `max` pixels at `font` (at least one character per
/// line; closing punctuation stays on the line before).
pub(super) fn wrap(text: &str, max: f64, font: f64) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    let mut w = 0.0;
    for c in text.chars() {
        if c == '\n' {
            lines.push(std::mem::take(&mut line));
            w = 0.0;
            continue;
        }
        let cw = width(c.encode_utf8(&mut [0; 4]), font);
        if w + cw > max && !line.is_empty() && !no_line_start(c) {
            lines.push(std::mem::take(&mut line));
            w = 0.0;
        }
        line.push(c);
        w += cw;
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// Escapes text for XML element content and attribute values; drops characters XML 1.0
/// does not allow.
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(' '),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cjk_wraps_by_em_and_keeps_punctuation() {
        assert_eq!(
            wrap("退休信息确认、待遇计发", 6.0 * 13.0, 13.0),
            vec!["退休信息确认、", "待遇计发"]
        );
        assert!((width("ab", 10.0) - 11.2).abs() < 1e-9);
        assert_eq!(escape("<a&'\">\u{1}"), "&lt;a&amp;&#39;&quot;&gt;");
    }
}
