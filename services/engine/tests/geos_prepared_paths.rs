//! The GEOS XMLTester relate suites' polygon/polygon cases through the paths the rules take —
//! not `predicates::relate`, which no rule calls:
//! - the prepared-shape overlap (`shape::overlap`, a proposal's [`Shape`] against an indexed one,
//!   both ways round): its area is above 0 exactly when the interiors meet (DE-9IM II ≠ F);
//! - the within path: the overlap's area equals the proposal's area (up to 1e-9 of it, the test
//!   `rules` make for "wholly inside") exactly when the proposal is covered by the shape
//!   (IE = F and BE = F); and the placement on an indexed shape's grid and edges
//!   (`Shape::place_shape`): Inside only when covered by it, Outside only when disjoint from it;
//! - the boundary-distance path of the setback rule (`predicates::boundary_distance` and, for one
//!   parcel, `predicates::union_boundary_distance`): 0 exactly when the proposal meets the
//!   shape's boundary (IB ≠ F or BB ≠ F).
//!
//! The expected answers are the suites' own: the DE-9IM matrices of their `relate` ops (only
//! positions the pattern fixes are used; a check whose positions are left open is skipped) and
//! their `coveredBy` ops. Every check that disagrees must be listed, with its reason, in
//! fixtures/geos-xmltester/expected_failures_prepared.txt, and every check listed there must still
//! disagree.

use std::collections::BTreeMap;
use std::path::PathBuf;

use geo::{Geometry, MultiPolygon};
use kovgis_engine::predicates as p;
use kovgis_engine::shape::{self, Placement, Shape};
use wkt::TryFromWkt;

const FILES: &[&str] = &[
    "validate/TestRelateAA.xml",
    "validate/TestRelateAA-big.xml",
    "general/TestRelateAA.xml",
];

fn suite_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/geos-xmltester")
}

/// A polygon or multipolygon, non-empty; `None` for anything else.
fn areal(wkt: &str) -> Option<MultiPolygon> {
    let m = match Geometry::<f64>::try_from_wkt_str(wkt.trim()).ok()? {
        Geometry::Polygon(p) => MultiPolygon(vec![p]),
        Geometry::MultiPolygon(m) => m,
        _ => return None,
    };
    let empty = m.0.iter().all(|p| p.exterior().0.is_empty());
    (!empty).then_some(m)
}

/// What the suite says of the DE-9IM matrix of (a, b): per position, `Some(true)` not F,
/// `Some(false)` F, `None` not fixed by any `relate` op that holds.
type Matrix = [Option<bool>; 9];

/// Matrix positions.
const II: usize = 0;
const IB: usize = 1;
const IE: usize = 2;
const BI: usize = 3;
const BB: usize = 4;
const BE: usize = 5;

fn transposed(m: &Matrix) -> Matrix {
    let mut t = [None; 9];
    for r in 0..3 {
        for c in 0..3 {
            t[c * 3 + r] = m[r * 3 + c];
        }
    }
    t
}

/// `Some(v)` when every listed position is fixed: whether any of them is not F.
fn any_not_f(m: &Matrix, positions: &[usize]) -> Option<bool> {
    positions
        .iter()
        .map(|&i| m[i])
        .collect::<Option<Vec<bool>>>()
        .map(|v| v.into_iter().any(|x| x))
}

/// One check of one case: the suite's answer and the engine's (`None`: the suite does not fix
/// it).
struct Check {
    name: String,
    expected: Option<bool>,
    got: bool,
    /// The number the engine's answer came from.
    value: f64,
}

/// Covered by, from the matrix (IE = F and BE = F), else from a `coveredBy` op of the suite.
fn covered(m: &Matrix, op: Option<bool>) -> Option<bool> {
    any_not_f(m, &[IE, BE]).map(|outside| !outside).or(op)
}

/// The checks of (a, b), `ab` the matrix of a against b, `covered_by_op` the suite's coveredBy(a,
/// b) if it has one; `tag` names the direction.
fn checks(
    a: &MultiPolygon,
    b: &MultiPolygon,
    ab: &Matrix,
    covered_by_op: Option<bool>,
    tag: &str,
) -> Vec<Check> {
    let proposal = Shape::new(a.clone());
    let indexed = Shape::indexed(b.clone());
    let o = shape::overlap(&proposal, &indexed);
    let disjoint = any_not_f(ab, &[II, IB, BI, BB]).map(|meet| !meet);
    let covered_by = covered(ab, covered_by_op);
    let boundary = p::boundary_distance(a, b);
    let setback = p::union_boundary_distance(a, &[b]).expect("one polygon");
    let mut out = vec![
        Check {
            name: format!("overlap area > 0 ⇔ interiors meet ({tag})"),
            expected: ab[II],
            got: o.area > 0.0,
            value: o.area,
        },
        Check {
            name: format!("overlap area = area ⇔ covered by ({tag})"),
            expected: covered_by,
            got: proposal.area - o.area <= 1e-9 * proposal.area.max(1.0),
            value: proposal.area - o.area,
        },
        Check {
            name: format!("boundary distance 0 ⇔ meets the boundary ({tag})"),
            expected: any_not_f(ab, &[IB, BB]),
            got: boundary == 0.0,
            value: boundary,
        },
        Check {
            name: format!("setback distance 0 ⇔ meets the boundary ({tag})"),
            expected: any_not_f(ab, &[IB, BB]),
            got: setback == 0.0,
            value: setback,
        },
    ];
    // Placement settles only some cases (the suites are mostly about boundaries that meet); when
    // it does, it must be right — on the indexed shape's grid and edge by edge on a fresh one.
    let fresh = Shape::new(b.clone());
    for (how, placement) in [
        ("indexed", indexed.place_shape(&proposal)),
        ("fresh", fresh.place_shape(&proposal)),
    ] {
        out.extend(placed(
            placement,
            covered_by,
            disjoint,
            &format!("{tag}, {how}"),
        ));
    }
    out
}

