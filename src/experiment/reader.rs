//! A small typed reader over a parsed TOML table that tracks the key path, so every error
//! names the exact key (`backend.timeout_s`, `agent[1].options.top_k`) and a fix.

use std::path::Path;

use super::error::ConfigError;
use super::options::toml_type_name;

/// One TOML table being read, with its path from the document root.
pub struct Section<'a> {
    pub file: &'a Path,
    pub path: String,
    pub table: &'a toml::Table,
}

impl<'a> Section<'a> {
    pub fn root(file: &'a Path, table: &'a toml::Table) -> Self {
        Section {
            file,
            path: String::new(),
            table,
        }
    }

    /// The full path of a key in this section.
    pub fn key(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    pub fn error(
        &self,
        key: &str,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) -> ConfigError {
        ConfigError::new(self.file, self.key(key), problem, fix)
    }

    /// Rejects keys this section does not know; a typo must not be silently ignored.
    pub fn deny_unknown(&self, known: &[&str]) -> Result<(), ConfigError> {
        for key in self.table.keys() {
            if !known.contains(&key.as_str()) {
                let close = known
                    .iter()
                    .find(|candidate| is_close(key, candidate))
                    .map(|candidate| format!("did you mean `{candidate}`? "))
                    .unwrap_or_default();
                return Err(self.error(
                    key,
                    "unknown key",
                    format!("{close}known keys here: {}", known.join(", ")),
                ));
            }
        }
        Ok(())
    }

    pub fn value(&self, key: &str) -> Option<&'a toml::Value> {
        self.table.get(key)
    }

    fn type_error(
        &self,
        key: &str,
        expected: &str,
        value: &toml::Value,
        example: &str,
    ) -> ConfigError {
        self.error(
            key,
            format!(
                "expected {expected}, found {} `{value}`",
                toml_type_name(value)
            ),
            format!("write it as {expected}, e.g. {key} = {example}"),
        )
    }

    pub fn table(&self, key: &str) -> Result<Option<Section<'a>>, ConfigError> {
        match self.value(key) {
            None => Ok(None),
            Some(toml::Value::Table(table)) => Ok(Some(Section {
                file: self.file,
                path: self.key(key),
                table,
            })),
            Some(other) => Err(self.error(
                key,
                format!(
                    "expected a table, found {} `{other}`",
                    toml_type_name(other)
                ),
                format!("write it as a [{}] section", self.key(key)),
            )),
        }
    }

    pub fn string(&self, key: &str, example: &str) -> Result<Option<String>, ConfigError> {
        match self.value(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(self.type_error(key, "a string", other, example)),
        }
    }

    pub fn bool(&self, key: &str) -> Result<Option<bool>, ConfigError> {
        match self.value(key) {
            None => Ok(None),
            Some(toml::Value::Boolean(b)) => Ok(Some(*b)),
            Some(other) => Err(self.type_error(key, "a boolean", other, "true")),
        }
    }

    /// A non-negative integer within `min..=max`.
    pub fn integer(&self, key: &str, min: i64, max: i64) -> Result<Option<i64>, ConfigError> {
        match self.value(key) {
            None => Ok(None),
            Some(toml::Value::Integer(v)) if (min..=max).contains(v) => Ok(Some(*v)),
            Some(toml::Value::Integer(v)) => Err(self.error(
                key,
                format!("{v} is out of range"),
                format!("use a whole number from {min} to {max}"),
            )),
            Some(other) => Err(self.type_error(key, "an integer", other, &min.max(1).to_string())),
        }
    }

    /// A finite number greater than zero (seconds, multipliers).
    pub fn positive_number(&self, key: &str, example: &str) -> Result<Option<f64>, ConfigError> {
        let number = match self.value(key) {
            None => return Ok(None),
            Some(toml::Value::Integer(v)) => *v as f64,
            Some(toml::Value::Float(v)) => *v,
            Some(other) => return Err(self.type_error(key, "a number", other, example)),
        };
        if number.is_finite() && number > 0.0 {
            Ok(Some(number))
        } else {
            Err(self.error(
                key,
                format!("{number} is not a positive number"),
                format!("use a number greater than zero, e.g. {key} = {example}"),
            ))
        }
    }

    pub fn string_list(
        &self,
        key: &str,
        example: &str,
    ) -> Result<Option<Vec<String>>, ConfigError> {
        match self.value(key) {
            None => Ok(None),
            Some(toml::Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| match item {
                    toml::Value::String(s) => Ok(s.clone()),
                    other => Err(ConfigError::new(
                        self.file,
                        format!("{}[{i}]", self.key(key)),
                        format!(
                            "expected a string, found {} `{other}`",
                            toml_type_name(other)
                        ),
                        format!("write every entry as a quoted string, e.g. {key} = {example}"),
                    )),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(other) => Err(self.type_error(key, "a list of strings", other, example)),
        }
    }
}

fn is_close(a: &str, b: &str) -> bool {
    let (a, b) = (a.to_ascii_lowercase(), b.to_ascii_lowercase());
    a.contains(&b) || b.contains(&a) || super::options::edit_distance(&a, &b) <= 2
}
