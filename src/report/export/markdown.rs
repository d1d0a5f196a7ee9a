//! Markdown tables (GitHub-flavoured), one per metric section, for READMEs and summary.md.

use super::Exporter;
use crate::report::tables::{Align, ReportTable, Section};

pub struct Markdown;

impl Exporter for Markdown {
    fn extension(&self) -> &'static str {
        "md"
    }

    fn render(&self, table: &ReportTable) -> String {
        let mut out = format!("## {}\n\n", table.title);
        out.push_str(&render_sections(table, "###"));
        out
    }
}

/// The sections and notes of a table, headings at `level` (summary.md nests them deeper).
pub fn render_sections(table: &ReportTable, level: &str) -> String {
    let mut out = String::new();
    for section in &table.sections {
        out.push_str(&format!("{level} {}\n\n", section.title));
        out.push_str(&render_section(section));
        out.push('\n');
    }
    for note in &table.notes {
        out.push_str(&format!("> {note}\n"));
    }
    if !table.notes.is_empty() {
        out.push('\n');
    }
    out
}

pub fn render_section(section: &Section) -> String {
    let escape = |text: &str| text.replace('|', "\\|");
    let mut out = String::new();
    out.push_str("| ");
    out.push_str(
        &section
            .headers
            .iter()
            .map(|h| escape(h))
            .collect::<Vec<_>>()
            .join(" | "),
    );
    out.push_str(" |\n|");
    for align in &section.align {
        out.push_str(match align {
            Align::Left => ":---|",
            Align::Right => "---:|",
        });
    }
    out.push('\n');
    for row in &section.rows {
        out.push_str("| ");
        out.push_str(
            &row.iter()
                .map(|c| escape(c))
                .collect::<Vec<_>>()
                .join(" | "),
        );
        out.push_str(" |\n");
    }
    out
}
