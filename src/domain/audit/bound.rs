//! Bounds on the size of an audit event's detail object, so a client cannot make one request
//! write a huge audit row (a bulk delete of 90,000 key ids once wrote a 582 KB row).
//!
//! Lists keep their first [`MAX_ITEMS`] entries and say how many were left out, objects their
//! first [`MAX_ITEMS`] members, strings their first [`MAX_CHARS`] characters, nesting stops at
//! [`MAX_DEPTH`]; whatever still exceeds [`MAX_BYTES`] once serialized is replaced by a marker with
//! its size. The row stays valid JSON and says what was cut.

use serde_json::{Map, Value};

/// Entries kept of a list or members of an object.
pub const MAX_ITEMS: usize = 20;
/// Characters kept of a string.
pub const MAX_CHARS: usize = 256;
/// Levels of nesting kept.
pub const MAX_DEPTH: usize = 6;
/// The most a detail object may take once serialized.
pub const MAX_BYTES: usize = 8 * 1024;

/// `detail`, cut down to the bounds above.
pub fn bounded(detail: Map<String, Value>) -> Value {
    let value = cut(Value::Object(detail), 0);
    let bytes = value.to_string().len();
    if bytes <= MAX_BYTES {
        return value;
    }
    serde_json::json!({ "truncated": true, "bytes": bytes })
}

fn cut(value: Value, depth: usize) -> Value {
    match value {
        Value::String(s) if s.chars().count() > MAX_CHARS => {
            let kept: String = s.chars().take(MAX_CHARS).collect();
            Value::String(format!("{kept}…"))
        }
        Value::Array(items) if depth >= MAX_DEPTH => omitted(items.len()),
        Value::Object(members) if depth >= MAX_DEPTH => omitted(members.len()),
        Value::Array(items) => {
            let total = items.len();
            let mut kept: Vec<Value> = items
                .into_iter()
                .take(MAX_ITEMS)
                .map(|v| cut(v, depth + 1))
                .collect();
            if total > MAX_ITEMS {
                kept.push(omitted(total - MAX_ITEMS));
            }
            Value::Array(kept)
        }
        Value::Object(members) => {
            let total = members.len();
            let mut kept: Map<String, Value> = members
                .into_iter()
                .take(MAX_ITEMS)
                .map(|(k, v)| (cut_key(k), cut(v, depth + 1)))
                .collect();
            if total > MAX_ITEMS {
                kept.insert("…".into(), omitted(total - MAX_ITEMS));
            }
            Value::Object(kept)
        }
        other => other,
    }
}

fn cut_key(key: String) -> String {
    if key.chars().count() > MAX_CHARS {
        key.chars().take(MAX_CHARS).collect()
    } else {
        key
    }
}

fn omitted(n: usize) -> Value {
    Value::String(format!("… {n} more"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn detail(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn small_details_are_kept_as_they_are() {
        let d = json!({"auth": "bearer", "key_ids": ["a", "b"], "deleted": 2});
        assert_eq!(bounded(detail(d.clone())), d);
    }

    #[test]
    fn long_lists_and_strings_are_cut_and_say_so() {
        let ids: Vec<String> = (0..90_000).map(|i| format!("{i:032}")).collect();
        let out = bounded(detail(json!({"key_ids": ids, "name": "x".repeat(10_000)})));
        let list = out["key_ids"].as_array().unwrap();
        assert_eq!(list.len(), MAX_ITEMS + 1);
        assert_eq!(
            list[MAX_ITEMS],
            json!(format!("… {} more", 90_000 - MAX_ITEMS))
        );
        assert_eq!(out["name"].as_str().unwrap().chars().count(), MAX_CHARS + 1);
        assert!(out.to_string().len() <= MAX_BYTES);
    }

    #[test]
    fn anything_left_too_big_becomes_a_marker() {
        let wide: Map<String, Value> = (0..MAX_ITEMS)
            .map(|i| {
                (
                    format!("k{i}"),
                    json!(vec!["y".repeat(MAX_CHARS); MAX_ITEMS]),
                )
            })
            .collect();
        let out = bounded(wide);
        assert_eq!(out["truncated"], json!(true));
        let mut deep = json!("leaf");
        for _ in 0..50 {
            deep = json!([deep]);
        }
        assert!(bounded(detail(json!({ "deep": deep }))).to_string().len() < 200);
    }
}
