//! `kovgis-bench-validate hostile ADDR PID`: the hostile-load run against a running
//! `kovgis serve` (process PID, for its resident memory).
//!
//! First the ceiling: a do-nothing call (gRPC health `Check`) and unary `ValidateGeometry` at
//! concurrency 64 over 4 connections with the same load client, and validations/s as a share of
//! health checks/s. Then, for 20 s, 8 hostile clients (on 2 connections of their own) send
//! worst-case requests in turn — a 100 000-vertex polygon with a 50 000-vertex hole, a
//! country-sized proposal dated in the past, the largest past-dated area the server accepts,
//! and a batch of the most proposals it accepts — while 16 ordinary clients (on 4 connections)
//! send footprints. Prints how many hostile calls were answered, refused (RESOURCE_EXHAUSTED or
//! INVALID_ARGUMENT) or failed otherwise, the ordinary p50/p99 (target p99 ≤ 20 ms), and the
//! server's resident memory idle and at its peak (target: peak < idle + 256 MiB).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use kovgis_api::v1;
use kovgis_api::v1::spatial_service_client::SpatialServiceClient;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use crate::samples::samples;
use crate::stats::summary;

const HOSTILE: usize = 8;
const ORDINARY: usize = 16;
const RUN: Duration = Duration::from_secs(20);
/// Defaults of `kovgis serve` the hostile requests go up to.
const MAX_BATCH: usize = 1000;
const MAX_AS_OF_SIDE_M: f64 = 5000.0;

/// The server's resident memory, bytes (`/proc/PID/status`).
fn resident(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))?
                .split_whitespace()
                .nth(1)?
                .parse::<u64>()
                .ok()
        })
        .map_or(0, |kib| kib * 1024)
}

async fn channels(addr: &str, n: usize) -> Vec<Channel> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(
            tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
                .unwrap()
                .connect()
                .await
                .expect("connecting to the server"),
        );
    }
    out
}

fn wkb(p: geo::Polygon) -> Option<v1::Geometry> {
    Some(v1::Geometry {
        value: Some(v1::geometry::Value::Wkb(kovgis_core::output::to_wkb(
            &geo::Geometry::Polygon(p),
        ))),
        epsg: 3301,
    })
}

fn ring(cx: f64, cy: f64, r: f64, n: usize, clockwise: bool) -> geo::LineString {
    let mut pts: Vec<geo::Coord> = (0..n)
        .map(|i| {
            let a =
                i as f64 / n as f64 * std::f64::consts::TAU * if clockwise { -1.0 } else { 1.0 };
            geo::Coord {
                x: cx + r * a.cos(),
                y: cy + r * a.sin(),
            }
        })
        .collect();
    pts.push(pts[0]);
    geo::LineString(pts)
}

fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> geo::Polygon {
    geo::Polygon::new(
        geo::LineString::from(vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]),
        vec![],
    )
}

/// The worst-case requests, by name.
fn hostile_requests(
    municipality: &str,
    (x, y): (f64, f64),
    ordinary: &[v1::ValidateGeometryRequest],
) -> Vec<(&'static str, Hostile)> {
    let base = |geometry| v1::ValidateGeometryRequest {
        municipality_code: municipality.into(),
        procedure_type: "building_permit".into(),
        geometry,
        intended_use: "residential_building".into(),
        output: Some(v1::OutputOptions {
            omit_geometry: true,
            ..Default::default()
        }),
        ..Default::default()
    };
    let past = Some(prost_types::Timestamp {
        seconds: 1_577_836_800, // 2020-01-01
        nanos: 0,
    });
    // 50 000 vertices a ring with the closing one: exactly the default cap of 100 000.
    let holed = geo::Polygon::new(
        ring(x, y, 400.0, 49_999, false),
        vec![ring(x, y, 200.0, 49_999, true)],
    );
    let half = MAX_AS_OF_SIDE_M / 2.0 - 1.0;
    vec![
        (
            "100 000 vertices with a hole",
            Hostile::One(Box::new(base(wkb(holed)))),
        ),
        (
            "country-sized, dated 2020",
            Hostile::One(Box::new(v1::ValidateGeometryRequest {
                as_of: past,
                ..base(wkb(rect(370_000.0, 6_380_000.0, 740_000.0, 6_640_000.0)))
            })),
        ),
        (
            "largest dated area (25 km²)",
            Hostile::One(Box::new(v1::ValidateGeometryRequest {
                as_of: past,
                ..base(wkb(rect(x - half, y - half, x + half, y + half)))
            })),
        ),
        (
            "batch of 1 000",
            Hostile::Batch(v1::ValidateGeometriesRequest {
                proposals: ordinary.iter().cycle().take(MAX_BATCH).cloned().collect(),
            }),
        ),
    ]
}

