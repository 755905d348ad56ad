//! Admission by cost and the request limits, through a real socket over the demo data: heavy
//! calls (large geometries, areas, batches, past moments) run in a pool of their own and are
//! refused at once with RESOURCE_EXHAUSTED when it is full, while ordinary calls carry on; each
//! request limit is refused with INVALID_ARGUMENT naming its field.
//!
//! The heavy work is made to last with the `kovgis-test-heavy-ms` hook (slept on the heavy
//! worker's thread), so the test does not depend on how fast any check is.

mod common;

use std::time::{Duration, Instant};

use common::validation::{request, square};
use common::*;
use kovgis_spatial::{AdmissionConfig, Config, RequestLimits};

fn hooked<T>(message: T, heavy_ms: u64) -> tonic::Request<T> {
    let mut r = tonic::Request::new(message);
    r.metadata_mut().insert(
        "kovgis-test-heavy-ms",
        heavy_ms.to_string().parse().unwrap(),
    );
    r
}

/// A round footprint of `n` vertices inside a 0793 parcel: WKT of ~25 bytes a vertex.
fn round(n: usize) -> String {
    let ring: Vec<String> = (0..=n)
        .map(|i| {
            let a = (i % n) as f64 / n as f64 * std::f64::consts::TAU;
            format!(
                "{:.3} {:.3}",
                657_605.0 + 4.0 * a.cos(),
                6_477_155.0 + 4.0 * a.sin()
            )
        })
        .collect();
    format!("POLYGON(({}))", ring.join(","))
}

fn ordinary() -> v1::ValidateGeometryRequest {
    request("0793", &square(657_600.0, 6_477_150.0, 10.0))
}

