//! A light scan of expression text (strings and comments skipped) for what the Rhai AST
//! does not show without its `internals` feature: which `params` keys an expression reads
//! and which functions it calls. Used by the definition loader to report typos at load time
//! rather than when a case runs.

/// One identifier in an expression.
struct Ident {
    name: String,
    /// Character offset of its first character.
    start: usize,
    /// Character offset just past it.
    end: usize,
    /// Whether it follows a `.` (a property or a method, not a variable or a function).
    after_dot: bool,
}

fn identifiers(chars: &[char]) -> Vec<Ident> {
    let mut found = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '`' || c == '\'' {
            i = skip_quoted(chars, i);
            continue;
        }
        if c == '/' && chars.get(i + 1) == Some(&'/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c == '/' && chars.get(i + 1) == Some(&'*') {
            i += 2;
            while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                i += 1;
            }
            i += 2;
            continue;
        }
        if is_ident_start(c) {
            let start = i;
            while i < chars.len() && is_ident_char(chars[i]) {
                i += 1;
            }
            let after_dot = chars[..start].iter().rev().find(|c| !c.is_whitespace()) == Some(&'.');
            found.push(Ident {
                name: chars[start..i].iter().collect(),
                start,
                end: i,
                after_dot,
            });
            continue;
        }
        if c.is_ascii_digit() {
            // `1e5`, `0x1f`: not identifiers.
            while i < chars.len() && is_ident_char(chars[i]) {
                i += 1;
            }
            continue;
        }
        i += 1;
    }
    found
}

/// Properties an expression reads from one variable: `params.min_years` or
/// `params["min_years"]` in `source` yields `("min_years", offset)`, where `offset` is the
/// character offset of the property name. Strings and comments are skipped, so a quoted
/// `"params.x"` is not a read.
pub fn property_reads(source: &str, variable: &str) -> Vec<(String, usize)> {
    let chars: Vec<char> = source.chars().collect();
    identifiers(&chars)
        .into_iter()
        .filter(|id| id.name == variable && !id.after_dot)
        .filter_map(|id| read_after(&chars, id.end))
        .collect()
}

/// Plain function calls in an expression (`eligible(...)`, not methods like `x.len()`),
/// with the character offset of each name.
pub fn function_calls(source: &str) -> Vec<(String, usize)> {
    let chars: Vec<char> = source.chars().collect();
    identifiers(&chars)
        .into_iter()
        .filter(|id| !id.after_dot && next_non_space(&chars, id.end) == Some('('))
        .filter(|id| !KEYWORDS.contains(&id.name.as_str()))
        .map(|id| (id.name, id.start))
        .collect()
}

/// Words followed by `(` that are syntax or built into the language, not registered
/// functions.
const KEYWORDS: [&str; 18] = [
    "if",
    "else",
    "switch",
    "while",
    "for",
    "in",
    "loop",
    "do",
    "until",
    "return",
    "fn",
    "Fn",
    "call",
    "curry",
    "is_def_var",
    "is_def_fn",
    "is_shared",
    "type_of",
];

fn next_non_space(chars: &[char], from: usize) -> Option<char> {
    chars[from..].iter().copied().find(|c| !c.is_whitespace())
}

/// After `params`: `.name`, `?.name` or `["name"]`.
fn read_after(chars: &[char], mut i: usize) -> Option<(String, usize)> {
    let skip_ws = |mut i: usize| {
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        i
    };
    i = skip_ws(i);
    if chars.get(i) == Some(&'?') {
        i += 1;
    }
    match chars.get(i) {
        Some('.') => {
            let start = skip_ws(i + 1);
            let mut end = start;
            while end < chars.len() && is_ident_char(chars[end]) {
                end += 1;
            }
            (end > start).then(|| (chars[start..end].iter().collect(), start))
        }
        Some('[') => {
            let quote = skip_ws(i + 1);
            if chars.get(quote) != Some(&'"') {
                return None;
            }
            let end = chars[quote + 1..].iter().position(|c| *c == '"')? + quote + 1;
            Some((chars[quote + 1..end].iter().collect(), quote + 1))
        }
        _ => None,
    }
}

fn skip_quoted(chars: &[char], start: usize) -> usize {
    let quote = chars[start];
    let mut i = start + 1;
    while i < chars.len() && chars[i] != quote {
        if chars[i] == '\\' {
            i += 1;
        }
        i += 1;
    }
    i + 1
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn property_reads_skip_strings_and_comments() {
        let reads = property_reads(
            r#"params.a + params [ "b" ] + "params.c" + x.params.d // params.e"#,
            "params",
        );
        assert_eq!(reads, [("a".to_owned(), 7), ("b".to_owned(), 21)]);
    }

    #[test]
    fn function_calls_skip_methods_keywords_and_strings() {
        let calls =
            function_calls(r#"if eligible(form.a) { x.len() } else { double (2) + "f(x)" }"#);
        assert_eq!(
            calls,
            [("eligible".to_owned(), 3), ("double".to_owned(), 39)]
        );
    }
}
