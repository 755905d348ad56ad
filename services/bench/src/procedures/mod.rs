//! `kovgis-bench-validate procedures KEY ADDR COUNT`: the procedures at national
//! scale (issue 13), against a running `kovgis serve` at ADDR that verifies tokens signed with
//! KEY, on the database of DATABASE_URL (a superuser or the owner: the bulk load and VACUUM),
//! with SERVICE_URL the same database as `kovgis_service` (the floor). Prints each figure with
//! its goal beside it:
//!
//! - a) setup: COUNT synthetic procedures over the municipalities with their events and
//!   coordination requests, generated in SQL ([`setup`]), and how long that took;
//!
//! `kovgis-bench-validate procedures-submit KEY ADDR SERVICE_URL` then prints (the script runs
//! it on a restarted server: the bulk setup's million notifications, which no live server sees
//! at once, are then not caught up with during the measurements):
//!
//! - b) `SubmitProcedure` at concurrency 16 over gRPC ([`submit`]) beside its floor, the same
//!   rows from a plain client ([`floor`]): p50, p99, throughput and the ratio (goal ≤ 2×);
//! - c) `ListProcedures` with a 1 km² box and a state filter ([`list`]) in the basic view (what
//!   a map shows) and the full view: p50, p99 (goal p50 ≤ 5 ms);
//!
//! `kovgis-bench-validate procedures-recheck STARTED IMPORTED TARGET` prints d), the re-checks
//! after the script's layer change ([`recheck`]); `kovgis-bench-validate procedures-watch KEY
//! ADDR` prints e), `WatchProcedures` with 1 000 watchers while writers change procedures
//! ([`watch`]).
//!
//! Run again on a database a run has filled, `procedures-submit` measures b) and c) anew (to
//! compare builds of the server, [`run_submit`]).
//!
//! Environment: `KOVGIS_BENCH_SUBMITS` (default 2000) submissions in b), after 64 not counted;
//! `KOVGIS_BENCH_SEED` the footprints' seed (the script's first run 31, default 32).

mod floor;
mod list;
mod recheck;
mod reports;
mod setup;
mod submit;
mod watch;

use kovgis_api::v1;
use kovgis_auth::DevKey;
use tokio_postgres::NoTls;

use crate::auth_cost::{connect, ready};
use crate::samples::samples;
use crate::stats::summary;

const CONCURRENCY: usize = 16;
const WARM_UP: usize = 64;

