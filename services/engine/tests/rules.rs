//! Each rule passing, failing and on its boundary, on a small hand-made index at Tartu
//! coordinates (`fixture`): a 40 m × 40 m parcel with a building, a zone, a shore restriction and
//! a detailed plan next door.

mod fixture;

use chrono::NaiveDate;
use fixture::*;
use geo::{Coord, LineString, MultiPolygon, Polygon};
use kovgis_core::model::LayerKind;
use kovgis_engine::index::{Index, Parcel};
use kovgis_engine::rules::{
    Locale, Proposal, RuleCode, RuleDef, RuleVersion, Severity, Status, Verdict, validate,
};
use serde_json::json;

/// Whether `r` used version `version` of `rule` (national when `municipality` is `None`).
fn used(
    r: &kovgis_engine::rules::Report,
    rule: RuleCode,
    version: i32,
    municipality: Option<&str>,
) -> bool {
    r.rule_versions.iter().any(|v: &RuleVersion| {
        (v.rule, v.version, v.municipality_code.as_deref()) == (rule, version, municipality)
    })
}

#[test]
fn a_good_footprint_passes_every_rule_and_says_so() {
    // 14 m × 20 m = 280 m², 5 m from the boundary: coverage (200 + 280) / 1600 = 30 % exactly.
    let r = validate(
        &index(-1.0),
        &rules(),
        &proposal(rect(5.0, 5.0, 19.0, 25.0)),
    );
    assert_eq!(r.verdict, Verdict::Clear, "{:#?}", r.findings);
    assert_eq!(r.parcels, ["79301:001:0001"]);
    for rule in kovgis_engine::rules::RULES {
        assert!(
            r.findings.iter().any(|f| f.rule == rule),
            "{rule} must be reported even when it passes"
        );
    }
    assert!(r.findings.iter().all(|f| f.passed));
    assert_eq!(
        codes(&r, "COVERAGE"),
        ["COVERAGE_OK"],
        "exactly at the maximum is allowed"
    );
    assert_eq!(codes(&r, "SETBACK"), ["SETBACK_OK"]);
    assert_eq!(codes(&r, "ZONE_USE"), ["ZONE_USE_ALLOWED"]);
    assert_eq!(r.rule_versions.len(), 8);
    // Every rule passed, but CONFLICTS_WITH_PROCEDURE: it is not for building permits.
    let not_for_buildings = |rule: RuleCode| rule == RuleCode::ConflictsWithProcedure;
    assert!(r.rule_versions.iter().all(|v| v.status
        == if not_for_buildings(v.rule) {
            Status::NotApplicable
        } else {
            Status::Passed
        }));
    assert!(r.findings.iter().all(|f| f.status
        == if not_for_buildings(f.rule) {
            Status::NotApplicable
        } else {
            Status::Passed
        }));
    assert_eq!(r.input_hash.len(), 64);
}

#[test]
fn coverage_just_over_the_maximum_is_blocked() {
    // 281 m²: 30.06 %.
    let r = validate(
        &index(-1.0),
        &rules(),
        &proposal(rect(5.0, 5.0, 19.05, 25.0)),
    );
    assert_eq!(codes(&r, "COVERAGE"), ["COVERAGE_EXCEEDED"]);
    assert_eq!(r.verdict, Verdict::Blocked);
    let f = r
        .findings
        .iter()
        .find(|f| f.code == "COVERAGE_EXCEEDED")
        .unwrap();
    assert!((f.overlap_share_pct.unwrap() - 100.0 * 481.0 / 1600.0).abs() < 1e-6);
}

#[test]
fn setback_exactly_at_the_minimum_passes_and_just_under_warns() {
    let at = validate(
        &index(-1.0),
        &rules(),
        &proposal(rect(4.0, 10.0, 10.0, 16.0)),
    );
    assert_eq!(codes(&at, "SETBACK"), ["SETBACK_OK"]);
    let under = validate(
        &index(-1.0),
        &rules(),
        &proposal(rect(3.99, 10.0, 10.0, 16.0)),
    );
    assert_eq!(codes(&under, "SETBACK"), ["SETBACK_TOO_SMALL"]);
    let f = under.findings.iter().find(|f| f.rule == "SETBACK").unwrap();
    assert_eq!(f.severity, Severity::Warning);
    assert!((f.distance_m.unwrap() - 3.99).abs() < 1e-9);
    assert_eq!(under.verdict, Verdict::NeedsCoordination);
}

