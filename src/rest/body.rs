//! Reading JSON bodies field by field, so that every error names its field
//! (`Missing field \`name\``, `Field \`position\` must be an integer`), in the
//! words the WebSocket parser uses. `null` counts as absent, except where a
//! field is nullable (`Option<Option<_>>`: absent, null, or a value).

use serde_json::{Map, Value};
use switchboard_protocols::Id;

use super::error::{ApiError, ApiResult};

/// A decimal `u64` with digits only: no sign, no spaces, no exponent.
pub fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// An id given as a decimal string or a non-negative integer.
pub fn id_value(v: &Value, key: &str) -> ApiResult<Id> {
    match v {
        Value::String(s) => parse_decimal(s).map(Id),
        Value::Number(n) => n.as_u64().map(Id),
        _ => None,
    }
    .ok_or_else(|| ApiError::invalid(format!("Field `{key}` must be an id (a decimal string)")))
}

/// A permission bitfield given as a decimal string or a non-negative integer.
pub fn permissions_value(v: &Value, key: &str) -> ApiResult<u64> {
    match v {
        Value::String(s) => parse_decimal(s),
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
    .ok_or_else(|| {
        ApiError::invalid(format!(
            "Field `{key}` must be a u64 bitfield (a decimal string or a number)"
        ))
    })
}

fn missing(key: &str) -> ApiError {
    ApiError::invalid(format!("Missing field `{key}`"))
}

/// The fields of a JSON object body.
#[derive(Clone, Copy)]
pub struct Fields<'a>(&'a Map<String, Value>);

impl<'a> Fields<'a> {
    pub fn of(body: &'a Value) -> ApiResult<Fields<'a>> {
        match body {
            Value::Object(m) => Ok(Fields(m)),
            _ => Err(ApiError::invalid("Request body must be a JSON object")),
        }
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.0.get(key).filter(|v| !v.is_null())
    }

    /// Absent: `None`; `null`: `Some(None)`; a value: `Some(Some(v))`.
    fn nullable(&self, key: &str) -> Option<Option<&'a Value>> {
        self.0.get(key).map(|v| (!v.is_null()).then_some(v))
    }

    pub fn string(&self, key: &str) -> ApiResult<String> {
        self.opt_string(key)?.ok_or_else(|| missing(key))
    }

    pub fn opt_string(&self, key: &str) -> ApiResult<Option<String>> {
        self.get(key).map(|v| str_value(v, key)).transpose()
    }

    pub fn nullable_string(&self, key: &str) -> ApiResult<Option<Option<String>>> {
        self.nullable(key)
            .map(|v| v.map(|v| str_value(v, key)).transpose())
            .transpose()
    }

    pub fn id(&self, key: &str) -> ApiResult<Id> {
        self.opt_id(key)?.ok_or_else(|| missing(key))
    }

    pub fn opt_id(&self, key: &str) -> ApiResult<Option<Id>> {
        self.get(key).map(|v| id_value(v, key)).transpose()
    }

    pub fn nullable_id(&self, key: &str) -> ApiResult<Option<Option<Id>>> {
        self.nullable(key)
            .map(|v| v.map(|v| id_value(v, key)).transpose())
            .transpose()
    }

    pub fn opt_bool(&self, key: &str) -> ApiResult<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(ApiError::invalid(format!(
                "Field `{key}` must be a boolean"
            ))),
        }
    }

    pub fn opt_i32(&self, key: &str) -> ApiResult<Option<i32>> {
        self.get(key)
            .map(|v| {
                v.as_i64()
                    .and_then(|n| i32::try_from(n).ok())
                    .ok_or_else(|| {
                        ApiError::invalid(format!("Field `{key}` must be a 32-bit integer"))
                    })
            })
            .transpose()
    }

    /// An integer in `0..=max`.
    pub fn opt_u32_max(&self, key: &str, max: u32) -> ApiResult<Option<u32>> {
        self.get(key)
            .map(|v| {
                v.as_u64()
                    .filter(|n| *n <= u64::from(max))
                    .map(|n| n as u32)
                    .ok_or_else(|| {
                        ApiError::invalid(format!(
                            "Field `{key}` must be an integer from 0 to {max}"
                        ))
                    })
            })
            .transpose()
    }

    pub fn opt_permissions(&self, key: &str) -> ApiResult<Option<u64>> {
        self.get(key).map(|v| permissions_value(v, key)).transpose()
    }

    pub fn opt_array(&self, key: &str) -> ApiResult<Option<&'a Vec<Value>>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(_) => Err(ApiError::invalid(format!("Field `{key}` must be a list"))),
        }
    }

    /// A list of ids; absent is empty.
    pub fn id_list(&self, key: &str) -> ApiResult<Vec<Id>> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(v) => ids_value(v, key),
        }
    }
}

