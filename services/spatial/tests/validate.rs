//! ValidateGeometry, ValidateGeometries and GetIndexStats through the generated client, on the
//! demo data, with PostGIS computing the expectations on the same rows.

mod common;

use std::collections::BTreeSet;

use common::validation::*;
use common::*;
use kovgis_testkit::Rng;

#[tokio::test]
async fn findings_equal_what_postgis_computes_on_the_same_rows() {
    let mut s = TestServer::start().await;
    let db = sql().await;
    // Footprints of 4–40 m around points on every 3rd demo parcel, shifted so that many cross
    // parcel boundaries, restriction edges and zone boundaries.
    let anchors = db
        .query(
            "SELECT municipality_code::text, ST_X(pt), ST_Y(pt)
             FROM (SELECT cadastral_code, municipality_code, ST_PointOnSurface(geom) AS pt,
                          row_number() OVER (ORDER BY cadastral_code) AS n
                   FROM parcel WHERE valid_to IS NULL) p
             WHERE n % 3 = 0 ORDER BY cadastral_code",
            &[],
        )
        .await
        .unwrap();
    let mut rng = Rng::new(0x5eed_0001);
    let (mut checked, mut restriction_hits, mut multi_parcel) = (0, 0, 0);
    for a in &anchors {
        let m: String = a.get(0);
        let side = rng.range(4.0, 40.0);
        let x = a.get::<_, f64>(1) + rng.range(-20.0, 20.0) - side / 2.0;
        let y = a.get::<_, f64>(2) + rng.range(-20.0, 20.0) - side / 2.0;
        let footprint = square(x, y, side);
        let report = validate(&mut s, request(&m, &footprint)).await;
        checked += 1;
        // The same hit rule in SQL: intersecting, more than 0.5 m², mean width above 0.1 m.
        let hit = "ST_Intersects(g, f) AND ST_Area(ST_Intersection(g, f)) > 0.5
                   AND 2 * ST_Area(ST_Intersection(g, f)) / ST_Perimeter(ST_Intersection(g, f)) > 0.1";
        let parcels: Vec<String> = db
            .query(
                &format!(
                    "SELECT cadastral_code FROM parcel,
                            LATERAL (SELECT geom AS g, ST_GeomFromText($1, 3301) AS f) x
                     WHERE valid_to IS NULL AND {hit} ORDER BY cadastral_code"
                ),
                &[&footprint],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(report.parcel_codes, parcels, "{footprint}");
        multi_parcel += (parcels.len() > 1) as usize;

        let expected: BTreeSet<(String, i64)> = db
            .query(
                &format!(
                    "SELECT fe.external_id, round(ST_Area(ST_Intersection(g, f)) * 1000)::bigint
                     FROM feature fe JOIN layer l ON l.id = fe.layer_id,
                          LATERAL (SELECT fe.geom AS g, ST_GeomFromText($1, 3301) AS f) x
                     WHERE fe.valid_to IS NULL AND l.kind = 'restriction'
                       AND (l.municipality_code IS NULL OR l.municipality_code = $2) AND {hit}"
                ),
                &[&footprint, &m],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let got: Vec<&v1::Finding> = report
            .findings
            .iter()
            .filter(|f| f.code == "RESTRICTION_OVERLAP")
            .collect();
        assert_eq!(
            got.iter()
                .map(|f| f.feature_id.clone())
                .collect::<BTreeSet<_>>(),
            expected
                .iter()
                .map(|(id, _)| id.clone())
                .collect::<BTreeSet<_>>(),
            "{footprint}"
        );
        for f in &got {
            let (_, area_mm) = expected.iter().find(|(id, _)| *id == f.feature_id).unwrap();
            // Areas to 1e-3 m² (rounded in SQL above) plus the overlay's grid: see the engine's
            // differential test for the tolerance.
            assert!(
                (f.overlap_area_m2.unwrap() * 1000.0 - *area_mm as f64).abs() <= 50.0,
                "{footprint}: {} {} vs {area_mm} mm²",
                f.feature_id,
                f.overlap_area_m2.unwrap()
            );
            assert!(
                !f.authority.is_empty(),
                "every restriction names its authority"
            );
            restriction_hits += 1;
        }

        // Setback and coverage on a single parcel, against ST_Distance and ST_Area.
        if let [code] = parcels.as_slice() {
            let row = db
                .query_one(
                    "SELECT ST_Distance(ST_GeomFromText($1, 3301), ST_Boundary(p.geom)),
                            100 * (coalesce((SELECT sum(ST_Area(ST_Intersection(b.geom, p.geom)))
                                             FROM feature b JOIN layer l ON l.id = b.layer_id
                                             WHERE l.kind = 'building' AND b.valid_to IS NULL
                                               AND (l.municipality_code IS NULL OR l.municipality_code = $3)
                                               AND ST_Intersects(b.geom, p.geom)), 0)
                                   + ST_Area(ST_Intersection(ST_GeomFromText($1, 3301), p.geom)))
                                / ST_Area(p.geom)
                     FROM parcel p WHERE p.cadastral_code = $2 AND p.valid_to IS NULL",
                    &[&footprint, code, &m],
                )
                .await
                .unwrap();
            let setback = report
                .findings
                .iter()
                .find(|f| f.rule == "SETBACK")
                .unwrap();
            assert!(
                (setback.distance_m.unwrap() - row.get::<_, f64>(0)).abs() < 1e-6,
                "{footprint}"
            );
            if let Some(cov) = report
                .findings
                .iter()
                .find(|f| f.rule == "COVERAGE" && f.overlap_share_pct.is_some())
            {
                assert!(
                    (cov.overlap_share_pct.unwrap() - row.get::<_, f64>(1)).abs() < 1e-4,
                    "{footprint}: coverage {} vs {}",
                    cov.overlap_share_pct.unwrap(),
                    row.get::<_, f64>(1)
                );
            }
        }
    }
    println!(
        "{checked} footprints: {restriction_hits} restriction hits, {multi_parcel} across parcels"
    );
    assert!(checked > 100 && restriction_hits > 20 && multi_parcel > 10);
}

#[tokio::test]
async fn a_footprint_in_the_shore_zone_names_keskkonnaamet_and_every_rule_is_reported() {
    let mut s = TestServer::start().await;
    let db = sql().await;
    // A 6 m square on a Tartu parcel inside the 50 m building exclusion zone of the Emajõgi.
    let row = db
        .query_one(
            "SELECT ST_X(pt), ST_Y(pt), p.cadastral_code FROM parcel p
             JOIN feature z ON z.external_id = 'EKV-EMAJOGI' AND z.valid_to IS NULL
             CROSS JOIN LATERAL (SELECT ST_PointOnSurface(ST_Intersection(ST_Buffer(p.geom, -5), z.geom)) AS pt) c
             WHERE p.valid_to IS NULL AND p.municipality_code = '0793' AND p.use1_code = 'ELAMUMAA'
               AND ST_Area(ST_Intersection(ST_Buffer(p.geom, -5), z.geom)) > 200
             ORDER BY p.cadastral_code LIMIT 1",
            &[],
        )
        .await
        .unwrap();
    let (x, y, code): (f64, f64, String) = (row.get(0), row.get(1), row.get(2));
    let r = validate(&mut s, request("0793", &square(x - 3.0, y - 3.0, 6.0))).await;
    assert_eq!(r.parcel_codes, [code]);
    let shore = r
        .findings
        .iter()
        .find(|f| f.feature_id == "EKV-EMAJOGI")
        .expect("the building exclusion zone is a hit");
    assert_eq!(
        (
            shore.code.as_str(),
            shore.authority.as_str(),
            shore.severity
        ),
        (
            "RESTRICTION_OVERLAP",
            "Keskkonnaamet",
            v1::Severity::Warning as i32
        )
    );
    assert!((shore.overlap_share_pct.unwrap() - 100.0).abs() < 1e-6);
    assert!(shore.geometry.is_some());
    assert!(
        shore.message.contains("coordinate with Keskkonnaamet"),
        "{}",
        shore.message
    );
    for rule in [
        "GEOMETRY_VALID",
        "WITHIN_PARCEL",
        "SETBACK",
        "ZONE_USE",
        "COVERAGE",
        "RESTRICTION_OVERLAP",
        "DP_REQUIRED",
    ] {
        assert!(r.findings.iter().any(|f| f.rule == rule), "{rule} reported");
    }
    assert_ne!(r.verdict, v1::Verdict::Clear as i32);
    assert_eq!(r.input_hash.len(), 64);
    assert!(r.dataset_versions.iter().any(|d| d.name == "parcels"));
    // Estonian by default.
    let et = validate(
        &mut s,
        v1::ValidateGeometryRequest {
            locale: String::new(),
            ..request("0793", &square(x - 3.0, y - 3.0, 6.0))
        },
    )
    .await;
    let shore = et
        .findings
        .iter()
        .find(|f| f.feature_id == "EKV-EMAJOGI")
        .unwrap();
    assert!(
        shore.message.contains("kooskõlastada: Keskkonnaamet"),
        "{}",
        shore.message
    );
}

#[tokio::test]
async fn bad_requests_get_invalid_argument_with_the_field() {
    let mut s = TestServer::start().await;
    let ok = || request("0793", &square(657_600.0, 6_477_150.0, 10.0));
    let cases: Vec<(v1::ValidateGeometryRequest, &str, &str)> = vec![
        (
            v1::ValidateGeometryRequest {
                geometry: Some(wkt("POINT(657600 6477150)", 3301)),
                ..ok()
            },
            "geometry",
            "Polygon or MultiPolygon",
        ),
        (
            v1::ValidateGeometryRequest {
                geometry: Some(wkt(
                    "POLYGON((657600 6477150, 657610 6477160, 657610 6477150, 657600 6477160, 657600 6477150))",
                    3301,
                )),
                ..ok()
            },
            "geometry.wkt",
            "self-intersect",
        ),
        (
            v1::ValidateGeometryRequest {
                geometry: Some(wkt(
                    "POLYGON((6477150 657600, 6477160 657600, 6477160 657610, 6477150 657600))",
                    3301,
                )),
                ..ok()
            },
            "geometry.wkt",
            "swapped",
        ),
        (
            v1::ValidateGeometryRequest {
                geometry: None,
                ..ok()
            },
            "geometry",
            "",
        ),
        (
            v1::ValidateGeometryRequest {
                municipality_code: "9999".into(),
                ..ok()
            },
            "municipality_code",
            "no municipality",
        ),
        (
            v1::ValidateGeometryRequest {
                procedure_type: "Building Permit".into(),
                ..ok()
            },
            "procedure_type",
            "lower-case",
        ),
        (
            v1::ValidateGeometryRequest {
                intended_use: String::new(),
                ..ok()
            },
            "intended_use",
            "lower-case",
        ),
        (
            v1::ValidateGeometryRequest {
                parcel_codes: vec!["79301:001:0204".into(), "nope".into()],
                ..ok()
            },
            "parcel_codes[1]",
            "not a cadastral code",
        ),
        (
            v1::ValidateGeometryRequest {
                locale: "fi".into(),
                ..ok()
            },
            "locale",
            "et or en",
        ),
    ];
    for (req, field, needle) in cases {
        let e = s.client.validate_geometry(req).await.unwrap_err();
        assert_invalid(&e, field, needle);
    }
    // In a batch, the failing element is named.
    let e = s
        .client
        .validate_geometries(v1::ValidateGeometriesRequest {
            proposals: vec![
                ok(),
                v1::ValidateGeometryRequest {
                    locale: "fi".into(),
                    ..ok()
                },
            ],
        })
        .await
        .unwrap_err();
    assert_invalid(&e, "proposals[1].locale", "et or en");
}

#[tokio::test]
async fn the_batch_gives_the_same_reports_as_single_calls() {
    let mut s = TestServer::start().await;
    // One moment for all (after the demo data), so that the reports, ids included, are equal.
    let at = prost_types::Timestamp {
        seconds: 1_900_000_000,
        nanos: 0,
    };
    let proposals: Vec<_> = (0..20)
        .map(|i| v1::ValidateGeometryRequest {
            as_of: Some(at),
            ..request(
                "0793",
                &square(657_400.0 + 13.0 * i as f64, 6_477_100.0, 12.0),
            )
        })
        .collect();
    let batch = s
        .client
        .validate_geometries(v1::ValidateGeometriesRequest {
            proposals: proposals.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .reports;
    assert_eq!(batch.len(), proposals.len());
    for (p, b) in proposals.into_iter().zip(&batch) {
        let single = validate(&mut s, p).await;
        assert_eq!(&single, b);
    }
}

#[tokio::test]
async fn index_stats_match_the_database() {
    let mut s = TestServer::start().await;
    let db = sql().await;
    let stats = s
        .client
        .get_index_stats(v1::GetIndexStatsRequest {})
        .await
        .unwrap()
        .into_inner();
    let parcels: i64 = db
        .query_one("SELECT count(*) FROM parcel WHERE valid_to IS NULL", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(stats.parcels as i64, parcels);
    for l in &stats.layers {
        let n: i64 = db
            .query_one(
                "SELECT count(*) FROM feature WHERE layer_id = $1 AND valid_to IS NULL",
                &[&l.layer_id],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(l.features as i64, n, "{}", l.name);
        assert!(n == 0 || l.bytes > 0);
    }
    let build = stats.build_duration.expect("the build's duration");
    assert!(build.seconds > 0 || build.nanos > 0);
    assert!(stats.resident_bytes.is_some_and(|b| b > 0));
}
