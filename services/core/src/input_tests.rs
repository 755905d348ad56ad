//! Unit tests of `input`: each encoding read, its CRS taken or defaulted, and every kind of
//! malformed or unacceptable input refused with the field it concerns.

use super::*;

fn parse(i: GeometryInput) -> Result<ParsedGeometry, InputError> {
    i.parse(&InputLimits::default())
}

#[test]
fn geojson_point_defaults_to_wgs84() {
    let p = parse(GeometryInput::geojson(
        r#"{"type":"Point","coordinates":[24.8,59.45]}"#,
    ))
    .unwrap();
    assert_eq!(p.source_epsg, 4326);
    let Geometry::Point(pt) = p.geometry else {
        panic!()
    };
    assert!(pt.x() > 500_000.0 && pt.y() > 6_500_000.0);
}

#[test]
fn geojson_crs_member_is_honoured() {
    let s = r#"{"type":"Feature","crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::3301"}},
                "geometry":{"type":"Point","coordinates":[546500,6592000]},"properties":null}"#;
    let p = parse(GeometryInput::geojson(s)).unwrap();
    assert_eq!(p.source_epsg, 3301);
    assert_eq!(
        p.geometry,
        Geometry::Point(geo::Point::new(546500.0, 6592000.0))
    );
}

#[test]
fn text_after_a_wkt_geometry_is_refused() {
    for bad in [
        "POINT(546500 6592000) garbage",
        "POINT(546500 6592000))",
        "POLYGON((546500 6592000, 546600 6592000, 546600 6592100, 546500 6592000)) x",
        "POINT EMPTY 1",
    ] {
        let e = parse(GeometryInput::wkt(bad, 3301)).unwrap_err();
        assert_eq!(e.field, "wkt", "{bad}");
        assert!(e.reason.contains("unexpected text"), "{bad}: {}", e.reason);
    }
    for good in [
        " POINT(546500 6592000) ",
        "SRID=3301;POINT (546500 6592000)",
        "MULTIPOLYGON(((546500 6592000, 546600 6592000, 546600 6592100, 546500 6592000)))",
    ] {
        parse(GeometryInput::wkt(good, 3301)).unwrap_or_else(|e| panic!("{good}: {e}"));
    }
}

#[test]
fn malformed_inputs_name_the_field() {
    for (input, field, needle) in [
        (GeometryInput::geojson("{"), "geojson", "not valid JSON"),
        (
            GeometryInput::geojson(r#"{"type":"Pointy","coordinates":[1,2]}"#),
            "geojson",
            "GeoJSON",
        ),
        (
            GeometryInput::geojson(r#"{"type":"Point","coordinates":[24.8]}"#),
            "geojson",
            "position",
        ),
        (
            GeometryInput::wkt("POINT(1 2", 3301),
            "wkt",
            "not valid WKT",
        ),
        (GeometryInput::wkt("", 3301), "wkt", "empty"),
        (
            GeometryInput {
                encoding: GeometryEncoding::Wkb(vec![1, 1, 0]),
                epsg: None,
            },
            "wkb",
            "WKB",
        ),
        (
            GeometryInput {
                encoding: GeometryEncoding::Wkb(vec![7; 30]),
                epsg: None,
            },
            "wkb",
            "WKB",
        ),
    ] {
        let e = parse(input.clone()).unwrap_err();
        assert_eq!(e.field, field, "{input:?}: {e}");
        assert!(e.reason.contains(needle), "{input:?}: {e}");
    }
}

#[test]
fn truncated_wkb_never_panics() {
    let wkb = crate::output::to_wkb(&Geometry::Polygon(geo::wkt!(
        POLYGON((546000. 6592000., 546100. 6592000., 546100. 6592100., 546000. 6592000.))
    )));
    assert!(
        parse(GeometryInput {
            encoding: GeometryEncoding::Wkb(wkb.clone()),
            epsg: None
        })
        .is_ok()
    );
    for n in 0..wkb.len() {
        let r = parse(GeometryInput {
            encoding: GeometryEncoding::Wkb(wkb[..n].to_vec()),
            epsg: None,
        });
        assert!(r.is_err(), "prefix of {n} bytes was accepted");
    }
}

#[test]
fn unsupported_crs() {
    let e = parse(GeometryInput::wkt("POINT(1 2)", 2154)).unwrap_err();
    assert_eq!(e.field, "epsg");
}

#[test]
fn conflicting_crs() {
    let e = parse(GeometryInput::wkt("SRID=4326;POINT(24.8 59.4)", 3301)).unwrap_err();
    assert_eq!(e.field, "epsg");
    let ok = parse(GeometryInput {
        encoding: GeometryEncoding::Wkt("SRID=4326;POINT(24.8 59.4)".into()),
        epsg: None,
    })
    .unwrap();
    assert_eq!(ok.source_epsg, 4326);
}

#[test]
fn swapped_axes_are_named() {
    let e = parse(GeometryInput::wkt("POINT(6592000 546500)", 3301)).unwrap_err();
    assert!(e.reason.contains("swapped"), "{e}");
    let e = parse(GeometryInput::geojson(
        r#"{"type":"Point","coordinates":[59.45,24.8]}"#,
    ))
    .unwrap_err();
    assert!(e.reason.contains("swapped"), "{e}");
}

#[test]
fn outside_estonia() {
    // Helsinki in lon/lat, and a 3301 point in the Baltic Sea far west.
    let e = parse(GeometryInput::geojson(
        r#"{"type":"Point","coordinates":[24.94,60.17]}"#,
    ))
    .unwrap_err();
    assert!(e.reason.contains("outside Estonia"), "{e}");
    let e = parse(GeometryInput::wkt("POINT(100000 6500000)", 3301)).unwrap_err();
    assert!(e.reason.contains("outside Estonia"), "{e}");
    // Paris in Web Mercator: only caught after the transform.
    let e = parse(GeometryInput::wkt("POINT(261845 6250564)", 3857)).unwrap_err();
    assert!(e.reason.contains("outside Estonia"), "{e}");
}

#[test]
fn empty_geometries() {
    for wkt in ["POINT EMPTY", "POLYGON EMPTY", "GEOMETRYCOLLECTION EMPTY"] {
        let e = parse(GeometryInput::wkt(wkt, 3301)).unwrap_err();
        assert!(e.reason.contains("empty"), "{wkt}: {e}");
    }
}

#[test]
fn vertex_cap() {
    let ring: Vec<String> = (0..=100)
        .map(|i| {
            let a = i as f64 / 100.0 * std::f64::consts::TAU;
            format!(
                "{} {}",
                546_500.0 + 50.0 * a.cos(),
                6_592_000.0 + 50.0 * a.sin()
            )
        })
        .collect();
    let wkt = format!("POLYGON(({}))", ring.join(","));
    let limits = InputLimits { max_vertices: 50 };
    let e = GeometryInput::wkt(&wkt, 3301).parse(&limits).unwrap_err();
    assert!(
        e.reason.contains("101 vertices") && e.reason.contains("at most 50"),
        "{e}"
    );
    assert!(
        GeometryInput::wkt(&wkt, 3301)
            .parse(&InputLimits::default())
            .is_ok()
    );
}

#[test]
fn bow_tie_reports_where() {
    let e = parse(GeometryInput::wkt(
        "POLYGON((546000 6592000, 546100 6592100, 546100 6592000, 546000 6592100, 546000 6592000))",
        3301,
    ))
    .unwrap_err();
    assert!(e.reason.contains("self-intersect"), "{e}");
    assert!(
        e.reason.contains("546050") && e.reason.contains("6592050"),
        "{e}"
    );
}
