//! GetParcel and FindParcels through the gRPC client: answers checked against the fixture files
//! (the register's own data) and against PostGIS running the same spatial predicate.

mod common;

use std::collections::BTreeSet;

use common::*;
use geozero::ToGeo;

const FILES: [&str; 3] = [
    "parcels/tartu_kvissentali.geojson",
    "parcels/tallinn_pirita.geojson",
    "parcels/elva_palupera.geojson",
];

/// The register's municipality names, mapped to EHAK codes by hand (not by the loader).
fn ehak_of(name: &str) -> &'static str {
    match name {
        "Tartu linn" => "0793",
        "Tartu vald" => "0796",
        "Tallinn" => "0784",
        "Elva vald" => "0171",
        other => panic!("unexpected municipality {other}"),
    }
}

fn geometry_of(p: &v1::Parcel) -> geo::Geometry<f64> {
    match p.geometry.as_ref().and_then(|g| g.value.as_ref()) {
        Some(v1::output_geometry::Value::Wkt(s)) => geozero::wkt::Wkt(s.as_str()).to_geo().unwrap(),
        Some(v1::output_geometry::Value::Wkb(b)) => {
            geozero::wkb::Wkb(b.as_slice()).to_geo().unwrap()
        }
        Some(v1::output_geometry::Value::Geojson(s)) => {
            let g: geojson::Geometry = s.parse().unwrap();
            geo::Geometry::try_from(&g.value).unwrap()
        }
        None => panic!("no geometry"),
    }
}

#[tokio::test]
async fn every_fixture_parcel_comes_back_as_registered() {
    let mut s = TestServer::start().await;
    let db = sql().await;
    let mut n = 0;
    for file in FILES {
        let fc = fixture_json(file);
        for f in fc["features"].as_array().unwrap() {
            let props = &f["properties"];
            let code = props["tunnus"].as_str().unwrap();
            let p = s
                .client
                .get_parcel(v1::GetParcelRequest {
                    cadastral_code: code.into(),
                    output: out(3301, v1::GeometryFormat::Wkt),
                    as_of: None,
                })
                .await
                .unwrap_or_else(|e| panic!("{code}: {e:?}"))
                .into_inner();
            assert_eq!(p.cadastral_code, code);
            assert_eq!(p.address, props["address"].as_str().unwrap_or(""), "{code}");
            assert_eq!(
                p.registered_area_m2,
                props["area"].as_f64().unwrap(),
                "{code}"
            );
            assert_eq!(
                p.municipality_code,
                ehak_of(props["municipality"].as_str().unwrap()),
                "{code}"
            );
            let uses: Vec<&str> = props["purpose"].as_str().unwrap().split(',').collect();
            let pcts: Vec<u32> = props["purpose_pct"]
                .as_str()
                .unwrap()
                .split(',')
                .map(|x| x.parse().unwrap())
                .collect();
            let got: Vec<(&str, u32)> = p
                .intended_uses
                .iter()
                .map(|u| (u.code.as_str(), u.percent))
                .collect();
            assert_eq!(
                got,
                uses.into_iter().zip(pcts).collect::<Vec<_>>(),
                "{code}"
            );
            assert!(p.valid_to.is_none() && p.valid_from.is_some() && p.dataset_version > 0);
            // The geometry is the register's, vertex for vertex (WKT out, EPSG:3301).
            let ring: Vec<(f64, f64)> = f["geometry"]["coordinates"][0]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| (c[0].as_f64().unwrap(), c[1].as_f64().unwrap()))
                .collect();
            let geo::Geometry::MultiPolygon(mp) = geometry_of(&p) else {
                panic!("{code}: not a MultiPolygon")
            };
            let got: Vec<(f64, f64)> = mp.0[0].exterior().coords().map(|c| (c.x, c.y)).collect();
            assert_eq!(got, ring, "{code}");
            // And its area is PostGIS's.
            let area: f64 = db
                .query_one("SELECT ST_Area(geom) FROM parcel WHERE cadastral_code = $1 AND valid_to IS NULL", &[&code])
                .await
                .unwrap()
                .get(0);
            assert!((p.geometry_area_m2 - area).abs() < 1e-6, "{code}");
            n += 1;
        }
    }
    assert_eq!(n, 289 + 18 + 58);
}

