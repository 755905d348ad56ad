//! What keeps an `ImportFeatures` stream from destroying data or holding the server: the shrink
//! guard (FAILED_PRECONDITION / IMPORT_WOULD_SHRINK with the numbers, nothing written, the lock
//! free; a dry run reports the same numbers), the fingerprint (the same stream with `repair` or
//! other layer metadata is imported, not "unchanged"), the checks of the attributes the rules
//! read, and the total time a stream may take (DEADLINE_EXCEEDED / IMPORT_TOO_LONG).

mod common;

use common::import::*;
use common::*;
use kovgis_core::InputLimits;
use tonic_types::StatusExt;

/// A bow tie (self-intersecting, invalid) of 20 m at (x, y) in EPSG:3301, as GeoJSON in WGS84
/// computed by kovgis-core's PROJ.
fn bow_tie(id: &str, x: f64, y: f64) -> v1::ImportFeature {
    let pts: Vec<String> = [
        (x, y),
        (x + 20.0, y + 20.0),
        (x + 20.0, y),
        (x, y + 20.0),
        (x, y),
    ]
    .iter()
    .map(|(a, b)| {
        let (lon, lat) = kovgis_core::crs::transform_xy(*a, *b, 3301, 4326).unwrap();
        format!("[{lon},{lat}]")
    })
    .collect();
    v1::ImportFeature {
        id: id.into(),
        geometry: Some(v1::import_feature::Geometry::Geojson(format!(
            r#"{{"type":"Polygon","coordinates":[[{}]]}}"#,
            pts.join(",")
        ))),
        attributes: attrs(&[("nimi", text("Vigane"))]),
    }
}

/// Current features of the layer `name`.
async fn current(c: &tokio_postgres::Client, name: &str) -> i64 {
    c.query_one(
        "SELECT count(*) FROM feature f JOIN layer l ON l.id = f.layer_id
         WHERE l.name = $1 AND f.valid_to IS NULL",
        &[&name],
    )
    .await
    .unwrap()
    .get(0)
}

fn three_zones() -> Vec<v1::ImportFeature> {
    vec![
        zone("Z1", 657500.0, 6477100.0, "55"),
        zone("Z2", 657600.0, 6477100.0, "60"),
        zone("Z3", 657700.0, 6477100.0, "65"),
    ]
}

fn three_bow_ties() -> Vec<v1::ImportFeature> {
    vec![
        bow_tie("Z1", 657500.0, 6477100.0),
        bow_tie("Z2", 657600.0, 6477100.0),
        bow_tie("Z3", 657700.0, 6477100.0),
    ]
}

#[tokio::test]
async fn a_stream_of_invalid_features_cannot_empty_a_layer() {
    let db = FreshDb::new("gshrink").await;
    let mut s = TestServer::start_on(&db.url, InputLimits::default()).await;
    let r = send(&mut s, vec![layer_header(|_| {}), batch(three_zones())])
        .await
        .unwrap();
    assert_eq!(r.written, 3, "{r:?}");
    assert_eq!(
        r.shrink,
        Some(v1::ImportShrink {
            current: 0,
            closing: 0,
            incoming: 3,
            max_percent: 20.0,
            exceeds: false,
        })
    );
    let c = db.sql().await;
    let before = snapshot(&c).await;
    assert_eq!(current(&c, "noise-zones").await, 3);

    let e = send(&mut s, vec![layer_header(|_| {}), batch(three_bow_ties())])
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::FailedPrecondition, "{e:?}");
    assert_reason(&e, "IMPORT_WOULD_SHRINK");
    let info = e.get_error_details().error_info().unwrap().clone();
    let meta = |k: &str| info.metadata.get(k).cloned().unwrap_or_default();
    assert_eq!(
        (
            meta("current"),
            meta("closing"),
            meta("incoming"),
            meta("max_percent")
        ),
        ("3".into(), "3".into(), "0".into(), "20".into()),
        "{info:?}"
    );
    assert!(
        e.message().contains(
            "would stage nothing (no row of the source could be imported) and close 3 of 3 features"
        ),
        "{e:?}"
    );
    assert_eq!(snapshot(&c).await, before, "nothing written");

    // A dry run reports the same numbers, and why.
    let r = send(
        &mut s,
        vec![layer_header(|h| h.dry_run = true), batch(three_bow_ties())],
    )
    .await
    .unwrap();
    assert!(r.dry_run);
    assert_eq!(
        r.shrink,
        Some(v1::ImportShrink {
            current: 3,
            closing: 3,
            incoming: 0,
            max_percent: 20.0,
            exceeds: true,
        })
    );
    assert_eq!((r.skipped, r.problems.len()), (3, 3), "{r:?}");
    assert_eq!(snapshot(&c).await, before);

    // A stricter share refuses less; a wider one lets a partial replace through.
    let two = three_zones()[..2].to_vec();
    let e = send(&mut s, vec![layer_header(|_| {}), batch(two.clone())])
        .await
        .unwrap_err();
    assert!(
        e.message().contains("would close 1 of 3 features (33.3 %"),
        "{e:?}"
    );
    let e = send(
        &mut s,
        vec![
            layer_header(|h| h.max_shrink_percent = Some(101.0)),
            batch(two.clone()),
        ],
    )
    .await
    .unwrap_err();
    assert_invalid(&e, "header.max_shrink_percent", "0 to 100");

    // Allowed: the lock was released by the refusals, and the layer is emptied as asked.
    let r = send(
        &mut s,
        vec![
            layer_header(|h| h.allow_shrink = true),
            batch(three_bow_ties()),
        ],
    )
    .await
    .unwrap();
    assert_eq!((r.written, r.skipped, r.closed), (0, 3, 3), "{r:?}");
    assert_eq!(current(&c, "noise-zones").await, 0);
    drop(s);
    db.drop_db().await;
}

