//! A rendered table document as spreadsheet data: the cells of its first HTML `<table>`
//! become the rows of a CSV (UTF-8 with BOM, so Excel opens Chinese text) and of an XLSX
//! workbook. Reading the cells back from the rendered HTML keeps the downloads identical
//! to the printed table, whose columns the policy officer's template decides; the HTML is
//! our own template's output, so a small reader of `<tr>`/`<th>`/`<td>` suffices.
//!
//! Every spreadsheet the service writes passes its text through here: [`to_csv`] defuses
//! cells a spreadsheet would run as formulas ([`csv_cell`]), and XLSX writers shorten text
//! to what one cell holds ([`xlsx_cell`]), so that a stored value can neither run in the
//! reader's Excel nor make an export fail.

use std::borrow::Cow;

use rust_xlsxwriter::{Format, Workbook, XlsxError};

/// The most characters (UTF-16 units, as Excel counts) one XLSX cell holds.
pub const XLSX_CELL_MAX: usize = 32_767;

/// Why a spreadsheet could not be written.
#[derive(Debug, thiserror::Error)]
pub enum SheetError {
    /// The XLSX writer failed.
    #[error("无法生成 Excel 文件：{0}")]
    Xlsx(#[from] XlsxError),
    /// The CSV writer failed.
    #[error("无法生成 CSV 文件：{0}")]
    Csv(#[from] csv::Error),
}

/// The text of every cell of the first `<table>` in `html`, row by row (header rows too).
/// Line breaks inside a cell (`<br>`) join the text; entities are decoded.
pub fn table_cells(html: &str) -> Vec<Vec<String>> {
    let lower = html.to_ascii_lowercase();
    let Some(start) = lower.find("<table") else {
        return Vec::new();
    };
    let end = lower[start..]
        .find("</table>")
        .map_or(html.len(), |e| start + e);
    let mut rows = Vec::new();
    let mut at = start;
    while let Some(tr) = find_tag(&lower, at, end, "tr") {
        let row_end = lower[tr..end].find("</tr>").map_or(end, |e| tr + e);
        let mut cells = Vec::new();
        let mut cell_at = tr + 3;
        loop {
            let th = find_tag(&lower, cell_at, row_end, "th");
            let td = find_tag(&lower, cell_at, row_end, "td");
            let (open, name) = match (th, td) {
                (Some(a), Some(b)) if a < b => (a, "th"),
                (_, Some(b)) => (b, "td"),
                (Some(a), None) => (a, "th"),
                (None, None) => break,
            };
            let Some(content) = lower[open..row_end].find('>').map(|g| open + g + 1) else {
                break;
            };
            let close = format!("</{name}>");
            let content_end = lower[content..row_end]
                .find(&close)
                .map_or(row_end, |e| content + e);
            cells.push(cell_text(&html[content..content_end]));
            cell_at = content_end;
        }
        if !cells.is_empty() {
            rows.push(cells);
        }
        at = row_end;
    }
    rows
}

/// The position of the next `<name>` or `<name …>` tag in `lower[from..to]`.
fn find_tag(lower: &str, from: usize, to: usize, name: &str) -> Option<usize> {
    let open = format!("<{name}");
    let mut at = from;
    while at < to {
        let found = at + lower.get(at..to)?.find(&open)?;
        let next = lower.as_bytes().get(found + open.len()).copied();
        if matches!(next, Some(b'>' | b' ' | b'\t' | b'\n' | b'\r' | b'/')) {
            return Some(found);
        }
        at = found + open.len();
    }
    None
}

/// Text of a cell's inner HTML: tags dropped, entities decoded, whitespace collapsed.
fn cell_text(inner: &str) -> String {
    let mut text = String::with_capacity(inner.len());
    let mut in_tag = false;
    for c in inner.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    let decoded = text
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&#x2f;", "/")
        .replace("&#x2F;", "/")
        .replace("&amp;", "&");
    decoded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A cell as CSV may carry it: text that a spreadsheet would read as a formula (starting
/// with `=`, `+`, `-`, `@`, a tab or a carriage return: `=HYPERLINK(…)`, `+cmd|…`,
/// `@SUM(…)`, `-2+3`) gets a leading `'`, as OWASP advises for CSV injection, so it opens
/// as the text it is. A plain number (`-12`, `-0.5`) is left alone: it cannot run, and a
/// figure must stay a figure for the monthly report's sums.
pub fn csv_cell(cell: &str) -> Cow<'_, str> {
    let risky = cell
        .chars()
        .next()
        .is_some_and(|c| matches!(c, '=' | '+' | '-' | '@' | '\t' | '\r'));
    if risky && !is_plain_number(cell) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// `-` (optional), digits, and optionally `.` and digits: nothing a spreadsheet evaluates.
fn is_plain_number(cell: &str) -> bool {
    let unsigned = cell.strip_prefix('-').unwrap_or(cell);
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, "0"));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(whole) && digits(fraction)
}

/// A cell as XLSX can hold it: text longer than [`XLSX_CELL_MAX`] is cut, with a visible
/// note of how long it was, instead of failing the whole workbook. The full text stays in
/// the case and its printed documents.
pub fn xlsx_cell(cell: &str) -> Cow<'_, str> {
    if cell.encode_utf16().count() <= XLSX_CELL_MAX {
        return Cow::Borrowed(cell);
    }
    let total = cell.chars().count();
    let marker = format!("……（内容过长，已截断；原文共 {total} 字，见办件详情）");
    let room = XLSX_CELL_MAX - marker.encode_utf16().count();
    let mut used = 0;
    let mut kept = String::with_capacity(room * 3);
    for c in cell.chars() {
        used += c.len_utf16();
        if used > room {
            break;
        }
        kept.push(c);
    }
    kept.push_str(&marker);
    Cow::Owned(kept)
}

/// The rows as CSV, UTF-8 with a byte-order mark so that Excel reads Chinese correctly;
/// every cell passes [`csv_cell`].
///
/// # Errors
/// [`SheetError::Csv`].
pub fn to_csv(rows: &[Vec<String>]) -> Result<Vec<u8>, SheetError> {
    let mut out = vec![0xEF, 0xBB, 0xBF];
    {
        let mut writer = csv::WriterBuilder::new()
            .flexible(true)
            .from_writer(&mut out);
        for row in rows {
            writer.write_record(row.iter().map(|cell| csv_cell(cell).into_owned()))?;
        }
        writer.flush().map_err(csv::Error::from)?;
    }
    Ok(out)
}

/// The rows as an XLSX workbook with one A4 landscape sheet; the first row is bold and
/// repeated on every printed page. Every cell is written as text, so ID numbers keep all
/// 18 digits, through [`xlsx_cell`].
///
/// # Errors
/// [`SheetError::Xlsx`].
pub fn to_xlsx(sheet: &str, rows: &[Vec<String>]) -> Result<Vec<u8>, SheetError> {
    let mut workbook = Workbook::new();
    let worksheet = workbook.add_worksheet();
    worksheet.set_name(sheet_name(sheet))?;
    worksheet.set_landscape();
    worksheet.set_paper_size(9); // A4
    let bold = Format::new().set_bold();
    let mut widths: Vec<usize> = Vec::new();
    for (r, row) in rows.iter().enumerate() {
        let r = u32::try_from(r).unwrap_or(u32::MAX);
        for (c, cell) in row.iter().enumerate() {
            let c = u16::try_from(c).unwrap_or(u16::MAX);
            let cell = xlsx_cell(cell);
            let cell = cell.as_ref();
            if r == 0 {
                worksheet.write_string_with_format(r, c, cell, &bold)?;
            } else {
                worksheet.write_string(r, c, cell)?;
            }
            let width = cell
                .chars()
                .map(|ch| if ch.is_ascii() { 1 } else { 2 })
                .sum();
            let i = usize::from(c);
            if widths.len() <= i {
                widths.resize(i + 1, 0);
            }
            widths[i] = widths[i].max(width);
        }
    }
    for (c, width) in widths.iter().enumerate() {
        let c = u16::try_from(c).unwrap_or(u16::MAX);
        // Whole character widths are plenty; precision loss on huge numbers is harmless.
        #[allow(clippy::cast_precision_loss)]
        worksheet.set_column_width(c, (*width).clamp(4, 40) as f64 + 1.0)?;
    }
    if !rows.is_empty() {
        worksheet.set_repeat_rows(0, 0)?;
    }
    Ok(workbook.save_to_buffer()?)
}

/// A sheet name Excel accepts: at most 31 characters, none of `[]:*?/\`.
fn sheet_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .filter(|c| !matches!(c, '[' | ']' | ':' | '*' | '?' | '/' | '\\'))
        .take(31)
        .collect();
    if cleaned.trim().is_empty() {
        "Sheet1".into()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_cells_of_the_first_table() {
        let html = "<p>x</p><table class=\"small\"><thead><tr><th style=\"w\">序号</th>\
                    <th>参加工作<br>时间</th></tr></thead><tbody>\n<tr>\n <td class=\"c\">1</td>\
                    <td>A &amp; B &lt;c&gt;</td></tr></tbody></table><table><tr><td>no</td></tr></table>";
        assert_eq!(
            table_cells(html),
            vec![
                vec!["序号".to_owned(), "参加工作时间".to_owned()],
                vec!["1".to_owned(), "A & B <c>".to_owned()],
            ]
        );
        assert!(table_cells("<p>no table</p>").is_empty());
    }

    #[test]
    fn csv_has_a_bom_and_quotes_commas() {
        let rows = vec![
            vec!["姓名".to_owned(), "单位".to_owned()],
            vec!["张三".to_owned(), "a,b".to_owned()],
        ];
        let csv = to_csv(&rows).expect("csv");
        assert!(csv.starts_with(&[0xEF, 0xBB, 0xBF]));
        let text = String::from_utf8(csv[3..].to_vec()).expect("utf-8");
        assert_eq!(text, "姓名,单位\n张三,\"a,b\"\n");
    }

    #[test]
    fn formulas_are_defused_and_numbers_stay_numbers() {
        for (cell, written) in [
            (
                "=HYPERLINK(\"http://x\",\"y\")",
                "'=HYPERLINK(\"http://x\",\"y\")",
            ),
            ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
            (
                "@SUM(1+1)*cmd|' /C calc'!A0",
                "'@SUM(1+1)*cmd|' /C calc'!A0",
            ),
            ("-2+3", "'-2+3"),
            ("\t=1", "'\t=1"),
            ("\r=1", "'\r=1"),
            ("-", "'-"),
            ("-1e5", "'-1e5"),
            ("-12", "-12"),
            ("-0.5", "-0.5"),
            ("12", "12"),
            ("张三", "张三"),
            ("a=1", "a=1"),
            ("", ""),
        ] {
            assert_eq!(csv_cell(cell), written, "{cell:?}");
        }
        let csv = to_csv(&[vec!["=1+1".to_owned(), "-3".to_owned()]]).expect("csv");
        assert_eq!(String::from_utf8_lossy(&csv[3..]), "'=1+1,-3\n");
    }

    #[test]
    fn long_text_is_cut_to_one_xlsx_cell_with_a_marker() {
        assert_eq!(xlsx_cell("短"), "短");
        let exact = "字".repeat(XLSX_CELL_MAX);
        assert_eq!(xlsx_cell(&exact), exact.as_str());
        for long in [
            "字".repeat(40_000),
            "😀".repeat(20_000),
            "x".repeat(900_000),
        ] {
            let cut = xlsx_cell(&long);
            assert!(cut.encode_utf16().count() <= XLSX_CELL_MAX, "{}", cut.len());
            assert!(cut.ends_with("见办件详情）"), "a visible marker");
            assert!(cut.contains(&format!("原文共 {} 字", long.chars().count())));
        }
        let rows = vec![vec!["姓名".to_owned()], vec!["字".repeat(40_000)]];
        assert!(to_xlsx("推送信息表", &rows).is_ok());
    }

    #[test]
    fn xlsx_is_a_zip() {
        let rows = vec![
            vec!["身份证号".to_owned()],
            vec!["140522196501151012".to_owned()],
        ];
        let bytes = to_xlsx("推送信息表:医保", &rows).expect("xlsx");
        assert!(bytes.starts_with(b"PK"));
        assert_eq!(sheet_name("a[b]:c"), "abc");
    }
}