/// The check a placement makes, if it settled anything.
fn placed(
    placement: Placement,
    covered_by: Option<bool>,
    disjoint: Option<bool>,
    tag: &str,
) -> Option<Check> {
    match placement {
        Placement::Inside => Some(Check {
            name: format!("placed inside ⇒ covered by ({tag})"),
            expected: covered_by,
            got: true,
            value: 0.0,
        }),
        Placement::Outside => Some(Check {
            name: format!("placed outside ⇒ disjoint ({tag})"),
            expected: disjoint,
            got: true,
            value: 0.0,
        }),
        Placement::Unknown => None,
    }
}

#[test]
fn geos_polygon_cases_agree_with_the_overlap_within_and_setback_paths_the_rules_take() {
    let expected_text =
        std::fs::read_to_string(suite_dir().join("expected_failures_prepared.txt")).unwrap();
    let expected: BTreeMap<String, String> = expected_text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (key, reason) = l.split_once(" — ").unwrap_or((l, ""));
            (key.trim().to_owned(), reason.trim().to_owned())
        })
        .collect();
    for (key, reason) in &expected {
        assert!(!reason.is_empty(), "listed without a reason: {key}");
    }

    let mut failures: BTreeMap<String, String> = BTreeMap::new();
    let (mut cases, mut checked, mut placed) = (0, 0, 0);
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for file in FILES {
        let text = std::fs::read_to_string(suite_dir().join(file)).unwrap();
        let doc = roxmltree::Document::parse(&text).unwrap();
        for (case_no, case) in doc
            .descendants()
            .filter(|n| n.has_tag_name("case"))
            .enumerate()
        {
            let child_text = |tag: &str| {
                case.children()
                    .find(|n| n.has_tag_name(tag))
                    .and_then(|n| n.text())
                    .map(str::to_owned)
            };
            let (Some(a), Some(b)) = (
                child_text("a").as_deref().and_then(areal),
                child_text("b").as_deref().and_then(areal),
            ) else {
                continue;
            };
            // The matrix of (A, B) as the suite's relate ops that hold fix it, and coveredBy.
            let mut ab: Matrix = [None; 9];
            let (mut a_in_b, mut b_in_a) = (None, None);
            for op in case.descendants().filter(|n| n.has_tag_name("op")) {
                let holds = match op.text().map(str::trim) {
                    Some("true") => true,
                    Some("false") => false,
                    _ => continue,
                };
                let swapped = op
                    .attribute("arg1")
                    .is_some_and(|x| x.eq_ignore_ascii_case("B"));
                match op.attribute("name") {
                    Some("relate") if holds => {
                        let pattern: Vec<char> =
                            op.attribute("arg3").unwrap_or("").chars().collect();
                        if pattern.len() != 9 {
                            continue;
                        }
                        for (i, c) in pattern.iter().enumerate() {
                            let at = if swapped { (i % 3) * 3 + i / 3 } else { i };
                            let v = match c {
                                'F' | 'f' => Some(false),
                                '0' | '1' | '2' | 'T' | 't' => Some(true),
                                _ => None,
                            };
                            if v.is_some() {
                                ab[at] = v;
                            }
                        }
                    }
                    Some("coveredBy") if swapped => b_in_a = Some(holds),
                    Some("coveredBy") => a_in_b = Some(holds),
                    Some("covers") if swapped => a_in_b = Some(holds),
                    Some("covers") => b_in_a = Some(holds),
                    _ => {}
                }
            }
            cases += 1;
            *seen.entry(file).or_default() += 1;
            let all = checks(&a, &b, &ab, a_in_b, "A in B")
                .into_iter()
                .chain(checks(&b, &a, &transposed(&ab), b_in_a, "B in A"));
            for c in all {
                let Some(expected_answer) = c.expected else {
                    continue;
                };
                checked += 1;
                placed += c.name.starts_with("placed") as usize;
                if expected_answer != c.got {
                    failures.insert(
                        format!("{file} case {} {}", case_no + 1, c.name),
                        format!(
                            "the suite says {expected_answer}, the engine {} ({:e})",
                            c.got, c.value
                        ),
                    );
                }
            }
        }
    }
    println!(
        "GEOS polygon/polygon cases: {cases} ({seen:?}), {checked} checks, {placed} by placement, \
         {} disagree ({} listed)",
        failures.len(),
        expected.len()
    );
    let new: Vec<String> = failures
        .iter()
        .filter(|(k, _)| !expected.contains_key(*k))
        .map(|(k, why)| format!("{k} — {why}"))
        .collect();
    let fixed: Vec<&String> = expected
        .keys()
        .filter(|k| !failures.contains_key(*k))
        .collect();
    assert!(
        new.is_empty() && fixed.is_empty(),
        "disagreements not in expected_failures_prepared.txt:\n{}\nlisted but now agreeing:\n{}",
        new.join("\n"),
        fixed
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    // The suites ran, and placement was checked where it settled a case.
    assert!(
        cases > 100 && checked > 800,
        "{cases} cases, {checked} checks"
    );
    assert!(placed > 0, "no placement settled anything");
}
