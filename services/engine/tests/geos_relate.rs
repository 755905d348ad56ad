//! The GEOS XMLTester relate suites (fixtures/geos-xmltester, unchanged from GEOS) through the
//! engine's predicate layer: every `relate` (DE-9IM pattern) and named-predicate op of
//! validate/TestRelate*.xml and general/TestRelate*.xml.
//!
//! Prints the pass count per file. Every failing op must be listed, with its reason, in
//! fixtures/geos-xmltester/expected_failures.txt, and every op listed there must still fail: a new
//! failure and a fixed one both fail this test, so the list stays the truth.

use std::collections::BTreeMap;
use std::path::PathBuf;

use geo::Geometry;
use kovgis_engine::predicates as p;
use wkt::TryFromWkt;

const FILES: &[&str] = &[
    "validate/TestRelateAA.xml",
    "validate/TestRelateAA-big.xml",
    "validate/TestRelateAC.xml",
    "validate/TestRelateLA.xml",
    "validate/TestRelateLC.xml",
    "validate/TestRelateLL.xml",
    "validate/TestRelatePA.xml",
    "validate/TestRelatePL.xml",
    "validate/TestRelatePP.xml",
    "general/TestRelateAA.xml",
    "general/TestRelateEmpty.xml",
    "general/TestRelateGC.xml",
    "general/TestRelateLA.xml",
    "general/TestRelateLL.xml",
    "general/TestRelatePA.xml",
    "general/TestRelatePL.xml",
    "general/TestRelatePP.xml",
];

fn suite_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/geos-xmltester")
}

fn geometry(wkt: &str) -> Result<Geometry<f64>, String> {
    Geometry::try_from_wkt_str(wkt.trim()).map_err(|e| format!("WKT not representable: {e}"))
}

/// Runs one op through the predicate layer: `Ok(answer)`, or why it could not be answered.
fn run_op(
    name: &str,
    pattern: Option<&str>,
    a: &Geometry,
    b: &Geometry,
) -> Option<Result<bool, String>> {
    let answer = |f: fn(&Geometry, &Geometry) -> bool| {
        let (a, b) = (a.clone(), b.clone());
        std::panic::catch_unwind(move || f(&a, &b)).map_err(|e| {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            format!("panicked: {msg}")
        })
    };
    Some(match name {
        "relate" => {
            let pattern = pattern?.to_owned();
            let (a, b) = (a.clone(), b.clone());
            std::panic::catch_unwind(move || p::relate(&a, &b))
                .map_err(|_| "panicked".to_string())
                .and_then(|m| m.matches(&pattern).map_err(|e| e.to_string()))
        }
        "contains" => answer(p::contains),
        "coveredBy" => answer(p::covered_by),
        "covers" => answer(p::covers),
        "crosses" => answer(p::crosses),
        "disjoint" => answer(p::disjoint),
        "equalsTopo" => answer(p::equals_topo),
        "intersects" => answer(p::intersects),
        "overlaps" => answer(p::overlaps),
        "touches" => answer(p::touches),
        "within" => answer(p::within),
        _ => return None, // not a predicate (validity, overlay, …): not this layer's business
    })
}

/// The panic message of geo's debug-only assertion in relate (see the verdict below).
const DEBUG_ASSERTION: &str = "panicked: topology position conflict";

#[test]
fn geos_relate_suites_pass_except_the_listed_cases() {
    // Panics inside geo are caught and reported as failures; keep their noise off the output.
    std::panic::set_hook(Box::new(|_| {}));
    let expected_text = std::fs::read_to_string(suite_dir().join("expected_failures.txt")).unwrap();
    let expected: BTreeMap<String, String> = expected_text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (key, reason) = l.split_once(" — ").unwrap_or((l, ""));
            (key.trim().to_owned(), reason.trim().to_owned())
        })
        .collect();
    for (key, reason) in &expected {
        assert!(
            !reason.is_empty(),
            "expected failure without a reason: {key}"
        );
    }

    let mut failures: BTreeMap<String, String> = BTreeMap::new();
    let (mut total_ops, mut total_pass) = (0, 0);
    for file in FILES {
        let text = std::fs::read_to_string(suite_dir().join(file)).unwrap();
        let doc = roxmltree::Document::parse(&text).unwrap();
        let (mut ops, mut pass) = (0, 0);
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
            let a = child_text("a").map(|t| geometry(&t));
            let b = child_text("b").map(|t| geometry(&t));
            for op in case.descendants().filter(|n| n.has_tag_name("op")) {
                let name = op.attribute("name").unwrap_or("");
                let expected_answer = match op.text().map(str::trim) {
                    Some("true") => true,
                    Some("false") => false,
                    _ => continue,
                };
                let pick = |arg: Option<&str>| match arg.map(|s| s.to_ascii_uppercase()) {
                    Some(s) if s == "A" => a.clone(),
                    Some(s) if s == "B" => b.clone(),
                    _ => None,
                };
                let (Some(ga), Some(gb)) = (pick(op.attribute("arg1")), pick(op.attribute("arg2")))
                else {
                    continue;
                };
                let pattern = op.attribute("arg3");
                let got = match (&ga, &gb) {
                    (Ok(ga), Ok(gb)) => match run_op(name, pattern, ga, gb) {
                        Some(got) => got,
                        None => continue,
                    },
                    (Err(e), _) | (_, Err(e)) => Err(e.clone()),
                };
                ops += 1;
                let key = format!(
                    "{file} case {} {name}{}{}",
                    case_no + 1,
                    pattern.map(|p| format!(" {p}")).unwrap_or_default(),
                    if op
                        .attribute("arg1")
                        .is_some_and(|a| a.eq_ignore_ascii_case("B"))
                    {
                        " (B,A)"
                    } else {
                        ""
                    }
                );
                match got {
                    Ok(answer) if answer == expected_answer => pass += 1,
                    Ok(answer) => {
                        failures.insert(key, format!("expected {expected_answer}, got {answer}"));
                    }
                    Err(e) => {
                        failures.insert(key, e);
                    }
                }
            }
        }
        println!("{file}: {pass}/{ops} ops pass");
        total_ops += ops;
        total_pass += pass;
    }
    // Back to the default hook, so that the verdict below is printed.
    drop(std::panic::take_hook());
    println!(
        "GEOS relate suites: {total_pass}/{total_ops} ops pass, {} expected failures",
        expected.len()
    );
    let new: Vec<String> = failures
        .iter()
        .filter(|(k, _)| !expected.contains_key(*k))
        .map(|(k, why)| format!("{k} — {why}"))
        .collect();
    // geo raises its "topology position conflict" with `debug_assert!` (relate/geomgraph/
    // edge_end_bundle_star.rs): in an optimised build (scripts/test.sh builds --release) the
    // assertion is compiled out and those ops run on, sometimes to GEOS's answer. Only for
    // them is passing as acceptable as failing.
    let debug_only = |reason: &str| reason.contains(DEBUG_ASSERTION);
    let fixed: Vec<&String> = expected
        .iter()
        .filter(|(k, reason)| {
            !failures.contains_key(*k) && (cfg!(debug_assertions) || !debug_only(reason))
        })
        .map(|(k, _)| k)
        .collect();
    assert!(
        new.is_empty() && fixed.is_empty(),
        "failures not in expected_failures.txt:\n{}\nlisted but now passing:\n{}",
        new.join("\n"),
        fixed
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(total_ops > 5_000, "the suites ran: {total_ops} ops");
}
