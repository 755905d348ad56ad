//! ImportFeatures through the generated client: a client-streaming import with the same checks
//! and guarantees as the CLI, each test on a database of its own.

mod common;

use common::import::*;
use common::*;
use kovgis_core::InputLimits;
use kovgis_testkit::wait;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

#[tokio::test]
async fn layer_stream_imports_then_unchanged_then_merges_by_id() {
    let db = FreshDb::new("layer").await;
    let mut s = TestServer::start_on(&db.url, InputLimits::default()).await;
    let features = vec![
        zone("Z1", 657500.0, 6477100.0, "55"),
        zone("Z2", 657600.0, 6477100.0, "60"),
        zone("Z3", 657700.0, 6477100.0, "65"),
    ];
    let r = send(
        &mut s,
        vec![
            layer_header(|_| {}),
            batch(features[..2].to_vec()),
            batch(features[2..].to_vec()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(
        (r.received, r.written, r.skipped, r.unchanged),
        (3, 3, 0, false),
        "{r:?}"
    );
    assert!(r.dataset_version.is_some_and(|v| v > 0));
    // The layer is there for Tartu, with its features, attributes and authority.
    let layers = s
        .client
        .list_layers(v1::ListLayersRequest {
            municipality_code: "0793".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .layers;
    let layer = layers.iter().find(|l| l.name == "noise-zones").unwrap();
    assert_eq!(
        (
            layer.feature_count,
            layer.authority.as_str(),
            layer.dataset_version
        ),
        (3, "Terviseamet", r.dataset_version)
    );
    let c = db.sql().await;
    let row = c
        .query_one(
            "SELECT attributes->>'nimi', ST_Area(geom) FROM feature WHERE layer_id = $1 AND external_id = 'Z2' AND valid_to IS NULL",
            &[&layer.id],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "Müra õues");
    assert!(
        (row.get::<_, f64>(1) - 400.0).abs() < 0.01,
        "{}",
        row.get::<_, f64>(1)
    );

    // The same stream again: recognised, nothing written.
    let again = send(&mut s, vec![layer_header(|_| {}), batch(features.clone())])
        .await
        .unwrap();
    assert!(again.unchanged, "{again:?}");
    assert_eq!(again.dataset_version, r.dataset_version);

    // Next version: Z2 changed, Z3 gone, Z4 new. One of three closing is more than the default
    // 20 %: this layer allows half.
    let next = vec![
        features[0].clone(),
        zone("Z2", 657600.0, 6477100.0, "62"),
        zone("Z4", 657800.0, 6477100.0, "50"),
    ];
    let r2 = send(
        &mut s,
        vec![
            layer_header(|h| h.max_shrink_percent = Some(50.0)),
            batch(next),
        ],
    )
    .await
    .unwrap();
    assert_eq!(
        (r2.written, r2.unchanged_rows, r2.closed),
        (2, 1, 1),
        "{r2:?}"
    );
    let current: Vec<String> = c
        .query(
            "SELECT external_id FROM feature WHERE layer_id = $1 AND valid_to IS NULL ORDER BY 1",
            &[&layer.id],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(current, ["Z1", "Z2", "Z4"]);
    let history: i64 = c
        .query_one("SELECT count(*) FROM feature WHERE layer_id = $1 AND external_id IN ('Z2', 'Z3') AND valid_to IS NOT NULL", &[&layer.id])
        .await
        .unwrap()
        .get(0);
    assert_eq!(history, 2);
    drop(s);
    db.drop_db().await;
}

#[tokio::test]
async fn parcels_by_wkb_with_invalid_and_repaired_geometries() {
    let db = FreshDb::new("parcels").await;
    let mut s = TestServer::start_on(&db.url, InputLimits::default()).await;
    let wkb = |w: &str| {
        let g = kovgis_core::GeometryInput::wkt(w, 3301)
            .encoding
            .decode()
            .unwrap()
            .0;
        kovgis_core::output::to_wkb(&g)
    };
    let parcel = |code: &str, w: &str| v1::ImportFeature {
        id: String::new(),
        geometry: Some(v1::import_feature::Geometry::Wkb(wkb(w))),
        attributes: attrs(&[
            ("tunnus", text(code)),
            ("ov_nimi", text("Tallinn")),
            ("l_aadress", text("Katse tn 1")),
            ("siht1", text("ELAMUMAA")),
            ("so_prts1", prost_types::value::Kind::NumberValue(100.0)),
            ("pindala", prost_types::value::Kind::NumberValue(100.0)),
            ("omvorm", text("Eraomand")),
        ]),
    };
    let ok_square =
        "POLYGON((546000 6592000, 546010 6592000, 546010 6592010, 546000 6592010, 546000 6592000))";
    let bow =
        "POLYGON((546100 6592000, 546110 6592010, 546110 6592000, 546100 6592010, 546100 6592000))";
    let mut h = header(v1::ImportTarget::Parcels);
    if let Some(v1::import_features_request::Message::Header(hh)) = &mut h.message {
        hh.mode = v1::ImportMode::Upsert as i32;
    }
    let r = send(
        &mut s,
        vec![
            h.clone(),
            batch(vec![
                parcel("99999:001:0001", ok_square),
                parcel("99999:001:0002", bow),
                parcel("not-a-code", ok_square),
            ]),
        ],
    )
    .await
    .unwrap();
    assert_eq!((r.received, r.written, r.skipped), (3, 1, 2), "{r:?}");
    assert!(
        r.problems
            .iter()
            .any(|p| p.index == 1 && p.reason.contains("self-intersect")),
        "{:?}",
        r.problems
    );
    assert!(
        r.problems
            .iter()
            .any(|p| p.index == 2 && p.reason.contains("NNNNN:NNN:NNNN")),
        "{:?}",
        r.problems
    );
    let p = s
        .client
        .get_parcel(v1::GetParcelRequest {
            cadastral_code: "99999:001:0001".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            p.municipality_code.as_str(),
            p.address.as_str(),
            p.intended_uses[0].percent
        ),
        ("0784", "Katse tn 1", 100)
    );
    // With repair on, the bow tie is stored.
    if let Some(v1::import_features_request::Message::Header(hh)) = &mut h.message {
        hh.repair = true;
    }
    let r = send(&mut s, vec![h, batch(vec![parcel("99999:001:0002", bow)])])
        .await
        .unwrap();
    assert_eq!((r.written, r.repaired), (1, 1), "{r:?}");
    drop(s);
    db.drop_db().await;
}

#[tokio::test]
async fn bad_streams_are_refused_and_write_nothing() {
    let db = FreshDb::new("bad").await;
    let mut s = TestServer::start_on(&db.url, InputLimits::default()).await;
    let c = db.sql().await;
    let before = versions(&c).await;
    let f = zone("Z1", 657500.0, 6477100.0, "55");
    let cases: Vec<(Vec<v1::ImportFeaturesRequest>, &str, &str)> = vec![
        (vec![batch(vec![f.clone()])], "header", "first message"),
        (
            vec![header(v1::ImportTarget::Unspecified)],
            "header.target",
            "PARCELS or LAYER",
        ),
        (
            vec![layer_header(|h| h.municipality_code.clear())],
            "header.municipality_code",
            "whose layer",
        ),
        (
            vec![layer_header(|h| h.kind = 0)],
            "header.kind",
            "required",
        ),
        (
            vec![layer_header(|h| h.epsg = 999_999)],
            "header.epsg",
            "EPSG:999999",
        ),
        (
            vec![
                layer_header(|_| {}),
                batch(vec![f.clone()]),
                layer_header(|_| {}),
            ],
            "header",
            "only the first",
        ),
        (vec![layer_header(|_| {})], "batch", "no features"),
        (
            vec![
                layer_header(|h| h.epsg = 3301),
                batch(vec![v1::ImportFeature {
                    id: "S".into(),
                    geometry: Some(v1::import_feature::Geometry::Geojson(
                        r#"{"type":"Point","coordinates":[6477100,657500]}"#.into(),
                    )),
                    attributes: None,
                }]),
            ],
            "batch.features[0].geometry",
            "axes look swapped",
        ),
    ];
    for (messages, field, needle) in cases {
        let e = send(&mut s, messages).await.unwrap_err();
        assert_invalid(&e, field, needle);
    }
    // A bad layer name is refused by the store's rules, as INVALID_ARGUMENT.
    let e = send(
        &mut s,
        vec![
            layer_header(|h| h.layer_name = "Bad Name".into()),
            batch(vec![f.clone()]),
        ],
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e:?}");
    assert_eq!(versions(&c).await, before, "nothing was written");
    drop(s);
    db.drop_db().await;
}

#[tokio::test]
async fn a_second_import_of_the_same_layer_is_refused_while_the_first_runs() {
    let db = FreshDb::new("concurrent").await;
    let mut s = TestServer::start_on(&db.url, InputLimits::default()).await;
    let c = db.sql().await;
    // First import: header and one batch sent, stream held open.
    let (tx, rx) = mpsc::channel(4);
    tx.send(layer_header(|_| {})).await.unwrap();
    tx.send(batch(vec![zone("Z1", 657500.0, 6477100.0, "55")]))
        .await
        .unwrap();
    let mut client = s.client.clone();
    let first = tokio::spawn(async move { client.import_features(ReceiverStream::new(rx)).await });
    // Wait until it holds the lock (its COPY is running).
    assert!(
        wait::import_copy(&c, true, COPY_WAIT).await,
        "the first import never reached COPY"
    );
    let e = send(
        &mut s,
        vec![
            layer_header(|_| {}),
            batch(vec![zone("Z9", 657900.0, 6477100.0, "50")]),
        ],
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), tonic::Code::Aborted, "{e:?}");
    assert_reason(&e, "IMPORT_BUSY");
    assert!(
        e.message()
            .contains("another import of layer 'noise-zones'"),
        "{e:?}"
    );
    // Until the first commits, readers see nothing of it.
    let n: i64 = c
        .query_one("SELECT count(*) FROM layer WHERE name = 'noise-zones'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
    // The first finishes normally.
    tx.send(batch(vec![zone("Z2", 657600.0, 6477100.0, "60")]))
        .await
        .unwrap();
    drop(tx);
    let r = first.await.unwrap().unwrap().into_inner();
    assert_eq!((r.received, r.written), (2, 2), "{r:?}");
    // With `wait`, a second import queues behind the lock instead of failing (and replaces
    // both features: allowed).
    let r = send(
        &mut s,
        vec![
            layer_header(|h| {
                h.wait = true;
                h.allow_shrink = true;
            }),
            batch(vec![zone("Z3", 657700.0, 6477100.0, "65")]),
        ],
    )
    .await
    .unwrap();
    assert_eq!((r.written, r.closed), (1, 2), "{r:?}");
    drop(s);
    db.drop_db().await;
}

#[tokio::test]
async fn a_stream_failing_part_way_leaves_the_previous_version() {
    let db = FreshDb::new("partway").await;
    let mut s = TestServer::start_on(&db.url, InputLimits::default()).await;
    let r = send(
        &mut s,
        vec![
            layer_header(|_| {}),
            batch(vec![zone("Z1", 657500.0, 6477100.0, "55")]),
        ],
    )
    .await
    .unwrap();
    let c = db.sql().await;
    let before = snapshot(&c).await;
    // Good features are staged, then a feature with swapped axes ends the stream with an error.
    let swapped = v1::ImportFeature {
        id: "S".into(),
        geometry: Some(v1::import_feature::Geometry::Geojson(
            r#"{"type":"Point","coordinates":[58.4,26.7]}"#.into(),
        )),
        attributes: None,
    };
    let e = send(
        &mut s,
        vec![
            layer_header(|_| {}),
            batch(vec![
                zone("Z2", 657600.0, 6477100.0, "60"),
                zone("Z3", 657700.0, 6477100.0, "65"),
            ]),
            batch(vec![swapped]),
        ],
    )
    .await
    .unwrap_err();
    assert_invalid(&e, "batch.features[2].geometry", "axes look swapped");
    assert_eq!(snapshot(&c).await, before);
    assert_eq!(Some(before.2), r.dataset_version);
    drop(s);
    db.drop_db().await;
}

#[tokio::test]
async fn a_cancelled_stream_leaves_nothing_and_frees_the_lock() {
    let db = FreshDb::new("cancel").await;
    let mut s = TestServer::start_on(&db.url, InputLimits::default()).await;
    let c = db.sql().await;
    let (tx, rx) = mpsc::channel(4);
    tx.send(layer_header(|_| {})).await.unwrap();
    tx.send(batch(vec![zone("Z1", 657500.0, 6477100.0, "55")]))
        .await
        .unwrap();
    // On a connection of its own, so that cancelling the call closes it.
    let mut client = s.new_client().await;
    let call = tokio::spawn(async move { client.import_features(ReceiverStream::new(rx)).await });
    assert!(
        wait::import_copy(&c, true, COPY_WAIT).await,
        "the import never reached COPY"
    );
    // The client gives up mid-stream.
    call.abort();
    let _ = call.await;
    assert!(
        wait::import_copy(&c, false, COPY_WAIT).await,
        "the server kept the import open after the client went away"
    );
    drop(tx);
    let n: i64 = c
        .query_one("SELECT count(*) FROM layer WHERE name = 'noise-zones'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0, "a cancelled import left a layer behind");
    let r = send(
        &mut s,
        vec![
            layer_header(|_| {}),
            batch(vec![zone("Z1", 657500.0, 6477100.0, "55")]),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.written, 1);
    drop(s);
    db.drop_db().await;
}
