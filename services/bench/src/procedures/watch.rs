//! `kovgis-bench-validate procedures-watch KEY ADDR`: e) of the procedures benchmark —
//! `WatchProcedures` with 1 000 watchers while writers change procedures.
//!
//! The 10 municipalities with most procedures under review get 100 watchers each, an official of
//! the municipality watching it (every fourth only building permits), over 8 HTTP/2 connections.
//! Once every stream is open, 4 writers assign procedures under review there (`AssignProcedure`,
//! officials of their municipality) at 50 changes a second in all for 20 s. Each event received
//! is timed from its `occurred_at` — the writing transaction's start, so the figure bounds
//! commit → received from above — to its arrival (one clock: the same machine). Prints the
//! deliveries expected (from what was written and each watcher's filter), received, resumes
//! asked for, and the latency p50/p99/max (goal p99 ≤ 100 ms).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kovgis_api::v1;
use kovgis_api::v1::procedure_service_client::ProcedureServiceClient;
use kovgis_auth::{Claims, DevKey, Role};
use tokio_postgres::Client;

use crate::auth_cost::{connect, with_token};
use crate::stats::summary;

/// Goal: p99 delivery at most this many milliseconds.
pub const GOAL_P99_MS: f64 = 100.0;
const MUNICIPALITIES: i64 = 10;
const PER_MUNICIPALITY: usize = 100;
const CONNECTIONS: usize = 8;
const WRITERS: usize = 4;
const RATE: f64 = 50.0;
const WINDOW: Duration = Duration::from_secs(20);

fn official(key: &DevKey, municipality: &str) -> String {
    key.mint(
        &Claims::dev(
            format!("bench-watch-official-{municipality}"),
            Duration::from_secs(3600),
        )
        .municipality(municipality)
        .role(Role::Official),
    )
    .expect("minting")
}

/// What one watcher saw: latencies (ms), events, resumes.
type Seen = (Vec<f64>, usize, usize);

/// Runs e) and prints it.
pub async fn run(db: &Client, key: &DevKey, addr: &str) {
    let targets: Vec<(String, String, i64, i32)> = db
        .query(
            "WITH m AS (SELECT municipality_code FROM procedure WHERE state = 'under_review'
                        GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT $1)
             SELECT p.municipality_code::text, p.id::text, p.version,
                    CASE p.procedure_type WHEN 'building_permit' THEN 1 ELSE 0 END
             FROM procedure p JOIN m USING (municipality_code)
             WHERE p.state = 'under_review' ORDER BY hashtext(p.id::text) LIMIT 2000",
            &[&MUNICIPALITIES],
        )
        .await
        .expect("picking procedures to change")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    let mut municipalities: Vec<String> = targets.iter().map(|t| t.0.clone()).collect();
    municipalities.sort();
    municipalities.dedup();
    let tokens: Arc<HashMap<String, String>> = Arc::new(
        municipalities
            .iter()
            .map(|m| (m.clone(), official(key, m)))
            .collect(),
    );
    let mut channels = Vec::new();
    for _ in 0..CONNECTIONS {
        channels.push(connect(addr).await);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let mut watchers = Vec::new();
    // (municipality, building permits only) of each watcher.
    let mut filters = Vec::new();
    for (k, m) in municipalities.iter().enumerate() {
        for i in 0..PER_MUNICIPALITY {
            let only_buildings = i % 4 == 3;
            let mut client = ProcedureServiceClient::new(
                channels[(k * PER_MUNICIPALITY + i) % CONNECTIONS].clone(),
            );
            let req = v1::WatchProceduresRequest {
                municipality_code: m.clone(),
                r#type: if only_buildings {
                    v1::ProcedureType::BuildingPermit as i32
                } else {
                    0
                },
                assigned_official: String::new(),
                after_event_id: None,
            };
            let mut stream = client
                .watch_procedures(with_token(req, &tokens[m]))
                .await
                .expect("WatchProcedures")
                .into_inner();
            filters.push((m.clone(), only_buildings));
            let stop = stop.clone();
            watchers.push(tokio::spawn(async move {
                let mut seen: Seen = (Vec::new(), 0, 0);
                loop {
                    let next =
                        tokio::time::timeout(Duration::from_millis(200), stream.message()).await;
                    match next {
                        Ok(Ok(Some(msg))) => match msg.item {
                            Some(v1::watch_procedures_response::Item::Event(e)) => {
                                let now = SystemTime::now()
                                    .duration_since(UNIX_EPOCH)
                                    .expect("clock")
                                    .as_secs_f64();
                                let at = e
                                    .occurred_at
                                    .map_or(now, |t| t.seconds as f64 + f64::from(t.nanos) * 1e-9);
                                seen.0.push((now - at) * 1e3);
                                seen.1 += 1;
                            }
                            Some(v1::watch_procedures_response::Item::Resume(_)) => {
                                seen.2 += 1;
                                break;
                            }
                            None => {}
                        },
                        Ok(Ok(None)) | Ok(Err(_)) => break,
                        Err(_) if stop.load(Ordering::Relaxed) => break,
                        Err(_) => {}
                    }
                }
                seen
            }));
        }
    }
    // Every stream is open (the calls have answered); the writers start.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let targets = Arc::new(targets);
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let mut client = ProcedureServiceClient::new(channels[w % CONNECTIONS].clone());
        let (targets, tokens) = (targets.clone(), tokens.clone());
        writers.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs_f64(WRITERS as f64 / RATE));
            let mut versions: HashMap<usize, i64> = HashMap::new();
            let mut written: Vec<(String, bool)> = Vec::new();
            let end = tokio::time::Instant::now() + WINDOW;
            let mine: Vec<usize> = (w..targets.len()).step_by(WRITERS).collect();
            let mut n = 0usize;
            while tokio::time::Instant::now() < end {
                tick.tick().await;
                let i = mine[n % mine.len()];
                n += 1;
                let (m, id, v0, building) = &targets[i];
                let version = *versions.get(&i).unwrap_or(v0);
                let req = v1::AssignProcedureRequest {
                    name: format!("municipalities/{m}/procedures/{id}"),
                    version,
                    official: format!("official-{m}-{}", n % 3),
                };
                let p = client
                    .assign_procedure(with_token(req, &tokens[m]))
                    .await
                    .expect("AssignProcedure")
                    .into_inner();
                versions.insert(i, p.version);
                written.push((m.clone(), *building == 1));
            }
            written
        }));
    }
    let mut written = Vec::new();
    for w in writers {
        written.extend(w.await.expect("a writer"));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    let (mut received, mut resumes) = (0usize, 0usize);
    for w in watchers {
        let (lat, n, r) = w.await.expect("a watcher");
        latencies.extend(lat);
        received += n;
        resumes += r;
    }
    let expected: usize = filters
        .iter()
        .map(|(m, only_buildings)| {
            written
                .iter()
                .filter(|(wm, b)| wm == m && (!only_buildings || *b))
                .count()
        })
        .sum();
    let (p50, p99, _) = summary(latencies.clone());
    let max = latencies.iter().copied().fold(0.0, f64::max);
    println!(
        "e) WatchProcedures: {} watchers ({} municipalities × {PER_MUNICIPALITY}, a quarter only building permits) while {WRITERS} writers made {} changes at {RATE:.0}/s: {expected} deliveries expected, {received} received, {resumes} resumes; delivery (event's transaction start → received) p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms   (goal p99 ≤ {GOAL_P99_MS} ms: {})",
        filters.len(),
        municipalities.len(),
        written.len(),
        if p99 <= GOAL_P99_MS { "met" } else { "missed" }
    );
}
