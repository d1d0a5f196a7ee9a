//! The backend runtime options a sweep can vary: their names, types, and which of them make
//! Ollama reload the model. This table is the single source of truth for `[grid]`,
//! `[[agent]].options`, the Parquet option columns and the load configuration of a cell.

use std::fmt;

use serde::Serialize;

/// The value type of one option, as Ollama's API expects it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptionKind {
    Int,
    Float,
    Bool,
    Str,
    StrList,
}

impl OptionKind {
    /// How the kind is named in error messages ("an integer", ...).
    pub fn article_name(self) -> &'static str {
        match self {
            OptionKind::Int => "an integer",
            OptionKind::Float => "a number",
            OptionKind::Bool => "a boolean",
            OptionKind::Str => "a string",
            OptionKind::StrList => "a list of strings",
        }
    }

    /// A TOML example of a valid value, used in the fix of an error message.
    fn example(self) -> &'static str {
        match self {
            OptionKind::Int => "512",
            OptionKind::Float => "0.8",
            OptionKind::Bool => "true",
            OptionKind::Str => "\"gemma3:latest\"",
            OptionKind::StrList => "[\"</s>\"]",
        }
    }
}

/// One known option.
#[derive(Debug)]
pub struct OptionSpec {
    pub name: &'static str,
    pub kind: OptionKind,
    /// Changing it makes Ollama reload the model (the next call pays `load_duration`).
    pub reloads_model: bool,
}

const fn spec(name: &'static str, kind: OptionKind, reloads_model: bool) -> OptionSpec {
    OptionSpec {
        name,
        kind,
        reloads_model,
    }
}

/// The pseudo-option naming the model. It may be a grid key; it is sent as the request's
/// `model` field, never inside `options`.
pub const MODEL_KEY: &str = "model";

/// Ollama's options (api/types.go `Options` and `Runner`), plus `model`.
pub const KNOWN_OPTIONS: &[OptionSpec] = &[
    spec(MODEL_KEY, OptionKind::Str, true),
    // Runner options: a change reloads the model.
    spec("num_ctx", OptionKind::Int, true),
    spec("num_batch", OptionKind::Int, true),
    spec("num_gpu", OptionKind::Int, true),
    spec("main_gpu", OptionKind::Int, true),
    spec("num_thread", OptionKind::Int, true),
    spec("use_mmap", OptionKind::Bool, true),
    spec("use_mlock", OptionKind::Bool, true),
    spec("low_vram", OptionKind::Bool, true),
    spec("numa", OptionKind::Bool, true),
    // Sampling and prediction options: applied per request.
    spec("num_keep", OptionKind::Int, false),
    spec("seed", OptionKind::Int, false),
    spec("num_predict", OptionKind::Int, false),
    spec("top_k", OptionKind::Int, false),
    spec("top_p", OptionKind::Float, false),
    spec("min_p", OptionKind::Float, false),
    spec("typical_p", OptionKind::Float, false),
    spec("tfs_z", OptionKind::Float, false),
    spec("repeat_last_n", OptionKind::Int, false),
    spec("temperature", OptionKind::Float, false),
    spec("repeat_penalty", OptionKind::Float, false),
    spec("presence_penalty", OptionKind::Float, false),
    spec("frequency_penalty", OptionKind::Float, false),
    spec("mirostat", OptionKind::Int, false),
    spec("mirostat_tau", OptionKind::Float, false),
    spec("mirostat_eta", OptionKind::Float, false),
    spec("penalize_newline", OptionKind::Bool, false),
    spec("stop", OptionKind::StrList, false),
];

/// Looks an option up by name.
pub fn lookup(name: &str) -> Option<&'static OptionSpec> {
    KNOWN_OPTIONS.iter().find(|spec| spec.name == name)
}

/// The known option closest to a misspelt name, when one is close enough to be a typo.
pub fn suggest(name: &str) -> Option<&'static str> {
    KNOWN_OPTIONS
        .iter()
        .map(|spec| (edit_distance(name, spec.name), spec.name))
        .filter(|(distance, _)| *distance <= 2)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, known)| known)
}

/// Levenshtein distance, for "did you mean" hints.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

/// A validated option value. Floats are always finite: NaN and infinities are rejected when
/// the experiment is parsed, so values compare and group reliably.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum OptionValue {
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(String),
    StrList(Vec<String>),
}

