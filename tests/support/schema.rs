//! A small JSON Schema checker for the schemas the tests write (tests/data/ocsf/): `type`,
//! `enum`, `required`, `properties`, `additionalProperties: false`, `items`, `minLength`,
//! `minimum` and local `$ref`s, which is all they use. Every problem is returned with its
//! path, so one run names every wrong field.

use serde_json::Value;

/// Every place `value` breaks `schema` (`root` resolves `$ref`s), as `path: problem`.
pub fn check(value: &Value, schema: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    walk(value, schema, schema, "$", &mut problems);
    problems
}

fn type_ok(value: &Value, ty: &str) -> bool {
    match ty {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        // OCSF's integer_t, long_t and timestamp_t.
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        other => panic!("schema type {other} not supported by the checker"),
    }
}

fn walk(value: &Value, schema: &Value, root: &Value, path: &str, out: &mut Vec<String>) {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let target = r
            .strip_prefix("#/")
            .expect("local $ref")
            .split('/')
            .fold(root, |s, part| &s[part]);
        assert!(!target.is_null(), "{r}: no such definition");
        return walk(value, target, root, path, out);
    }
    if let Some(ty) = schema.get("type").and_then(Value::as_str)
        && !type_ok(value, ty)
    {
        out.push(format!("{path}: expected {ty}, got {value}"));
        return;
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        out.push(format!("{path}: {value} is not one of {allowed:?}"));
    }
    if let (Some(min), Some(s)) = (
        schema.get("minLength").and_then(Value::as_u64),
        value.as_str(),
    ) && (s.chars().count() as u64) < min
    {
        out.push(format!("{path}: shorter than {min}"));
    }
    if let (Some(min), Some(n)) = (
        schema.get("minimum").and_then(Value::as_i64),
        value.as_i64(),
    ) && n < min
    {
        out.push(format!("{path}: {n} is below {min}"));
    }
    if let Some(obj) = value.as_object() {
        let props = schema.get("properties").and_then(Value::as_object);
        for name in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !obj.contains_key(name) {
                out.push(format!("{path}: required attribute {name} missing"));
            }
        }
        for (name, v) in obj {
            let child = format!("{path}.{name}");
            match props.and_then(|p| p.get(name)) {
                Some(s) => walk(v, s, root, &child, out),
                None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    out.push(format!("{child}: not an attribute of this object"))
                }
                None => {}
            }
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), value.as_array()) {
        for (i, v) in arr.iter().enumerate() {
            walk(v, items, root, &format!("{path}[{i}]"), out);
        }
    }
}
