//! Just enough Markdown structure for extraction and quality checks: headings (`#`, or a
//! line that is entirely bold), list items with their indentation, and table rows. Lines
//! are never cut, so bold and code spans stay whole.

/// One classified line.
#[derive(Debug, Clone, PartialEq)]
pub enum Line<'a> {
    /// A heading's text without `#`, bold markers or a trailing colon.
    Heading(String),
    /// A list item: indentation, whether numbered, and the text after the marker.
    Item {
        indent: usize,
        numbered: bool,
        text: &'a str,
    },
    TableRow(&'a str),
    Text(&'a str),
    Blank,
}

pub fn classify(line: &str) -> Line<'_> {
    let trimmed = line.trim();
    if trimmed.is_empty() {
        return Line::Blank;
    }
    if trimmed.starts_with('|') {
        return Line::TableRow(trimmed);
    }
    if let Some(rest) = trimmed.strip_prefix('#') {
        return Line::Heading(clean_heading(rest.trim_start_matches('#')));
    }
    if is_bold_line(trimmed) {
        return Line::Heading(clean_heading(trimmed));
    }
    let indent = line.len() - line.trim_start().len();
    if let Some(text) = trimmed
        .strip_prefix("- ")
        .or_else(|| trimmed.strip_prefix("* "))
        .or_else(|| trimmed.strip_prefix("+ "))
    {
        return Line::Item {
            indent,
            numbered: false,
            text: text.trim(),
        };
    }
    let digits = trimmed.chars().take_while(char::is_ascii_digit).count();
    if digits > 0 && digits <= 3 {
        let rest = &trimmed[digits..];
        if let Some(text) = rest.strip_prefix(". ").or_else(|| rest.strip_prefix(") ")) {
            return Line::Item {
                indent,
                numbered: true,
                text: text.trim(),
            };
        }
    }
    Line::Text(trimmed)
}

/// `**Key Findings**`, `**Key Findings:**`, `**2. Findings**`: a bold line standing alone.
fn is_bold_line(trimmed: &str) -> bool {
    let inner = trimmed.trim_end_matches(':');
    inner.len() > 4
        && inner.starts_with("**")
        && inner.ends_with("**")
        && !inner[2..inner.len() - 2].contains("**")
}

fn clean_heading(text: &str) -> String {
    text.trim()
        .trim_matches('*')
        .trim()
        .trim_end_matches(':')
        .trim_matches('*')
        .trim()
        .to_owned()
}

/// Removes a dangling `**` or backtick so an extracted line never opens a span it does not
/// close.
pub fn balance(text: &str) -> String {
    let mut out = text.trim().to_owned();
    if out.matches("**").count() % 2 == 1
        && let Some(i) = out.rfind("**")
    {
        out.replace_range(i..i + 2, "");
    }
    if out.matches('`').count() % 2 == 1
        && let Some(i) = out.rfind('`')
    {
        out.replace_range(i..i + 1, "");
    }
    out.trim().to_owned()
}

/// A heading's number prefix, as in `1. Executive Summary` or `2) Risks`.
pub fn starts_numbered(text: &str) -> bool {
    let digits = text.chars().take_while(char::is_ascii_digit).count();
    digits > 0 && matches!(text[digits..].chars().next(), Some('.' | ')'))
}
