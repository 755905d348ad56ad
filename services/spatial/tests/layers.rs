//! ListLayers and the QueryFeatures stream through the gRPC client, checked against PostGIS.

mod common;

use std::collections::BTreeSet;

use common::*;
use v1::query_features_request::LayerRef;

async fn layers(s: &mut TestServer, code: &str, kind: v1::LayerKind) -> Vec<v1::Layer> {
    s.client
        .list_layers(v1::ListLayersRequest {
            municipality_code: code.into(),
            kind: kind as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .layers
}

#[tokio::test]
async fn a_municipality_sees_its_own_and_national_layers_only() {
    let mut s = TestServer::start().await;
    let db = sql().await;
    for code in ["0793", "0784", "0171", "0796", "0130"] {
        let got = layers(&mut s, code, v1::LayerKind::Unspecified).await;
        let expected: BTreeSet<(i64, i64)> = db
            .query(
                "SELECT l.id, (SELECT count(*) FROM feature f WHERE f.layer_id = l.id AND f.valid_to IS NULL)
                 FROM layer l WHERE l.municipality_code IS NULL OR l.municipality_code = $1",
                &[&code],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let got_set: BTreeSet<(i64, i64)> =
            got.iter().map(|l| (l.id, l.feature_count as i64)).collect();
        assert_eq!(got_set, expected, "{code}");
        assert!(
            got.iter()
                .all(|l| l.municipality_code.is_empty() || l.municipality_code == code)
        );
        assert!(
            got.iter()
                .any(|l| l.name == "shore-zones" && l.authority == "Keskkonnaamet")
        );
    }
    // The demo gives Tartu linn zoning, buildings, a detailed plan; Alutaguse (0130) only the
    // national layers.
    let tartu = layers(&mut s, "0793", v1::LayerKind::Unspecified).await;
    for name in ["zoning", "buildings", "detailed-plans"] {
        assert!(
            tartu
                .iter()
                .any(|l| l.name == name && l.municipality_code == "0793"),
            "{name}"
        );
    }
    assert!(
        layers(&mut s, "0130", v1::LayerKind::Unspecified)
            .await
            .iter()
            .all(|l| l.municipality_code.is_empty())
    );
}

#[tokio::test]
async fn kind_filter_and_errors() {
    let mut s = TestServer::start().await;
    let r = layers(&mut s, "0784", v1::LayerKind::Restriction).await;
    assert!(!r.is_empty());
    assert!(
        r.iter()
            .all(|l| l.kind == v1::LayerKind::Restriction as i32)
    );
    assert!(r.iter().any(|l| l.name == "utility-protection-zones"));
    let e = s
        .client
        .list_layers(v1::ListLayersRequest {
            municipality_code: "".into(),
            kind: 0,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_invalid(&e, "municipality_code", "required");
    let e = s
        .client
        .list_layers(v1::ListLayersRequest {
            municipality_code: "0784".into(),
            kind: 77,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_invalid(&e, "kind", "unknown");
    let e = s
        .client
        .list_layers(v1::ListLayersRequest {
            municipality_code: "0001".into(),
            kind: 0,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::NotFound);
}

async fn layer_id(db: &tokio_postgres::Client, municipality: Option<&str>, name: &str) -> i64 {
    db.query_one(
        "SELECT id FROM layer WHERE municipality_code IS NOT DISTINCT FROM $1 AND name = $2",
        &[&municipality, &name],
    )
    .await
    .unwrap()
    .get(0)
}

/// One page of the QueryFeatures stream: its features, and the token to continue with.
async fn stream_page(
    s: &mut TestServer,
    req: v1::QueryFeaturesRequest,
) -> (Vec<v1::Feature>, String) {
    let mut stream = s.client.query_features(req).await.unwrap().into_inner();
    let mut all = Vec::new();
    let mut next = String::new();
    while let Some(m) = stream.message().await.unwrap() {
        assert!(
            next.is_empty(),
            "the token comes in the page's last message"
        );
        all.extend(m.features);
        next = m.next_page_token;
    }
    (all, next)
}

async fn stream_all(s: &mut TestServer, req: v1::QueryFeaturesRequest) -> Vec<v1::Feature> {
    let (all, next) = stream_page(s, req).await;
    assert!(next.is_empty(), "one page expected");
    all
}

fn by_id(id: i64) -> Option<LayerRef> {
    Some(LayerRef::LayerId(id))
}

#[tokio::test]
async fn query_features_matches_postgis_intersects() {
    let mut s = TestServer::start().await;
    let db = sql().await;
    let roads = layer_id(&db, None, "road-protection-zones").await;
    // A box in WGS84 around central Tartu: features are what ST_Intersects finds on the same rows.
    let poly = "POLYGON((26.68 58.36, 26.76 58.36, 26.76 58.40, 26.68 58.40, 26.68 58.36))";
    let expected: Vec<i64> = db
        .query(
            "SELECT id FROM feature WHERE layer_id = $1 AND valid_to IS NULL
               AND ST_Intersects(geom, ST_Transform(ST_GeomFromText($2, 4326), 3301)) ORDER BY id",
            &[&roads, &poly],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(expected.len() > 5, "{}", expected.len());
    let got = stream_all(
        &mut s,
        v1::QueryFeaturesRequest {
            layer_ref: by_id(roads),
            intersects: Some(wkt(poly, 4326)),
            output: out(4326, v1::GeometryFormat::Wkt),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(got.iter().map(|f| f.id).collect::<Vec<_>>(), expected);
    for f in &got {
        assert_eq!(f.layer_id, roads);
        let attrs = f.attributes.as_ref().unwrap();
        assert!(attrs.fields.contains_key("road_type") && attrs.fields.contains_key("width_m"));
        let g = f.geometry.as_ref().unwrap();
        assert_eq!(g.epsg, 4326);
        let Some(v1::output_geometry::Value::Wkt(w)) = &g.value else {
            panic!()
        };
        assert!(
            w.starts_with("POLYGON") || w.starts_with("MULTIPOLYGON"),
            "{w}"
        );
    }
    // Pages of 3 continue where the previous one ended, in id order, until the last page has
    // no token; the layer named by its resource name is the same layer.
    let mut pages = Vec::new();
    let mut token = String::new();
    loop {
        let (page, next) = stream_page(
            &mut s,
            v1::QueryFeaturesRequest {
                layer_ref: Some(LayerRef::Layer("layers/road-protection-zones".into())),
                intersects: Some(wkt(poly, 4326)),
                page_size: 3,
                page_token: token,
                ..Default::default()
            },
        )
        .await;
        assert!(page.len() <= 3);
        pages.push(page.iter().map(|f| f.id).collect::<Vec<_>>());
        if next.is_empty() {
            break;
        }
        token = next;
    }
    assert_eq!(pages.concat(), expected);
    assert_eq!(pages.len(), expected.len().div_ceil(3));
    assert_eq!(pages[0], expected[..3].to_vec());
}

#[tokio::test]
async fn whole_layer_streams_with_attributes_as_stored() {
    let mut s = TestServer::start().await;
    let db = sql().await;
    let species = layer_id(&db, None, "protected-species-cat3").await;
    let got = stream_all(
        &mut s,
        v1::QueryFeaturesRequest {
            layer_ref: by_id(species),
            intersects: None,
            output: Some(v1::OutputOptions {
                omit_geometry: true,
                ..Default::default()
            }),
            ..Default::default()
        },
    )
    .await;
    // Every feature of the source file, with its source id and Estonian names intact.
    let fc = fixture_json("layers/porijogi_species_cat3.geojson");
    let source = fc["features"].as_array().unwrap();
    assert_eq!(got.len(), source.len());
    let names: BTreeSet<String> = source
        .iter()
        .map(|f| f["properties"]["NIMI"].as_str().unwrap().to_owned())
        .collect();
    for f in &got {
        assert!(f.geometry.is_none());
        let nimi = match &f.attributes.as_ref().unwrap().fields["NIMI"].kind {
            Some(prost_types::value::Kind::StringValue(s)) => s.clone(),
            other => panic!("{other:?}"),
        };
        assert!(names.contains(&nimi));
        assert!(!f.external_id.is_empty());
        assert_eq!(
            f.resource_name,
            format!("layers/protected-species-cat3/features/{}", f.external_id)
        );
    }
    assert!(
        names
            .iter()
            .any(|n| n.contains('õ') || n.contains('ä') || n.contains('ö') || n.contains('ü'))
    );
}

#[tokio::test]
async fn query_features_errors() {
    let mut s = TestServer::start().await;
    let e = s
        .client
        .query_features(v1::QueryFeaturesRequest::default())
        .await
        .unwrap_err();
    assert_invalid(&e, "layer_id", "required");
    let e = s
        .client
        .query_features(v1::QueryFeaturesRequest {
            layer_ref: by_id(9_999_999),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::NotFound);
    assert_reason(&e, "LAYER_NOT_FOUND");
    let e = s
        .client
        .query_features(v1::QueryFeaturesRequest {
            layer_ref: Some(LayerRef::Layer("municipalities/0793/layers/no-such".into())),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_reason(&e, "LAYER_NOT_FOUND");
    let e = s
        .client
        .query_features(v1::QueryFeaturesRequest {
            layer_ref: Some(LayerRef::Layer("zoning".into())),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_invalid(&e, "layer", "not a layer name");
    let e = s
        .client
        .query_features(v1::QueryFeaturesRequest {
            layer_ref: by_id(1),
            intersects: Some(geojson(
                r#"{"type":"LineString","coordinates":[[26.7,58.3]]}"#,
                0,
            )),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_invalid(&e, "intersects.geojson", "invalid geometry");
}
