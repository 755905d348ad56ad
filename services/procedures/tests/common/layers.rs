//! Changing the map under running procedures: a municipal layer imported over gRPC by Tartu's
//! GIS specialist (the real import path, which queues the re-checks), and waiting until the
//! re-checks of that import are done.

use std::time::Duration;

use kovgis_api::v1::spatial_service_client::SpatialServiceClient;
use kovgis_auth::Role;
use serde_json::{Value, json};

use super::{Bearer, Server, TARTU, v1};

/// One feature: its stable id, an axis-aligned rectangle (min x, min y, max x, max y) and its
/// attributes.
pub struct Feature {
    pub id: &'static str,
    pub rect: (f64, f64, f64, f64),
    pub attributes: Value,
}

fn wkb(r: (f64, f64, f64, f64)) -> Vec<u8> {
    let (x0, y0, x1, y1) = r;
    let p = geo::Polygon::new(
        geo::LineString::from(vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]),
        vec![],
    );
    kovgis_core::output::to_wkb(&geo::Geometry::Polygon(p))
}

/// Imports (replaces) Tartu's layer `name` of `kind` with `features`; returns the dataset
/// version.
pub async fn import(
    s: &Server,
    name: &str,
    kind: v1::LayerKind,
    authority: &str,
    features: &[Feature],
) -> i64 {
    let token = s.person("gis-0793", TARTU, &[Role::GisSpecialist]);
    let bearer = Bearer(Some(format!("Bearer {token}").parse().unwrap()));
    let mut client = SpatialServiceClient::with_interceptor(s.channel().await, bearer);
    let header = v1::ImportFeaturesRequest {
        message: Some(v1::import_features_request::Message::Header(
            v1::ImportHeader {
                target: v1::ImportTarget::Layer as i32,
                municipality_code: TARTU.into(),
                kind: kind as i32,
                layer_name: name.into(),
                layer_title: format!("{name} (test)"),
                authority: authority.into(),
                keyed: true,
                source: format!("test {name} {}", features.len()),
                epsg: 3301,
                mode: v1::ImportMode::Replace as i32,
                ..Default::default()
            },
        )),
    };
    let batch = v1::ImportFeaturesRequest {
        message: Some(v1::import_features_request::Message::Batch(
            v1::ImportBatch {
                features: features
                    .iter()
                    .map(|f| v1::ImportFeature {
                        id: f.id.into(),
                        geometry: Some(v1::import_feature::Geometry::Wkb(wkb(f.rect))),
                        attributes: Some(kovgis_api::convert::json_struct(&f.attributes)),
                    })
                    .collect(),
            },
        )),
    };
    let r = client
        .import_features(tokio_stream::iter(vec![header, batch]))
        .await
        .expect("import")
        .into_inner();
    r.dataset_version.expect("a dataset version")
}

/// A zone of the comprehensive plan allowing `uses`.
pub fn zone(id: &'static str, rect: (f64, f64, f64, f64), name: &str, uses: &[&str]) -> Feature {
    Feature {
        id,
        rect,
        attributes: json!({"name": name, "designation": "EE", "allowed_uses": uses}),
    }
}

/// A restriction zone.
pub fn restriction(id: &'static str, rect: (f64, f64, f64, f64)) -> Feature {
    Feature {
        id,
        rect,
        attributes: json!({"name": format!("noise zone {id}")}),
    }
}

/// The re-check request of dataset version `version`: (rechecked, changed) once finished.
pub async fn request_of(
    db: &tokio_postgres::Client,
    version: i64,
) -> Option<(i64, Option<(i32, i32)>)> {
    let rows = db
        .query(
            "SELECT id, finished_at IS NOT NULL, rechecked, changed FROM recheck_request
             WHERE reason = 'dataset' AND (detail->>'dataset_version')::bigint = $1",
            &[&version],
        )
        .await
        .unwrap();
    rows.first().map(|r| {
        let done: bool = r.get(1);
        (r.get(0), done.then(|| (r.get(2), r.get(3))))
    })
}

/// Runs the re-check job of `s` until request `id` is finished (the index rebuilds in the
/// background first); at most 20 s. Returns (rechecked, changed).
pub async fn recheck_until_done(s: &Server, db: &tokio_postgres::Client, id: i64) -> (i32, i32) {
    for _ in 0..200 {
        s.api.run_rechecks().await.expect("re-check job");
        let row = db
            .query_one(
                "SELECT finished_at IS NOT NULL, rechecked, changed FROM recheck_request WHERE id = $1",
                &[&id],
            )
            .await
            .unwrap();
        if row.get::<_, bool>(0) {
            return (row.get(1), row.get(2));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("re-check request {id} was not finished within 20 s");
}
