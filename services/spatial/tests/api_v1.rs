//! What `kovgis.v1` promises every client, through the generated client over a real socket:
//! every listing pages with opaque signed tokens (clamped sizes; altered, foreign or reused
//! tokens refused; any instance with the shared key continues), required enums refuse their
//! zero value, every error carries a `google.rpc.ErrorInfo`, layers and features have stable
//! resource names, and every RPC that takes a geometry checks it the same way.

mod common;

use common::*;
use v1::find_parcels_request::Filter;
use v1::query_features_request::LayerRef;

/// The central Tartu box of the demo data (EPSG:3301), holding a few hundred parcels.
const TARTU_BOX: v1::BoundingBox = v1::BoundingBox {
    min_x: 657_000.0,
    min_y: 6_473_500.0,
    max_x: 660_500.0,
    max_y: 6_476_500.0,
    epsg: 3301,
};

fn tartu_box() -> Option<Filter> {
    Some(Filter::Bbox(TARTU_BOX))
}

fn config(key: &str) -> kovgis_spatial::Config {
    kovgis_spatial::Config {
        page_tokens: kovgis_spatial::PageTokenKey::new(key.as_bytes()).unwrap(),
        ..Default::default()
    }
}

#[tokio::test]
async fn municipalities_page_in_code_order_until_the_last_page() {
    let mut s = TestServer::start().await;
    let mut codes = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let r = s
            .client
            .list_municipalities(v1::ListMunicipalitiesRequest {
                page_size: 10,
                page_token: token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        pages += 1;
        assert!(r.municipalities.len() <= 10);
        codes.extend(r.municipalities.into_iter().map(|m| m.code));
        if r.next_page_token.is_empty() {
            break;
        }
        token = r.next_page_token;
    }
    // The 79 municipalities of the EHAK fixture, each once, in code order, in ⌈79/10⌉ pages.
    let expected: Vec<String> = sql()
        .await
        .query(
            "SELECT municipality_code::text FROM municipality ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(expected.len(), 79);
    assert_eq!(codes, expected);
    assert_eq!(pages, 8);
}

#[tokio::test]
async fn layers_page_and_carry_resource_names() {
    let mut s = TestServer::start().await;
    let all = s
        .client
        .list_layers(v1::ListLayersRequest {
            municipality_code: "0793".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(all.next_page_token.is_empty());
    assert!(all.layers.len() > 3, "{}", all.layers.len());
    let mut paged = Vec::new();
    let mut token = String::new();
    loop {
        let r = s
            .client
            .list_layers(v1::ListLayersRequest {
                municipality_code: "0793".into(),
                page_size: 2,
                page_token: token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(r.layers.len() <= 2);
        paged.extend(r.layers);
        if r.next_page_token.is_empty() {
            break;
        }
        token = r.next_page_token;
    }
    assert_eq!(paged, all.layers);
    for l in &all.layers {
        let expected = if l.municipality_code.is_empty() {
            format!("layers/{}", l.name)
        } else {
            format!("municipalities/{}/layers/{}", l.municipality_code, l.name)
        };
        assert_eq!(l.resource_name, expected);
    }
    // The resource name finds the same layer as its id.
    let l = all
        .layers
        .iter()
        .find(|l| l.feature_count > 0)
        .expect("a layer with features");
    let first = |r: LayerRef| {
        let mut c = s.client.clone();
        async move {
            let mut stream = c
                .query_features(v1::QueryFeaturesRequest {
                    layer_ref: Some(r),
                    page_size: 5,
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner();
            let mut ids = Vec::new();
            while let Some(m) = stream.message().await.unwrap() {
                ids.extend(m.features.iter().map(|f| f.id));
            }
            ids
        }
    };
    let by_id = first(LayerRef::LayerId(l.id)).await;
    let by_name = first(LayerRef::Layer(l.resource_name.clone())).await;
    assert_eq!(by_id.len(), 5.min(l.feature_count as usize));
    assert_eq!(by_id, by_name);
}

#[tokio::test]
async fn page_sizes_are_clamped_not_refused() {
    let mut s = TestServer::start().await;
    let r = s
        .client
        .find_parcels(v1::FindParcelsRequest {
            filter: tartu_box(),
            page_size: 5_000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let n: i64 = sql()
        .await
        .query_one(
            "SELECT count(*) FROM parcel WHERE valid_to IS NULL
               AND ST_Intersects(geom, ST_MakeEnvelope($1, $2, $3, $4, 3301))",
            &[
                &TARTU_BOX.min_x,
                &TARTU_BOX.min_y,
                &TARTU_BOX.max_x,
                &TARTU_BOX.max_y,
            ],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(r.parcels.len() as i64, n.min(1000));
}

async fn first_page_token(s: &mut TestServer, municipality_code: &str) -> String {
    let r = s
        .client
        .find_parcels(v1::FindParcelsRequest {
            filter: tartu_box(),
            municipality_code: municipality_code.into(),
            page_size: 3,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.parcels.len(), 3);
    assert!(!r.next_page_token.is_empty());
    r.next_page_token
}

#[tokio::test]
async fn altered_and_reused_page_tokens_are_invalid_argument() {
    let mut s = TestServer::start().await;
    let token = first_page_token(&mut s, "0793").await;
    let next = |filter: Option<Filter>, municipality: &str, token: String| v1::FindParcelsRequest {
        filter,
        municipality_code: municipality.into(),
        page_size: 3,
        page_token: token,
        ..Default::default()
    };
    // The token continues its own listing.
    s.client
        .find_parcels(next(tartu_box(), "0793", token.clone()))
        .await
        .unwrap();
    // One hex digit changed anywhere: refused.
    for i in [0, token.len() / 2, token.len() - 1] {
        let mut b = token.clone().into_bytes();
        b[i] = if b[i] == b'0' { b'1' } else { b'0' };
        let altered = String::from_utf8(b).unwrap();
        let e = s
            .client
            .find_parcels(next(tartu_box(), "0793", altered))
            .await
            .unwrap_err();
        assert_invalid(&e, "page_token", "not a page token");
        assert_reason(&e, "INVALID_PAGE_TOKEN");
    }
    // The same token with another filter: refused, saying so.
    let other_box = Some(Filter::Bbox(v1::BoundingBox {
        max_x: TARTU_BOX.max_x + 1.0,
        ..TARTU_BOX
    }));
    for req in [
        next(other_box, "0793", token.clone()),
        next(tartu_box(), "", token.clone()),
    ] {
        let e = s.client.find_parcels(req).await.unwrap_err();
        assert_invalid(&e, "page_token", "different request");
        assert_reason(&e, "INVALID_PAGE_TOKEN");
    }
    // A FindParcels token is no ListMunicipalities token.
    let e = s
        .client
        .list_municipalities(v1::ListMunicipalitiesRequest {
            page_token: token,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_invalid(&e, "page_token", "different request");
}

#[tokio::test]
async fn instances_sharing_the_key_continue_each_others_listings() {
    let url = database_url();
    let mut a = TestServer::start_config(&url, config("the key every instance shares")).await;
    let mut b = TestServer::start_config(&url, config("the key every instance shares")).await;
    let mut c = TestServer::start_config(&url, config("another instance's own key!!")).await;
    let token = first_page_token(&mut a, "0793").await;
    let req = v1::FindParcelsRequest {
        filter: tartu_box(),
        municipality_code: "0793".into(),
        page_size: 3,
        page_token: token,
        ..Default::default()
    };
    let from_a = a
        .client
        .find_parcels(req.clone())
        .await
        .unwrap()
        .into_inner();
    let from_b = b
        .client
        .find_parcels(req.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(from_a, from_b);
    let e = c.client.find_parcels(req).await.unwrap_err();
    assert_invalid(&e, "page_token", "not a page token");
}

/// A feature of about 18 × 22 m in Tartu (WGS84 GeoJSON).
fn small_square(id: &str) -> v1::ImportFeature {
    v1::ImportFeature {
        id: id.into(),
        geometry: Some(v1::import_feature::Geometry::Geojson(
            r#"{"type":"Polygon","coordinates":[[[26.72,58.38],[26.7203,58.38],[26.7203,58.3802],[26.72,58.3802],[26.72,58.38]]]}"#.into(),
        )),
        attributes: None,
    }
}

#[tokio::test]
async fn an_import_without_a_mode_is_refused_and_changes_nothing() {
    let db = FreshDb::new("nomode").await;
    let mut s = TestServer::start_on(&db.url, Default::default()).await;
    let c = db.sql().await;
    let count = "SELECT count(*) FROM parcel WHERE valid_to IS NULL";
    let before: i64 = c.query_one(count, &[]).await.unwrap().get(0);
    assert!(before > 0);
    // A parcel import of one feature that forgets `mode`: under the old default (replace) it
    // would have closed every other parcel.
    let messages = vec![
        v1::ImportFeaturesRequest {
            message: Some(v1::import_features_request::Message::Header(
                v1::ImportHeader {
                    target: v1::ImportTarget::Parcels as i32,
                    ..Default::default()
                },
            )),
        },
        v1::ImportFeaturesRequest {
            message: Some(v1::import_features_request::Message::Batch(
                v1::ImportBatch {
                    features: vec![small_square("79501:001:0001")],
                },
            )),
        },
    ];
    let e = s
        .client
        .import_features(tokio_stream::iter(messages))
        .await
        .unwrap_err();
    assert_invalid(&e, "header.mode", "REPLACE");
    let after: i64 = c.query_one(count, &[]).await.unwrap().get(0);
    assert_eq!(after, before);
    drop(s);
    db.drop_db().await;
}

#[tokio::test]
async fn not_found_errors_carry_their_reason_and_key() {
    use tonic_types::StatusExt;
    let mut s = TestServer::start().await;
    let cases: Vec<(tonic::Status, &str, &str, &str)> = vec![
        (
            s.client
                .get_municipality(v1::GetMunicipalityRequest {
                    code: "0001".into(),
                    ..Default::default()
                })
                .await
                .unwrap_err(),
            "MUNICIPALITY_NOT_FOUND",
            "municipality_code",
            "0001",
        ),
        (
            s.client
                .get_parcel(v1::GetParcelRequest {
                    cadastral_code: "00000:000:0000".into(),
                    ..Default::default()
                })
                .await
                .unwrap_err(),
            "PARCEL_NOT_FOUND",
            "cadastral_code",
            "00000:000:0000",
        ),
        (
            s.client
                .query_features(v1::QueryFeaturesRequest {
                    layer_ref: Some(LayerRef::Layer("layers/no-such-layer".into())),
                    ..Default::default()
                })
                .await
                .unwrap_err(),
            "LAYER_NOT_FOUND",
            "layer",
            "layers/no-such-layer",
        ),
    ];
    for (e, reason, key, value) in cases {
        assert_eq!(e.code(), tonic::Code::NotFound, "{e:?}");
        assert_reason(&e, reason);
        let details = e.get_error_details();
        let info = details.error_info().unwrap();
        assert_eq!(info.metadata.get(key).map(String::as_str), Some(value));
    }
}

/// Malformed or unacceptable geometries, each with words its refusal must contain.
const BAD_GEOMETRIES: [(&str, &str); 5] = [
    ("POLYGON((657000 6474000, 657100 6474000, 657100", "wkt"),
    (
        "POLYGON((657000 6474000, 657100 6474100, 657100 6474000, 657000 6474100, 657000 6474000))",
        "invalid",
    ),
    ("POLYGON EMPTY", "empty"),
    (
        "POLYGON((6474000 657000, 6474100 657000, 6474100 657100, 6474000 657000))",
        "swapped",
    ),
    ("POINT(657000 6474000) garbage", "unexpected text"),
];

#[tokio::test]
async fn every_rpc_that_takes_a_geometry_refuses_the_same_input_the_same_way() {
    let mut s = TestServer::start().await;
    for (text, needle) in BAD_GEOMETRIES {
        let g = wkt(text, 3301);
        let mut answers: Vec<(&str, tonic::Status)> = Vec::new();
        answers.push((
            "LocateMunicipality",
            s.client
                .locate_municipality(v1::LocateMunicipalityRequest {
                    geometry: Some(g.clone()),
                })
                .await
                .unwrap_err(),
        ));
        answers.push((
            "FindParcels",
            s.client
                .find_parcels(v1::FindParcelsRequest {
                    filter: Some(Filter::Intersects(g.clone())),
                    ..Default::default()
                })
                .await
                .unwrap_err(),
        ));
        answers.push((
            "QueryFeatures",
            s.client
                .query_features(v1::QueryFeaturesRequest {
                    layer_ref: Some(LayerRef::Layer("layers/road-protection-zones".into())),
                    intersects: Some(g.clone()),
                    ..Default::default()
                })
                .await
                .unwrap_err(),
        ));
        let proposal = v1::ValidateGeometryRequest {
            municipality_code: "0793".into(),
            procedure_type: "building_permit".into(),
            geometry: Some(g.clone()),
            intended_use: "residential_building".into(),
            ..Default::default()
        };
        answers.push((
            "ValidateGeometry",
            s.client
                .validate_geometry(proposal.clone())
                .await
                .unwrap_err(),
        ));
        answers.push((
            "ValidateGeometries",
            s.client
                .validate_geometries(v1::ValidateGeometriesRequest {
                    proposals: vec![proposal],
                })
                .await
                .unwrap_err(),
        ));
        let description = |e: &tonic::Status| {
            use tonic_types::StatusExt;
            e.get_error_details()
                .bad_request()
                .unwrap()
                .field_violations[0]
                .description
                .clone()
        };
        let first = description(&answers[0].1);
        assert!(
            first.to_lowercase().contains(needle),
            "{text}: expected '{needle}' in '{first}'"
        );
        for (rpc, e) in &answers {
            assert_eq!(
                e.code(),
                tonic::Code::InvalidArgument,
                "{rpc} {text}: {e:?}"
            );
            assert_reason(e, "INVALID_GEOMETRY");
            assert_eq!(description(e), first, "{rpc} answers {text} differently");
        }
    }
}

#[tokio::test]
async fn listing_tokens_are_bound_to_kind_layer_and_geometry() {
    let mut s = TestServer::start().await;
    // ListLayers: a token of the unfiltered listing is not one of the restriction layers.
    let r = s
        .client
        .list_layers(v1::ListLayersRequest {
            municipality_code: "0793".into(),
            page_size: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!r.next_page_token.is_empty());
    let e = s
        .client
        .list_layers(v1::ListLayersRequest {
            municipality_code: "0793".into(),
            kind: v1::LayerKind::Restriction as i32,
            page_size: 1,
            page_token: r.next_page_token.clone(),
        })
        .await
        .unwrap_err();
    assert_invalid(&e, "page_token", "different request");
    // The same listing in pages of one follows the order the API states: national first, then
    // by kind (zoning, restriction, building, detailed plan, other) and name — as SQL sorts it.
    let expected: Vec<String> = sql()
        .await
        .query(
            "SELECT name FROM layer WHERE municipality_code IS NULL OR municipality_code = '0793'
             ORDER BY municipality_code NULLS FIRST, kind, name",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut names = vec![r.layers[0].name.clone()];
    let mut token = r.next_page_token;
    while !token.is_empty() {
        let r = s
            .client
            .list_layers(v1::ListLayersRequest {
                municipality_code: "0793".into(),
                page_size: 1,
                page_token: token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        names.extend(r.layers.into_iter().map(|l| l.name));
        token = r.next_page_token;
    }
    assert_eq!(names, expected);

    // QueryFeatures: a token continues only the same layer with the same geometry.
    let first = |layer: &str, g: Option<v1::Geometry>, token: String| v1::QueryFeaturesRequest {
        layer_ref: Some(LayerRef::Layer(layer.into())),
        intersects: g,
        page_size: 2,
        page_token: token,
        ..Default::default()
    };
    let tartu = "POLYGON((26.68 58.36, 26.76 58.36, 26.76 58.40, 26.68 58.40, 26.68 58.36))";
    let mut stream = s
        .client
        .query_features(first(
            "layers/road-protection-zones",
            Some(wkt(tartu, 4326)),
            String::new(),
        ))
        .await
        .unwrap()
        .into_inner();
    let mut token = String::new();
    while let Some(m) = stream.message().await.unwrap() {
        token = m.next_page_token;
    }
    assert!(!token.is_empty(), "more than two roads in central Tartu");
    let wider = "POLYGON((26.68 58.36, 26.77 58.36, 26.77 58.40, 26.68 58.40, 26.68 58.36))";
    for req in [
        first(
            "layers/road-protection-zones",
            Some(wkt(wider, 4326)),
            token.clone(),
        ),
        first("layers/road-protection-zones", None, token.clone()),
        first(
            "layers/protected-species-cat3",
            Some(wkt(tartu, 4326)),
            token.clone(),
        ),
    ] {
        let e = s.client.query_features(req).await.unwrap_err();
        assert_invalid(&e, "page_token", "different request");
    }
}

#[tokio::test]
async fn an_idle_import_stream_ends_with_deadline_exceeded_and_releases_its_lock() {
    let db = FreshDb::new("idle").await;
    let config = kovgis_spatial::Config {
        import_idle_timeout: std::time::Duration::from_millis(800),
        ..Default::default()
    };
    let mut s = TestServer::start_config(&db.url, config).await;
    let header = || v1::ImportFeaturesRequest {
        message: Some(v1::import_features_request::Message::Header(
            v1::ImportHeader {
                target: v1::ImportTarget::Layer as i32,
                municipality_code: "0793".into(),
                kind: v1::LayerKind::Restriction as i32,
                layer_name: "idle-test".into(),
                authority: "Terviseamet".into(),
                mode: v1::ImportMode::Replace as i32,
                keyed: true,
                ..Default::default()
            },
        )),
    };
    // The header, then silence with the stream held open.
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    tx.send(header()).await.unwrap();
    let e = s
        .client
        .import_features(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::DeadlineExceeded, "{e:?}");
    assert_reason(&e, "STREAM_IDLE");
    drop(tx);
    // Nothing of it remains, and the next import of the same layer is not refused as busy.
    let c = db.sql().await;
    let layers: i64 = c
        .query_one("SELECT count(*) FROM layer WHERE name = 'idle-test'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(layers, 0);
    let feature = v1::ImportFeaturesRequest {
        message: Some(v1::import_features_request::Message::Batch(
            v1::ImportBatch {
                features: vec![small_square("I1")],
            },
        )),
    };
    let r = s
        .client
        .import_features(tokio_stream::iter(vec![header(), feature]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.written, 1);
    drop(s);
    db.drop_db().await;
}

#[tokio::test]
async fn a_layer_name_that_could_not_be_asked_for_by_its_resource_name_is_refused() {
    let db = FreshDb::new("longname").await;
    let mut s = TestServer::start_on(&db.url, Default::default()).await;
    // 201 characters: the database's CHECK would take it, the resource-name rule does not.
    let name = "a".repeat(201);
    let messages = vec![
        v1::ImportFeaturesRequest {
            message: Some(v1::import_features_request::Message::Header(
                v1::ImportHeader {
                    target: v1::ImportTarget::Layer as i32,
                    national: true,
                    kind: v1::LayerKind::Restriction as i32,
                    layer_name: name.clone(),
                    mode: v1::ImportMode::Replace as i32,
                    ..Default::default()
                },
            )),
        },
        v1::ImportFeaturesRequest {
            message: Some(v1::import_features_request::Message::Batch(
                v1::ImportBatch {
                    features: vec![small_square("L1")],
                },
            )),
        },
    ];
    let e = s
        .client
        .import_features(tokio_stream::iter(messages))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e:?}");
    assert_reason(&e, "IMPORT_REFUSED");
    let n: i64 = db
        .sql()
        .await
        .query_one("SELECT count(*) FROM layer WHERE name = $1", &[&name])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
    drop(s);
    db.drop_db().await;
}

#[tokio::test]
async fn findings_name_their_layer_and_feature_by_resource_name() {
    let mut s = TestServer::start().await;
    // A national restriction feature with a source id, and a small square inside it in Tartu.
    let row = sql()
        .await
        .query_one(
            "SELECT l.name, f.external_id,
                    ST_AsText(ST_Buffer(ST_PointOnSurface(f.geom), 3, 'quad_segs=1'))
             FROM feature f JOIN layer l ON l.id = f.layer_id
             JOIN municipality m ON ST_Contains(m.boundary, ST_PointOnSurface(f.geom))
             WHERE l.kind = 'restriction' AND l.municipality_code IS NULL
               AND f.valid_to IS NULL AND f.external_id IS NOT NULL
               AND m.municipality_code = '0793'
               AND ST_Area(f.geom) > 1000
             ORDER BY f.id LIMIT 1",
            &[],
        )
        .await
        .unwrap();
    let (layer, external_id, square): (String, String, String) =
        (row.get(0), row.get(1), row.get(2));
    let report = s
        .client
        .validate_geometry(v1::ValidateGeometryRequest {
            municipality_code: "0793".into(),
            procedure_type: "building_permit".into(),
            geometry: Some(wkt(&square, 3301)),
            intended_use: "residential_building".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let hit = report
        .findings
        .iter()
        .find(|f| f.code == "RESTRICTION_OVERLAP" && f.feature_id == external_id)
        .unwrap_or_else(|| panic!("no finding for {layer}/{external_id}: {report:?}"));
    assert_eq!(hit.layer_resource_name, format!("layers/{layer}"));
    assert_eq!(
        hit.feature_resource_name,
        format!(
            "layers/{layer}/features/{}",
            external_id.replace('%', "%25").replace('/', "%2F")
        )
    );
    // Findings about parcels name no layer.
    for f in report.findings.iter().filter(|f| f.rule == "WITHIN_PARCEL") {
        assert!(f.layer_resource_name.is_empty() && f.feature_resource_name.is_empty());
    }
}