#[derive(Clone)]
enum Hostile {
    One(Box<v1::ValidateGeometryRequest>),
    Batch(v1::ValidateGeometriesRequest),
}

/// Health checks/s and validations/s at concurrency 64, the same client for both.
async fn ceiling(channels: &[Channel], requests: Arc<Vec<v1::ValidateGeometryRequest>>) {
    let run = |health: bool| {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut tasks = Vec::new();
        for w in 0..64 {
            let channel = channels[w % channels.len()].clone();
            let requests = requests.clone();
            tasks.push(tokio::spawn(async move {
                let mut n = 0u64;
                let mut h = HealthClient::new(channel.clone());
                let mut c = SpatialServiceClient::new(channel);
                let mut i = w * 31;
                while Instant::now() < deadline {
                    if health {
                        h.check(HealthCheckRequest {
                            service: "kovgis.v1.SpatialService".into(),
                        })
                        .await
                        .expect("health");
                    } else {
                        c.validate_geometry(requests[i % requests.len()].clone())
                            .await
                            .expect("validate");
                        i += 1;
                    }
                    n += 1;
                }
                n
            }));
        }
        async move {
            let t = Instant::now();
            let mut n = 0;
            for task in tasks {
                n += task.await.unwrap();
            }
            n as f64 / t.elapsed().as_secs_f64()
        }
    };
    let checks = run(true).await;
    let validations = run(false).await;
    println!(
        "ceiling, concurrency 64: health Check {checks:.0}/s, ValidateGeometry {validations:.0}/s \
         = {:.0} % of the do-nothing call",
        100.0 * validations / checks
    );
}

