//! CSV of the machine records: one row per record, the union of their keys as columns
//! (in first-seen order), numbers unrounded, nulls empty.

use serde_json::Value;

use super::Exporter;
use crate::report::tables::ReportTable;

pub struct Csv;

impl Exporter for Csv {
    fn extension(&self) -> &'static str {
        "csv"
    }

    fn render(&self, table: &ReportTable) -> String {
        let mut columns: Vec<&str> = Vec::new();
        for record in &table.records {
            for key in record.keys() {
                if !columns.contains(&key.as_str()) {
                    columns.push(key);
                }
            }
        }
        let mut out = columns
            .iter()
            .map(|c| quote(c))
            .collect::<Vec<_>>()
            .join(",");
        out.push('\n');
        for record in &table.records {
            let cells: Vec<String> = columns
                .iter()
                .map(|c| match record.get(*c) {
                    None | Some(Value::Null) => String::new(),
                    Some(Value::String(text)) => quote(text),
                    Some(other) => other.to_string(),
                })
                .collect();
            out.push_str(&cells.join(","));
            out.push('\n');
        }
        out
    }
}

fn quote(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn fields_with_separators_are_quoted() {
        assert_eq!(quote("plain"), "plain");
        assert_eq!(quote("a,b"), "\"a,b\"");
        assert_eq!(quote("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
