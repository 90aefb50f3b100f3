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
        let (path, value) = resolve(&var, &raw)?;
        let dotted = path.join(".");
        let (key, tables) = path
            .split_last()
            .ok_or_else(|| ConfigError::UnknownEnv { var: var.clone() })?;
        let mut at = &mut doc;
        for (depth, table) in tables.iter().enumerate() {
            let entry = at
                .entry(table.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            at = match entry {
                toml::Value::Table(t) => t,
                _ => {
                    return Err(ConfigError::Env {
                        var,
                        error: Box::new(super::invalid(
                            &tables[..=depth].join("."),
                            "is not a table in the file",
                        )),
                    })
                }
            };
        }
        at.insert(key.clone(), value);
        applied.push((dotted, var));
    }
    let text = toml::to_string(&doc).map_err(|e| ConfigError::Parse(e.to_string()))?;
    Ok((text, applied))
}

/// Deepest config path (`originchats.rate_limiting.enabled`): tables
/// nested in tables, then the key.
const MAX_DEPTH: usize = 3;

/// Which dotted key the variable names and its value as TOML. Names hold
/// underscores (`default_guild`, `message_length`), so each way of cutting
/// the name into a path is tried against the schema until one is a known
/// key. The value is read as a TOML value (number, boolean, array) when it
/// parses as one and the key takes that type, else as a string.
fn resolve(var: &str, raw: &str) -> Result<(Vec<String>, toml::Value), ConfigError> {
    let name = var[PREFIX.len()..].to_ascii_lowercase();
    let parts: Vec<&str> = name.split('_').collect();
    let typed = toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"));
    for path in paths(&parts) {
        let mut first_error = None;
        for value in typed
            .iter()
            .cloned()
            .chain([toml::Value::String(raw.into())])
        {
            match check(&path, value.clone()) {
                Ok(()) => return Ok((path, value)),
                // This cut names no key; the next one may.
                Err(ConfigError::UnknownKey { key, .. }) if names_a_prefix(&path, &key) => break,
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

/// Every way to cut `parts` into 2..=MAX_DEPTH non-empty segments, each
/// segment its parts joined by `_`; shallow cuts first.
fn paths(parts: &[&str]) -> Vec<Vec<String>> {
    fn cuts(parts: &[&str], segments: usize, out: &mut Vec<Vec<String>>, prefix: &mut Vec<String>) {
        if segments == 1 {
            if parts.iter().all(|p| !p.is_empty()) && !parts.is_empty() {
                prefix.push(parts.join("_"));
                out.push(prefix.clone());
                prefix.pop();
            }
            return;
        }
        for i in 1..parts.len() {
            if parts[..i].iter().any(|p| p.is_empty()) {
                continue;
            }
            prefix.push(parts[..i].join("_"));
            cuts(&parts[i..], segments - 1, out, prefix);
            prefix.pop();
        }
    }
    let mut out = Vec::new();
    for segments in 2..=MAX_DEPTH {
        cuts(parts, segments, &mut out, &mut Vec::new());
    }
    out
}

/// Whether an unknown-key error points at this path or a table on it.
fn names_a_prefix(path: &[String], key: &str) -> bool {
    (1..=path.len()).any(|n| path[..n].join(".") == key)
}

/// Deserializes a document holding only this key (no cross-key checks:
/// those run once every override is in).
fn check(path: &[String], value: toml::Value) -> Result<(), ConfigError> {
    let mut doc = value;
    for segment in path.iter().rev() {
        let mut table = toml::Table::new();
        table.insert(segment.clone(), doc);
        doc = toml::Value::Table(table);
    }
    let text = toml::to_string(&doc).map_err(|e| ConfigError::Parse(e.to_string()))?;
    toml::from_str::<Config>(&text)
        .map(drop)
        .map_err(|e| toml_error(&text, e))
}
