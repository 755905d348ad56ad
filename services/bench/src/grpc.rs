//! `kovgis-bench-validate grpc ADDR`: a bounded load client against a running `kovgis serve`:
//! unary ValidateGeometry at concurrency 1, 16 and 64 over 4 HTTP/2 connections, then
//! ValidateGeometries in batches; prints throughput and latency percentiles.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kovgis_api::v1;
use kovgis_api::v1::spatial_service_client::SpatialServiceClient;

use crate::samples::samples;
use crate::stats::summary;

/// Runs the load client against the server at `addr` and prints what it measured.
pub async fn run(addr: &str, url: &str) {
    let (db, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connecting");
    tokio::spawn(conn);
    let samples = samples(&db, 2000, false, 11).await;
    let requests: Arc<Vec<v1::ValidateGeometryRequest>> = Arc::new(
        samples
            .iter()
            .map(|s| v1::ValidateGeometryRequest {
                municipality_code: s.municipality.clone(),
                procedure_type: "building_permit".into(),
                geometry: Some(v1::Geometry {
                    value: Some(v1::geometry::Value::Wkb(kovgis_core::output::to_wkb(
                        &geo::Geometry::Polygon(s.polygon.clone()),
                    ))),
                    epsg: 3301,
                }),
                intended_use: "residential_building".into(),
                output: Some(v1::OutputOptions {
                    omit_geometry: true,
                    ..Default::default()
                }),
                ..Default::default()
            })
            .collect(),
    );
    let mut channels = Vec::new();
    for _ in 0..4 {
        channels.push(
            tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
                .unwrap()
                .connect()
                .await
                .expect("connecting to the server"),
        );
    }
    // Waits until the server has built its index, and warms it up.
    let mut warm = SpatialServiceClient::new(channels[0].clone());
    for r in requests.iter().take(200) {
        warm.validate_geometry(r.clone()).await.expect("validate");
    }
    // For profiling: KOVGIS_BENCH_GRPC=batch runs the batches only.
    let unary = std::env::var("KOVGIS_BENCH_GRPC").map_or(true, |v| v != "batch");
    for concurrency in [1usize, 16, 64].into_iter().filter(|_| unary) {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut tasks = Vec::new();
        for w in 0..concurrency {
            let mut client = SpatialServiceClient::new(channels[w % channels.len()].clone());
            let requests = requests.clone();
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut i = w * 31;
                while Instant::now() < deadline {
                    let req = requests[i % requests.len()].clone();
                    i += 1;
                    let t = Instant::now();
                    client.validate_geometry(req).await.expect("validate");
                    lat.push(t.elapsed().as_secs_f64() * 1e3);
                }
                lat
            }));
        }
        let started = Instant::now();
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        let secs = started.elapsed().as_secs_f64();
        let n = all.len();
        let (p50, p99, _) = summary(all);
        println!(
            "gRPC unary, concurrency {concurrency:>2}: {:>7.0} validations/s   p50 {p50:.2} ms   p99 {p99:.2} ms",
            n as f64 / secs
        );
    }
    // Batches of 500, KOVGIS_BENCH_IN_FLIGHT (default 2) in flight, one per connection.
    let in_flight: usize = std::env::var("KOVGIS_BENCH_IN_FLIGHT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2)
        .clamp(1, channels.len());
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut tasks = Vec::new();
    for (w, channel) in channels.iter().take(in_flight).enumerate() {
        let mut client =
            SpatialServiceClient::new(channel.clone()).max_decoding_message_size(256 << 20);
        let requests = requests.clone();
        tasks.push(tokio::spawn(async move {
            let mut done = 0usize;
            let mut start = w * 500;
            while Instant::now() < deadline {
                let proposals: Vec<_> = (0..500)
                    .map(|k| requests[(start + k) % requests.len()].clone())
                    .collect();
                start += 500;
                let r = client
                    .validate_geometries(v1::ValidateGeometriesRequest { proposals })
                    .await
                    .expect("batch");
                done += r.into_inner().reports.len();
            }
            done
        }));
    }
    let started = Instant::now();
    let mut done = 0;
    for t in tasks {
        done += t.await.unwrap();
    }
    println!(
        "gRPC batch (500 a call, {in_flight} in flight): {:.0} validations/s",
        done as f64 / started.elapsed().as_secs_f64()
    );
}
