//! SETBACK over many parcels: the parcels a proposal lies on are united to measure to their outer
//! boundary only, and that overlay is bounded. A grid of square parcels at Tartu coordinates, edges
//! cut into many pieces so that the edge-by-edge path gives way to the overlay: below the caps the
//! distance is the one worked out by hand (to the grid's outer edge); above them the finding is
//! NOT_CHECKED (reason TOO_COMPLEX), not passed, and the report is not clear — at once, not after uniting
//! every parcel.

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use geo::{Coord, LineString, MultiPolygon, Polygon};
use kovgis_engine::index::{Index, Parcel};
use kovgis_engine::rules::{
    Locale, Outcome, Proposal, Reason, RuleDef, RuleSet, Severity, Status, Verdict, validate,
};
use serde_json::json;

const X0: f64 = 659_000.0;
const Y0: f64 = 6_474_000.0;

/// A square of side `side` at (x, y) m from the origin, each edge cut into `pieces`,
/// counter-clockwise.
fn square(x: f64, y: f64, side: f64, pieces: usize) -> MultiPolygon {
    let c = |u: f64, v: f64| Coord {
        x: X0 + x + u * side,
        y: Y0 + y + v * side,
    };
    let t = |i: usize| i as f64 / pieces as f64;
    let mut ring = Vec::new();
    ring.extend((0..pieces).map(|i| c(t(i), 0.0)));
    ring.extend((0..pieces).map(|i| c(1.0, t(i))));
    ring.extend((0..pieces).map(|i| c(1.0 - t(i), 1.0)));
    ring.extend((0..pieces).map(|i| c(0.0, 1.0 - t(i))));
    ring.push(ring[0]);
    MultiPolygon(vec![Polygon::new(LineString(ring), vec![])])
}

/// `k` × `k` parcels of 10 m, edges cut into `pieces`.
fn grid(k: usize, pieces: usize) -> Index {
    let parcels = (0..k * k)
        .map(|i| {
            Parcel::new(
                format!("79301:001:{i:04}"),
                "0793".into(),
                square((i % k) as f64 * 10.0, (i / k) as f64 * 10.0, 10.0, pieces),
            )
        })
        .collect();
    Index::build(parcels, Some(1), vec![], Instant::now())
}

fn rules() -> RuleSet {
    RuleSet {
        rules: vec![RuleDef {
            code: "SETBACK".into(),
            version: 1,
            municipality_code: None,
            severity: Severity::Warning,
            procedures: vec![],
            params: json!({"min_m": 4}),
            valid_from: NaiveDate::from_ymd_opt(2000, 1, 1).unwrap(),
            valid_to: None,
        }],
    }
}

/// The square from (a, a) to (b, b), as a proposal.
fn proposal(a: f64, b: f64) -> Proposal {
    Proposal {
        municipality_code: "0793".into(),
        procedure: "building_permit".into(),
        geometry: square(a, a, b - a, 1),
        intended_use: "residential_building".into(),
        parcel_codes: vec![],
        on: NaiveDate::from_ymd_opt(2026, 11, 24).unwrap(),
        locale: Locale::En,
        outlines: true,
        works: None,
        procedure_id: None,
    }
}

#[test]
fn many_parcels_are_united_and_measured_to_the_outer_boundary() {
    // 16 parcels of 40 edges: past the edge-by-edge path (512 edges), under the overlay's caps.
    let index = grid(4, 10);
    for (a, b, code, passed) in [
        (3.0, 37.0, Outcome::SetbackTooSmall, false),
        (5.0, 35.0, Outcome::SetbackOk, true),
    ] {
        let r = validate(&index, &rules(), &proposal(a, b));
        assert_eq!(r.parcels.len(), 16);
        let f = &r.findings[0];
        assert_eq!((f.code, f.passed), (code, passed), "{}", f.message);
        // The grid's outer edge is `a` metres from the proposal; inner boundaries are nearer.
        let d = f.distance_m.expect("a distance");
        assert!((d - a).abs() < 1e-9, "{d} m, expected {a} m");
    }
}

#[test]
fn too_many_parcels_or_vertices_are_not_checked_and_say_so_at_once() {
    for (what, index, b) in [
        ("121 parcels", grid(11, 10), 107.0),
        ("16 parcels of 1 600 vertices", grid(4, 400), 37.0),
    ] {
        let started = Instant::now();
        let r = validate(&index, &rules(), &proposal(3.0, b));
        let took = started.elapsed();
        let f = &r.findings[0];
        assert_eq!(f.code, Outcome::NotChecked, "{what}: {}", f.message);
        assert_eq!(f.reason, Some(Reason::TooComplex), "{what}");
        assert_eq!(f.status, Status::NotChecked, "{what}");
        assert!(!f.passed && f.distance_m.is_none(), "{what}");
        assert!(f.message.contains("not checked"), "{what}: {}", f.message);
        assert_eq!(r.verdict, Verdict::Incomplete, "{what}");
        assert!(took < Duration::from_secs(1), "{what}: {took:?}");
    }
}
