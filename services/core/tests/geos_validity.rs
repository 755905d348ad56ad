//! The GEOS XMLTester validity suites (fixtures/geos-xmltester, unchanged from GEOS) through
//! `validity::check`: every `isValid` case whose geometry is a polygon, a multipolygon or a
//! collection of them must get GEOS's answer.
//!
//! Cases GEOS answers for rings a geo polygon cannot hold are left out and counted: a ring that
//! is not closed (geo closes every ring it is given, as the input path does). Every other
//! polygonal case is compared; the counts are printed and a floor on them keeps the comparison
//! from silently shrinking.

use std::path::PathBuf;

use geo::Geometry;
use geozero::ToGeo;
use kovgis_core::validity;

const FILES: &[&str] = &[
    "general/TestValid.xml",
    "general/TestValid2.xml",
    "general/TestValid2-big.xml",
    "misc/TestIsValid.xml",
];

fn suite_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/geos-xmltester")
}

/// The text between `<tag>` and `</tag>` from `from` on, and where it ends.
fn element<'a>(s: &'a str, tag: &str, from: usize) -> Option<(&'a str, usize)> {
    let open = format!("<{tag}");
    let start = from + s[from..].find(&open)?;
    let body = start + s[start..].find('>')? + 1;
    let close = format!("</{tag}>");
    let end = body + s[body..].find(&close)?;
    Some((&s[body..end], end + close.len()))
}

/// Whether every ring (innermost parenthesised list) of the WKT ends where it starts.
fn rings_closed(wkt: &str) -> bool {
    let mut rest = wkt;
    while let Some(close) = rest.find(')') {
        let open = rest[..close].rfind('(').expect("balanced WKT");
        let pts: Vec<Vec<f64>> = rest[open + 1..close]
            .split(',')
            .map(|p| p.split_whitespace().map(|v| v.parse().unwrap()).collect())
            .collect();
        if pts.len() > 1 && pts.first() != pts.last() {
            return false;
        }
        rest = &rest[close + 1..];
        rest = rest.trim_start_matches([')', ',', ' ', '\n', '\t', '\r']);
        if let Some(next) = rest.find('(') {
            rest = &rest[next..];
        } else {
            break;
        }
    }
    true
}

/// A parenthesised WKT list: nested lists, or one point's numbers.
enum Node {
    List(Vec<Node>),
    Point(Vec<f64>),
}

fn list(s: &mut std::iter::Peekable<std::str::Chars>) -> Node {
    assert_eq!(s.next(), Some('('));
    let mut items = Vec::new();
    loop {
        while s.peek().is_some_and(|c| c.is_whitespace()) {
            s.next();
        }
        if s.peek() == Some(&'(') {
            items.push(list(s));
        } else {
            let mut text = String::new();
            while let Some(&c) = s.peek() {
                if c == ',' || c == ')' {
                    break;
                }
                text.push(c);
                s.next();
            }
            let nums = text
                .split_whitespace()
                .map(|v| v.parse().unwrap())
                .collect();
            items.push(Node::Point(nums));
        }
        while s.peek().is_some_and(|c| c.is_whitespace()) {
            s.next();
        }
        match s.next() {
            Some(',') => continue,
            Some(')') => return Node::List(items),
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// POLYGON or MULTIPOLYGON WKT read here (geozero does not read `NaN`).
fn polygonal_wkt(wkt: &str) -> Geometry<f64> {
    use geo::{Coord, LineString, MultiPolygon, Polygon};
    let open = wkt.find('(').expect("a list");
    let node = list(&mut wkt[open..].chars().peekable());
    let items = |n: Node| match n {
        Node::List(v) => v,
        Node::Point(_) => panic!("a list expected"),
    };
    let ring = |n: Node| {
        LineString(
            items(n)
                .into_iter()
                .map(|p| match p {
                    Node::Point(v) => Coord { x: v[0], y: v[1] },
                    Node::List(_) => panic!("a point expected"),
                })
                .collect(),
        )
    };
    let polygon = |n: Node| {
        let mut rings = items(n).into_iter().map(ring);
        let exterior = rings.next().expect("an exterior ring");
        Polygon::new(exterior, rings.collect())
    };
    if wkt.to_ascii_uppercase().starts_with("MULTIPOLYGON") {
        MultiPolygon(items(node).into_iter().map(polygon).collect()).into()
    } else {
        polygon(node).into()
    }
}

fn polygonal(g: &Geometry<f64>) -> bool {
    match g {
        Geometry::Polygon(_) | Geometry::MultiPolygon(_) => true,
        Geometry::GeometryCollection(gc) => !gc.0.is_empty() && gc.iter().all(polygonal),
        _ => false,
    }
}

#[test]
fn geos_validity_suites() {
    let (mut compared, mut valid, mut unclosed) = (0, 0, 0);
    let mut failures = Vec::new();
    for file in FILES {
        let path = suite_dir().join(file);
        let xml = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        let mut at = 0;
        while let Some((case, end)) = element(&xml, "case", at) {
            at = end;
            let desc = element(case, "desc", 0).map_or("", |d| d.0.trim());
            let Some((wkt, _)) = element(case, "a", 0) else {
                continue;
            };
            let wkt = wkt.trim();
            let Some((expected, _)) = element(case, "op", 0) else {
                continue;
            };
            let expected: bool = expected.trim().parse().expect("true or false");
            let upper = wkt.to_ascii_uppercase();
            if !(upper.starts_with("POLYGON")
                || upper.starts_with("MULTIPOLYGON")
                || upper.starts_with("GEOMETRYCOLLECTION"))
                || upper.contains("EMPTY")
            {
                continue;
            }
            if !rings_closed(wkt) {
                unclosed += 1;
                continue;
            }
            let g = if upper.starts_with("GEOMETRYCOLLECTION") {
                geozero::wkt::Wkt(wkt)
                    .to_geo()
                    .unwrap_or_else(|e| panic!("{file} {desc}: {e}"))
            } else {
                polygonal_wkt(wkt)
            };
            if !polygonal(&g) {
                continue;
            }
            compared += 1;
            let ours = validity::check(&g);
            valid += ours.is_ok() as usize;
            if ours.is_ok() != expected {
                failures.push(format!("{file} «{desc}»: GEOS {expected}, ours {ours:?}"));
            }
        }
    }
    println!(
        "{compared} polygonal cases compared ({valid} valid), {unclosed} with unclosed rings left out"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        compared >= 320 && compared - valid >= 40,
        "{compared} compared, {valid} valid"
    );
}
