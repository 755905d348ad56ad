//! How the server protects itself, through a real socket over the demo data in PostGIS: the
//! per-call deadline, the concurrency limit, a panicking handler, stalled `QueryFeatures`
//! readers and the capped streams, the database pool's wait timeout, message size limits.
//!
//! The slow and panicking handlers come from the `test-hooks` request metadata (this crate's
//! tests build it with that feature; the binary never has it).

mod common;

use std::time::{Duration, Instant};

use common::validation::request;
use common::*;
use kovgis_spatial::{Config, ServerLimits};
use kovgis_store::StoreConfig;

/// A request with test-hook metadata.
fn hooked<T>(message: T, hooks: &[(&'static str, &str)]) -> tonic::Request<T> {
    let mut r = tonic::Request::new(message);
    for (k, v) in hooks {
        r.metadata_mut().insert(*k, v.parse().unwrap());
    }
    r
}

fn list() -> v1::ListMunicipalitiesRequest {
    v1::ListMunicipalitiesRequest::default()
}

/// An ordinary FindParcels: a 200 m box in Tallinn (Pirita).
fn find() -> v1::FindParcelsRequest {
    v1::FindParcelsRequest {
        filter: Some(v1::find_parcels_request::Filter::Bbox(v1::BoundingBox {
            min_x: 549_000.0,
            min_y: 6_590_000.0,
            max_x: 549_200.0,
            max_y: 6_590_200.0,
            epsg: 3301,
        })),
        ..Default::default()
    }
}

fn config(server: ServerLimits) -> Config {
    Config {
        server,
        ..Default::default()
    }
}

#[tokio::test]
async fn a_panicking_handler_answers_internal_and_the_server_keeps_serving() {
    let mut s = TestServer::start().await;
    let e = s
        .client
        .list_municipalities(hooked(list(), &[("kovgis-test-panic", "1")]))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::Internal, "{e:?}");
    assert_reason(&e, "INTERNAL");
    assert!(
        !e.message().contains("test hook"),
        "details stay in the log"
    );
    // The same connection, and a new one, are served as before.
    let n = s
        .client
        .list_municipalities(list())
        .await
        .unwrap()
        .into_inner()
        .municipalities
        .len();
    assert_eq!(n, 79);
    let mut other = s.new_client().await;
    assert!(other.find_parcels(find()).await.is_ok());
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_call_past_its_deadline_ends_deadline_exceeded() {
    let mut s = TestServer::start_config(
        &database_url(),
        config(ServerLimits {
            call_timeout: Duration::from_millis(300),
            ..Default::default()
        }),
    )
    .await;
    let t = Instant::now();
    let e = s
        .client
        .find_parcels(hooked(find(), &[("kovgis-test-sleep-ms", "20000")]))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::DeadlineExceeded, "{e:?}");
    assert_reason(&e, "DEADLINE_EXCEEDED");
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert!(s.client.find_parcels(find()).await.is_ok());
}

#[tokio::test]
async fn calls_beyond_the_concurrency_limit_wait_for_a_slot() {
    let s = TestServer::start_config(
        &database_url(),
        config(ServerLimits {
            max_concurrent_calls: 1,
            call_timeout: Duration::from_secs(1),
            ..Default::default()
        }),
    )
    .await;
    // The first call holds the only slot until its deadline (1 s).
    let mut first = s.client.clone();
    let slow = tokio::spawn(async move {
        first
            .find_parcels(hooked(find(), &[("kovgis-test-sleep-ms", "20000")]))
            .await
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut second = s.client.clone();
    let t = Instant::now();
    let r = second.find_parcels(find()).await;
    let waited = t.elapsed();
    assert_eq!(
        slow.await.unwrap().unwrap_err().code(),
        tonic::Code::DeadlineExceeded
    );
    // It ran once the slot was free (the first call's deadline, ~0.8 s later), within its own.
    assert!(r.is_ok(), "{r:?}");
    assert!(waited >= Duration::from_millis(500), "{waited:?}");
}

/// A layer of `n` features of 1 000 vertices each (tens of kilobytes apiece as GeoJSON), so
/// that a stream of it fills every buffer between server and client.
async fn big_layer(db: &tokio_postgres::Client, n: i32) -> i64 {
    db.batch_execute(&format!(
        "BEGIN;
         INSERT INTO dataset_version (target, source, file_sha256, mode)
         VALUES ('derived', 'protection test', repeat('0', 64), 'replace');
         INSERT INTO layer (municipality_code, name, title, kind, description, attribution)
         VALUES (NULL, 'big-circles', 'Big circles', 'other', 'test', 'test');
         INSERT INTO feature (layer_id, municipality_code, external_id, attributes, geom,
                              valid_from, dataset_version_id)
         SELECT (SELECT id FROM layer WHERE name = 'big-circles'), NULL, 'C' || i, '{{}}',
                ST_Buffer(ST_SetSRID(ST_MakePoint(550000 + i * 50, 6590000), 3301), 20, 250),
                now(), currval('dataset_version_id_seq')
         FROM generate_series(1, {n}) i;
         COMMIT;"
    ))
    .await
    .unwrap();
    db.query_one("SELECT id FROM layer WHERE name = 'big-circles'", &[])
        .await
        .unwrap()
        .get(0)
}

fn features(layer: i64) -> v1::QueryFeaturesRequest {
    v1::QueryFeaturesRequest {
        layer_ref: Some(v1::query_features_request::LayerRef::LayerId(layer)),
        ..Default::default()
    }
}

/// Opens a QueryFeatures stream on a connection of its own and never reads it.
async fn stalled(
    s: &TestServer,
    layer: i64,
) -> (
    Result<tonic::Streaming<v1::QueryFeaturesResponse>, tonic::Status>,
    tonic::transport::Channel,
) {
    let channel = s.channel().await;
    let mut c =
        TestServer::client_on(channel.clone(), Some(&s.token)).max_decoding_message_size(64 << 20);
    let r = c.query_features(features(layer)).await;
    (r.map(|r| r.into_inner()), channel)
}

#[tokio::test]
async fn stalled_feature_readers_do_not_block_ordinary_calls() {
    let db = FreshDb::new("stall").await;
    let layer = big_layer(&db.sql().await, 400).await;
    let mut s = TestServer::start_full(
        StoreConfig::new(&db.url, 3),
        config(ServerLimits {
            max_feature_streams: 2,
            feature_stream_stall: Duration::from_secs(2),
            ..Default::default()
        }),
    )
    .await;
    // Four readers that read nothing: two streams hold a connection each, the others are
    // refused at once.
    let mut readers = Vec::new();
    let mut refused = 0;
    for _ in 0..4 {
        let (r, channel) = stalled(&s, layer).await;
        match r {
            Ok(stream) => readers.push((stream, channel)),
            Err(e) => {
                assert_eq!(e.code(), tonic::Code::ResourceExhausted, "{e:?}");
                assert_reason(&e, "TOO_MANY_STREAMS");
                refused += 1;
            }
        }
    }
    assert_eq!((readers.len(), refused), (2, 2));
    // Ordinary calls are answered meanwhile.
    for _ in 0..5 {
        let t = Instant::now();
        let r = tokio::time::timeout(Duration::from_secs(10), s.client.find_parcels(find()))
            .await
            .expect("FindParcels answered while readers stall");
        assert!(r.is_ok(), "{r:?}");
        assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    }
    // Past the stall limit the stalled streams are ended: a reader that wakes up gets what was
    // buffered, then DEADLINE_EXCEEDED, never a clean end of a partial page.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (mut stream, _channel) = readers.remove(0);
    let mut got = 0;
    let end = loop {
        match stream.message().await {
            Ok(Some(m)) => got += m.features.len(),
            Ok(None) => panic!("a stalled stream ended as if complete after {got} features"),
            Err(e) => break e,
        }
    };
    assert_eq!(end.code(), tonic::Code::DeadlineExceeded, "{end:?}");
    assert_reason(&end, "STREAM_STALLED");
    assert!(got < 400, "{got}");
    drop(readers);
    // The slots are free again: a reader that reads gets the whole layer.
    let mut c = s.new_client().await.max_decoding_message_size(64 << 20);
    let mut stream = c
        .query_features(features(layer))
        .await
        .unwrap()
        .into_inner();
    let mut all = 0;
    while let Some(m) = stream.message().await.unwrap() {
        all += m.features.len();
    }
    assert_eq!(all, 400);
    drop(s);
    db.drop_db().await;
}

#[tokio::test]
async fn a_call_that_finds_no_free_connection_in_time_is_unavailable() {
    let db = FreshDb::new("poolwait").await;
    let layer = big_layer(&db.sql().await, 400).await;
    let mut s = TestServer::start_full(
        StoreConfig {
            wait_timeout: Some(Duration::from_millis(300)),
            ..StoreConfig::new(&db.url, 2)
        },
        config(ServerLimits {
            max_feature_streams: 2,
            ..Default::default()
        }),
    )
    .await;
    // Both read connections are taken by readers that read nothing.
    let (a, _ca) = stalled(&s, layer).await;
    let (b, _cb) = stalled(&s, layer).await;
    let (_a, _b) = (a.unwrap(), b.unwrap());
    let t = Instant::now();
    let e = tokio::time::timeout(Duration::from_secs(10), s.client.find_parcels(find()))
        .await
        .expect("answered, not left waiting")
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::Unavailable, "{e:?}");
    assert_reason(&e, "DATABASE_BUSY");
    assert!(e.message().contains("connection"), "{e:?}");
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    drop(s);
    db.drop_db().await;
}

#[tokio::test]
async fn messages_over_the_size_limits_are_refused_naming_the_limit() {
    let mut s = TestServer::start_config(
        &database_url(),
        Config {
            max_message_bytes: 4096,
            max_response_bytes: 2048,
            ..Default::default()
        },
    )
    .await;
    // A request of ~6 kB: refused before any handler reads it.
    let ring: Vec<String> = (0..=300)
        .map(|i| {
            let a = i as f64 / 300.0 * std::f64::consts::TAU;
            format!(
                "{:.3} {:.3}",
                657_600.0 + 5.0 * a.cos(),
                6_477_150.0 + 5.0 * a.sin()
            )
        })
        .collect();
    let big = request("0793", &format!("POLYGON(({}))", ring.join(",")));
    let e = s.client.validate_geometry(big).await.unwrap_err();
    assert!(e.message().contains("4096"), "{e:?}");
    assert_ne!(e.code(), tonic::Code::Ok);
    // A response larger than allowed (79 municipalities) is not sent.
    let e = s.client.list_municipalities(list()).await.unwrap_err();
    assert!(e.message().contains("2048"), "{e:?}");
    // Small ones pass both ways.
    let m = s
        .client
        .get_municipality(v1::GetMunicipalityRequest {
            code: "0793".into(),
            output: Some(v1::OutputOptions {
                omit_geometry: true,
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(m.code, "0793");
}
