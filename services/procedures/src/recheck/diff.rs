//! What a re-check compares: the findings of the stored report and of the new one, by identity
//! (rule, layer, the feature's stable id, outcome code: [`finding_key`]). A finding that
//! appears or disappears, changes severity, or whose overlap area moves by more than the
//! [`Tolerance`] is a change; messages, dataset versions and report ids are provenance, not
//! answers, and never a change on their own. Overrides stay with findings whose identity is
//! unchanged; an override whose finding changed is flagged for review.

use kovgis_api::v1;
use serde_json::{Value, json};

use crate::view::finding_key;

/// How much an overlap area may move before it counts as a change: more than `area_m2` and
/// more than `share` of the earlier area (both: a 0.1 m² wobble of a 5 m² overlap is noise, as
/// is 1 m² of 5 000 m²).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerance {
    pub area_m2: f64,
    pub share: f64,
}

impl Default for Tolerance {
    /// 1 m² and 1 %.
    fn default() -> Self {
        Tolerance {
            area_m2: 1.0,
            share: 0.01,
        }
    }
}

/// How a finding changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Appeared,
    Disappeared,
    Severity,
    Area,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Appeared => "appeared",
            Kind::Disappeared => "disappeared",
            Kind::Severity => "severity",
            Kind::Area => "area",
        }
    }
}

/// One changed finding.
#[derive(Debug, Clone, PartialEq)]
pub struct FindingChange {
    pub key: String,
    pub kind: Kind,
    pub before: Option<v1::Finding>,
    pub after: Option<v1::Finding>,
}

fn area(f: &v1::Finding) -> f64 {
    f.overlap_area_m2.unwrap_or(0.0)
}

/// The changes from `old` to `new`, in the new report's order, then the disappeared ones in the
/// old report's order. Findings with one key (e.g. two `NOT_CHECKED` of a rule) are paired by
/// overlap area, largest first.
pub fn diff(old: &[v1::Finding], new: &[v1::Finding], tol: Tolerance) -> Vec<FindingChange> {
    let group = |fs: &[v1::Finding]| {
        let mut m: Vec<(String, Vec<v1::Finding>)> = Vec::new();
        for f in fs {
            let k = finding_key(f);
            match m.iter_mut().find(|(key, _)| *key == k) {
                Some((_, v)) => v.push(f.clone()),
                None => m.push((k, vec![f.clone()])),
            }
        }
        for (_, v) in &mut m {
            v.sort_by(|a, b| area(b).total_cmp(&area(a)));
        }
        m
    };
    let (old, new) = (group(old), group(new));
    let mut out = Vec::new();
    for (key, after) in &new {
        let before = old
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_slice())
            .unwrap_or_default();
        for (i, a) in after.iter().enumerate() {
            let change = |kind, before: Option<&v1::Finding>| FindingChange {
                key: key.clone(),
                kind,
                before: before.cloned(),
                after: Some(a.clone()),
            };
            match before.get(i) {
                None => out.push(change(Kind::Appeared, None)),
                Some(b) if b.severity != a.severity || b.status != a.status => {
                    out.push(change(Kind::Severity, Some(b)))
                }
                Some(b) => {
                    let moved = (area(a) - area(b)).abs();
                    if moved > tol.area_m2 && moved > tol.share * area(b) {
                        out.push(change(Kind::Area, Some(b)));
                    }
                }
            }
        }
    }
    for (key, before) in &old {
        let kept = new
            .iter()
            .find(|(k, _)| k == key)
            .map_or(0, |(_, v)| v.len());
        for b in before.iter().skip(kept) {
            out.push(FindingChange {
                key: key.clone(),
                kind: Kind::Disappeared,
                before: Some(b.clone()),
                after: None,
            });
        }
    }
    out
}

/// A finding as an event shows it.
pub fn summary(f: &v1::Finding) -> Value {
    let severity = v1::Severity::try_from(f.severity)
        .map(|s| s.as_str_name().trim_start_matches("SEVERITY_").to_lowercase())
        .unwrap_or_default();
    let status = v1::FindingStatus::try_from(f.status)
        .map(|s| s.as_str_name().trim_start_matches("FINDING_STATUS_").to_lowercase())
        .unwrap_or_default();
    json!({
        "rule": f.rule,
        "code": f.code,
        "severity": severity,
        "status": status,
        "layer": f.layer_name,
        "feature_id": f.feature_id,
        "overlap_area_m2": f.overlap_area_m2,
        "authority": f.authority,
        "message": f.message,
    })
}

