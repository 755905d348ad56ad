//! Reports are complete: every rule in force appears in every report, with the version used and
//! what became of it, and a rule that could not be checked says so and why — it never reads as
//! clear. On the hand-made index of `fixture`.

mod fixture;

use fixture::*;
use kovgis_engine::rules::{
    Locale, Proposal, Reason, Report, RuleCode, RuleSet, Severity, Status, Verdict, validate,
};

/// The one finding of `rule` in `r`.
fn only<'r>(r: &'r Report, rule: &str) -> &'r kovgis_engine::rules::Finding {
    let found: Vec<_> = r.findings.iter().filter(|f| f.rule == rule).collect();
    assert_eq!(found.len(), 1, "{rule}: {:#?}", r.findings);
    found[0]
}

fn status(r: &Report, rule: RuleCode) -> Status {
    let v: Vec<_> = r.rule_versions.iter().filter(|v| v.rule == rule).collect();
    assert_eq!(v.len(), 1, "{rule} once in the rule versions");
    v[0].status
}

/// A 10 m square west of both parcels: in the residential zone, clear of the shore zone (which
/// ends 40 m west of the parcels in `index(-40.0)`), on no parcel.
fn off_parcel() -> Proposal {
    proposal(rect(-30.0, 10.0, -20.0, 20.0))
}

#[test]
fn a_footprint_on_no_parcel_has_setback_and_coverage_not_checked_and_why() {
    let r = validate(&index(-40.0), &rules(), &off_parcel());
    assert!(r.parcels.is_empty());
    for (rule, code, severity) in [
        ("SETBACK", RuleCode::Setback, Severity::Warning),
        ("COVERAGE", RuleCode::Coverage, Severity::Blocking),
    ] {
        let f = only(&r, rule);
        assert_eq!(f.code, "NOT_CHECKED");
        assert_eq!(f.status, Status::NotChecked);
        assert!(!f.passed, "{rule}: not checked is not passed");
        assert_eq!(
            f.severity, severity,
            "{rule}: the rule's severity is at stake"
        );
        assert_eq!(f.reason, Some(Reason::NoParcel));
        assert_eq!(
            f.message, "not checked: there is no parcel under the proposal",
            "{rule}"
        );
        assert_eq!(f.distance_m, None);
        assert_eq!(status(&r, code), Status::NotChecked);
    }
    // WITHIN_PARCEL did check: the area lies on no parcel, a blocking failure.
    assert_eq!(only(&r, "WITHIN_PARCEL").code, "OUTSIDE_PARCEL");
    assert_eq!(status(&r, RuleCode::WithinParcel), Status::Failed);
    assert_eq!(r.verdict, Verdict::Blocked);
    // The other rules were checked as usual.
    assert_eq!(only(&r, "ZONE_USE").code, "ZONE_USE_ALLOWED");
    assert_eq!(only(&r, "RESTRICTION_OVERLAP").code, "NO_RESTRICTION");
    assert_eq!(r.rule_versions.len(), 8);
}

#[test]
fn in_estonian_the_reason_reads_in_estonian() {
    let r = validate(
        &index(-40.0),
        &rules(),
        &Proposal {
            locale: Locale::Et,
            ..off_parcel()
        },
    );
    assert_eq!(
        only(&r, "SETBACK").message,
        "ei kontrollitud: ala all ei ole ühtegi katastriüksust"
    );
}

#[test]
fn named_parcels_that_do_not_exist_leave_setback_and_coverage_not_checked() {
    let r = validate(
        &index(-40.0),
        &rules(),
        &Proposal {
            parcel_codes: vec!["79301:001:9999".into()],
            ..proposal(rect(10.0, 10.0, 20.0, 20.0))
        },
    );
    for rule in ["SETBACK", "COVERAGE"] {
        let f = only(&r, rule);
        assert_eq!(
            (f.code.as_str(), f.reason),
            ("NOT_CHECKED", Some(Reason::NoParcel))
        );
        assert_eq!(f.message, "not checked: none of the parcels named exists");
    }
}

/// The rules of `rules()` without WITHIN_PARCEL (retired), or with it as a warning.
fn without_blocking_parcel_rule(keep_as_warning: bool) -> RuleSet {
    let mut rules = rules();
    for r in &mut rules.rules {
        if r.code == "WITHIN_PARCEL" {
            if keep_as_warning {
                r.severity = Severity::Warning;
            } else {
                r.valid_to = r.valid_from.succ_opt();
            }
        }
    }
    rules
}

