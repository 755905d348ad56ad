//! `kovgis-bench-validate inprocess`: builds the index from DATABASE_URL (time, resident memory),
//! then times the engine's checks of the samples on one thread (numbers, no outlines, like the
//! SQL) against the same checks as one prepared PostGIS statement (GiST, JIT off) on one
//! connection.

use std::time::Instant;

use kovgis_engine::rules::{self, Locale, Proposal};
use kovgis_store::{Store, StoreConfig};

use crate::samples::{Sample, samples};
use crate::stats::summary;

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

/// Runs the in-process comparison and prints it.
pub async fn run(url: &str) {
    let store = Store::connect(&StoreConfig::new(url, 2))
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
        built.resident_bytes.unwrap_or(0) / (1 << 20)
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
            works: None,
            procedure_id: None,
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