/// The changes as the event stores them.
pub fn changes_json(changes: &[FindingChange]) -> Value {
    Value::Array(
        changes
            .iter()
            .map(|c| {
                json!({
                    "key": c.key,
                    "change": c.kind.as_str(),
                    "before": c.before.as_ref().map(summary),
                    "after": c.after.as_ref().map(summary),
                })
            })
            .collect(),
    )
}

/// The overrides after the changes: an override whose finding changed (disappeared, severity,
/// area) is flagged for review with what changed and the version that found it; the others
/// are kept as they were. Returns the new overrides and the keys flagged now.
pub fn flag_overrides(
    overrides: &Value,
    changes: &[FindingChange],
    version: i64,
) -> (Value, Vec<String>) {
    let mut flagged = Vec::new();
    let list = overrides
        .as_array()
        .into_iter()
        .flatten()
        .map(|o| {
            let key = o["finding_key"].as_str().unwrap_or_default();
            let changed = changes
                .iter()
                .find(|c| c.key == key && c.kind != Kind::Appeared);
            match changed {
                Some(c) if o.get("review").is_none() => {
                    flagged.push(key.to_owned());
                    let mut o = o.clone();
                    o["review"] = json!({"change": c.kind.as_str(), "version": version});
                    o
                }
                _ => o.clone(),
            }
        })
        .collect();
    (Value::Array(list), flagged)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(rule: &str, feature: &str, code: &str, severity: v1::Severity, a: f64) -> v1::Finding {
        v1::Finding {
            rule: rule.into(),
            code: code.into(),
            severity: severity as i32,
            status: v1::FindingStatus::Failed as i32,
            layer_name: "shore".into(),
            feature_id: feature.into(),
            overlap_area_m2: Some(a),
            message: format!("{a} m²"),
            ..Default::default()
        }
    }

    const W: v1::Severity = v1::Severity::Warning;

    #[test]
    fn the_same_answer_with_other_messages_is_no_change() {
        let old = [f("R", "1", "HIT", W, 50.0)];
        let mut new = old.clone();
        new[0].message = "another text, a new dataset version".into();
        new[0].rule_version = 7;
        assert!(diff(&old, &new, Tolerance::default()).is_empty());
    }

    #[test]
    fn appeared_disappeared_severity_and_area() {
        let old = [
            f("R", "1", "HIT", W, 50.0),
            f("R", "2", "HIT", W, 50.0),
            f("R", "3", "HIT", W, 50.0),
        ];
        let new = [
            f("R", "1", "HIT", v1::Severity::Blocking, 50.0),
            f("R", "3", "HIT", W, 52.0),
            f("R", "4", "HIT", W, 10.0),
        ];
        let d = diff(&old, &new, Tolerance::default());
        let kinds: Vec<(&str, Kind)> = d.iter().map(|c| (c.key.as_str(), c.kind)).collect();
        assert_eq!(
            kinds,
            [
                ("R|shore|1|HIT", Kind::Severity),
                ("R|shore|3|HIT", Kind::Area),
                ("R|shore|4|HIT", Kind::Appeared),
                ("R|shore|2|HIT", Kind::Disappeared),
            ]
        );
    }

    #[test]
    fn area_within_tolerance_is_no_change() {
        // 1 m² and 1 %: 0.9 m² of 50 m² is under 1 m²; 1.5 m² of 500 m² is under 1 %.
        let t = Tolerance::default();
        assert!(diff(&[f("R", "1", "H", W, 50.0)], &[f("R", "1", "H", W, 50.9)], t).is_empty());
        assert!(diff(&[f("R", "1", "H", W, 500.0)], &[f("R", "1", "H", W, 501.5)], t).is_empty());
        assert_eq!(
            diff(&[f("R", "1", "H", W, 500.0)], &[f("R", "1", "H", W, 505.5)], t).len(),
            1
        );
    }

    #[test]
    fn overrides_of_changed_findings_are_flagged_once() {
        let overrides = json!([
            {"finding_key": "R|shore|1|HIT", "reason": "a"},
            {"finding_key": "R|shore|2|HIT", "reason": "b"},
        ]);
        let changes = diff(
            &[f("R", "1", "HIT", W, 50.0), f("R", "2", "HIT", W, 50.0)],
            &[f("R", "1", "HIT", W, 50.0)],
            Tolerance::default(),
        );
        let (after, flagged) = flag_overrides(&overrides, &changes, 4);
        assert_eq!(flagged, ["R|shore|2|HIT"]);
        assert!(after[0].get("review").is_none());
        assert_eq!(after[1]["review"], json!({"change": "disappeared", "version": 4}));
        // Flagged once: a later re-check does not flag it again.
        let (_, again) = flag_overrides(&after, &changes, 5);
        assert!(again.is_empty());
    }
}
