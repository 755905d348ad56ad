//! Validation benchmark (run by `scripts/bench-validate.sh`, not a test).
//!
//! `kovgis-bench-validate inprocess`: builds the index from DATABASE_URL (time, resident memory),
//! then checks seeded footprints (100–2 000 m², rotated rectangles and many-vertex round shapes on
//! random parcels) and large plan areas with the engine on one thread (numbers, no outlines, like
//! the SQL), and the same checks with one prepared PostGIS statement (GiST, JIT off) on one
//! connection; prints p50, p99 and ratios.
//!
//! `kovgis-bench-validate grpc ADDR`: a bounded load client against a running `kovgis serve`:
//! unary ValidateGeometry at concurrency 1, 16 and 64 over 4 HTTP/2 connections, then
//! ValidateGeometries in batches; prints throughput and latency percentiles.

use std::sync::Arc;

/// The same allocator as `kovgis serve`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::time::{Duration, Instant};

use kovgis_api::v1;
use kovgis_api::v1::spatial_service_client::SpatialServiceClient;
use kovgis_engine::rules::{self, Locale, Proposal};
use kovgis_store::{Store, StoreConfig};

/// xorshift64*.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.next()
    }
}

/// A proposal: municipality and polygon (EPSG:3301).
#[derive(Clone)]
struct Sample {
    municipality: String,
    polygon: geo::Polygon,
}

fn rotated_rect(cx: f64, cy: f64, w: f64, h: f64, angle: f64) -> geo::Polygon {
    let (s, c) = angle.sin_cos();
    let pts: Vec<geo::Coord> = [(-w, -h), (w, -h), (w, h), (-w, h), (-w, -h)]
        .iter()
        .map(|(x, y)| geo::Coord {
            x: cx + (x * c - y * s) / 2.0,
            y: cy + (x * s + y * c) / 2.0,
        })
        .collect();
    geo::Polygon::new(geo::LineString(pts), vec![])
}

fn round_shape(cx: f64, cy: f64, r: f64, n: usize) -> geo::Polygon {
    let mut pts: Vec<geo::Coord> = (0..n)
        .map(|i| {
            let a = i as f64 / n as f64 * std::f64::consts::TAU;
            geo::Coord {
                x: cx + r * a.cos(),
                y: cy + r * (0.8 * a.sin()),
            }
        })
        .collect();
    pts.push(pts[0]);
    geo::Polygon::new(geo::LineString(pts), vec![])
}

