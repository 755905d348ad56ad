//! The attributes the validation rules read from a layer feature, checked and normalised at
//! import, per layer kind: what a file holds becomes exactly what the rules expect, or the
//! feature gets a problem that names the attribute and its value.
//!
//! The rules (kovgis-engine's `index::facts`) read, from the stored JSON attributes:
//! - zoning: `designation` (text), `allowed_uses` (a JSON list of texts), `max_coverage_pct`
//!   (a JSON number), `dp_required` (a JSON boolean);
//! - detailed plan: `status` (`in_force` puts it in force), `max_coverage_pct`;
//! - restriction: `authority` (text; else the layer's).
//!
//! Shapefile and GeoPackage cannot hold a list or, often, a boolean, and registers write numbers
//! as text: here `allowed_uses` may be delimited text (`E;Ä`, `E,Ä`, a JSON list as text or
//! GDAL's `(2:E,Ä)`), `max_coverage_pct` numeric text (`35`, `35,5`, `35 %`), `dp_required`
//! `0`/`1`/`jah`/`ei`/`true`/`false`/`yes`/`no`, and `status` an Estonian planning status
//! (`kehtestatud` → `in_force`). A value that cannot be read is a problem, never left for a rule
//! to read as "no limit" or "not required": that would switch the rule off without a word.
//! A missing (or empty) value stays missing where that has a meaning the rules state (no
//! coverage limit, no detailed plan required, nothing allowed); `designation` of a zone, `status`
//! of a detailed plan and an authority for a restriction are required.
//!
//! Not the geometry checks (see [`crate::ingest`]); other layer kinds are not looked at.

use serde_json::{Map, Value};

use crate::model::LayerKind;

/// Changes whenever what this module makes of an attribute changes: part of an import's
/// fingerprint, so that a file imported under older rules is not "unchanged".
pub const VERSION: &str = "1";

/// The statuses of a detailed plan as stored, with the words a register may use for each
/// (compared trimmed and in lower case).
const STATUSES: &[(&str, &[&str])] = &[
    ("initiated", &["initiated", "algatatud"]),
    ("adopted", &["adopted", "vastu võetud", "vastuvõetud"]),
    (
        "in_force",
        &["in_force", "in force", "kehtestatud", "kehtiv"],
    ),
    (
        "repealed",
        &["repealed", "kehtetu", "kehtetuks tunnistatud"],
    ),
    (
        "discontinued",
        &["discontinued", "lõpetatud", "menetlus lõpetatud"],
    ),
];

/// Checks and normalises the rule attributes of one feature of a layer of `kind`, in place.
/// `layer_has_authority`: the layer names an authority (a restriction feature may then omit
/// its own). Returns the problems, one sentence each; empty when the feature is fine.
pub fn normalise(
    kind: LayerKind,
    attributes: &mut Map<String, Value>,
    layer_has_authority: bool,
) -> Vec<String> {
    let mut problems = Vec::new();
    let mut check = |r: Result<(), String>| {
        if let Err(e) = r {
            problems.push(e);
        }
    };
    match kind {
        LayerKind::Zoning => {
            check(required_text(attributes, "designation", "a zone"));
            check(allowed_uses(attributes));
            check(coverage(attributes));
            check(dp_required(attributes));
        }
        LayerKind::DetailedPlan => {
            check(status(attributes));
            check(coverage(attributes));
        }
        LayerKind::Restriction => check(authority(attributes, layer_has_authority)),
        LayerKind::Building | LayerKind::Other => {}
    }
    problems
}

/// `'name' = value` for messages, the value as JSON (shortened).
fn shown(name: &str, v: &Value) -> String {
    let mut s = v.to_string();
    if s.chars().count() > 60 {
        s = s.chars().take(57).collect::<String>() + "…";
    }
    format!("attribute '{name}' = {s}")
}

/// A value that says nothing: absent, null, or blank text.
fn blank(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.trim().is_empty(),
        _ => false,
    }
}

/// Blank values become absent, so that every rule sees one kind of "missing".
fn drop_blank(a: &mut Map<String, Value>, name: &str) -> bool {
    if blank(a.get(name)) {
        a.remove(name);
        true
    } else {
        false
    }
}

fn required_text(a: &mut Map<String, Value>, name: &str, what: &str) -> Result<(), String> {
    if drop_blank(a, name) {
        return Err(format!(
            "{what} needs attribute '{name}' (map the source field with --map {name}=FIELD)"
        ));
    }
    let v = &a[name];
    let text = match v {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        other => return Err(format!("{} is not text", shown(name, other))),
    };
    a.insert(name.to_owned(), Value::String(text));
    Ok(())
}