#[tokio::test]
async fn get_parcel_errors_and_as_of() {
    let mut s = TestServer::start().await;
    let e = s
        .client
        .get_parcel(v1::GetParcelRequest {
            cadastral_code: "78401:101:999".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_invalid(&e, "cadastral_code", "NNNNN:NNN:NNNN");
    let e = s
        .client
        .get_parcel(v1::GetParcelRequest {
            cadastral_code: "11111:111:1111".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::NotFound);
    // Before the demo data was loaded, the parcel was not in force.
    let e = s
        .client
        .get_parcel(v1::GetParcelRequest {
            cadastral_code: "78401:101:0238".into(),
            as_of: Some(prost_types::Timestamp {
                seconds: 946_684_800,
                nanos: 0,
            }),
            output: None,
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::NotFound);
    // Now it is.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let p = s
        .client
        .get_parcel(v1::GetParcelRequest {
            cadastral_code: "78401:101:0238".into(),
            as_of: Some(prost_types::Timestamp {
                seconds: now.as_secs() as i64,
                nanos: 0,
            }),
            output: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(p.address, "Purje tn 13");
}

/// Codes PostGIS finds for the same predicate on the same rows.
async fn postgis_codes(predicate_geom_sql: &str, param: &str) -> BTreeSet<String> {
    let q = format!(
        "SELECT cadastral_code FROM parcel WHERE valid_to IS NULL AND ST_Intersects(geom, {predicate_geom_sql})"
    );
    sql()
        .await
        .query(&q, &[&param])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

async fn all_pages(s: &mut TestServer, mut req: v1::FindParcelsRequest) -> Vec<v1::Parcel> {
    let mut all = Vec::new();
    loop {
        let page = s
            .client
            .find_parcels(req.clone())
            .await
            .unwrap()
            .into_inner();
        assert!(page.parcels.len() <= req.page_size.max(1) as usize || req.page_size == 0);
        all.extend(page.parcels);
        if page.next_page_token.is_empty() {
            return all;
        }
        req.page_token = page.next_page_token;
    }
}

#[tokio::test]
async fn finds_the_pirita_parcel_under_a_wgs84_point() {
    let mut s = TestServer::start().await;
    // A point inside Purje tn 13, turned into WGS84 by PostGIS (not by kovgis).
    let row = sql()
        .await
        .query_one(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_PointOnSurface(geom), 4326) p
             FROM parcel WHERE cadastral_code = '78401:101:0238' AND valid_to IS NULL) s",
            &[],
        )
        .await
        .unwrap();
    let (lon, lat): (f64, f64) = (row.get(0), row.get(1));
    let page = s
        .client
        .find_parcels(v1::FindParcelsRequest {
            filter: Some(v1::find_parcels_request::Filter::ContainsPoint(geojson(
                &format!(r#"{{"type":"Point","coordinates":[{lon},{lat}]}}"#),
                4326,
            ))),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let codes: Vec<&str> = page
        .parcels
        .iter()
        .map(|p| p.cadastral_code.as_str())
        .collect();
    // Masti tänav T2 lost its holes upstream and overlaps its neighbours, so it may be there too.
    let expected = postgis_codes(
        "ST_Transform(ST_SetSRID(ST_GeomFromText($1), 4326), 3301)",
        &format!("POINT({lon} {lat})"),
    )
    .await;
    assert!(codes.contains(&"78401:101:0238"), "{codes:?}");
    assert_eq!(
        codes.iter().map(|c| c.to_string()).collect::<BTreeSet<_>>(),
        expected
    );
    assert!(page.parcels.iter().all(|p| p.municipality_code == "0784"));
}

#[tokio::test]
async fn intersecting_polygon_matches_postgis_and_pages_cleanly() {
    let mut s = TestServer::start().await;
    // A concave polygon over the Kvissentali block, the river and the Tartu linn/vald border.
    let poly = "POLYGON((656800 6476300, 658600 6476300, 658600 6478600, 657700 6477400, 656800 6478600, 656800 6476300))";
    let expected = postgis_codes("ST_GeomFromText($1, 3301)", poly).await;
    assert!(expected.len() > 50, "{}", expected.len());
    let req = v1::FindParcelsRequest {
        filter: Some(v1::find_parcels_request::Filter::Intersects(wkt(
            poly, 3301,
        ))),
        page_size: 7,
        output: Some(v1::OutputOptions {
            omit_geometry: true,
            ..Default::default()
        }),
        ..Default::default()
    };
    let all = all_pages(&mut s, req).await;
    let codes: Vec<String> = all.iter().map(|p| p.cadastral_code.clone()).collect();
    let mut sorted = codes.clone();
    sorted.sort();
    assert_eq!(codes, sorted, "pages come in cadastral-code order");
    assert_eq!(codes.iter().cloned().collect::<BTreeSet<_>>(), expected);
    assert_eq!(codes.len(), expected.len(), "no parcel twice");
    assert!(all.iter().all(|p| p.geometry.is_none()));

    // Restricting to one municipality keeps exactly that municipality's share.
    let tartu_vald = all_pages(
        &mut s,
        v1::FindParcelsRequest {
            filter: Some(v1::find_parcels_request::Filter::Intersects(wkt(
                poly, 3301,
            ))),
            municipality_code: "0796".into(),
            page_size: 1000,
            ..Default::default()
        },
    )
    .await;
    let db_vald: BTreeSet<String> = sql()
        .await
        .query(
            "SELECT cadastral_code FROM parcel WHERE valid_to IS NULL AND municipality_code = '0796'
               AND ST_Intersects(geom, ST_GeomFromText($1, 3301))",
            &[&poly],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        tartu_vald
            .iter()
            .map(|p| p.cadastral_code.clone())
            .collect::<BTreeSet<_>>(),
        db_vald
    );
    assert!(!db_vald.is_empty());
}

#[tokio::test]
async fn bbox_in_wgs84_and_output_in_wgs84_match_postgis() {
    let mut s = TestServer::start().await;
    let (min_lon, min_lat, max_lon, max_lat) = (26.675, 58.3950, 26.700, 58.4100);
    let page = all_pages(
        &mut s,
        v1::FindParcelsRequest {
            filter: Some(v1::find_parcels_request::Filter::Bbox(v1::BoundingBox {
                min_x: min_lon,
                min_y: min_lat,
                max_x: max_lon,
                max_y: max_lat,
                epsg: 4326,
            })),
            page_size: 50,
            output: out(4326, v1::GeometryFormat::Geojson),
            ..Default::default()
        },
    )
    .await;
    let expected = postgis_codes(
        "ST_Transform(ST_Segmentize(ST_SetSRID(ST_GeomFromText($1), 4326)::geography, 50)::geometry, 3301)",
        &format!("POLYGON(({min_lon} {min_lat},{max_lon} {min_lat},{max_lon} {max_lat},{min_lon} {max_lat},{min_lon} {min_lat}))"),
    )
    .await;
    assert!(!expected.is_empty());
    assert_eq!(
        page.iter()
            .map(|p| p.cadastral_code.clone())
            .collect::<BTreeSet<_>>(),
        expected
    );
    // Output coordinates equal PostGIS ST_Transform to 4326 within 1e-8 degrees (< 1 mm).
    let db = sql().await;
    for p in page.iter().take(40) {
        assert_eq!(p.geometry.as_ref().unwrap().epsg, 4326);
        let geo::Geometry::MultiPolygon(mp) = geometry_of(p) else {
            panic!()
        };
        let rows = db
            .query(
                "SELECT ST_X(d.geom), ST_Y(d.geom) FROM parcel,
                   LATERAL ST_DumpPoints(ST_Transform(geom, 4326)) d
                 WHERE cadastral_code = $1 AND valid_to IS NULL AND d.path[1] = 1 AND d.path[2] = 1
                 ORDER BY d.path[3]",
                &[&p.cadastral_code],
            )
            .await
            .unwrap();
        let ours: Vec<geo::Coord<f64>> = mp.0[0].exterior().coords().copied().collect();
        assert_eq!(ours.len(), rows.len());
        for (c, r) in ours.iter().zip(&rows) {
            let (x, y): (f64, f64) = (r.get(0), r.get(1));
            assert!(
                (c.x - x).abs() < 1e-8 && (c.y - y).abs() < 1e-8,
                "{}: {c:?} vs ({x}, {y})",
                p.cadastral_code
            );
        }
    }
}

#[tokio::test]
async fn find_parcels_rejects_bad_requests() {
    let mut s = TestServer::start_with(kovgis_core::InputLimits { max_vertices: 64 }).await;
    use v1::find_parcels_request::Filter;
    let ring = |n: usize| {
        (0..=n)
            .map(|i| {
                let a = i as f64 / n as f64 * std::f64::consts::TAU;
                format!(
                    "{} {}",
                    546_500.0 + 40.0 * a.cos(),
                    6_592_000.0 + 40.0 * a.sin()
                )
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    let cases: Vec<(v1::FindParcelsRequest, &str, &str)> = vec![
        (v1::FindParcelsRequest::default(), "filter", "one of"),
        (
            v1::FindParcelsRequest {
                filter: Some(Filter::Intersects(geojson("{\"type\":", 0))),
                ..Default::default()
            },
            "intersects.geojson",
            "not valid JSON",
        ),
        (
            v1::FindParcelsRequest {
                filter: Some(Filter::Intersects(wkt("POLYGON((1 2, 3 4)", 3301))),
                ..Default::default()
            },
            "intersects.wkt",
            "not valid WKT",
        ),
        (
            v1::FindParcelsRequest {
                filter: Some(Filter::Intersects(v1::Geometry {
                    value: Some(v1::geometry::Value::Wkb(vec![1, 3, 0, 0, 0, 1])),
                    epsg: 0,
                })),
                ..Default::default()
            },
            "intersects.wkb",
            "not valid WKB",
        ),
        (
            v1::FindParcelsRequest {
                filter: Some(Filter::Intersects(v1::Geometry {
                    value: None,
                    epsg: 0,
                })),
                ..Default::default()
            },
            "intersects",
            "one of geojson, wkt or wkb",
        ),
        (
            v1::FindParcelsRequest {
                filter: Some(Filter::Intersects(wkt("POINT(546500 6592000)", 2154))),
                ..Default::default()
            },
            "intersects.epsg",
            "not supported",
        ),
        (
            v1::FindParcelsRequest {
                filter: Some(Filter::Intersects(wkt("POINT(6592000 546500)", 3301))),
                ..Default::default()
            },
            "intersects.wkt",
            "swapped",
        ),
        (
            v1::FindParcelsRequest {
                filter: Some(Filter::ContainsPoint(geojson(
                    r#"{"type":"Point","coordinates":[59.45,24.8]}"#,
                    0,
                ))),
                ..Default::default()
            },
            "contains_point.geojson",
            "swapped",
        ),
        (
            v1::FindParcelsRequest {
                filter: Some(Filter::Intersects(geojson(
                    r#"{"type":"Point","coordinates":[2.35,48.85]}"#,
                    4326,
                ))),
                ..Default::default()
            },
            "intersects.geojson",
            "outside Estonia",
        ),
        (
            v1::FindParcelsRequest {
                filter: Some(Filter::Intersects(wkt(
                    "POLYGON((546000 6592000, 546100 6592100, 546100 6592000, 546000 6592100, 546000 6592000))",
                    3301,
                ))),
                ..Default::default()
            },
            "intersects.wkt",
            "self-intersect at (546050, 6592050)",
        ),
        (
            v1::FindParcelsRequest {
                filter: Some(Filter::Intersects(wkt("POLYGON EMPTY", 3301))),
                ..Default::default()
            },
            "intersects.wkt",
            "empty",
        ),
        (
            v1::FindParcelsRequest {
                filter: Some(Filter::Intersects(wkt(
                    &format!("POLYGON(({}))", ring(100)),
                    3301,
                ))),
                ..Default::default()
            },
            "intersects.wkt",
            "at most 64",
        ),
        (
            v1::FindParcelsRequest {
                filter: Some(Filter::ContainsPoint(wkt(
                    &format!("POLYGON(({}))", ring(10)),
                    3301,
                ))),
                ..Default::default()
            },
            "contains_point",
            "must be a Point",
        ),
        (
            v1::FindParcelsRequest {
                filter: Some(Filter::Bbox(v1::BoundingBox {
                    min_x: 10.0,
                    min_y: 0.0,
                    max_x: 5.0,
                    max_y: 1.0,
                    epsg: 3301,
                })),
                ..Default::default()
            },
            "bbox",
            "must not exceed",
        ),
        (
            v1::FindParcelsRequest {
                filter: Some(Filter::Bbox(v1::BoundingBox {
                    min_x: 546000.0,
                    min_y: 6592000.0,
                    max_x: 546100.0,
                    max_y: 6592100.0,
                    epsg: 9999,
                })),
                ..Default::default()
            },
            "bbox.epsg",
            "not supported",
        ),
        (
            v1::FindParcelsRequest {
                filter: Some(Filter::ContainsPoint(wkt("POINT(546500 6592000)", 3301))),
                page_token: "not-a-token".into(),
                ..Default::default()
            },
            "page_token",
            "page token",
        ),
        (
            v1::FindParcelsRequest {
                filter: Some(Filter::ContainsPoint(wkt("POINT(546500 6592000)", 3301))),
                municipality_code: "784".into(),
                ..Default::default()
            },
            "municipality_code",
            "4 digits",
        ),
        (
            v1::FindParcelsRequest {
                filter: Some(Filter::ContainsPoint(wkt("POINT(546500 6592000)", 3301))),
                output: Some(v1::OutputOptions {
                    epsg: 0,
                    format: 42,
                    omit_geometry: false,
                }),
                ..Default::default()
            },
            "output.format",
            "unknown",
        ),
    ];
    for (req, field, needle) in cases {
        let e = s.client.find_parcels(req.clone()).await.expect_err(field);
        assert_invalid(&e, field, needle);
    }
}