#[test]
fn a_rule_not_checked_makes_the_verdict_incomplete_never_clear() {
    // Nothing fails, but SETBACK and COVERAGE could not be checked.
    let retired = validate(
        &index(-40.0),
        &without_blocking_parcel_rule(false),
        &off_parcel(),
    );
    assert!(retired.findings.iter().all(|f| f.rule != "WITHIN_PARCEL"));
    assert!(retired.findings.iter().all(|f| f.status != Status::Failed));
    assert_eq!(retired.verdict, Verdict::Incomplete);
    assert_eq!(
        retired.rule_versions.len(),
        7,
        "a retired rule is not in force"
    );
    // A failed warning as well: still incomplete, as a rule not checked might have blocked.
    let warned = validate(
        &index(-40.0),
        &without_blocking_parcel_rule(true),
        &off_parcel(),
    );
    assert_eq!(status(&warned, RuleCode::WithinParcel), Status::Failed);
    assert_eq!(warned.verdict, Verdict::Incomplete);
    // On a parcel everything is checked again, and the verdict is an answer.
    let on = validate(
        &index(-40.0),
        &without_blocking_parcel_rule(false),
        &proposal(rect(5.0, 5.0, 15.0, 15.0)),
    );
    assert!(on.findings.iter().all(|f| f.status != Status::NotChecked));
    assert_eq!(on.verdict, Verdict::Clear);
}

#[test]
fn every_rule_in_force_is_in_every_report_once_with_its_version() {
    // Footprints on a grid across and around both parcels: on one, on two, half off, off.
    let index = index(-1.0);
    let rules = rules();
    let mut seen_not_checked = 0;
    for i in 0..12 {
        for j in 0..6 {
            let (x, y) = (-30.0 + 10.0 * i as f64, -15.0 + 10.0 * j as f64);
            for procedure in ["building_permit", "excavation_permit"] {
                let r = validate(
                    &index,
                    &rules,
                    &Proposal {
                        procedure: procedure.into(),
                        ..proposal(rect(x, y, x + 7.0, y + 7.0))
                    },
                );
                let order: Vec<RuleCode> = r.rule_versions.iter().map(|v| v.rule).collect();
                assert_eq!(order, RuleCode::ALL, "({x}, {y}) {procedure}");
                for v in &r.rule_versions {
                    let mine: Vec<_> = r.findings.iter().filter(|f| f.rule == v.rule).collect();
                    assert!(!mine.is_empty(), "{} reported at ({x}, {y})", v.rule);
                    assert!(mine.iter().all(|f| f.rule_version == v.version));
                    assert_eq!(v.municipality_code, None, "national rules only");
                    if v.status == Status::NotChecked {
                        seen_not_checked += 1;
                        assert!(mine.iter().all(|f| f.reason.is_some() && !f.passed));
                    }
                }
                let any_not_checked = r.findings.iter().any(|f| f.status == Status::NotChecked);
                assert!(
                    !any_not_checked || r.verdict != Verdict::Clear,
                    "({x}, {y}) {procedure}: a rule not checked is never clear"
                );
            }
        }
    }
    assert!(seen_not_checked > 0, "the grid reaches off the parcels");
}

#[test]
fn rules_that_read_layers_none_of_which_is_loaded_in_the_municipality_are_not_checked() {
    // Every layer of the fixture is Tartu's (0793); the same footprint, on a parcel, proposed in
    // Alutaguse (0130), where no zoning, detailed plan or restriction layer applies.
    let elsewhere = Proposal {
        municipality_code: "0130".into(),
        ..proposal(rect(5.0, 5.0, 15.0, 15.0))
    };
    let r = validate(&index(-40.0), &rules(), &elsewhere);
    for (rule, code) in [
        ("ZONE_USE", RuleCode::ZoneUse),
        ("DP_REQUIRED", RuleCode::DpRequired),
        ("RESTRICTION_OVERLAP", RuleCode::RestrictionOverlap),
        ("COVERAGE", RuleCode::Coverage),
    ] {
        let f = only(&r, rule);
        assert_eq!(
            (f.code.as_str(), f.reason, f.passed),
            ("NOT_CHECKED", Some(Reason::NoLayer), false),
            "{rule}: {}",
            f.message
        );
        assert!(f.message.contains("municipality 0130"), "{}", f.message);
        assert_eq!(status(&r, code), Status::NotChecked);
    }
    assert_eq!(
        only(&r, "COVERAGE").message,
        "not checked: no layer (detailed_plan, zoning) is loaded for municipality 0130"
    );
    // The parcel rules did check, and nothing failed: the answer is "incomplete", not "clear".
    assert_eq!(only(&r, "WITHIN_PARCEL").code, "WITHIN_PARCEL");
    assert_eq!(r.verdict, Verdict::Incomplete);
    // In Tartu, where the layers are, the same footprint is checked against them.
    let tartu = validate(
        &index(-40.0),
        &rules(),
        &proposal(rect(5.0, 5.0, 15.0, 15.0)),
    );
    assert!(
        tartu
            .findings
            .iter()
            .all(|f| f.status != Status::NotChecked)
    );
}