fn str_value(v: &Value, key: &str) -> ApiResult<String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        _ => Err(ApiError::invalid(format!("Field `{key}` must be a string"))),
    }
}

/// A JSON array of ids.
pub fn ids_value(v: &Value, key: &str) -> ApiResult<Vec<Id>> {
    match v {
        Value::Array(items) => items.iter().map(|v| id_value(v, key)).collect(),
        _ => Err(ApiError::invalid(format!(
            "Field `{key}` must be a list of ids"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn msg(r: ApiResult<impl std::fmt::Debug>) -> String {
        match r {
            Ok(v) => panic!("expected an error, got {v:?}"),
            Err(e) => e.0.message,
        }
    }

    #[test]
    fn decimals_are_digits_only() {
        assert_eq!(parse_decimal("0"), Some(0));
        assert_eq!(parse_decimal("18446744073709551615"), Some(u64::MAX));
        for bad in ["", "+1", "-1", " 1", "1e3", "0x10", "18446744073709551616"] {
            assert_eq!(parse_decimal(bad), None, "{bad}");
        }
    }

    #[test]
    fn permissions_accept_strings_and_numbers() {
        assert_eq!(permissions_value(&json!("1024"), "p").ok(), Some(1024));
        assert_eq!(permissions_value(&json!(8), "p").ok(), Some(8));
        assert_eq!(
            permissions_value(&json!("18446744073709551615"), "p").ok(),
            Some(u64::MAX)
        );
        for bad in [json!(-1), json!(1.5), json!("x"), json!(true), json!("")] {
            assert!(permissions_value(&bad, "p").is_err(), "{bad}");
        }
    }

    #[test]
    fn fields_name_the_problem() {
        let body =
            json!({"name": 5, "guild_id": "12", "n": null, "pos": 1.5, "big": 5_000_000_000u64});
        let f = Fields::of(&body).unwrap();
        assert_eq!(msg(f.string("name")), "Field `name` must be a string");
        assert_eq!(msg(f.string("title")), "Missing field `title`");
        assert_eq!(f.id("guild_id").ok(), Some(Id(12)));
        assert_eq!(msg(f.id("n")), "Missing field `n`");
        assert_eq!(f.opt_string("n").ok(), Some(None));
        assert_eq!(
            msg(f.opt_i32("pos")),
            "Field `pos` must be a 32-bit integer"
        );
        assert!(f.opt_i32("big").is_err());
        assert_eq!(
            msg(f.opt_u32_max("big", 0xFF_FFFF)),
            "Field `big` must be an integer from 0 to 16777215"
        );
        assert!(Fields::of(&json!([1])).is_err());
    }

    #[test]
    fn nullable_fields_tell_null_from_absent() {
        let body = json!({"icon": null, "category_id": "4", "topic": "t"});
        let f = Fields::of(&body).unwrap();
        assert_eq!(f.nullable_string("icon").ok(), Some(Some(None)));
        assert_eq!(f.nullable_string("absent").ok(), Some(None));
        assert_eq!(
            f.nullable_string("topic").ok(),
            Some(Some(Some("t".into())))
        );
        assert_eq!(f.nullable_id("category_id").ok(), Some(Some(Some(Id(4)))));
        assert_eq!(f.nullable_id("icon").ok(), Some(Some(None)));
    }

    #[test]
    fn id_lists() {
        assert_eq!(
            ids_value(&json!(["1", 2]), "roles").ok(),
            Some(vec![Id(1), Id(2)])
        );
        assert!(ids_value(&json!(["a"]), "roles").is_err());
        assert!(ids_value(&json!({"a": 1}), "roles").is_err());
        let body = json!({});
        assert_eq!(
            Fields::of(&body).unwrap().id_list("attachments").ok(),
            Some(vec![])
        );
    }
}