#[tokio::test]
async fn the_same_stream_with_other_settings_is_not_unchanged() {
    let db = FreshDb::new("gprint").await;
    let mut s = TestServer::start_on(&db.url, InputLimits::default()).await;
    let mut features = three_zones();
    features.push(bow_tie("Z4", 657800.0, 6477100.0));
    let stream = |f: fn(&mut v1::ImportHeader)| vec![layer_header(f), batch(features.clone())];
    let r = send(&mut s, stream(|_| {})).await.unwrap();
    assert_eq!((r.written, r.skipped), (3, 1), "{r:?}");
    let r = send(&mut s, stream(|_| {})).await.unwrap();
    assert!(r.unchanged, "{r:?}");
    // The corrected re-send with repair imports the bow tie.
    let r = send(&mut s, stream(|h| h.repair = true)).await.unwrap();
    assert!(!r.unchanged, "{r:?}");
    assert_eq!(
        (r.written, r.repaired, r.unchanged_rows, r.skipped),
        (1, 1, 3, 0),
        "{r:?}"
    );
    let r = send(&mut s, stream(|h| h.repair = true)).await.unwrap();
    assert!(r.unchanged, "{r:?}");
    // Layer metadata is part of the result: a new authority is a new version.
    let r = send(
        &mut s,
        stream(|h| {
            h.repair = true;
            h.authority = "Keskkonnaamet".into();
        }),
    )
    .await
    .unwrap();
    assert!(!r.unchanged, "{r:?}");
    let authority: String = db
        .sql()
        .await
        .query_one(
            "SELECT authority FROM layer WHERE name = 'noise-zones'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(authority, "Keskkonnaamet");
    drop(s);
    db.drop_db().await;
}

#[tokio::test]
async fn zoning_attributes_are_read_as_the_rules_read_them() {
    let db = FreshDb::new("gattrs").await;
    let mut s = TestServer::start_on(&db.url, InputLimits::default()).await;
    use prost_types::value::Kind;
    let feature = |id: &str, x: f64, extra: Vec<(&str, Kind)>| {
        let mut pairs = vec![("designation", text("EV"))];
        pairs.extend(extra);
        v1::ImportFeature {
            id: id.into(),
            geometry: Some(v1::import_feature::Geometry::Geojson(square_wgs84(
                x, 6477100.0,
            ))),
            attributes: attrs(&pairs),
        }
    };
    let list = |items: &[&str]| {
        Kind::ListValue(prost_types::ListValue {
            values: items
                .iter()
                .map(|i| prost_types::Value {
                    kind: Some(text(i)),
                })
                .collect(),
        })
    };
    let r = send(
        &mut s,
        vec![
            layer_header(|h| {
                h.kind = v1::LayerKind::Zoning as i32;
                h.layer_name = "zoning-grpc".into();
                h.authority.clear();
            }),
            batch(vec![
                feature(
                    "Z1",
                    657500.0,
                    vec![
                        (
                            "allowed_uses",
                            text("residential_building; ancillary_building"),
                        ),
                        ("max_coverage_pct", text("35")),
                        ("dp_required", text("jah")),
                    ],
                ),
                feature(
                    "Z2",
                    657600.0,
                    vec![
                        ("allowed_uses", list(&["E", "Ä"])),
                        ("max_coverage_pct", Kind::NumberValue(40.0)),
                        ("dp_required", Kind::BoolValue(false)),
                    ],
                ),
                feature("Z3", 657700.0, vec![("dp_required", text("maybe"))]),
                feature("Z4", 657800.0, vec![("max_coverage_pct", text("35/40"))]),
            ]),
        ],
    )
    .await
    .unwrap();
    assert_eq!((r.written, r.skipped), (2, 2), "{r:?}");
    let reasons: Vec<(u64, &str)> = r
        .problems
        .iter()
        .map(|p| (p.index, p.reason.as_str()))
        .collect();
    assert!(
        reasons[0].0 == 2 && reasons[0].1.contains("attribute 'dp_required' = \"maybe\""),
        "{reasons:?}"
    );
    assert!(
        reasons[1].0 == 3
            && reasons[1]
                .1
                .contains("attribute 'max_coverage_pct' = \"35/40\""),
        "{reasons:?}"
    );
    let rows = db
        .sql()
        .await
        .query(
            "SELECT f.external_id, f.attributes->'allowed_uses', f.attributes->'max_coverage_pct',
                    f.attributes->'dp_required'
             FROM feature f JOIN layer l ON l.id = f.layer_id
             WHERE l.name = 'zoning-grpc' AND f.valid_to IS NULL ORDER BY 1",
            &[],
        )
        .await
        .unwrap();
    let got: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{} {} {} {}",
                r.get::<_, String>(0),
                r.get::<_, serde_json::Value>(1),
                r.get::<_, serde_json::Value>(2),
                r.get::<_, serde_json::Value>(3)
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            r#"Z1 ["residential_building","ancillary_building"] 35 true"#,
            r#"Z2 ["E","Ä"] 40 false"#,
        ]
    );
    // A restriction layer without an authority anywhere: every feature has a problem, and the
    // replace is refused as staging nothing.
    let e = send(
        &mut s,
        vec![
            layer_header(|h| {
                h.layer_name = "no-authority".into();
                h.authority.clear();
            }),
            batch(three_zones()),
        ],
    )
    .await
    .unwrap_err();
    assert_reason(&e, "IMPORT_WOULD_SHRINK");
    let r = send(
        &mut s,
        vec![
            layer_header(|h| {
                h.layer_name = "no-authority".into();
                h.authority.clear();
                h.dry_run = true;
            }),
            batch(three_zones()),
        ],
    )
    .await
    .unwrap();
    assert!(
        r.problems[0]
            .reason
            .contains("a restriction needs an authority"),
        "{r:?}"
    );
    drop(s);
    db.drop_db().await;
}

