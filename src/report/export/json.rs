//! JSON: the machine-readable contract, an array with one object per record (keys
//! documented in the README).

use serde_json::Value;

use super::Exporter;
use crate::report::tables::ReportTable;

pub struct Json;

impl Exporter for Json {
    fn extension(&self) -> &'static str {
        "json"
    }

    fn render(&self, table: &ReportTable) -> String {
        let records = Value::Array(
            table
                .records
                .iter()
                .map(|r| Value::Object(r.clone()))
                .collect(),
        );
        let mut text = serde_json::to_string_pretty(&records).unwrap_or_else(|_| "[]".to_owned());
        text.push('\n');
        text
    }
}