/// Footprints on random parcels (`plans`: 1–20 ha plan areas instead).
async fn samples(db: &tokio_postgres::Client, n: i64, plans: bool, seed: u64) -> Vec<Sample> {
    let rows = db
        .query(
            "SELECT municipality_code::text, ST_X(pt), ST_Y(pt), ST_Area(geom)
             FROM (SELECT municipality_code, geom, ST_PointOnSurface(geom) AS pt,
                          abs(hashtext(cadastral_code || ($2::bigint)::text)) AS k
                   FROM parcel WHERE valid_to IS NULL) p
             ORDER BY k LIMIT $1",
            &[&n, &(seed as i64)],
        )
        .await
        .expect("sampling parcels");
    let mut rng = Rng(seed | 1);
    rows.iter()
        .enumerate()
        .map(|(i, r)| {
            let (x, y, parcel_area): (f64, f64, f64) = (r.get(1), r.get(2), r.get(3));
            let polygon = if plans {
                let side = rng.range(100.0, 450.0);
                rotated_rect(x, y, side, side * rng.range(0.5, 1.0), rng.range(0.0, 3.0))
            } else if i % 5 == 4 {
                // A round outline of 100–300 vertices.
                let area = rng.range(100.0, 2000.0).min(parcel_area * 0.5).max(100.0);
                round_shape(
                    x,
                    y,
                    (area / 2.5).sqrt(),
                    100 + (rng.next() * 200.0) as usize,
                )
            } else {
                let area = rng.range(100.0, 2000.0).min(parcel_area * 0.5).max(100.0);
                let aspect = rng.range(0.4, 1.0);
                let w = (area / aspect).sqrt();
                rotated_rect(x, y, w, w * aspect, rng.range(0.0, 3.0))
            };
            Sample {
                municipality: r.get(0),
                polygon,
            }
        })
        .collect()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn summary(mut micros: Vec<f64>) -> (f64, f64, f64) {
    micros.sort_by(f64::total_cmp);
    let mean = micros.iter().sum::<f64>() / micros.len().max(1) as f64;
    (percentile(&micros, 0.5), percentile(&micros, 0.99), mean)
}

/// The footprint check as one SQL statement: the parcels under it with the share inside and the
/// distance to their boundary, the zoning/restriction/detailed-plan features it overlaps with
/// the overlap area, and the buildings already on its parcels.
const POSTGIS_CHECK: &str = "
WITH f AS (SELECT ST_GeomFromWKB($1, 3301) AS g),
p AS (SELECT pa.cadastral_code, pa.geom, ST_Area(ST_Intersection(pa.geom, f.g)) AS inside,
             ST_Distance(f.g, ST_Boundary(pa.geom)) AS setback, ST_CoveredBy(f.g, pa.geom) AS covered
      FROM parcel pa, f WHERE pa.valid_to IS NULL AND ST_Intersects(pa.geom, f.g)),
l AS (SELECT fe.id, la.kind, ST_Area(ST_Intersection(fe.geom, f.g)) AS overlap
      FROM feature fe JOIN layer la ON la.id = fe.layer_id, f
      WHERE fe.valid_to IS NULL AND la.kind IN ('zoning', 'restriction', 'detailed_plan')
        AND (la.municipality_code IS NULL OR la.municipality_code = $2)
        AND ST_Intersects(fe.geom, f.g)),
b AS (SELECT sum(ST_Area(ST_Intersection(bu.geom, p.geom))) AS built
      FROM feature bu JOIN layer la ON la.id = bu.layer_id, p
      WHERE bu.valid_to IS NULL AND la.kind = 'building'
        AND (la.municipality_code IS NULL OR la.municipality_code = $2)
        AND ST_Intersects(bu.geom, p.geom))
SELECT (SELECT count(*) FROM p), (SELECT sum(inside) FROM p), (SELECT min(setback) FROM p),
       (SELECT bool_and(covered) FROM p), (SELECT count(*) FROM l), (SELECT sum(overlap) FROM l),
       (SELECT built FROM b)";

async fn inprocess(url: &str) {
    let store = Store::connect(&StoreConfig {
        database_url: url.to_owned(),
        max_connections: 2,
    })
    .await
    .expect("connecting");
    let t = Instant::now();
    let built = kovgis_spatial::validation::build(&store)
        .await
        .expect("building the index");
    let build_s = t.elapsed().as_secs_f64();
    let s = &built.index.stats;
    let features: usize = s.layers.iter().map(|l| l.features).sum();
    println!(
        "index: {} parcels, {} layers, {} features; built in {:.2} s; resident {} MiB (process)",
        s.parcels,
        s.layers.len(),
        features,
        build_s,
        built.resident_bytes / (1 << 20)
    );

    let (db, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connecting");
    tokio::spawn(conn);
    db.batch_execute("SET jit = off").await.unwrap();
    let statement = db.prepare(POSTGIS_CHECK).await.unwrap();
    for (label, plans, n) in [
        (
            "footprints (100–2 000 m², up to 300 vertices)",
            false,
            2000i64,
        ),
        ("plan areas (1–20 ha)", true, 200),
    ] {
        let mut samples = samples(&db, n, plans, 7).await;
        // For profiling: KOVGIS_BENCH_ONLY=rect|round keeps one kind of footprint.
        if let Ok(only) = std::env::var("KOVGIS_BENCH_ONLY") {
            samples.retain(|s| (s.polygon.exterior().0.len() > 6) == (only == "round"));
        }
        let proposal = |s: &Sample| Proposal {
            municipality_code: s.municipality.clone(),
            procedure: "building_permit".into(),
            geometry: geo::MultiPolygon(vec![s.polygon.clone()]),
            intended_use: "residential_building".into(),
            parcel_codes: vec![],
            on: chrono::Utc::now().date_naive(),
            locale: Locale::Et,
            // The SQL returns numbers, not outlines; so does the engine here.
            outlines: false,
        };
        let proposals: Vec<Proposal> = samples.iter().map(proposal).collect();
        if std::env::var("KOVGIS_BENCH_COMPARE").is_ok() {
            let mut differ = 0;
            for p in &proposals {
                let a = rules::validate(&built.index, &built.rules, p);
                let b = rules::validate(
                    &built.index,
                    &built.rules,
                    &Proposal {
                        outlines: true,
                        ..p.clone()
                    },
                );
                let key = |r: &rules::Report| {
                    r.findings
                        .iter()
                        .map(|f| {
                            (
                                f.rule,
                                f.code,
                                f.feature_id.clone(),
                                f.overlap_area_m2.map(|a| (a * 1e3).round() as i64),
                            )
                        })
                        .collect::<Vec<_>>()
                };
                if key(&a) != key(&b) {
                    differ += 1;
                    if differ <= 3 {
                        eprintln!(
                            "without outlines: {:?}\nwith outlines:    {:?}",
                            key(&a),
                            key(&b)
                        );
                    }
                }
            }
            eprintln!(
                "{label}: {differ} of {} reports differ with outlines",
                proposals.len()
            );
        }
        // For profiling: KOVGIS_BENCH_SPIN=n runs the checks n more times first.
        let spin: usize = std::env::var("KOVGIS_BENCH_SPIN")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        for _ in 0..spin {
            for p in &proposals {
                std::hint::black_box(rules::validate(&built.index, &built.rules, p));
            }
        }
        // Warm-up, then timed.
        for p in proposals.iter().take(200) {
            std::hint::black_box(rules::validate(&built.index, &built.rules, p));
        }
        let mut ours = Vec::with_capacity(proposals.len());
        let mut findings = 0usize;
        for p in &proposals {
            let t = Instant::now();
            let r = rules::validate(&built.index, &built.rules, p);
            ours.push(t.elapsed().as_secs_f64() * 1e6);
            findings += r.findings.len();
        }
        let wkbs: Vec<Vec<u8>> = samples
            .iter()
            .map(|s| kovgis_core::output::to_wkb(&geo::Geometry::Polygon(s.polygon.clone())))
            .collect();
        for (w, s) in wkbs.iter().zip(&samples).take(50) {
            db.query(&statement, &[w, &s.municipality]).await.unwrap();
        }
        let mut theirs = Vec::with_capacity(wkbs.len());
        for (w, s) in wkbs.iter().zip(&samples) {
            let t = Instant::now();
            db.query(&statement, &[w, &s.municipality]).await.unwrap();
            theirs.push(t.elapsed().as_secs_f64() * 1e6);
        }
        // The many-vertex round outlines (every fifth footprint) apart from the rectangles.
        let by_shape = |round: bool| {
            let part: Vec<f64> = ours
                .iter()
                .zip(&samples)
                .filter(|(_, s)| (s.polygon.exterior().0.len() > 6) == round)
                .map(|(t, _)| *t)
                .collect();
            (part.len(), summary(part))
        };
        let shapes = if plans {
            None
        } else {
            Some((by_shape(false), by_shape(true)))
        };
        let (p50, p99, mean) = summary(ours);
        let (q50, q99, qmean) = summary(theirs);
        println!(
            "{label}: {} checks, {:.1} findings each",
            proposals.len(),
            findings as f64 / proposals.len() as f64
        );
        println!(
            "  kovgis engine, in-process, 1 thread:  p50 {p50:8.1} µs   p99 {p99:8.1} µs   mean {mean:8.1} µs"
        );
        if let Some(((nr, (r50, r99, rmean)), (no, (o50, o99, omean)))) = shapes {
            println!(
                "    {nr} rectangles:              p50 {r50:8.1} µs   p99 {r99:8.1} µs   mean {rmean:8.1} µs"
            );
            println!(
                "    {no} round, 100–300 vertices: p50 {o50:8.1} µs   p99 {o99:8.1} µs   mean {omean:8.1} µs"
            );
        }
        println!(
            "  PostGIS, one prepared statement:      p50 {q50:8.1} µs   p99 {q99:8.1} µs   mean {qmean:8.1} µs"
        );
        println!(
            "  PostGIS / kovgis: p50 {:.1}×, mean {:.1}×",
            q50 / p50,
            qmean / mean
        );
    }
}

async fn grpc(addr: &str, url: &str) {
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

#[tokio::main]
async fn main() {
    let url = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("inprocess") => inprocess(&url).await,
        Some("grpc") => grpc(args.get(2).expect("grpc ADDR"), &url).await,
        _ => eprintln!("usage: kovgis-bench-validate inprocess | grpc ADDR"),
    }
}
