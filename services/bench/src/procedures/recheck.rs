//! `kovgis-bench-validate procedures-recheck STARTED IMPORTED TARGET`: d) of the procedures
//! benchmark. `scripts/bench-procedures.sh` has imported changed zoning layers (every zone's
//! coverage limit lowered, every tenth zone's detailed-plan requirement flipped) of the
//! municipalities holding about TARGET active procedures, the first import starting at STARTED
//! and the last committed at IMPORTED (unix seconds); each import enqueued a re-check request
//! (migration 0013). This waits until the server's re-check job has finished every request
//! made since STARTED, and prints how long after the last import that was, how many procedures
//! were re-checked and how many changed (one `recheck` event each).

use std::time::{Duration, Instant};

use tokio_postgres::Client;

/// Goal: seconds from the change to the re-checks done.
pub const GOAL_S: f64 = 10.0;

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64()
}

/// Waits (at most `KOVGIS_BENCH_RECHECK_WAIT` seconds, default 1800) for the queue and prints
/// d).
pub async fn run(db: &Client, started: f64, imported: f64, target: i64) {
    let wait: u64 = std::env::var("KOVGIS_BENCH_RECHECK_WAIT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1800);
    let deadline = Instant::now() + Duration::from_secs(wait);
    let row = loop {
        let r = db
            .query_one(
                "SELECT count(*), count(*) FILTER (WHERE finished_at IS NULL),
                        coalesce(sum(rechecked), 0)::bigint, coalesce(sum(changed), 0)::bigint,
                        extract(epoch FROM max(finished_at))::float8,
                        extract(epoch FROM min(created_at))::float8
                 FROM recheck_request WHERE created_at >= to_timestamp($1)",
                &[&(started - 1.0)],
            )
            .await
            .expect("reading the re-check queue");
        let (requests, open): (i64, i64) = (r.get(0), r.get(1));
        if requests > 0 && open == 0 {
            break r;
        }
        if Instant::now() >= deadline {
            let done: i64 = r.get(2);
            println!(
                "d) re-check after changed zoning layers touching {target} active procedures: NOT DONE after {wait} s ({open} of {requests} requests open, {done} procedures re-checked so far, {:.0}/s)   (goal ≤ {GOAL_S} s for 100 000: missed)",
                done as f64 / (unix_now() - imported).max(0.001)
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let (requests, rechecked, changed): (i64, i64, i64) = (row.get(0), row.get(2), row.get(3));
    let finished: f64 = row.get(4);
    let first: f64 = row.get(5);
    let events: i64 = db
        .query_one(
            "SELECT count(*) FROM procedure_event
             WHERE action = 'recheck' AND occurred_at >= to_timestamp($1)",
            &[&(started - 1.0)],
        )
        .await
        .expect("counting re-check events")
        .get(0);
    let after = finished - imported;
    println!(
        "d) re-check after changed zoning layers ({requests} imports, {:.1} s) touching {target} active procedures: queue done {after:.1} s after the last import committed ({:.1} s after the first began); {rechecked} procedures re-checked ({:.0}/s), {changed} changed, {events} re-check events   (goal ≤ {GOAL_S} s for 100 000: {})",
        imported - started,
        finished - first,
        rechecked as f64 / (finished - first).max(0.001),
        if after <= GOAL_S { "met" } else { "missed" }
    );
}