fn allowed_uses(a: &mut Map<String, Value>) -> Result<(), String> {
    const NAME: &str = "allowed_uses";
    if drop_blank(a, NAME) {
        return Ok(());
    }
    let v = &a[NAME];
    let items: Vec<Value> = match v {
        Value::Array(items) => items.clone(),
        Value::String(s) => split_list(s)
            .ok_or_else(|| format!("{} is not a list of uses", shown(NAME, v)))?
            .into_iter()
            .map(Value::String)
            .collect(),
        other => {
            return Err(format!(
                "{} is not a list of uses (a list, or text such as \"E;Ä\")",
                shown(NAME, other)
            ));
        }
    };
    let mut uses = Vec::with_capacity(items.len());
    for item in &items {
        match item {
            Value::String(s) if !s.trim().is_empty() => uses.push(Value::String(s.trim().into())),
            Value::Number(n) => uses.push(Value::String(n.to_string())),
            _ => {
                return Err(format!(
                    "{} has an element that is not a use: {item}",
                    shown(NAME, v)
                ));
            }
        }
    }
    a.insert(NAME.to_owned(), Value::Array(uses));
    Ok(())
}

/// The uses in delimited text: a JSON list written as text, GDAL's `(n:a,b)` for a list in a
/// text field, or items separated by `;` or `,`. `None` when a JSON list as text is broken.
fn split_list(s: &str) -> Option<Vec<String>> {
    let s = s.trim();
    if s.starts_with('[') {
        let items: Vec<Value> = serde_json::from_str(s).ok()?;
        return items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Some(s),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .collect();
    }
    // GDAL writes a string list into a text field as "(2:E,Ä)".
    let body = s
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .and_then(|r| r.split_once(':'))
        .filter(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .map(|(_, items)| items)
        .unwrap_or(s);
    let sep = if body.contains(';') { ';' } else { ',' };
    Some(
        body.split(sep)
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(str::to_owned)
            .collect(),
    )
}

fn coverage(a: &mut Map<String, Value>) -> Result<(), String> {
    const NAME: &str = "max_coverage_pct";
    if drop_blank(a, NAME) {
        return Ok(());
    }
    let v = &a[NAME];
    let n = match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => {
            let t = s.trim();
            let t = t.strip_suffix('%').unwrap_or(t).trim();
            t.replace(',', ".").parse::<f64>().ok()
        }
        _ => None,
    };
    match n {
        Some(n) if n.is_finite() && (0.0..=100.0).contains(&n) => {
            a.insert(NAME.to_owned(), number(n));
            Ok(())
        }
        _ => Err(format!(
            "{} is not a building coverage in percent (a number from 0 to 100)",
            shown(NAME, v)
        )),
    }
}

/// A whole number as a JSON integer (as a register writes it), else a float.
fn number(n: f64) -> Value {
    if n.fract() == 0.0 {
        Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n)
            .map(Value::Number)
            .unwrap_or(Value::Null)
    }
}

fn dp_required(a: &mut Map<String, Value>) -> Result<(), String> {
    const NAME: &str = "dp_required";
    if drop_blank(a, NAME) {
        return Ok(());
    }
    let v = &a[NAME];
    let b = match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => match n.as_f64() {
            Some(x) if x == 0.0 || x == 1.0 => Some(x == 1.0),
            _ => None,
        },
        Value::String(s) => match s.trim().to_lowercase().as_str() {
            "1" | "true" | "t" | "jah" | "j" | "yes" | "y" => Some(true),
            "0" | "false" | "f" | "ei" | "e" | "no" | "n" => Some(false),
            _ => None,
        },
        _ => None,
    };
    match b {
        Some(b) => {
            a.insert(NAME.to_owned(), Value::Bool(b));
            Ok(())
        }
        None => Err(format!(
            "{} is not yes or no (true/false, 1/0, jah/ei)",
            shown(NAME, v)
        )),
    }
}

fn status(a: &mut Map<String, Value>) -> Result<(), String> {
    const NAME: &str = "status";
    if drop_blank(a, NAME) {
        return Err(format!(
            "a detailed plan needs attribute '{NAME}' (in_force, adopted, initiated, repealed or \
             discontinued; map the source field with --map {NAME}=FIELD)"
        ));
    }
    let v = &a[NAME];
    let word = match v {
        Value::String(s) => s.trim().to_lowercase(),
        _ => String::new(),
    };
    let word = word.split_whitespace().collect::<Vec<_>>().join(" ");
    match STATUSES
        .iter()
        .find(|(_, words)| words.contains(&word.as_str()))
    {
        Some((stored, _)) => {
            a.insert(NAME.to_owned(), Value::String((*stored).to_owned()));
            Ok(())
        }
        None => Err(format!(
            "{} is not a detailed plan status (in_force/kehtestatud, adopted/vastu võetud, \
             initiated/algatatud, repealed/kehtetu, discontinued/lõpetatud)",
            shown(NAME, v)
        )),
    }
}

