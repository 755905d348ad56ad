//! JSON attributes ↔ `google.protobuf.Struct`.
//!
//! Outbound, stored JSON objects become `Struct`s; inbound, a client's `Struct` becomes a JSON
//! object with its keys sorted, so that the same attributes always encode — and hash — the same.

/// JSON object → `google.protobuf.Struct` (non-objects become an empty struct).
pub fn json_struct(v: &serde_json::Value) -> prost_types::Struct {
    let fields = match v {
        serde_json::Value::Object(map) => map
            .iter()
            .map(|(k, v)| (k.clone(), prost_value(v)))
            .collect(),
        _ => Default::default(),
    };
    prost_types::Struct { fields }
}

fn prost_value(v: &serde_json::Value) -> prost_types::Value {
    use prost_types::value::Kind;
    let kind = match v {
        serde_json::Value::Null => Kind::NullValue(0),
        serde_json::Value::Bool(b) => Kind::BoolValue(*b),
        serde_json::Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or(0.0)),
        serde_json::Value::String(s) => Kind::StringValue(s.clone()),
        serde_json::Value::Array(a) => Kind::ListValue(prost_types::ListValue {
            values: a.iter().map(prost_value).collect(),
        }),
        serde_json::Value::Object(_) => Kind::StructValue(json_struct(v)),
    };
    prost_types::Value { kind: Some(kind) }
}

/// `google.protobuf.Struct` → JSON object, keys in sorted order (non-finite numbers become null).
pub fn struct_json(s: &prost_types::Struct) -> serde_json::Map<String, serde_json::Value> {
    // BTreeMap order: the same attributes always hash the same.
    let sorted: std::collections::BTreeMap<_, _> = s.fields.iter().collect();
    sorted
        .into_iter()
        .map(|(k, v)| (k.clone(), json_value(v)))
        .collect()
}

fn json_value(v: &prost_types::Value) -> serde_json::Value {
    use prost_types::value::Kind;
    match &v.kind {
        None | Some(Kind::NullValue(_)) => serde_json::Value::Null,
        Some(Kind::BoolValue(b)) => (*b).into(),
        Some(Kind::NumberValue(n)) => serde_json::Number::from_f64(*n)
            .map(Into::into)
            .unwrap_or(serde_json::Value::Null),
        Some(Kind::StringValue(s)) => s.clone().into(),
        Some(Kind::ListValue(l)) => l.values.iter().map(json_value).collect(),
        Some(Kind::StructValue(s)) => struct_json(s).into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_attributes_become_a_struct() {
        use prost_types::value::Kind;
        let v = serde_json::json!({"NIMI": "soo-neiuvaip", "n": 3, "ok": true, "none": null,
                                   "list": [1, "a"], "nested": {"x": 1.5}});
        let s = json_struct(&v);
        assert_eq!(
            s.fields["NIMI"].kind,
            Some(Kind::StringValue("soo-neiuvaip".into()))
        );
        assert_eq!(s.fields["n"].kind, Some(Kind::NumberValue(3.0)));
        assert_eq!(s.fields["ok"].kind, Some(Kind::BoolValue(true)));
        assert_eq!(s.fields["none"].kind, Some(Kind::NullValue(0)));
        let Some(Kind::ListValue(l)) = &s.fields["list"].kind else {
            panic!()
        };
        assert_eq!(l.values.len(), 2);
        let Some(Kind::StructValue(n)) = &s.fields["nested"].kind else {
            panic!()
        };
        assert_eq!(n.fields["x"].kind, Some(Kind::NumberValue(1.5)));
        assert!(json_struct(&serde_json::json!([1, 2])).fields.is_empty());
    }
}