#[test]
fn outside_the_parcel_is_blocked_with_the_area_outside() {
    // 10 m × 10 m straddling the south boundary by 2 m: 20 m² outside.
    let r = validate(
        &index(-1.0),
        &rules(),
        &Proposal {
            parcel_codes: vec!["79301:001:0001".into()],
            ..proposal(rect(10.0, -2.0, 20.0, 8.0))
        },
    );
    let f = r
        .findings
        .iter()
        .find(|f| f.code == "OUTSIDE_PARCEL")
        .unwrap();
    assert!((f.overlap_area_m2.unwrap() - 20.0).abs() < 1e-6);
    assert!((f.overlap_share_pct.unwrap() - 20.0).abs() < 1e-6);
    assert!(f.geometry.is_some());
    assert_eq!(r.verdict, Verdict::Blocked);
    let missing = validate(
        &index(-1.0),
        &rules(),
        &Proposal {
            parcel_codes: vec!["79301:001:9999".into()],
            ..proposal(rect(10.0, 10.0, 20.0, 20.0))
        },
    );
    assert!(codes(&missing, "WITHIN_PARCEL").contains(&"PARCEL_NOT_FOUND"));
}

#[test]
fn restrictions_touching_or_sliver_are_not_hits_but_a_real_overlap_is() {
    let footprint = || proposal(rect(5.0, 5.0, 15.0, 25.0));
    // The shore zone ends exactly on the footprint's west edge: a touch.
    let touch = validate(&index(5.0), &rules(), &footprint());
    assert_eq!(codes(&touch, "RESTRICTION_OVERLAP"), ["NO_RESTRICTION"]);
    // 5 cm into it along 20 m: 1 m², wider than nothing but thinner than 0.1 m.
    let sliver = validate(&index(5.05), &rules(), &footprint());
    assert_eq!(codes(&sliver, "RESTRICTION_OVERLAP"), ["NO_RESTRICTION"]);
    // 20 cm into it: 4 m², 0.2 m wide — a hit, with the authority to coordinate with.
    let hit = validate(&index(5.2), &rules(), &footprint());
    assert_eq!(codes(&hit, "RESTRICTION_OVERLAP"), ["RESTRICTION_OVERLAP"]);
    let f = hit
        .findings
        .iter()
        .find(|f| f.code == "RESTRICTION_OVERLAP")
        .unwrap();
    assert_eq!(f.authority.as_deref(), Some("Keskkonnaamet"));
    assert_eq!(f.layer_name.as_deref(), Some("shore-zones"));
    assert!((f.overlap_area_m2.unwrap() - 4.0).abs() < 1e-6);
    assert!((f.overlap_share_pct.unwrap() - 2.0).abs() < 1e-6);
    assert_eq!(hit.verdict, Verdict::NeedsCoordination);
}

