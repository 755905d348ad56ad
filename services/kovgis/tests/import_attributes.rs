//! The attributes the rules read, checked at import: a zoning layer from a real GeoPackage and a
//! real Shapefile (written by `ogr2ogr`, so every value is text, as such files hold it) whose
//! `allowed_uses` is delimited text (`E;Ä`), `max_coverage_pct` numeric text and `dp_required`
//! `jah`/`ei` is stored as the rules read it — and ZONE_USE and DP_REQUIRED then act on it
//! through `ValidateGeometry` on a real server. Values that cannot be read skip their feature
//! with a problem naming the attribute, never a rule silently switched off.

mod common;

use common::*;
use kovgis_api::v1;
use kovgis_api::v1::spatial_service_client::SpatialServiceClient;
use kovgis_store::{Store, StoreConfig};

/// Zones 100 m × 100 m in Tartu (EPSG:3301), in a row from x = 650 000, y = 6 472 000: inside
/// Tartu linn, away from every demo layer and parcel.
const X0: f64 = 650_000.0;
const Y0: f64 = 6_472_000.0;

fn square(x: f64, y: f64, side: f64) -> String {
    format!(
        "[[[{x},{y}],[{},{y}],[{},{}],[{x},{}],[{x},{y}]]]",
        x + side,
        x + side,
        y + side,
        y + side
    )
}

/// A GeoJSON of zones, every property text: (id, designation, allowed_uses, max_coverage_pct,
/// dp_required).
fn zones_geojson(zones: &[(&str, &str, &str, &str, &str)]) -> String {
    let features: Vec<String> = zones
        .iter()
        .enumerate()
        .map(|(i, (id, d, uses, cov, dp))| {
            format!(
                r#"{{"type":"Feature","properties":{{"zone_id":"{id}","designation":"{d}","allowed_uses":"{uses}","max_coverage_pct":"{cov}","dp_required":"{dp}"}},
                   "geometry":{{"type":"Polygon","coordinates":{}}}}}"#,
                square(X0 + 200.0 * i as f64, Y0, 100.0)
            )
        })
        .collect();
    format!(
        r#"{{"type":"FeatureCollection","crs":{{"type":"name","properties":{{"name":"urn:ogc:def:crs:EPSG::3301"}}}},"features":[{}]}}"#,
        features.join(",")
    )
}

const ZONES: &[(&str, &str, &str, &str, &str)] = &[
    (
        "Z1",
        "EV",
        "residential_building;ancillary_building",
        "30",
        "ei",
    ),
    ("Z2", "Ä", "E;Ä", "50,5", "jah"),
    ("Z3", "T", "E,Ä", "lots", "0"),
    ("Z4", "T", "", "", "kindlasti"),
];

/// A 20 m footprint inside zone `i`.
fn footprint_in(i: usize) -> String {
    let (x, y) = (X0 + 200.0 * i as f64 + 40.0, Y0 + 40.0);
    format!(
        "POLYGON(({x} {y}, {} {y}, {} {}, {x} {}, {x} {y}))",
        x + 20.0,
        x + 20.0,
        y + 20.0,
        y + 20.0
    )
}

