//! CONFLICTS_WITH_PROCEDURE on hand-made procedures: overlap in space and in time (inclusive
//! days), slivers, the proposal's own procedure, granted procedures whose works are over, types
//! that do not conflict, a municipality's own version, and what crosses a municipal border.
//!
//! The proposal is the 10 m square (100, 100)–(110, 110), an excavation permit in Tartu (0793)
//! with works 21 May – 1 June 2027; every other area and date below is worked out against it.

mod fixture;

use chrono::NaiveDate;
use fixture::*;
use kovgis_engine::index::{ProcedureEntry, ProcedureIndex};
use kovgis_engine::rules::{
    Finding, Proposal, Report, RuleDef, RuleSet, Severity, Status, Verdict, validate, validate_with,
};
use serde_json::json;

fn day(m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2027, m, d).unwrap()
}

fn conflicts_rule() -> RuleDef {
    national(
        "CONFLICTS_WITH_PROCEDURE",
        1,
        Severity::Warning,
        json!({"conflicts": {"excavation_permit": ["excavation_permit", "felling_permit"],
                             "felling_permit": ["excavation_permit", "felling_permit"]}}),
        &["excavation_permit", "felling_permit"],
    )
}

fn with_conflicts() -> RuleSet {
    let mut r = rules();
    r.rules.retain(|d| d.code != "CONFLICTS_WITH_PROCEDURE");
    r.rules.push(conflicts_rule());
    r
}

fn digging(works: (NaiveDate, NaiveDate)) -> Proposal {
    Proposal {
        procedure: "excavation_permit".into(),
        intended_use: "excavation".into(),
        works: Some(works),
        on: day(5, 1),
        ..proposal(rect(100.0, 100.0, 110.0, 110.0))
    }
}

fn the_proposal() -> Proposal {
    digging((day(5, 21), day(6, 1)))
}

/// An active excavation permit of `m` with id `id` on `area`, works 3–21 May 2027.
fn other(m: &str, id: &str, area: geo::MultiPolygon) -> ProcedureEntry {
    ProcedureEntry::new(
        m.into(),
        id.into(),
        "excavation_permit".into(),
        Some((day(5, 3), day(5, 21))),
        true,
        area,
    )
}

fn check(procedures: Vec<ProcedureEntry>, p: &Proposal) -> Report {
    validate_with(
        &index(-40.0),
        &ProcedureIndex::build(procedures),
        &with_conflicts(),
        p,
    )
}

fn conflicts(r: &Report) -> Vec<&Finding> {
    r.findings
        .iter()
        .filter(|f| f.rule == "CONFLICTS_WITH_PROCEDURE")
        .collect()
}

/// The one finding of the rule, which must be a conflict.
fn the_conflict(r: &Report) -> &Finding {
    let c = conflicts(r);
    assert_eq!(c.len(), 1, "{c:#?}");
    assert_eq!(c[0].code, "PROCEDURE_CONFLICT");
    c[0]
}

fn no_conflict(r: &Report) {
    let c = conflicts(r);
    assert_eq!(c.len(), 1, "{c:#?}");
    assert_eq!(c[0].code, "NO_CONFLICT");
    assert_eq!(c[0].status, Status::Passed);
}

#[test]
fn a_neighbouring_dig_in_the_same_days_is_a_conflict_named_in_full() {
    // (105, 100)–(120, 110) shares (105, 100)–(110, 110) with the proposal: 5 × 10 = 50 m², 50 %.
    // Works 3–21 May and 21 May – 1 June share the 21st.
    let r = check(
        vec![other("0793", "a", rect(105.0, 100.0, 120.0, 110.0))],
        &the_proposal(),
    );
    let f = the_conflict(&r);
    assert_eq!(f.status, Status::Failed);
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(f.layer_name.as_deref(), Some("procedures"));
    assert_eq!(f.feature_id.as_deref(), Some("a"));
    assert_eq!(f.feature_name.as_deref(), Some("excavation_permit"));
    assert!((f.overlap_area_m2.unwrap() - 50.0).abs() < 1e-9);
    assert!((f.overlap_share_pct.unwrap() - 50.0).abs() < 1e-9);
    let outline = f.geometry.as_ref().expect("outline asked for");
    assert!((geo::Area::unsigned_area(outline) - 50.0).abs() < 1e-9);
    let a = f.attributes.as_deref().unwrap();
    assert_eq!(a["procedure_id"], "a");
    assert_eq!(a["works_first_day"], "2027-05-03");
    assert_eq!(a["works_last_day"], "2027-05-21");
    assert!(f.message.contains("2027-05-03–2027-05-21"), "{}", f.message);
    assert_eq!(r.verdict, Verdict::NeedsCoordination);
}

#[test]
fn periods_a_day_apart_do_not_conflict() {
    // 22 May – 1 June starts the day after 3–21 May ends.
    let r = check(
        vec![other("0793", "a", rect(105.0, 100.0, 120.0, 110.0))],
        &digging((day(5, 22), day(6, 1))),
    );
    no_conflict(&r);
    // And ending on 2 May, the day before it starts.
    let r = check(
        vec![other("0793", "a", rect(105.0, 100.0, 120.0, 110.0))],
        &digging((day(4, 20), day(5, 2))),
    );
    no_conflict(&r);
    // Ending on 3 May, its first day: one shared day.
    let r = check(
        vec![other("0793", "a", rect(105.0, 100.0, 120.0, 110.0))],
        &digging((day(4, 20), day(5, 3))),
    );
    the_conflict(&r);
}