impl fmt::Display for OptionValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OptionValue::Int(v) => write!(f, "{v}"),
            OptionValue::Float(v) => write!(f, "{v}"),
            OptionValue::Bool(v) => write!(f, "{v}"),
            OptionValue::Str(v) => f.write_str(v),
            OptionValue::StrList(v) => write!(f, "{v:?}"),
        }
    }
}

impl OptionValue {
    /// The JSON form sent to the backend.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            OptionValue::Int(v) => (*v).into(),
            OptionValue::Float(v) => (*v).into(),
            OptionValue::Bool(v) => (*v).into(),
            OptionValue::Str(v) => v.clone().into(),
            OptionValue::StrList(v) => v.clone().into(),
        }
    }
}

/// Why a TOML value is not a valid value of an option: the problem and its fix.
#[derive(Debug, PartialEq)]
pub struct ValueProblem {
    pub problem: String,
    pub fix: String,
}

/// Converts a TOML value into the option's type. Integers are accepted where a number is
/// expected (`temperature = [0, 1]`); everything else must match exactly.
pub fn parse_value(spec: &OptionSpec, value: &toml::Value) -> Result<OptionValue, ValueProblem> {
    let mismatch = || ValueProblem {
        problem: format!(
            "expected {}, found {} `{}`",
            spec.kind.article_name(),
            toml_type_name(value),
            value
        ),
        fix: format!(
            "write {} values as {}, e.g. {} = {}",
            spec.name,
            spec.kind.article_name(),
            spec.name,
            spec.kind.example()
        ),
    };
    match (spec.kind, value) {
        (OptionKind::Int, toml::Value::Integer(v)) => Ok(OptionValue::Int(*v)),
        (OptionKind::Float, toml::Value::Integer(v)) => Ok(OptionValue::Float(*v as f64)),
        (OptionKind::Float, toml::Value::Float(v)) if v.is_finite() => Ok(OptionValue::Float(*v)),
        (OptionKind::Float, toml::Value::Float(v)) => Err(ValueProblem {
            problem: format!("{v} is not a finite number"),
            fix: format!("give {} a finite value such as 0.8", spec.name),
        }),
        (OptionKind::Bool, toml::Value::Boolean(v)) => Ok(OptionValue::Bool(*v)),
        (OptionKind::Str, toml::Value::String(v)) if !v.trim().is_empty() => {
            Ok(OptionValue::Str(v.clone()))
        }
        (OptionKind::StrList, toml::Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .map(OptionValue::StrList)
            .ok_or_else(mismatch),
        _ => Err(mismatch()),
    }
}

/// The TOML type name of a value, for error messages.
pub fn toml_type_name(value: &toml::Value) -> &'static str {
    match value {
        toml::Value::String(_) => "string",
        toml::Value::Integer(_) => "integer",
        toml::Value::Float(_) => "float",
        toml::Value::Boolean(_) => "boolean",
        toml::Value::Datetime(_) => "datetime",
        toml::Value::Array(_) => "array",
        toml::Value::Table(_) => "table",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        let mut names: Vec<_> = KNOWN_OPTIONS.iter().map(|spec| spec.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), KNOWN_OPTIONS.len());
    }

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(suggest("num_ctxx"), Some("num_ctx"));
        assert_eq!(suggest("temprature"), Some("temperature"));
        assert_eq!(suggest("completely_unrelated"), None);
    }

    #[test]
    fn integers_widen_to_floats_but_not_the_reverse() {
        let temperature = lookup("temperature").unwrap();
        assert_eq!(
            parse_value(temperature, &toml::Value::Integer(1)),
            Ok(OptionValue::Float(1.0))
        );
        let num_ctx = lookup("num_ctx").unwrap();
        let problem = parse_value(num_ctx, &toml::Value::Float(1.5)).unwrap_err();
        assert_eq!(problem.problem, "expected an integer, found float `1.5`");
        assert_eq!(
            problem.fix,
            "write num_ctx values as an integer, e.g. num_ctx = 512"
        );
    }

    #[test]
    fn non_finite_floats_are_rejected() {
        let top_p = lookup("top_p").unwrap();
        let problem = parse_value(top_p, &toml::Value::Float(f64::NAN)).unwrap_err();
        assert_eq!(problem.problem, "NaN is not a finite number");
    }
}