#[test]
fn the_zone_decides_the_use_and_the_detailed_plan_requirement() {
    let industrial = validate(
        &index(-1.0),
        &rules(),
        &Proposal {
            intended_use: "industrial_building".into(),
            ..proposal(rect(5.0, 5.0, 15.0, 15.0))
        },
    );
    assert_eq!(codes(&industrial, "ZONE_USE"), ["ZONE_USE_NOT_ALLOWED"]);
    // In the commercial zone, which needs a plan: covered by the plan in force → fine; outside
    // it → blocked.
    let commercial = |g| Proposal {
        intended_use: "commercial_building".into(),
        ..proposal(g)
    };
    let covered = validate(
        &index(-1.0),
        &rules(),
        &commercial(rect(45.0, 5.0, 55.0, 15.0)),
    );
    assert_eq!(codes(&covered, "DP_REQUIRED"), ["DP_IN_FORCE"]);
    assert_eq!(codes(&covered, "ZONE_USE"), ["ZONE_USE_ALLOWED"]);
    // The plan's 60 % decides the coverage there, not the zone's 50 %.
    assert!(
        covered
            .findings
            .iter()
            .any(|f| f.code == "COVERAGE_OK" && f.message.contains("60 %"))
    );
    let uncovered = validate(
        &index(-1.0),
        &rules(),
        &commercial(rect(65.0, 5.0, 75.0, 15.0)),
    );
    assert_eq!(codes(&uncovered, "DP_REQUIRED"), ["DP_REQUIRED"]);
    assert_eq!(uncovered.verdict, Verdict::Blocked);
    // Across the common boundary of two parcels: both are checked, the zone boundary too.
    let across = validate(
        &index(-1.0),
        &rules(),
        &commercial(rect(35.0, 10.0, 45.0, 20.0)),
    );
    assert_eq!(across.parcels, ["79301:001:0001", "79301:001:0002"]);
    assert_eq!(
        codes(&across, "ZONE_USE"),
        ["ZONE_USE_NOT_ALLOWED", "ZONE_USE_ALLOWED"]
    );
}

#[test]
fn rule_versions_follow_their_validity_dates_and_municipal_overrides() {
    let mut rules = rules();
    rules.rules.push(RuleDef {
        municipality_code: Some("0793".into()),
        version: 2,
        params: json!({"min_m": 6}),
        valid_from: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        ..national(
            "SETBACK",
            2,
            Severity::Warning,
            json!({}),
            &["building_permit"],
        )
    });
    let at = |y, m, d| Proposal {
        on: NaiveDate::from_ymd_opt(y, m, d).unwrap(),
        ..proposal(rect(5.0, 5.0, 15.0, 15.0))
    };
    let before = validate(&index(-1.0), &rules, &at(2025, 12, 31));
    assert_eq!(codes(&before, "SETBACK"), ["SETBACK_OK"]);
    assert!(used(&before, RuleCode::Setback, 1, None));
    let after = validate(&index(-1.0), &rules, &at(2026, 1, 1));
    assert_eq!(codes(&after, "SETBACK"), ["SETBACK_TOO_SMALL"]);
    assert!(used(&after, RuleCode::Setback, 2, Some("0793")));
    // Another municipality keeps the national rule.
    let elsewhere = validate(
        &index(-1.0),
        &rules,
        &Proposal {
            municipality_code: "0784".into(),
            ..at(2026, 6, 1)
        },
    );
    assert!(used(&elsewhere, RuleCode::Setback, 1, None));
    // Rules for building do not apply to an excavation permit: reported as not applicable.
    let dig = validate(
        &index(-1.0),
        &rules,
        &Proposal {
            procedure: "excavation_permit".into(),
            intended_use: "excavation".into(),
            ..at(2026, 6, 1)
        },
    );
    assert_eq!(codes(&dig, "SETBACK"), ["NOT_APPLICABLE"]);
    let f = dig.findings.iter().find(|f| f.rule == "SETBACK").unwrap();
    assert_eq!((f.status, f.passed), (Status::NotApplicable, true));
    assert_eq!(f.reason.map(|r| r.as_str()), Some("OTHER_PROCEDURE"));
    assert_eq!(dig.verdict, Verdict::Clear);
}

#[test]
fn messages_come_in_estonian_by_default() {
    let r = validate(
        &index(5.2),
        &rules(),
        &Proposal {
            locale: Locale::Et,
            ..proposal(rect(5.0, 5.0, 15.0, 25.0))
        },
    );
    let f = r
        .findings
        .iter()
        .find(|f| f.code == "RESTRICTION_OVERLAP")
        .unwrap();
    assert!(
        f.message.contains("kooskõlastada: Keskkonnaamet"),
        "{}",
        f.message
    );
}