// A multi-threaded runtime of one worker: if heavy work ran on the runtime's thread, the
// ordinary call below could not be answered while it runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn heavy_calls_beyond_the_pool_are_refused_at_once_while_ordinary_calls_carry_on() {
    let s = TestServer::start_config(
        &database_url(),
        Config {
            admission: AdmissionConfig {
                heavy_workers: 1,
                heavy_queue: 1,
                heavy_geometry_bytes: 4096,
                ..Default::default()
            },
            ..Default::default()
        },
    )
    .await;
    let heavy = request("0793", &round(400));
    assert!(matches!(
        &heavy.geometry.as_ref().unwrap().value,
        Some(v1::geometry::Value::Wkt(w)) if w.len() > 4096
    ));
    // One heavy call runs (3 s on the worker), one waits for it.
    let mut running = Vec::new();
    for _ in 0..2 {
        let mut c = s.client.clone();
        let r = heavy.clone();
        running.push(tokio::spawn(async move {
            c.validate_geometry(hooked(r, 3000)).await
        }));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A third is refused at once, and counted.
    let t = Instant::now();
    let e = s
        .client
        .clone()
        .validate_geometry(hooked(heavy.clone(), 3000))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::ResourceExhausted, "{e:?}");
    assert_reason(&e, "OVERLOADED_HEAVY");
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    // So is a heavy FindParcels geometry: the pool is one for every heavy call.
    let e = s
        .client
        .clone()
        .find_parcels(v1::FindParcelsRequest {
            filter: Some(v1::find_parcels_request::Filter::Intersects(wkt(
                &round(400),
                3301,
            ))),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::ResourceExhausted, "{e:?}");
    // Ordinary calls are answered meanwhile, promptly.
    for _ in 0..10 {
        let t = Instant::now();
        let r = s.client.clone().validate_geometry(ordinary()).await;
        assert!(r.is_ok(), "{r:?}");
        assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    }
    let stats = s
        .client
        .clone()
        .get_index_stats(v1::GetIndexStatsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!((stats.heavy_admitted, stats.heavy_refused), (2, 2));
    // The admitted ones are answered in full.
    for r in running {
        let report = r.await.unwrap().unwrap().into_inner();
        assert!(!report.findings.is_empty());
    }
    // And the pool takes heavy calls again.
    assert!(s.client.clone().validate_geometry(heavy).await.is_ok());
}

#[tokio::test]
async fn large_batches_and_past_moments_are_heavy() {
    let s = TestServer::start_config(
        &database_url(),
        Config {
            admission: AdmissionConfig {
                heavy_workers: 1,
                heavy_queue: 0,
                light_batch: 4,
                ..Default::default()
            },
            ..Default::default()
        },
    )
    .await;
    // The worker is busy with a batch of five.
    let mut c = s.client.clone();
    let busy = tokio::spawn(async move {
        c.validate_geometries(hooked(
            v1::ValidateGeometriesRequest {
                proposals: vec![ordinary(); 5],
            },
            2000,
        ))
        .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let past = v1::ValidateGeometryRequest {
        as_of: Some(prost_types::Timestamp {
            seconds: 946_684_800, // 2000-01-01, before every dataset version
            nanos: 0,
        }),
        ..ordinary()
    };
    let mut c = s.client.clone();
    for e in [
        c.validate_geometry(past.clone()).await.unwrap_err(),
        c.validate_geometries(v1::ValidateGeometriesRequest {
            proposals: vec![ordinary(); 5],
        })
        .await
        .unwrap_err(),
    ] {
        assert_eq!(e.code(), tonic::Code::ResourceExhausted, "{e:?}");
        assert_reason(&e, "OVERLOADED_HEAVY");
    }
    // A small batch is not heavy.
    let r = c
        .validate_geometries(v1::ValidateGeometriesRequest {
            proposals: vec![ordinary(); 4],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.reports.len(), 4);
    assert_eq!(busy.await.unwrap().unwrap().into_inner().reports.len(), 5);
    assert!(c.validate_geometry(past).await.is_ok());
}

fn limited() -> Config {
    Config {
        requests: RequestLimits {
            max_batch: 3,
            max_proposal_area_m2: 50_000.0,
            max_parcels_per_proposal: 2,
            max_as_of_area_m2: 10_000.0,
        },
        ..Default::default()
    }
}

#[tokio::test]
async fn request_limits_are_refused_naming_the_field() {
    let s = TestServer::start_config(&database_url(), limited()).await;
    let mut c = s.client.clone();
    let reason = |e: &tonic::Status| {
        use tonic_types::StatusExt;
        e.get_error_details().error_info().unwrap().reason.clone()
    };
    // Proposals per batch.
    let e = c
        .validate_geometries(v1::ValidateGeometriesRequest {
            proposals: vec![ordinary(); 4],
        })
        .await
        .unwrap_err();
    assert_invalid(&e, "proposals", "at most 3");
    assert_eq!(reason(&e), "TOO_MANY_PROPOSALS");
    // Parcels per proposal (in a batch, the element's path).
    let mut named = ordinary();
    named.parcel_codes = vec!["79301:001:0001".into(); 3];
    let e = c
        .validate_geometries(v1::ValidateGeometriesRequest {
            proposals: vec![ordinary(), named],
        })
        .await
        .unwrap_err();
    assert_invalid(&e, "proposals[1].parcel_codes", "at most 2");
    assert_eq!(reason(&e), "TOO_MANY_PARCELS");
    // Proposal area: a 300 m square is 9 ha > 5 ha.
    let e = c
        .validate_geometry(request("0793", &square(657_400.0, 6_477_000.0, 300.0)))
        .await
        .unwrap_err();
    assert_invalid(&e, "geometry", "covers 9.0 ha; at most 5.0 ha");
    assert_eq!(reason(&e), "PROPOSAL_TOO_LARGE");
    // The area a past moment may rebuild: a 150 m square is 2.25 ha > 1 ha, refused only
    // when dated before the index's data.
    let wide = request("0793", &square(657_400.0, 6_477_000.0, 150.0));
    assert!(c.validate_geometry(wide.clone()).await.is_ok());
    let e = c
        .validate_geometry(v1::ValidateGeometryRequest {
            as_of: Some(prost_types::Timestamp {
                seconds: 946_684_800,
                nanos: 0,
            }),
            ..wide
        })
        .await
        .unwrap_err();
    assert_invalid(&e, "as_of", "at most 1.0 ha");
    assert_eq!(reason(&e), "AS_OF_AREA_TOO_LARGE");
}