#[tokio::test]
async fn a_stream_longer_than_the_total_time_ends_and_releases_its_lock() {
    let db = FreshDb::new("gtotal").await;
    let config = kovgis_spatial::Config {
        import_idle_timeout: std::time::Duration::from_secs(30),
        import_total_timeout: std::time::Duration::from_secs(1),
        ..Default::default()
    };
    let mut s = TestServer::start_config(&db.url, config).await;
    // A client that never stops: a small batch every 100 ms, never idle.
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    let sender = tokio::spawn(async move {
        tx.send(layer_header(|_| {})).await.ok()?;
        for i in 0..200 {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            let f = zone(
                &format!("Z{i}"),
                657500.0 + 30.0 * (i % 20) as f64,
                6477100.0,
                "55",
            );
            tx.send(batch(vec![f])).await.ok()?;
        }
        Some(())
    });
    let started = std::time::Instant::now();
    let e = s
        .client
        .import_features(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .unwrap_err();
    let took = started.elapsed();
    sender.abort();
    assert_eq!(e.code(), tonic::Code::DeadlineExceeded, "{e:?}");
    assert_reason(&e, "IMPORT_TOO_LONG");
    assert!(e.message().contains("longer than the 1 s"), "{e:?}");
    assert!(
        took < std::time::Duration::from_secs(5),
        "ended after {took:?}, the limit is 1 s"
    );
    // Nothing of it remains, and the next import is not refused as busy.
    let c = db.sql().await;
    let n: i64 = c
        .query_one("SELECT count(*) FROM layer WHERE name = 'noise-zones'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
    let r = send(&mut s, vec![layer_header(|_| {}), batch(three_zones())])
        .await
        .unwrap();
    assert_eq!(r.written, 3);
    drop(s);
    db.drop_db().await;
}
