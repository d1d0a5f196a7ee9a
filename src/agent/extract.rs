//! Key findings and recommendations, extracted from the model's analysis by headings and
//! list items — never by cutting lines — with fallbacks for text without headings.

use super::markdown::{Line, balance, classify};

/// Items kept per list.
pub const MAX_ITEMS: usize = 5;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Extracted {
    pub findings: Vec<String>,
    pub recommendations: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Topic {
    Findings,
    Recommendations,
    Other,
}

fn topic(heading: &str) -> Topic {
    let h = heading.to_lowercase();
    if h.contains("recommend")
        || h.contains("next step")
        || h.contains("action")
        || h.contains("optimi")
    {
        Topic::Recommendations
    } else if h.contains("finding")
        || h.contains("observation")
        || h.contains("insight")
        || h.contains("result")
    {
        Topic::Findings
    } else {
        Topic::Other
    }
}

/// Top-level list items under each kind of heading; fallbacks when a kind has no section.
pub fn extract(analysis: &str) -> Extracted {
    let mut findings = Vec::new();
    let mut recommendations = Vec::new();
    let mut saw_heading = [false; 2];
    let mut current = Topic::Other;
    let mut base_indent: Option<usize> = None;
    for line in analysis.lines() {
        match classify(line) {
            Line::Heading(text) => {
                current = topic(&text);
                base_indent = None;
                match current {
                    Topic::Findings => saw_heading[0] = true,
                    Topic::Recommendations => saw_heading[1] = true,
                    Topic::Other => {}
                }
            }
            Line::Item { indent, text, .. } => {
                let base = *base_indent.get_or_insert(indent);
                if indent > base {
                    continue; // a sub-item: its parent already carries the point
                }
                let target = match current {
                    Topic::Findings => &mut findings,
                    Topic::Recommendations => &mut recommendations,
                    Topic::Other => continue,
                };
                push_item(target, text);
            }
            _ => {}
        }
    }
    if !saw_heading[0] || findings.is_empty() {
        findings = fallback_items(analysis, |_| true);
    }
    if !saw_heading[1] || recommendations.is_empty() {
        recommendations = fallback_items(analysis, is_advice);
        if recommendations.is_empty() {
            recommendations = last_items(analysis);
        }
    }
    Extracted {
        findings,
        recommendations,
    }
}

fn push_item(target: &mut Vec<String>, text: &str) {
    let item = balance(text);
    if target.len() < MAX_ITEMS && !item.is_empty() && !target.contains(&item) {
        target.push(item);
    }
}

fn is_advice(text: &str) -> bool {
    let t = text.to_lowercase();
    [
        "should",
        "recommend",
        "consider",
        "implement",
        "use ",
        "increase",
        "reduce",
        "enable",
        "add ",
        "set ",
    ]
    .iter()
    .any(|w| t.contains(w))
}

/// Top-level list items anywhere that pass `keep`; without any list, the first sentence of
/// each paragraph.
fn fallback_items(text: &str, keep: impl Fn(&str) -> bool) -> Vec<String> {
    let mut items = Vec::new();
    let mut base_indent = None;
    for line in text.lines() {
        if let Line::Item { indent, text, .. } = classify(line)
            && indent <= *base_indent.get_or_insert(indent)
            && keep(text)
        {
            push_item(&mut items, text);
        }
    }
    if !items.is_empty() {
        return items;
    }
    for paragraph in text.split("\n\n") {
        let flat = paragraph.split_whitespace().collect::<Vec<_>>().join(" ");
        if flat.is_empty() || flat.starts_with('#') || flat.starts_with('|') {
            continue;
        }
        let sentence = first_sentence(&flat);
        if keep(sentence) {
            push_item(&mut items, sentence);
        }
        if items.len() >= 3 {
            break;
        }
    }
    items
}

fn last_items(text: &str) -> Vec<String> {
    let all = fallback_items(text, |_| true);
    let skip = all.len().saturating_sub(3);
    all.into_iter().skip(skip).collect()
}

/// Up to the first `. ` outside bold and code spans.
fn first_sentence(text: &str) -> &str {
    let mut in_bold = false;
    let mut in_code = false;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(b"**") {
            in_bold = !in_bold;
            i += 2;
            continue;
        }
        if bytes[i] == b'`' {
            in_code = !in_code;
        } else if !in_bold
            && !in_code
            && matches!(bytes[i], b'.' | b'!' | b'?')
            && bytes.get(i + 1).is_none_or(|b| *b == b' ')
        {
            return &text[..=i];
        }
        i += 1;
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_headings_and_bullets() {
        let analysis = "## Executive Summary\nThe data is large.\n\n## Key Performance Findings\n\n* **CUDA Benchmarking is Significant:** many CUDA files.\n    * a sub-point\n* **Documentation-Heavy:** many Markdown files.\n\n## Recommendations for Optimization\n\n1. **Capture Raw Performance Data:** record `tokens/s`.\n2. Automate reporting.\n";
        let e = extract(analysis);
        assert_eq!(
            e.findings,
            [
                "**CUDA Benchmarking is Significant:** many CUDA files.",
                "**Documentation-Heavy:** many Markdown files."
            ]
        );
        assert_eq!(
            e.recommendations,
            [
                "**Capture Raw Performance Data:** record `tokens/s`.",
                "Automate reporting."
            ]
        );
    }

    #[test]
    fn bold_lines_are_headings_not_items() {
        // The seed's bug: "Key Performance Findings**" came out as a finding.
        let analysis = "Okay, here is an analysis.\n\n**2. Key Performance Findings**\n\n* **CUDA is Significant:** yes.\n\n**3. Recommendations for Optimization:**\n\n* **Capture Raw Data:** **This is critical.**\n";
        let e = extract(analysis);
        assert_eq!(e.findings, ["**CUDA is Significant:** yes."]);
        assert_eq!(
            e.recommendations,
            ["**Capture Raw Data:** **This is critical.**"]
        );
        assert!(
            e.findings
                .iter()
                .chain(&e.recommendations)
                .all(|i| i.matches("**").count() % 2 == 0)
        );
    }

    #[test]
    fn no_headings_falls_back_to_list_items_and_advice() {
        let analysis = "Throughput is 41 tok/s.\n\n- TTFT is high at 660 ms.\n- You should increase num_gpu.\n- Consider a smaller num_ctx.\n";
        let e = extract(analysis);
        assert_eq!(e.findings.len(), 3);
        assert_eq!(
            e.recommendations,
            [
                "You should increase num_gpu.",
                "Consider a smaller num_ctx."
            ]
        );
    }

    #[test]
    fn plain_prose_falls_back_to_first_sentences_without_cutting_bold() {
        let analysis = "The **v1.2. build** is fast. It has more.\n\nLatency **dropped. A lot** overall. Fine.\n\nYou should use num_gpu=120. Done.";
        let e = extract(analysis);
        assert_eq!(
            e.findings,
            [
                "The **v1.2. build** is fast.",
                "Latency **dropped. A lot** overall.",
                "You should use num_gpu=120."
            ]
        );
        assert_eq!(e.recommendations, ["You should use num_gpu=120."]);
    }

    #[test]
    fn dangling_markers_are_balanced() {
        let analysis = "## Findings\n- **Unclosed bold and `code\n";
        assert_eq!(extract(analysis).findings, ["Unclosed bold and code"]);
    }

    #[test]
    fn numbered_headings_and_bold_everywhere() {
        let analysis = "# 1. Executive Summary\n**Throughput** is **41 tok/s**.\n# 2. Key Findings\n1. **TTFT**: **662 ms**\n2. **Load**: **503 ms**\n# 3. Recommendations\n- **Raise** `num_gpu`\n";
        let e = extract(analysis);
        assert_eq!(e.findings, ["**TTFT**: **662 ms**", "**Load**: **503 ms**"]);
        assert_eq!(e.recommendations, ["**Raise** `num_gpu`"]);
    }
}