/// Runs the hostile-load measurement and prints it.
pub async fn run(addr: &str, pid: u32, url: &str) {
    let (db, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connecting");
    tokio::spawn(conn);
    let s = samples(&db, 2000, false, 11).await;
    let requests: Arc<Vec<v1::ValidateGeometryRequest>> = Arc::new(
        s.iter()
            .map(|s| v1::ValidateGeometryRequest {
                municipality_code: s.municipality.clone(),
                procedure_type: "building_permit".into(),
                geometry: wkb(s.polygon.clone()),
                intended_use: "residential_building".into(),
                output: Some(v1::OutputOptions {
                    omit_geometry: true,
                    ..Default::default()
                }),
                ..Default::default()
            })
            .collect(),
    );
    let ordinary_channels = channels(addr, 4).await;
    let hostile_channels = channels(addr, 2).await;
    // Warm up (and wait for the index).
    let mut warm = SpatialServiceClient::new(ordinary_channels[0].clone());
    for r in requests.iter().take(200) {
        warm.validate_geometry(r.clone()).await.expect("validate");
    }
    ceiling(&ordinary_channels, requests.clone()).await;

    let first = &s[0];
    let centre = geo::Centroid::centroid(&first.polygon).map_or((0.0, 0.0), |c| (c.x(), c.y()));
    let hostile = Arc::new(hostile_requests(&first.municipality, centre, &requests));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = resident(pid);
    let peak = Arc::new(AtomicU64::new(idle));
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, stop) = (peak.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(resident(pid), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let deadline = Instant::now() + RUN;
    let mut hostile_tasks = Vec::new();
    for w in 0..HOSTILE {
        let mut c = SpatialServiceClient::new(hostile_channels[w % 2].clone())
            .max_encoding_message_size(64 << 20)
            .max_decoding_message_size(256 << 20);
        let hostile = hostile.clone();
        hostile_tasks.push(tokio::spawn(async move {
            // (kind, outcome) → count
            let mut counts: BTreeMap<(&'static str, &'static str), u64> = BTreeMap::new();
            let mut i = w;
            while Instant::now() < deadline {
                let (name, req) = &hostile[i % hostile.len()];
                i += 1;
                let r = match req.clone() {
                    Hostile::One(r) => c.validate_geometry(*r).await.map(|_| ()),
                    Hostile::Batch(b) => c.validate_geometries(b).await.map(|_| ()),
                };
                let outcome = match r {
                    Ok(()) => "answered",
                    Err(e) => match e.code() {
                        tonic::Code::ResourceExhausted | tonic::Code::InvalidArgument => "refused",
                        tonic::Code::DeadlineExceeded => "deadline",
                        _ => "failed",
                    },
                };
                *counts.entry((name, outcome)).or_default() += 1;
            }
            counts
        }));
    }
    let mut ordinary_tasks = Vec::new();
    for w in 0..ORDINARY {
        let mut c = SpatialServiceClient::new(ordinary_channels[w % 4].clone());
        let requests = requests.clone();
        ordinary_tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0u64;
            let mut i = w * 31;
            while Instant::now() < deadline {
                let t = Instant::now();
                match c
                    .validate_geometry(requests[i % requests.len()].clone())
                    .await
                {
                    Ok(_) => lat.push(t.elapsed().as_secs_f64() * 1e3),
                    Err(_) => errors += 1,
                }
                i += 1;
            }
            (lat, errors)
        }));
    }
    let mut lat = Vec::new();
    let mut errors = 0;
    for t in ordinary_tasks {
        let (l, e) = t.await.unwrap();
        lat.extend(l);
        errors += e;
    }
    let mut counts: BTreeMap<(&'static str, &'static str), u64> = BTreeMap::new();
    for t in hostile_tasks {
        for (k, v) in t.await.unwrap() {
            *counts.entry(k).or_default() += v;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = sampler.await;
    let n = lat.len();
    let (p50, p99, _) = summary(lat);
    println!(
        "hostile load, {} s: {HOSTILE} hostile clients, {ORDINARY} ordinary clients",
        RUN.as_secs()
    );
    for (name, _) in hostile.iter() {
        let get = |o| counts.get(&(*name, o)).copied().unwrap_or(0);
        println!(
            "  hostile {name:<30} answered {:>4}  refused {:>4}  deadline {:>3}  failed {:>3}",
            get("answered"),
            get("refused"),
            get("deadline"),
            get("failed")
        );
    }
    println!(
        "  ordinary footprints: {n} answered ({:.0}/s), {errors} errors, p50 {p50:.2} ms, p99 \
         {p99:.2} ms — {}",
        n as f64 / RUN.as_secs_f64(),
        if p99 <= 20.0 && errors == 0 {
            "within p99 ≤ 20 ms"
        } else {
            "OVER the 20 ms p99 target"
        }
    );
    let (idle_mib, peak_mib) = (
        idle as f64 / (1 << 20) as f64,
        peak.load(Ordering::Relaxed) as f64 / (1 << 20) as f64,
    );
    println!(
        "  server resident memory: idle {idle_mib:.0} MiB, peak {peak_mib:.0} MiB (+{:.0} MiB) — {}",
        peak_mib - idle_mib,
        if peak_mib - idle_mib < 256.0 {
            "within idle + 256 MiB"
        } else {
            "OVER idle + 256 MiB"
        }
    );
}
