//! Builders for the `ImportFeatures` tests: headers (parcels, a Tartu noise-zone layer), batches,
//! attributes, 20 m squares sent as WGS84 GeoJSON, one-shot streams, and what a database holds.

use super::{TestServer, v1};

/// How long an import's COPY may take to start or to go.
pub const COPY_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

pub fn header(target: v1::ImportTarget) -> v1::ImportFeaturesRequest {
    v1::ImportFeaturesRequest {
        message: Some(v1::import_features_request::Message::Header(
            v1::ImportHeader {
                target: target as i32,
                mode: v1::ImportMode::Replace as i32,
                ..Default::default()
            },
        )),
    }
}

pub fn layer_header(f: impl FnOnce(&mut v1::ImportHeader)) -> v1::ImportFeaturesRequest {
    let mut h = v1::ImportHeader {
        target: v1::ImportTarget::Layer as i32,
        municipality_code: "0793".into(),
        kind: v1::LayerKind::Restriction as i32,
        layer_name: "noise-zones".into(),
        layer_title: "Mürakaart (test)".into(),
        authority: "Terviseamet".into(),
        keyed: true,
        source: "test-script".into(),
        mode: v1::ImportMode::Replace as i32,
        ..Default::default()
    };
    f(&mut h);
    v1::ImportFeaturesRequest {
        message: Some(v1::import_features_request::Message::Header(h)),
    }
}

pub fn batch(features: Vec<v1::ImportFeature>) -> v1::ImportFeaturesRequest {
    v1::ImportFeaturesRequest {
        message: Some(v1::import_features_request::Message::Batch(
            v1::ImportBatch { features },
        )),
    }
}

pub fn attrs(pairs: &[(&str, prost_types::value::Kind)]) -> Option<prost_types::Struct> {
    Some(prost_types::Struct {
        fields: pairs
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    prost_types::Value {
                        kind: Some(v.clone()),
                    },
                )
            })
            .collect(),
    })
}

pub fn text(v: &str) -> prost_types::value::Kind {
    prost_types::value::Kind::StringValue(v.into())
}

/// A 20 m square at (x, y) in EPSG:3301, as GeoJSON in WGS84 computed by kovgis-core's PROJ.
pub fn square_wgs84(x: f64, y: f64) -> String {
    let pts: Vec<String> = [
        (x, y),
        (x + 20.0, y),
        (x + 20.0, y + 20.0),
        (x, y + 20.0),
        (x, y),
    ]
    .iter()
    .map(|(a, b)| {
        let (lon, lat) = kovgis_core::crs::transform_xy(*a, *b, 3301, 4326).unwrap();
        format!("[{lon},{lat}]")
    })
    .collect();
    format!(
        r#"{{"type":"Polygon","coordinates":[[{}]]}}"#,
        pts.join(",")
    )
}

pub fn zone(id: &str, x: f64, y: f64, level: &str) -> v1::ImportFeature {
    v1::ImportFeature {
        id: id.into(),
        geometry: Some(v1::import_feature::Geometry::Geojson(square_wgs84(x, y))),
        attributes: attrs(&[("level_db", text(level)), ("nimi", text("Müra õues"))]),
    }
}

pub async fn snapshot(c: &tokio_postgres::Client) -> (i64, i64, i64) {
    let r = c
        .query_one(
            "SELECT (SELECT count(*) FROM feature), (SELECT count(*) FROM feature WHERE valid_to IS NULL),
                    (SELECT max(id) FROM dataset_version)",
            &[],
        )
        .await
        .unwrap();
    (r.get(0), r.get(1), r.get(2))
}

/// Imports of this database whose COPY is running.
pub async fn versions(c: &tokio_postgres::Client) -> i64 {
    c.query_one("SELECT count(*) FROM dataset_version", &[])
        .await
        .unwrap()
        .get(0)
}

pub async fn send(
    s: &mut TestServer,
    messages: Vec<v1::ImportFeaturesRequest>,
) -> Result<v1::ImportFeaturesResponse, tonic::Status> {
    s.client
        .import_features(tokio_stream::iter(messages))
        .await
        .map(|r| r.into_inner())
}