fn authority(a: &mut Map<String, Value>, layer_has_authority: bool) -> Result<(), String> {
    const NAME: &str = "authority";
    if drop_blank(a, NAME) {
        return if layer_has_authority {
            Ok(())
        } else {
            Err(format!(
                "a restriction needs an authority to coordinate with: attribute '{NAME}', or the \
                 layer's (kovgis import --authority, ImportHeader.authority)"
            ))
        };
    }
    match &a[NAME] {
        Value::String(s) => {
            let s = s.trim().to_owned();
            a.insert(NAME.to_owned(), Value::String(s));
            Ok(())
        }
        other => Err(format!("{} is not text", shown(NAME, other))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn run(kind: LayerKind, attrs: Value, layer_authority: bool) -> (Value, Vec<String>) {
        let mut map = attrs.as_object().unwrap().clone();
        let problems = normalise(kind, &mut map, layer_authority);
        (Value::Object(map), problems)
    }

    fn zone(extra: Value) -> Value {
        let mut z = json!({"designation": "EV"});
        z.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        z
    }

    #[test]
    fn allowed_uses_from_lists_and_delimited_text() {
        for (given, expected) in [
            (json!("E;Ä"), json!(["E", "Ä"])),
            (json!("E,Ä"), json!(["E", "Ä"])),
            (json!(" E ; Ä ;"), json!(["E", "Ä"])),
            (json!("(2:E,Ä)"), json!(["E", "Ä"])),
            (json!("[\"E\", \"Ä\"]"), json!(["E", "Ä"])),
            (json!(["E", " Ä "]), json!(["E", "Ä"])),
            (
                json!("residential_building"),
                json!(["residential_building"]),
            ),
            (json!([]), json!([])),
        ] {
            let (out, problems) = run(
                LayerKind::Zoning,
                zone(json!({"allowed_uses": given.clone()})),
                false,
            );
            assert!(problems.is_empty(), "{given}: {problems:?}");
            assert_eq!(out["allowed_uses"], expected, "{given}");
        }
        // Missing or blank: absent (the zone allows nothing, and says so).
        for given in [json!(null), json!(" ")] {
            let (out, problems) = run(
                LayerKind::Zoning,
                zone(json!({"allowed_uses": given})),
                false,
            );
            assert!(problems.is_empty());
            assert!(out.get("allowed_uses").is_none());
        }
        for given in [
            json!(5),
            json!(true),
            json!({"a": 1}),
            json!([1.5, null]),
            json!("[E"),
        ] {
            let (_, problems) = run(
                LayerKind::Zoning,
                zone(json!({"allowed_uses": given.clone()})),
                false,
            );
            assert_eq!(problems.len(), 1, "{given}");
            assert!(problems[0].contains("'allowed_uses'"), "{problems:?}");
        }
    }

    #[test]
    fn coverage_as_number_or_numeric_text() {
        for (given, expected) in [
            (json!(35), json!(35)),
            (json!(35.5), json!(35.5)),
            (json!("35"), json!(35)),
            (json!(" 35,5 "), json!(35.5)),
            (json!("40 %"), json!(40)),
            (json!("0"), json!(0)),
            (json!(100), json!(100)),
        ] {
            for kind in [LayerKind::Zoning, LayerKind::DetailedPlan] {
                let attrs = match kind {
                    LayerKind::Zoning => zone(json!({"max_coverage_pct": given.clone()})),
                    _ => json!({"status": "in_force", "max_coverage_pct": given.clone()}),
                };
                let (out, problems) = run(kind, attrs, false);
                assert!(problems.is_empty(), "{given}: {problems:?}");
                assert_eq!(out["max_coverage_pct"], expected, "{given}");
            }
        }
        for given in [
            json!("lots"),
            json!(-1),
            json!(140),
            json!("35/40"),
            json!(true),
        ] {
            let (_, problems) = run(
                LayerKind::Zoning,
                zone(json!({"max_coverage_pct": given.clone()})),
                false,
            );
            assert_eq!(problems.len(), 1, "{given}");
            assert!(
                problems[0].contains("'max_coverage_pct'") && problems[0].contains("0 to 100"),
                "{problems:?}"
            );
        }
    }

    #[test]
    fn dp_required_in_the_words_registers_use() {
        for (given, expected) in [
            (json!(true), true),
            (json!(false), false),
            (json!(1), true),
            (json!(0), false),
            (json!("1"), true),
            (json!("0"), false),
            (json!("jah"), true),
            (json!("Ei"), false),
            (json!("TRUE"), true),
            (json!("false"), false),
        ] {
            let (out, problems) = run(
                LayerKind::Zoning,
                zone(json!({"dp_required": given.clone()})),
                false,
            );
            assert!(problems.is_empty(), "{given}: {problems:?}");
            assert_eq!(out["dp_required"], json!(expected), "{given}");
        }
        for given in [json!(2), json!("maybe"), json!("kindlasti"), json!([1])] {
            let (_, problems) = run(
                LayerKind::Zoning,
                zone(json!({"dp_required": given.clone()})),
                false,
            );
            assert_eq!(problems.len(), 1, "{given}");
            assert!(problems[0].contains("'dp_required'"), "{problems:?}");
        }
    }

    #[test]
    fn a_zone_needs_a_designation() {
        let (out, problems) = run(LayerKind::Zoning, json!({"designation": 12}), false);
        assert!(problems.is_empty());
        assert_eq!(out["designation"], json!("12"));
        for attrs in [
            json!({}),
            json!({"designation": " "}),
            json!({"designation": null}),
        ] {
            let (_, problems) = run(LayerKind::Zoning, attrs.clone(), false);
            assert_eq!(problems.len(), 1, "{attrs}");
            assert!(problems[0].contains("'designation'"), "{problems:?}");
        }
        let (_, problems) = run(LayerKind::Zoning, json!({"designation": ["EV"]}), false);
        assert!(problems[0].contains("is not text"), "{problems:?}");
        // Every problem of a feature is reported, not only the first.
        let (_, problems) = run(
            LayerKind::Zoning,
            json!({"max_coverage_pct": "x", "dp_required": "x"}),
            false,
        );
        assert_eq!(problems.len(), 3, "{problems:?}");
    }

    #[test]
    fn detailed_plan_status_in_english_or_estonian() {
        for (given, expected) in [
            ("in_force", "in_force"),
            ("Kehtestatud", "in_force"),
            (" kehtiv ", "in_force"),
            ("vastu  võetud", "adopted"),
            ("algatatud", "initiated"),
            ("kehtetuks tunnistatud", "repealed"),
            ("lõpetatud", "discontinued"),
        ] {
            let (out, problems) = run(LayerKind::DetailedPlan, json!({"status": given}), false);
            assert!(problems.is_empty(), "{given}: {problems:?}");
            assert_eq!(out["status"], json!(expected), "{given}");
        }
        for attrs in [json!({}), json!({"status": "valid"}), json!({"status": 1})] {
            let (_, problems) = run(LayerKind::DetailedPlan, attrs.clone(), false);
            assert_eq!(problems.len(), 1, "{attrs}");
            assert!(problems[0].contains("'status'"), "{problems:?}");
        }
    }

    #[test]
    fn a_restriction_needs_an_authority_of_its_own_or_its_layers() {
        let (out, problems) = run(
            LayerKind::Restriction,
            json!({"authority": " Keskkonnaamet "}),
            false,
        );
        assert!(problems.is_empty());
        assert_eq!(out["authority"], json!("Keskkonnaamet"));
        // Blank: removed, so that the layer's applies instead of an empty one.
        let (out, problems) = run(LayerKind::Restriction, json!({"authority": ""}), true);
        assert!(problems.is_empty());
        assert!(out.get("authority").is_none());
        for (attrs, layer) in [
            (json!({}), false),
            (json!({"authority": ""}), false),
            (json!({"authority": 5}), true),
        ] {
            let (_, problems) = run(LayerKind::Restriction, attrs.clone(), layer);
            assert_eq!(problems.len(), 1, "{attrs}");
            assert!(problems[0].contains("authority"), "{problems:?}");
        }
    }

    #[test]
    fn other_kinds_and_other_attributes_are_left_alone() {
        let attrs = json!({"designation": [1], "dp_required": "maybe", "x": "y"});
        for kind in [LayerKind::Building, LayerKind::Other] {
            let (out, problems) = run(kind, attrs.clone(), false);
            assert!(problems.is_empty());
            assert_eq!(out, attrs);
        }
        let (out, _) = run(LayerKind::Zoning, zone(json!({"x": " y "})), false);
        assert_eq!(out["x"], json!(" y "));
    }
}
