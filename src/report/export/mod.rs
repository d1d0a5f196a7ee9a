//! One exporter per table format behind a small trait: Markdown and LaTeX render the human
//! sections, CSV and JSON the machine records.

mod csv;
mod json;
mod latex;
pub mod markdown;

use std::fmt;
use std::str::FromStr;

use super::tables::ReportTable;

pub trait Exporter {
    /// File extension, which is also the `--format` name.
    fn extension(&self) -> &'static str;
    fn render(&self, table: &ReportTable) -> String;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Markdown,
    Csv,
    Latex,
    Json,
}

pub const ALL_FORMATS: &[Format] = &[Format::Markdown, Format::Csv, Format::Latex, Format::Json];

impl Format {
    pub fn exporter(self) -> &'static dyn Exporter {
        match self {
            Format::Markdown => &markdown::Markdown,
            Format::Csv => &csv::Csv,
            Format::Latex => &latex::Latex,
            Format::Json => &json::Json,
        }
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(text: &str) -> Result<Format, String> {
        match text.trim() {
            "md" | "markdown" => Ok(Format::Markdown),
            "csv" => Ok(Format::Csv),
            "tex" | "latex" => Ok(Format::Latex),
            "json" => Ok(Format::Json),
            other => Err(format!(
                "unknown table format \"{other}\"; use md, csv, tex or json (comma-separated)"
            )),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.exporter().extension())
    }
}