/// Runs the benchmark (see the module header).
pub async fn run(key_file: &str, addr: &str, count: i64, url: &str) {
    let (db, conn) = tokio_postgres::connect(url, NoTls)
        .await
        .expect("connecting");
    tokio::spawn(conn);
    let key = DevKey::load(key_file.as_ref()).expect("loading the benchmark's signing key");
    let parcels: i64 = db
        .query_one("SELECT count(*) FROM parcel WHERE valid_to IS NULL", &[])
        .await
        .expect("counting parcels")
        .get(0);
    println!(
        "procedures benchmark: {count} procedures on {parcels} current parcels, {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let mut channels = Vec::new();
    for _ in 0..4 {
        channels.push(connect(addr).await);
    }

    // The server is up and its index built (a first validation answers).
    let first = samples(&db, 1, false, 21).await;
    let tokens = submit::tokens(&key, &first);
    ready(
        &channels[0],
        &validation(&first[0]),
        &tokens[&first[0].municipality],
    )
    .await;

    // a) setup
    let loading = setup::generate(&db, count).await;
    let national = reports::national_token(&key);
    let (checked, mean_report, reports_s) = reports::write(&db, &channels, &national).await;
    let g = setup::finish(&db, loading).await;
    let size = db
        .query_one(
            "SELECT pg_size_pretty(pg_database_size(current_database())),
                    pg_size_pretty(pg_total_relation_size('procedure')),
                    pg_size_pretty(pg_total_relation_size('procedure_event'))",
            &[],
        )
        .await
        .expect("sizes");
    println!(
        "a) setup: {} procedures in {} municipalities ({} active), {} events, {} coordination requests",
        g.procedures, g.municipalities, g.active, g.events, g.coordination
    );
    println!(
        "   generated in SQL in {:.1} s (rows {:.1} s, indexes {:.1} s); the {checked} active ones checked by the server and their reports ({mean_report} bytes on average) stored in {reports_s:.1} s; VACUUM ANALYZE {:.1} s",
        g.insert_s + g.index_s,
        g.insert_s,
        g.index_s,
        g.vacuum_s,
    );
    println!(
        "   database {}, of it procedure {} and procedure_event {}",
        size.get::<_, String>(0),
        size.get::<_, String>(1),
        size.get::<_, String>(2)
    );
}

/// A check of the sample's footprint as a building permit, without outlines.
fn validation(s: &crate::samples::Sample) -> v1::ValidateGeometryRequest {
    v1::ValidateGeometryRequest {
        municipality_code: s.municipality.clone(),
        procedure_type: "building_permit".into(),
        geometry: Some(v1::Geometry {
            value: Some(v1::geometry::Value::Wkb(kovgis_core::output::to_wkb(
                &geo::Geometry::Polygon(s.polygon.clone()),
            ))),
            epsg: 3301,
        }),
        intended_use: "residential_building".into(),
        ..Default::default()
    }
}

/// b): `submits` drafts on footprints sampled with `seed`, created and then submitted at
/// concurrency 16 (after 64 not counted), beside the floor writing the same rows.
async fn submit_beside_floor(
    db: &tokio_postgres::Client,
    channels: &[tonic::transport::Channel],
    key: &DevKey,
    service_url: &str,
    submits: usize,
    seed: u64,
) {
    let footprints = samples(db, (submits + WARM_UP) as i64, false, seed).await;
    let tokens = submit::tokens(key, &footprints);
    let (drafts, created) =
        submit::create_drafts(channels, &tokens, &footprints, CONCURRENCY).await;
    submit::submit_all(channels, &tokens, &drafts[..WARM_UP], CONCURRENCY).await;
    let submitted = submit::submit_all(channels, &tokens, &drafts[WARM_UP..], CONCURRENCY).await;
    let (floor, requests, messages) = floor::run(db, service_url, CONCURRENCY).await;
    println!("b) SubmitProcedure at concurrency {CONCURRENCY} (gRPC, tokens, row-level security):");
    println!("   {}", created.line("CreateProcedure (the drafts)"));
    println!("   {}", submitted.line("SubmitProcedure"));
    println!(
        "   {} ({requests:.2} coordination requests and {messages:.2} outbox messages a submission)",
        floor.line("floor: the same rows, one prepared transaction")
    );
    let (s50, s99, _) = summary(submitted.latencies.clone());
    let (f50, f99, _) = summary(floor.latencies.clone());
    let rate = |p: &submit::Phase| p.latencies.len() as f64 / p.wall_s;
    println!(
        "   Submit / floor: p50 {:.2}×, p99 {:.2}×, throughput {:.2}×   (goal ≤ 2×)",
        s50 / f50,
        s99 / f99,
        rate(&floor) / rate(&submitted)
    );
}

/// b) and c), on a database the benchmark has filled: any earlier runs' submissions are first
/// set aside (their `created_by` prefixed with `earlier-`, so that the floor copies only this
/// run's), and the footprints are sampled with `KOVGIS_BENCH_SEED` (the script's first run 31;
/// default 32, so that a run again by hand does not take the first run's footprints).
pub async fn run_submit(key_file: &str, addr: &str, service_url: &str, url: &str) {
    let (db, conn) = tokio_postgres::connect(url, NoTls)
        .await
        .expect("connecting");
    tokio::spawn(conn);
    let key = DevKey::load(key_file.as_ref()).expect("loading the benchmark's signing key");
    let env = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    db.execute(
        "UPDATE procedure SET created_by = 'earlier-' || created_by
         WHERE created_by LIKE $1",
        &[&format!("{}%", submit::SUBMITTER)],
    )
    .await
    .expect("setting the earlier submissions aside");
    let mut channels = Vec::new();
    for _ in 0..4 {
        channels.push(connect(addr).await);
    }
    // The server is up and its index built (a first validation answers).
    let first = samples(&db, 1, false, 21).await;
    let tokens = submit::tokens(&key, &first);
    ready(
        &channels[0],
        &validation(&first[0]),
        &tokens[&first[0].municipality],
    )
    .await;
    let seed = env("KOVGIS_BENCH_SEED", 32) as u64;
    submit_beside_floor(
        &db,
        &channels,
        &key,
        service_url,
        env("KOVGIS_BENCH_SUBMITS", 2000),
        seed,
    )
    .await;
    for view in [v1::ProcedureView::Basic, v1::ProcedureView::Full] {
        print_list(&list::run(&channels[0], &key, &db, service_url, view).await);
    }
}

/// c) alone, on a database the benchmark has filled (to compare indexes).
pub async fn run_list(key_file: &str, addr: &str, service_url: &str, url: &str) {
    let (db, conn) = tokio_postgres::connect(url, NoTls)
        .await
        .expect("connecting");
    tokio::spawn(conn);
    let key = DevKey::load(key_file.as_ref()).expect("loading the benchmark's signing key");
    let channel = connect(addr).await;
    for view in [v1::ProcedureView::Basic, v1::ProcedureView::Full] {
        print_list(&list::run(&channel, &key, &db, service_url, view).await);
    }
}

fn print_list(l: &list::Listed) {
    println!(
        "c) ListProcedures, view {}, as an official of {} (bbox 1 km², state under_review of {} there, newest first, page 50): {} calls at concurrency 1, p50 {:.2} ms, p99 {:.2} ms, {:.1} procedures ({:.1} kB) a page   (goal p50 ≤ {} ms: {})",
        l.view.as_str_name(),
        l.municipality,
        l.under_review,
        l.calls,
        l.p50,
        l.p99,
        l.rows_mean,
        l.bytes_mean / 1000.0,
        list::GOAL_P50_MS,
        if l.p50 <= list::GOAL_P50_MS {
            "met"
        } else {
            "missed"
        }
    );
}

/// d): waits for the re-check queue (see [`recheck`]).
pub async fn run_recheck(url: &str, started: f64, imported: f64, target: i64) {
    let (db, conn) = tokio_postgres::connect(url, NoTls)
        .await
        .expect("connecting");
    tokio::spawn(conn);
    recheck::run(&db, started, imported, target).await;
}

/// e): watchers and writers (see [`watch`]).
pub async fn run_watch(key_file: &str, addr: &str, url: &str) {
    let (db, conn) = tokio_postgres::connect(url, NoTls)
        .await
        .expect("connecting");
    tokio::spawn(conn);
    let key = DevKey::load(key_file.as_ref()).expect("loading the benchmark's signing key");
    watch::run(&db, &key, addr).await;
}
