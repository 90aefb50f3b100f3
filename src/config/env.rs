//! `SWITCHBOARD_<TABLE>_<KEY>` environment overrides, applied to the
//! file's TOML before it is deserialized and validated, so an override
//! meets exactly the checks a key in the file meets.

use super::{toml_error, Config, ConfigError};

const PREFIX: &str = "SWITCHBOARD_";
/// The test suite's own knobs (`SWITCHBOARD_TEST_LOG`), not config keys.
const RESERVED: &str = "SWITCHBOARD_TEST_";

/// The file's text with every override applied, and which dotted key each
/// variable set. With no overrides the text comes back as it was, so
/// errors point into the operator's own file.
pub(super) fn apply(
    text: &str,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<(String, Vec<(String, String)>), ConfigError> {
    let mut vars: Vec<(String, String)> = vars
        .into_iter()
        .filter(|(k, _)| k.starts_with(PREFIX) && !k.starts_with(RESERVED))
        .collect();
    if vars.is_empty() {
        return Ok((text.to_string(), Vec::new()));
    }
    vars.sort();
    let mut doc: toml::Table = match text.parse() {
        Ok(t) => t,
        // Let the ordinary path report the syntax error, with its line.
        Err(_) => return Ok((text.to_string(), Vec::new())),
    };
    let mut applied = Vec::new();
    for (var, raw) in vars {
        let (table, key, value) = resolve(&var, &raw)?;
        let entry = doc
            .entry(table.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        match entry {
            toml::Value::Table(t) => {
                t.insert(key.clone(), value);
            }
            _ => {
                return Err(ConfigError::Env {
                    var,
                    error: Box::new(super::invalid(&table, "is not a table in the file")),
                })
            }
        }
        applied.push((format!("{table}.{key}"), var));
    }
    let text = toml::to_string(&doc).map_err(|e| ConfigError::Parse(e.to_string()))?;
    Ok((text, applied))
}

/// Which `table.key` the variable names and its value as TOML. Names hold
/// underscores (`default_guild`, `message_length`), so each split of the
/// name is tried against the schema until one is a known key. The value is
/// read as a TOML value (number, boolean, array) when it parses as one and
/// the key takes that type, else as a string.
fn resolve(var: &str, raw: &str) -> Result<(String, String, toml::Value), ConfigError> {
    let name = var[PREFIX.len()..].to_ascii_lowercase();
    let parts: Vec<&str> = name.split('_').collect();
    let typed = toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"));
    for i in 1..parts.len() {
        let (table, key) = (parts[..i].join("_"), parts[i..].join("_"));
        if table.is_empty() || key.is_empty() {
            continue;
        }
        let dotted = format!("{table}.{key}");
        let mut first_error = None;
        for value in typed
            .iter()
            .cloned()
            .chain([toml::Value::String(raw.into())])
        {
            match check(&table, &key, value.clone()) {
                Ok(()) => return Ok((table, key, value)),
                Err(ConfigError::UnknownKey { key: k, .. }) if k == table || k == dotted => break,
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if let Some(error) = first_error {
            return Err(ConfigError::Env {
                var: var.to_string(),
                error: Box::new(error),
            });
        }
    }
    Err(ConfigError::UnknownEnv {
        var: var.to_string(),
    })
}

/// Deserializes a document holding only this key (no cross-key checks:
/// those run once every override is in).
fn check(table: &str, key: &str, value: toml::Value) -> Result<(), ConfigError> {
    let mut inner = toml::Table::new();
    inner.insert(key.to_string(), value);
    let mut doc = toml::Table::new();
    doc.insert(table.to_string(), toml::Value::Table(inner));
    let text = toml::to_string(&doc).map_err(|e| ConfigError::Parse(e.to_string()))?;
    toml::from_str::<Config>(&text)
        .map(drop)
        .map_err(|e| toml_error(&text, e))
}
