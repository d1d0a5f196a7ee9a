//! Quality of a generated report, measured against what the InsightAgent persona asks for:
//! an executive summary, numbered sections, three recommendations, a risk/mitigation table
//! with at least two rows, 300–400 words, bolded metric callouts, and numbers that come from
//! the data. Pure: text in, scores out.

use std::collections::BTreeSet;

use serde::Serialize;

use super::markdown::{Line, classify, starts_numbered};

pub const MIN_WORDS: usize = 300;
pub const MAX_WORDS: usize = 400;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Quality {
    pub word_count: usize,
    pub words_in_range: bool,
    pub has_executive_summary: bool,
    pub numbered_sections: usize,
    pub recommendation_count: usize,
    pub risk_table_rows: usize,
    pub bold_metric_callouts: usize,
    /// Distinct numbers (≥ 10) in the report that also appear in the data summary.
    pub cited_numbers: usize,
    /// Checks passed out of `CHECKS`, in [0, 1].
    pub score: f64,
}

/// The checks behind `score`.
pub const CHECKS: usize = 7;

pub fn score(report: &str, data_summary: &str) -> Quality {
    let word_count = report
        .split_whitespace()
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .count();
    let lines: Vec<Line> = report.lines().map(classify).collect();
    let numbered_sections = lines
        .iter()
        .filter(|line| match line {
            Line::Heading(text) => starts_numbered(text),
            // "1. Executive Summary" on its own: a short numbered line without a sentence.
            Line::Item {
                numbered: true,
                text,
                indent: 0,
            } => text.split_whitespace().count() <= 6 && !text.ends_with('.'),
            _ => false,
        })
        .count();
    let data_numbers = numbers(data_summary);
    let cited_numbers = numbers(report).intersection(&data_numbers).count();
    let mut quality = Quality {
        word_count,
        words_in_range: (MIN_WORDS..=MAX_WORDS).contains(&word_count),
        has_executive_summary: report.to_lowercase().contains("executive summary"),
        numbered_sections,
        recommendation_count: recommendation_count(&lines),
        risk_table_rows: risk_table_rows(&lines),
        bold_metric_callouts: bold_spans(report)
            .filter(|s| s.chars().any(|c| c.is_ascii_digit()))
            .count(),
        cited_numbers,
        score: 0.0,
    };
    let passed = [
        quality.has_executive_summary,
        quality.words_in_range,
        quality.numbered_sections >= 3,
        quality.recommendation_count >= 3,
        quality.risk_table_rows >= 2,
        quality.bold_metric_callouts >= 1,
        quality.cited_numbers >= 1,
    ];
    quality.score = passed.iter().filter(|p| **p).count() as f64 / CHECKS as f64;
    quality
}

/// Items (or sub-headings) in the section whose heading mentions recommendations.
fn recommendation_count(lines: &[Line]) -> usize {
    let mut best = 0;
    let mut i = 0;
    while i < lines.len() {
        if let Line::Heading(text) = &lines[i]
            && text.to_lowercase().contains("recommend")
        {
            let mut items = 0;
            let mut sub_headings = 0;
            let mut base = None;
            for line in &lines[i + 1..] {
                match line {
                    // Numbered sub-headings inside the section are recommendations too;
                    // any other heading ends the section.
                    Line::Heading(h) if starts_numbered(h) && items == 0 => sub_headings += 1,
                    Line::Heading(_) => break,
                    Line::Item { indent, .. } if *indent <= *base.get_or_insert(*indent) => {
                        items += 1
                    }
                    _ => {}
                }
            }
            best = best.max(items.max(sub_headings));
        }
        i += 1;
    }
    best
}

/// Body rows of the largest Markdown table whose header mentions risk.
fn risk_table_rows(lines: &[Line]) -> usize {
    let mut best = 0;
    let mut i = 0;
    while i < lines.len() {
        if let Line::TableRow(header) = lines[i] {
            let mut end = i;
            while end < lines.len() && matches!(lines[end], Line::TableRow(_)) {
                end += 1;
            }
            let rows = &lines[i + 1..end];
            let body = rows
                .iter()
                .filter(|l| matches!(l, Line::TableRow(r) if !is_separator(r)))
                .count();
            if header.to_lowercase().contains("risk") {
                best = best.max(body);
            }
            i = end;
        } else {
            i += 1;
        }
    }
    best
}

fn is_separator(row: &str) -> bool {
    row.chars().all(|c| matches!(c, '|' | '-' | ':' | ' '))
}

/// The contents of `**...**` spans.
fn bold_spans(text: &str) -> impl Iterator<Item = &str> {
    text.split("**").skip(1).step_by(2)
}

/// Numbers of at least two digits (list numbering and small counts are not citations).
fn numbers(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut current = String::new();
    for c in text.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_digit() || (c == '.' && !current.is_empty()) {
            current.push(c);
        } else if !current.is_empty() {
            let number = current.trim_end_matches('.').to_owned();
            if number.chars().filter(char::is_ascii_digit).count() >= 2 {
                found.insert(number);
            }
            current.clear();
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUMMARY: &str = "Total files analyzed: 101\n\nCSV Files (28)\n  - a.csv\n      12 rows; tokens_per_s 38.2 to 102.5";

    fn words(n: usize) -> String {
        vec!["word"; n].join(" ")
    }

    #[test]
    fn a_report_that_follows_the_persona_scores_full_marks() {
        let report = format!(
            "## 1. Executive Summary\nThroughput peaks at **102.5 tok/s** across 101 files.\n\n## 2. Recommendations\n1. Raise num_gpu.\n2. Lower num_ctx.\n3. Keep temperature at 0.8.\n\n## 3. Risks\n| Risk | Mitigation |\n|---|---|\n| OOM | fewer layers |\n| Drift | blocked order |\n\n{}",
            words(320)
        );
        let q = score(&report, SUMMARY);
        assert!(q.has_executive_summary);
        assert_eq!(q.numbered_sections, 3);
        assert_eq!(q.recommendation_count, 3);
        assert_eq!(q.risk_table_rows, 2);
        assert_eq!(q.bold_metric_callouts, 1);
        assert_eq!(q.cited_numbers, 2, "102.5 and 101");
        assert!(q.words_in_range, "{}", q.word_count);
        assert_eq!(q.score, 1.0);
    }

    #[test]
    fn an_empty_report_scores_zero() {
        let q = score("", SUMMARY);
        assert_eq!(q, Quality::default());
    }

    #[test]
    fn bold_without_numbers_and_short_text_fail_their_checks() {
        let q = score("**Important** point. 1. Not a heading sentence.\n", SUMMARY);
        assert_eq!(q.bold_metric_callouts, 0);
        assert_eq!(q.numbered_sections, 0);
        assert!(!q.words_in_range);
        assert_eq!(q.score, 0.0);
    }

    #[test]
    fn recommendations_as_numbered_sub_headings() {
        let report = "## Recommendations\n### 1. Raise num_gpu\ntext\n### 2. Lower num_ctx\ntext\n## Risks\n";
        assert_eq!(score(report, SUMMARY).recommendation_count, 2);
    }

    #[test]
    fn tables_without_risk_do_not_count() {
        let report = "| Metric | Value |\n|---|---|\n| a | 1 |\n| b | 2 |\n";
        assert_eq!(score(report, SUMMARY).risk_table_rows, 0);
    }
}