/// The findings of `rule` about `layer` for a building permit with `intended_use` on `wkt`, from
/// a ValidateGeometry call.
async fn findings(
    client: &mut SpatialServiceClient<
        tonic::service::interceptor::InterceptedService<
            tonic::transport::Channel,
            impl tonic::service::Interceptor,
        >,
    >,
    wkt: &str,
    intended_use: &str,
    rule: &str,
    layer: &str,
) -> Vec<v1::Finding> {
    let report = client
        .validate_geometry(v1::ValidateGeometryRequest {
            municipality_code: "0793".into(),
            procedure_type: "building_permit".into(),
            geometry: Some(v1::Geometry {
                value: Some(v1::geometry::Value::Wkt(wkt.into())),
                epsg: 3301,
            }),
            intended_use: intended_use.into(),
            locale: "en".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    report
        .findings
        .into_iter()
        .filter(|f| f.rule == rule && (layer.is_empty() || f.layer_name == layer))
        .collect()
}

#[tokio::test]
async fn zoning_text_attributes_are_normalised_and_drive_the_rules() {
    let db = TestDb::new("attributes").await;
    let src = db.dir.join("zones.geojson");
    std::fs::write(&src, zones_geojson(ZONES)).unwrap();
    let gpkg = db.dir.join("zones.gpkg");
    ogr2ogr(&[
        "-f",
        "GPKG",
        gpkg.to_str().unwrap(),
        src.to_str().unwrap(),
        "-nln",
        "zoning",
    ]);
    let import =
        |file: &std::path::Path, name: &str, extra: &[&str]| db.import_zoning(file, name, extra);
    let out = ok(&import(&gpkg, "zoning-gpkg", &["--map", "id=zone_id"]));
    assert_eq!(
        (
            count(&out, "read"),
            count(&out, "written"),
            count(&out, "skipped")
        ),
        (4, 2, 2),
        "{out}"
    );
    assert!(
        out.contains("feature 2 (Z3): skipped: attribute 'max_coverage_pct' = \"lots\" is not a building coverage"),
        "{out}"
    );
    assert!(
        out.contains(
            "feature 3 (Z4): skipped: attribute 'dp_required' = \"kindlasti\" is not yes or no"
        ),
        "{out}"
    );

    // Stored as the rules read them: a list, a number, a boolean.
    let c = db.sql().await;
    let stored = |layer: &'static str| {
        let c = &c;
        async move {
            c.query(
                "SELECT f.external_id, f.attributes->'allowed_uses', f.attributes->'max_coverage_pct',
                        f.attributes->'dp_required'
                 FROM feature f JOIN layer l ON l.id = f.layer_id
                 WHERE l.name = $1 AND f.valid_to IS NULL ORDER BY 1",
                &[&layer],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r.get::<_, String>(0),
                    r.get::<_, serde_json::Value>(1),
                    r.get::<_, serde_json::Value>(2),
                    r.get::<_, serde_json::Value>(3),
                )
            })
            .collect::<Vec<_>>()
        }
    };
    let expected = vec![
        (
            "Z1".to_string(),
            serde_json::json!(["residential_building", "ancillary_building"]),
            serde_json::json!(30),
            serde_json::json!(false),
        ),
        (
            "Z2".to_string(),
            serde_json::json!(["E", "Ä"]),
            serde_json::json!(50.5),
            serde_json::json!(true),
        ),
    ];
    assert_eq!(stored("zoning-gpkg").await, expected);

    // A Shapefile cuts field names to 10 characters: mapped back, the same values.
    let shp = db.dir.join("zones.shp");
    ogr2ogr(&[
        "-f",
        "ESRI Shapefile",
        shp.to_str().unwrap(),
        src.to_str().unwrap(),
        "-lco",
        "ENCODING=UTF-8",
    ]);
    let shp_map = [
        "--map",
        "id=zone_id",
        "--map",
        "designation=designatio",
        "--map",
        "allowed_uses=allowed_us",
        "--map",
        "max_coverage_pct=max_covera",
        "--map",
        "dp_required=dp_require",
    ];
    let out = ok(&import(&shp, "zoning-shp", &shp_map));
    assert_eq!(
        (count(&out, "written"), count(&out, "skipped")),
        (2, 2),
        "{out}"
    );
    assert_eq!(stored("zoning-shp").await, expected);
    // The same file with another mapping is another import, not "unchanged".
    let mut only_mapped = shp_map.to_vec();
    only_mapped.extend(["--map", "only_mapped=true"]);
    let out = ok(&import(&shp, "zoning-shp", &only_mapped));
    assert!(!out.contains("unchanged since"), "{out}");
    assert_eq!(
        (count(&out, "written"), count(&out, "unchanged")),
        (2, 0),
        "every row lost its unmapped fields: {out}"
    );
    let out = ok(&import(&shp, "zoning-shp", &only_mapped));
    assert!(out.contains("unchanged since"), "{out}");

    // Through the validation service: the list read from text decides ZONE_USE, "jah" makes
    // DP_REQUIRED fire.
    let store = Store::connect(&StoreConfig::new(db.url.clone(), 4))
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let auth = kovgis_auth::testing::TestAuth::new();
    let config = kovgis_spatial::Config {
        auth: kovgis_spatial::Auth::Jwt(auth.verifier()),
        ..Default::default()
    };
    let server = tokio::spawn(kovgis_spatial::run(listener, store, config, async {
        let _ = stopped.await;
    }));
    let token = auth.token(&auth.machine("test-client", &["kovgis:read:all"]));
    let bearer: tonic::metadata::MetadataValue<_> = format!("Bearer {token}").parse().unwrap();
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client =
        SpatialServiceClient::with_interceptor(channel, move |mut r: tonic::Request<()>| {
            r.metadata_mut().insert("authorization", bearer.clone());
            Ok(r)
        });
    for layer in ["zoning-gpkg", "zoning-shp"] {
        let zone_use = |f: &[v1::Finding]| {
            assert_eq!(f.len(), 1, "{f:?}");
            (f[0].feature_id.clone(), f[0].code.clone(), f[0].passed)
        };
        let z1 = footprint_in(0);
        let f = findings(&mut client, &z1, "residential_building", "ZONE_USE", layer).await;
        assert_eq!(
            zone_use(&f),
            ("Z1".into(), "ZONE_USE_ALLOWED".into(), true),
            "{layer}"
        );
        let f = findings(&mut client, &z1, "commercial_building", "ZONE_USE", layer).await;
        assert_eq!(
            zone_use(&f),
            ("Z1".into(), "ZONE_USE_NOT_ALLOWED".into(), false)
        );
        assert!(
            f[0].message
                .contains("allowed: residential_building, ancillary_building"),
            "{}",
            f[0].message
        );
        let z2 = footprint_in(1);
        let f = findings(&mut client, &z2, "residential_building", "ZONE_USE", layer).await;
        assert_eq!(
            zone_use(&f),
            ("Z2".into(), "ZONE_USE_NOT_ALLOWED".into(), false)
        );
        assert!(f[0].message.contains("allowed: E, Ä"), "{}", f[0].message);
    }
    // DP_REQUIRED is one finding over every zone: Z2 ("jah") requires a plan, none is in force;
    // Z1 ("ei") does not.
    let f = findings(
        &mut client,
        &footprint_in(1),
        "residential_building",
        "DP_REQUIRED",
        "",
    )
    .await;
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(
        (f[0].code.as_str(), f[0].passed),
        ("DP_REQUIRED", false),
        "{f:?}"
    );
    let f = findings(
        &mut client,
        &footprint_in(0),
        "residential_building",
        "DP_REQUIRED",
        "",
    )
    .await;
    assert_eq!(
        (f[0].code.as_str(), f[0].passed),
        ("DP_NOT_REQUIRED", true),
        "{f:?}"
    );
    let _ = stop.send(());
    server.await.unwrap().unwrap();
    db.drop_db().await;
}
