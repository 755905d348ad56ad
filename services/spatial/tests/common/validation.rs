//! Builders for the validation tests: a building-permit request for a WKT footprint in
//! EPSG:3301, axis-aligned squares, one ValidateGeometry call, and a restriction layer imported
//! over gRPC.

use geozero::ToGeo;

use super::{TestServer, v1, wkt};

pub fn request(municipality: &str, wkt_text: &str) -> v1::ValidateGeometryRequest {
    v1::ValidateGeometryRequest {
        municipality_code: municipality.into(),
        procedure_type: "building_permit".into(),
        geometry: Some(wkt(wkt_text, 3301)),
        intended_use: "residential_building".into(),
        locale: "en".into(),
        ..Default::default()
    }
}

pub fn square(x: f64, y: f64, side: f64) -> String {
    format!(
        "POLYGON(({x} {y}, {} {y}, {} {}, {x} {}, {x} {y}))",
        x + side,
        x + side,
        y + side,
        y + side
    )
}

pub async fn validate(s: &mut TestServer, r: v1::ValidateGeometryRequest) -> v1::ValidationReport {
    s.client.validate_geometry(r).await.unwrap().into_inner()
}

/// A noise-zone layer import (keyed) with one square feature N1 of side `side` at (x, y).
pub async fn import_noise_zone(s: &mut TestServer, x: f64, y: f64, side: f64) {
    let ring: Vec<String> = [
        (x, y),
        (x + side, y),
        (x + side, y + side),
        (x, y + side),
        (x, y),
    ]
    .iter()
    .map(|(a, b)| format!("{a} {b}"))
    .collect();
    let header = v1::ImportFeaturesRequest {
        message: Some(v1::import_features_request::Message::Header(
            v1::ImportHeader {
                target: v1::ImportTarget::Layer as i32,
                municipality_code: "0793".into(),
                kind: v1::LayerKind::Restriction as i32,
                layer_name: "noise-zones".into(),
                layer_title: "Mürakaart (test)".into(),
                authority: "Terviseamet".into(),
                keyed: true,
                source: format!("test {x} {y}"),
                epsg: 3301,
                mode: v1::ImportMode::Replace as i32,
                ..Default::default()
            },
        )),
    };
    let feature = v1::ImportFeaturesRequest {
        message: Some(v1::import_features_request::Message::Batch(
            v1::ImportBatch {
                features: vec![v1::ImportFeature {
                    id: "N1".into(),
                    geometry: Some(v1::import_feature::Geometry::Wkb(
                        kovgis_core::output::to_wkb(
                            &geozero::wkt::Wkt(format!("POLYGON(({}))", ring.join(", ")))
                                .to_geo()
                                .unwrap(),
                        ),
                    )),
                    attributes: None,
                }],
            },
        )),
    };
    s.client
        .import_features(tokio_stream::iter(vec![header, feature]))
        .await
        .unwrap();
}

/// A point (EPSG:3301) more than 8 m inside a Tartu parcel, as PostGIS finds it (the first such
/// parcel by cadastral code).
pub async fn point_inside_a_parcel(db: &tokio_postgres::Client) -> (f64, f64) {
    let row = db
        .query_one(
            "SELECT ST_X(pt), ST_Y(pt) FROM parcel p,
                    LATERAL (SELECT ST_PointOnSurface(ST_Buffer(p.geom, -8)) AS pt) x
             WHERE p.valid_to IS NULL AND p.municipality_code = '0793'
               AND ST_Area(ST_Buffer(p.geom, -8)) > 400
             ORDER BY p.cadastral_code LIMIT 1",
            &[],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

/// A 2 m square round [`point_inside_a_parcel`]: more than 8 m from its parcel's boundary.
pub async fn inside_a_parcel(db: &tokio_postgres::Client) -> String {
    let (x, y) = point_inside_a_parcel(db).await;
    square(x - 1.0, y - 1.0, 2.0)
}