#[test]
fn without_outlines_the_findings_are_the_same() {
    // An L-shaped (concave) restriction that footprints cross partially, plus the usual index.
    let c = |x: f64, y: f64| Coord {
        x: X0 + x,
        y: Y0 + y,
    };
    let l_shape = MultiPolygon(vec![Polygon::new(
        LineString(vec![
            c(10.0, 10.0),
            c(30.0, 10.0),
            c(30.0, 12.0),
            c(12.0, 12.0),
            c(12.0, 30.0),
            c(10.0, 30.0),
            c(10.0, 10.0),
        ]),
        vec![],
    )]);
    let mut layers = vec![layer(
        5,
        "l-zone",
        LayerKind::Restriction,
        Some("Päästeamet"),
        vec![feature(50, json!({}), l_shape)],
    )];
    let base = index(-1.0);
    let parcels = vec![Parcel::new(
        "79301:001:0001".into(),
        "0793".into(),
        rect(0.0, 0.0, 40.0, 40.0),
    )];
    layers.push(layer(6, "nothing", LayerKind::Other, None, vec![]));
    let with_l = Index::build(parcels, Some(1), layers, std::time::Instant::now());
    for (index, footprint) in [
        (&with_l, rect(8.0, 8.0, 16.0, 16.0)), // across both arms of the L: concave overlap
        (&with_l, rect(11.0, 11.0, 11.05, 25.0)), // a thin strip along one arm
        (&with_l, rect(20.0, 11.9, 26.0, 18.0)), // a 0.1 m sliver of the arm
        (&base, rect(35.0, 10.0, 45.0, 20.0)), // across two parcels and two zones
        (&base, rect(10.0, -2.0, 20.0, 8.0)),  // partly outside
    ] {
        let outlined = validate(index, &rules(), &proposal(footprint.clone()));
        let bare = validate(
            index,
            &rules(),
            &Proposal {
                outlines: false,
                ..proposal(footprint)
            },
        );
        let key = |r: &kovgis_engine::rules::Report| {
            r.findings
                .iter()
                .map(|f| {
                    (
                        f.rule,
                        f.code,
                        f.passed,
                        f.overlap_area_m2.map(|a| (a * 1e6).round()),
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(key(&outlined), key(&bare));
        assert_eq!(outlined.verdict, bare.verdict);
        assert!(bare.findings.iter().all(|f| f.geometry.is_none()));
    }
    let hit = validate(&with_l, &rules(), &proposal(rect(8.0, 8.0, 16.0, 16.0)));
    let f = hit
        .findings
        .iter()
        .find(|f| f.code == "RESTRICTION_OVERLAP")
        .unwrap();
    // The L covers (10..16 × 10..12) + (10..12 × 12..16) = 12 + 8 m².
    assert!((f.overlap_area_m2.unwrap() - 20.0).abs() < 1e-9);
}

#[test]
fn coverage_worked_out_at_build_equals_coverage_worked_out_per_validation() {
    use kovgis_engine::index::COVERAGE_SLIVER_M2;
    let index = index(-1.0);
    // The first parcel: the 200 m² building, the zone's 30 %; the second: no building, the
    // detailed plan in force (60 %) before the zone (50 %).
    for (code, built, max, source) in [
        ("79301:001:0001", 200.0, 30.0, "väikeelamu maa-ala"),
        ("79301:001:0002", 0.0, 60.0, "Äri DP"),
    ] {
        let parcel = index.parcel(code).unwrap();
        let at_build = index.coverage("0793", parcel, COVERAGE_SLIVER_M2);
        // Another tolerance and another municipality are worked out on the spot.
        let live = index.coverage("0793", parcel, COVERAGE_SLIVER_M2 * 0.999);
        for c in [&at_build, &live] {
            assert!((c.built_m2 - built).abs() < 1e-9, "{code}: {}", c.built_m2);
            let (m, s) = c.limit.clone().unwrap();
            assert_eq!((m, &*s), (max, source), "{code}");
        }
        let elsewhere = index.coverage("0198", parcel, COVERAGE_SLIVER_M2);
        assert!(
            elsewhere.limit.is_none(),
            "0793's layers do not apply in 0198"
        );
    }
}
