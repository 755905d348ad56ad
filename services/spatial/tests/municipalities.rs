//! ListMunicipalities, GetMunicipality and LocateMunicipality through the gRPC client, checked
//! against the fixture file and against PostGIS.

mod common;

use std::collections::BTreeMap;

use common::*;

/// (EHAK code → name) from the fixture file itself, not from the database.
fn fixture_municipalities() -> BTreeMap<String, String> {
    let fc = fixture_json("municipalities/municipalities.geojson");
    fc["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["properties"]["KOOD"].as_str().unwrap().to_owned(),
                f["properties"]["NIMI"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn lists_all_79_municipalities_in_code_order() {
    let mut s = TestServer::start().await;
    let resp = s
        .client
        .list_municipalities(v1::ListMunicipalitiesRequest::default())
        .await
        .unwrap()
        .into_inner();
    let expected = fixture_municipalities();
    assert_eq!(expected.len(), 79);
    let got: Vec<(String, String)> = resp
        .municipalities
        .iter()
        .map(|m| (m.code.clone(), m.name.clone()))
        .collect();
    assert_eq!(got, expected.into_iter().collect::<Vec<_>>());
    assert!(resp.municipalities.iter().all(|m| m.boundary.is_none()));
    let tallinn = resp
        .municipalities
        .iter()
        .find(|m| m.code == "0784")
        .unwrap();
    let population = tallinn
        .population
        .expect("Tallinn's population is published");
    assert!(population > 400_000, "{population}");
}

#[tokio::test]
async fn boundaries_on_request_in_the_asked_crs() {
    let mut s = TestServer::start().await;
    let resp = s
        .client
        .list_municipalities(v1::ListMunicipalitiesRequest {
            include_boundary: true,
            output: out(4326, v1::GeometryFormat::Geojson),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resp.municipalities.len(), 79);
    for m in &resp.municipalities {
        let b = m.boundary.as_ref().unwrap();
        assert_eq!(b.epsg, 4326);
        let Some(v1::output_geometry::Value::Geojson(text)) = &b.value else {
            panic!()
        };
        let g: geojson::Geometry = text.parse().unwrap();
        let geo: geo::Geometry<f64> = geo::Geometry::try_from(&g.value).unwrap();
        use geo::BoundingRect;
        let r = geo.bounding_rect().unwrap();
        assert!(
            r.min().x > 21.0 && r.max().x < 28.3 && r.min().y > 57.4 && r.max().y < 59.9,
            "{} {r:?}",
            m.code
        );
    }
}

#[tokio::test]
async fn get_municipality_by_code_matches_postgis() {
    let mut s = TestServer::start().await;
    let m = s
        .client
        .get_municipality(v1::GetMunicipalityRequest {
            code: "0793".into(),
            output: out(3301, v1::GeometryFormat::Wkb),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(m.name, "Tartu linn");
    let db = sql().await;
    let row = db
        .query_one(
            "SELECT ST_Area(boundary), ST_AsBinary(boundary) FROM municipality WHERE municipality_code = '0793'",
            &[],
        )
        .await
        .unwrap();
    let area: f64 = row.get(0);
    assert!((m.area_m2 - area).abs() < 1e-6);
    let Some(v1::output_geometry::Value::Wkb(wkb)) = m.boundary.unwrap().value else {
        panic!()
    };
    assert_eq!(
        wkb.as_slice(),
        row.get::<_, &[u8]>(1),
        "WKB in 3301 is the stored geometry, byte for byte"
    );
}

#[tokio::test]
async fn get_municipality_errors() {
    let mut s = TestServer::start().await;
    let e = s
        .client
        .get_municipality(v1::GetMunicipalityRequest {
            code: "9999".into(),
            output: None,
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::NotFound);
    let e = s
        .client
        .get_municipality(v1::GetMunicipalityRequest {
            code: "Tallinn".into(),
            output: None,
        })
        .await
        .unwrap_err();
    assert_invalid(&e, "code", "EHAK");
    let e = s
        .client
        .get_municipality(v1::GetMunicipalityRequest {
            code: "0784".into(),
            output: out(2154, v1::GeometryFormat::Geojson),
        })
        .await
        .unwrap_err();
    assert_invalid(&e, "output.epsg", "EPSG:2154");
}

#[tokio::test]
async fn locates_points_and_areas() {
    let mut s = TestServer::start().await;
    // Tallinn Old Town and Tartu Town Hall, WGS84.
    for (lon, lat, code) in [(24.7453, 59.4370, "0784"), (26.7225, 58.3806, "0793")] {
        let r = s
            .client
            .locate_municipality(v1::LocateMunicipalityRequest {
                geometry: Some(geojson(
                    &format!(r#"{{"type":"Point","coordinates":[{lon},{lat}]}}"#),
                    0,
                )),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(r.municipality.unwrap().code, code);
        assert_eq!(r.share_pct, 100.0);
    }
    // A square across the Tartu linn / Tartu vald border: the answer and its share agree with
    // PostGIS computing the overlap itself.
    let db = sql().await;
    let row = db
        .query_one(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_ClosestPoint(ST_Boundary(a.boundary), ST_Centroid(a.boundary)) p
             FROM municipality a WHERE a.municipality_code = '0793') s",
            &[],
        )
        .await
        .unwrap();
    let (x, y): (f64, f64) = (row.get(0), row.get(1));
    let square = format!(
        "POLYGON(({x0} {y0},{x1} {y0},{x1} {y1},{x0} {y1},{x0} {y0}))",
        x0 = x - 300.0,
        y0 = y - 250.0,
        x1 = x + 500.0,
        y1 = y + 350.0
    );
    let expected = db
        .query_one(
            "SELECT m.municipality_code::text, ST_Area(ST_Intersection(m.boundary, q.g)) / ST_Area(q.g)
             FROM municipality m, (SELECT ST_GeomFromText($1, 3301) g) q
             ORDER BY 2 DESC LIMIT 1",
            &[&square],
        )
        .await
        .unwrap();
    let r = s
        .client
        .locate_municipality(v1::LocateMunicipalityRequest {
            geometry: Some(wkt(&square, 3301)),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.municipality.unwrap().code, expected.get::<_, String>(0));
    // Percent, like every share of kovgis.v1; PostGIS gives the fraction.
    let share_pct = 100.0 * expected.get::<_, f64>(1);
    assert!(
        (r.share_pct - share_pct).abs() < 1e-7,
        "{} vs {share_pct}",
        r.share_pct
    );
    assert!(r.share_pct < 100.0, "the square straddles a border");
}

#[tokio::test]
async fn locate_at_sea_is_not_found_and_bad_geometry_is_invalid() {
    let mut s = TestServer::start().await;
    // Gulf of Riga, inside Estonia's extent but in no municipality.
    let e = s
        .client
        .locate_municipality(v1::LocateMunicipalityRequest {
            geometry: Some(geojson(r#"{"type":"Point","coordinates":[23.6,57.9]}"#, 0)),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::NotFound, "{e:?}");
    let e = s
        .client
        .locate_municipality(v1::LocateMunicipalityRequest { geometry: None })
        .await
        .unwrap_err();
    assert_invalid(&e, "geometry", "required");
}
