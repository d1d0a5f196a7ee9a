//! Prompt templates: `{name}` placeholders, `{{` and `}}` for literal braces. Parsing is
//! separate from rendering so an experiment file is rejected before anything runs.

/// The placeholders a template uses, in order, or a description of what is malformed.
pub fn placeholders(template: &str) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    let mut chars = template.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '{' if chars.peek().is_some_and(|(_, n)| *n == '{') => {
                chars.next();
            }
            '}' if chars.peek().is_some_and(|(_, n)| *n == '}') => {
                chars.next();
            }
            '{' => {
                let rest = &template[i + 1..];
                let Some(end) = rest.find('}') else {
                    return Err(format!("unclosed `{{` at character {i}"));
                };
                names.push(rest[..end].to_owned());
                for _ in 0..=rest[..end].chars().count() {
                    chars.next();
                }
            }
            '}' => return Err(format!("unmatched `}}` at character {i}")),
            _ => {}
        }
    }
    Ok(names)
}

/// Checks that a template only uses `allowed` placeholders; the error names the culprit.
pub fn validate(template: &str, allowed: &[&str]) -> Result<(), String> {
    for name in placeholders(template)? {
        if !allowed.contains(&name.as_str()) {
            let known: Vec<String> = allowed.iter().map(|a| format!("{{{a}}}")).collect();
            return Err(format!(
                "unknown placeholder `{{{name}}}` (this template knows {}; write `{{{{` for a literal brace)",
                known.join(", ")
            ));
        }
    }
    Ok(())
}

/// Fills a validated template.
pub fn render(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(after) = tail.strip_prefix("{{") {
            out.push('{');
            rest = after;
        } else if let Some(after) = tail.strip_prefix("}}") {
            out.push('}');
            rest = after;
        } else if let Some(end) = tail.find('}').filter(|_| tail.starts_with('{')) {
            let name = &tail[1..end];
            match values.iter().find(|(k, _)| *k == name) {
                Some((_, value)) => out.push_str(value),
                None => out.push_str(&tail[..=end]),
            }
            rest = &tail[end + 1..];
        } else {
            out.push_str(&tail[..1]);
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_placeholders_and_skips_escaped_braces() {
        assert_eq!(placeholders("a {x} {{literal}} {y}").unwrap(), ["x", "y"]);
        assert!(placeholders("a {x").unwrap_err().starts_with("unclosed"));
        assert!(placeholders("a } b").unwrap_err().starts_with("unmatched"));
    }

    #[test]
    fn rejects_unknown_placeholders() {
        assert_eq!(
            validate("{data_summary} {analysis}", &["data_summary", "persona"]).unwrap_err(),
            "unknown placeholder `{analysis}` (this template knows {data_summary}, {persona}; write `{{` for a literal brace)"
        );
        assert!(validate("{persona}", &["persona"]).is_ok());
    }

    #[test]
    fn renders_values_and_literal_braces() {
        assert_eq!(
            render("Data: {d}\n{{json}} {p}", &[("d", "x"), ("p", "y")]),
            "Data: x\n{json} y"
        );
    }
}