#[test]
fn disjoint_areas_and_touching_areas_do_not_conflict() {
    for area in [
        rect(200.0, 100.0, 210.0, 110.0),
        // Shares the edge x = 110: no area at all.
        rect(110.0, 100.0, 120.0, 110.0),
    ] {
        no_conflict(&check(vec![other("0793", "a", area)], &the_proposal()));
    }
}

#[test]
fn a_sliver_is_no_conflict() {
    // 0.05 m × 10 m = 0.5 m²: not more than the 0.5 m² sliver area.
    no_conflict(&check(
        vec![other("0793", "a", rect(109.95, 100.0, 120.0, 110.0))],
        &the_proposal(),
    ));
    // 0.1 m × 10 m = 1 m², but its mean width 2 × 1 / 20.2 ≈ 0.099 m is under 0.1 m.
    no_conflict(&check(
        vec![other("0793", "a", rect(109.9, 100.0, 120.0, 110.0))],
        &the_proposal(),
    ));
    // 0.2 m × 10 m = 2 m², mean width 2 × 2 / 20.4 ≈ 0.196 m: a conflict.
    let r = check(
        vec![other("0793", "a", rect(109.8, 100.0, 120.0, 110.0))],
        &the_proposal(),
    );
    assert!((the_conflict(&r).overlap_area_m2.unwrap() - 2.0).abs() < 1e-9);
}

#[test]
fn the_proposals_own_procedure_is_no_conflict_but_the_same_id_elsewhere_is() {
    let own = Proposal {
        procedure_id: Some("a".into()),
        ..the_proposal()
    };
    let area = rect(105.0, 100.0, 120.0, 110.0);
    no_conflict(&check(vec![other("0793", "a", area.clone())], &own));
    the_conflict(&check(vec![other("0784", "a", area)], &own));
}

#[test]
fn a_type_not_configured_to_conflict_is_no_conflict() {
    let building = ProcedureEntry {
        procedure_type: "building_permit".into(),
        ..other("0793", "a", rect(105.0, 100.0, 120.0, 110.0))
    };
    no_conflict(&check(vec![building], &the_proposal()));
    // A felling permit is configured to conflict with an excavation permit.
    let felling = ProcedureEntry {
        procedure_type: "felling_permit".into(),
        ..other("0793", "a", rect(105.0, 100.0, 120.0, 110.0))
    };
    assert_eq!(
        the_conflict(&check(vec![felling], &the_proposal()))
            .feature_name
            .as_deref(),
        Some("felling_permit")
    );
}

#[test]
fn a_procedure_without_a_works_period_overlaps_every_period() {
    let plan = ProcedureEntry {
        procedure_type: "felling_permit".into(),
        works: None,
        ..other("0793", "a", rect(105.0, 100.0, 120.0, 110.0))
    };
    let r = check(vec![plan], &digging((day(12, 1), day(12, 2))));
    let a = the_conflict(&r).attributes.clone().unwrap();
    assert!(a["works_first_day"].is_null());
}

#[test]
fn a_granted_procedure_counts_until_its_last_works_day() {
    let granted = ProcedureEntry {
        active: false,
        ..other("0793", "a", rect(105.0, 100.0, 120.0, 110.0))
    };
    // Both periods overlap on 21 May; checked on the 21st the works still run, on the 22nd
    // they are over.
    let on = |d| Proposal {
        on: day(5, d),
        ..the_proposal()
    };
    the_conflict(&check(vec![granted.clone()], &on(21)));
    no_conflict(&check(vec![granted], &on(22)));
}

#[test]
fn across_a_border_only_type_period_and_municipality_are_told() {
    let r = check(
        vec![other("0784", "secret-id", rect(105.0, 100.0, 120.0, 110.0))],
        &the_proposal(),
    );
    let f = the_conflict(&r);
    // `printf 'procedure|0784|secret-id' | sha256sum`, first 32 digits.
    assert_eq!(
        f.feature_id.as_deref(),
        Some("b9ae0c59485ca7a31153a68f4ccff405")
    );
    assert!(f.geometry.is_none());
    assert!(f.overlap_area_m2.is_none() && f.overlap_share_pct.is_none());
    assert_eq!(
        f.attributes.as_deref().unwrap(),
        &json!({"procedure_type": "excavation_permit", "municipality_code": "0784",
                "works_first_day": "2027-05-03", "works_last_day": "2027-05-21"})
    );
    assert!(f.message.contains("0784"), "{}", f.message);
    assert!(!format!("{f:?}").contains("secret-id"));
}

#[test]
fn the_rule_does_not_apply_to_other_types_and_a_municipality_may_turn_it_off() {
    let others = || vec![other("0793", "a", rect(105.0, 100.0, 120.0, 110.0))];
    let building = Proposal {
        procedure: "building_permit".into(),
        ..the_proposal()
    };
    let c = conflicts(&check(others(), &building))
        .into_iter()
        .map(|f| f.code.as_str())
        .collect::<Vec<_>>();
    assert_eq!(c, ["NOT_APPLICABLE"]);
    // Tartu's own version: excavation permits conflict with nothing there.
    let mut rules = with_conflicts();
    rules.rules.push(RuleDef {
        municipality_code: Some("0793".into()),
        params: json!({"conflicts": {}}),
        ..conflicts_rule()
    });
    let r = validate_with(
        &index(-40.0),
        &ProcedureIndex::build(others()),
        &rules,
        &the_proposal(),
    );
    no_conflict(&r);
    assert!(
        r.rule_versions
            .iter()
            .any(|v| v.rule == "CONFLICTS_WITH_PROCEDURE"
                && v.municipality_code.as_deref() == Some("0793"))
    );
}

#[test]
fn without_a_procedure_index_nothing_conflicts() {
    no_conflict(&validate(&index(-40.0), &with_conflicts(), &the_proposal()));
}
