//! Why a configuration was refused, and how a toml error is turned into
//! one that names the dotted key it is about.

use std::fmt;
use std::path::PathBuf;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use toml::Spanned;

/// Why a configuration was refused. `Display` is the whole message.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {}: {error}", path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    /// An error in the file at `path` (from [`Config::load`]).
    #[error("config file {}: {error}", path.display())]
    InFile {
        path: PathBuf,
        error: Box<ConfigError>,
    },
    /// Not valid TOML, or an error without a key; toml's message with the
    /// line, the column and the offending line.
    #[error("invalid config: {0}")]
    Parse(String),
    #[error("unknown config key `{key}`{}", .expected.as_ref().map(|e| format!(" ({e})")).unwrap_or_default())]
    UnknownKey {
        key: String,
        expected: Option<String>,
    },
    #[error("config key `{key}`: {message}")]
    Invalid { key: String, message: String },
    /// A `SWITCHBOARD_*` variable whose value the key refuses.
    #[error("environment variable {var}: {error}")]
    Env {
        var: String,
        error: Box<ConfigError>,
    },
    #[error("unknown environment variable {var}: no config key matches (SWITCHBOARD_<TABLE>_<KEY> sets <table>.<key>)")]
    UnknownEnv { var: String },
}

impl ConfigError {
    /// The dotted key the error is about, if it is about one key.
    #[cfg_attr(not(test), allow(dead_code))] // the binary prints errors whole
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::UnknownKey { key, .. } | Self::Invalid { key, .. } => Some(key),
            Self::InFile { error, .. } | Self::Env { error, .. } => error.key(),
            Self::Read { .. } | Self::Parse(_) | Self::UnknownEnv { .. } => None,
        }
    }
}

pub(super) fn invalid(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        message: message.into(),
    }
}

/// Turns a toml/serde error into a [`ConfigError`] naming the dotted key:
/// the last key that starts at or before the error's span.
pub(super) fn toml_error(src: &str, err: toml::de::Error) -> ConfigError {
    let message = err.message().trim();
    let mut keys = Vec::new();
    if let (Some(span), Ok(Tree::Table(entries))) = (err.span(), toml::from_str::<Tree>(src)) {
        Tree::collect(&entries, &mut Vec::new(), &mut keys);
        keys.retain(|(start, _)| *start <= span.start);
    }
    let Some((_, mut path)) = keys.into_iter().max_by_key(|(start, _)| *start) else {
        return ConfigError::Parse(err.to_string().trim_end().to_string());
    };
    let unknown = message
        .strip_prefix("unknown field `")
        .and_then(|r| r.split_once('`'));
    if let Some((field, rest)) = unknown {
        if path.last().map(String::as_str) != Some(field) {
            path.push(field.to_string());
        }
        let expected = rest.trim_start_matches(',').trim();
        let expected = (!expected.is_empty()).then(|| expected.to_string());
        return ConfigError::UnknownKey {
            key: path.join("."),
            expected,
        };
    }
    invalid(&path.join("."), message)
}

/// The tables of a TOML document with the span of every key; used only to
/// find the key an error is about. Arrays are leaves: an error inside one is
/// about the array's key. (A document holding a datetime does not fit, as
/// toml gives datetimes an unspanned key; its errors are shown as toml prints
/// them, with the line, the column and the offending line.)
enum Tree {
    Table(Vec<(Spanned<String>, Tree)>),
    Leaf,
}

impl Tree {
    /// Appends every key under `entries` as (start offset, full path).
    fn collect(
        entries: &[(Spanned<String>, Tree)],
        path: &mut Vec<String>,
        out: &mut Vec<(usize, Vec<String>)>,
    ) {
        for (key, value) in entries {
            path.push(key.get_ref().clone());
            out.push((key.span().start, path.clone()));
            if let Tree::Table(children) = value {
                Tree::collect(children, path, out);
            }
            path.pop();
        }
    }
}

impl<'de> Deserialize<'de> for Tree {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TreeVisitor)
    }
}

struct TreeVisitor;

macro_rules! leaf {
    ($($visit:ident: $ty:ty),*) => {
        $(fn $visit<E>(self, _: $ty) -> Result<Tree, E> { Ok(Tree::Leaf) })*
    };
}

impl<'de> Visitor<'de> for TreeVisitor {
    type Value = Tree;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any TOML value")
    }
    leaf!(visit_bool: bool, visit_i64: i64, visit_f64: f64, visit_str: &str);
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Tree, A::Error> {
        while seq.next_element::<de::IgnoredAny>()?.is_some() {}
        Ok(Tree::Leaf)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tree, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry()? {
            entries.push(entry);
        }
        Ok(Tree::Table(entries))
    }
}
