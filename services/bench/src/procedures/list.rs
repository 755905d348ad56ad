//! `ListProcedures` with a spatial and a state filter, as an official of the municipality with
//! most procedures under review: a 1 km × 1 km box around one of them (so pages are not empty)
//! and `state = under_review`, newest first, the default page (50), at concurrency 1 — in the
//! basic view (what a map of them shows: the goal's figure) and in the full view (each
//! procedure's whole report and coordination requests). When the median misses its goal, prints
//! the plan of the store's query for one of the boxes (`EXPLAIN ANALYZE` as the service role
//! with the official's caller settings).

use std::time::{Duration, Instant};

use kovgis_api::v1;
use kovgis_api::v1::procedure_service_client::ProcedureServiceClient;
use kovgis_auth::{Claims, DevKey, Role};
use tokio_postgres::{Client, NoTls};
use tonic::transport::Channel;

use crate::auth_cost::with_token;
use crate::stats::summary;

/// Goal: median at most this many milliseconds.
pub const GOAL_P50_MS: f64 = 5.0;
const CALLS: usize = 300;
const WARM_UP: usize = 30;
const STATE: &str = "under_review";

/// What was measured.
pub struct Listed {
    pub view: v1::ProcedureView,
    pub municipality: String,
    pub under_review: i64,
    pub calls: usize,
    pub p50: f64,
    pub p99: f64,
    pub rows_mean: f64,
    /// The mean size of a page as sent (protobuf bytes).
    pub bytes_mean: f64,
}

/// Runs the calls; prints the plan when the goal is missed.
pub async fn run(
    channel: &Channel,
    key: &DevKey,
    admin: &Client,
    service_url: &str,
    view: v1::ProcedureView,
) -> Listed {
    let r = admin
        .query_one(
            "SELECT municipality_code::text, count(*) FROM procedure WHERE state = $1
             GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1",
            &[&STATE],
        )
        .await
        .expect("the municipality with most procedures under review");
    let (municipality, under_review): (String, i64) = (r.get(0), r.get(1));
    let centres: Vec<(f64, f64)> = admin
        .query(
            "SELECT ST_X(c), ST_Y(c) FROM (
                 SELECT ST_Centroid(geom) AS c FROM procedure
                 WHERE municipality_code = $1 AND state = $2
                 ORDER BY hashtext(id::text) LIMIT $3) s",
            &[&municipality, &STATE, &((CALLS + WARM_UP) as i64)],
        )
        .await
        .expect("picking the boxes")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let token = key
        .mint(
            &Claims::dev(
                format!("bench-official-{municipality}"),
                Duration::from_secs(3600),
            )
            .municipality(municipality.clone())
            .role(Role::Official),
        )
        .expect("minting");
    let request = |(x, y): (f64, f64)| v1::ListProceduresRequest {
        municipality_code: municipality.clone(),
        state: STATE.into(),
        bbox: Some(v1::BoundingBox {
            min_x: x - 500.0,
            min_y: y - 500.0,
            max_x: x + 500.0,
            max_y: y + 500.0,
            epsg: 3301,
        }),
        sort: v1::ProcedureSort::CreatedDesc as i32,
        view: view as i32,
        ..Default::default()
    };
    let mut client =
        ProcedureServiceClient::new(channel.clone()).max_decoding_message_size(64 << 20);
    let mut lat = Vec::new();
    let mut rows = 0usize;
    let mut bytes = 0usize;
    for (i, c) in centres.iter().cycle().take(CALLS + WARM_UP).enumerate() {
        let t = Instant::now();
        let page = client
            .list_procedures(with_token(request(*c), &token))
            .await
            .expect("ListProcedures")
            .into_inner();
        if i >= WARM_UP {
            lat.push(t.elapsed().as_secs_f64() * 1e3);
            rows += page.procedures.len();
            bytes += prost::Message::encoded_len(&page);
        }
    }
    let calls = lat.len();
    let (p50, p99, _) = summary(lat);
    if p50 > GOAL_P50_MS {
        explain(service_url, &municipality, centres[0]).await;
    }
    Listed {
        view,
        municipality,
        under_review,
        calls,
        p50,
        p99,
        rows_mean: rows as f64 / calls.max(1) as f64,
        bytes_mean: bytes as f64 / calls.max(1) as f64,
    }
}

/// The plan of the store's listing query (its filter, order and limit) for one box.
async fn explain(service_url: &str, municipality: &str, (x, y): (f64, f64)) {
    let (c, conn) = tokio_postgres::connect(service_url, NoTls)
        .await
        .expect("connecting as the service role");
    tokio::spawn(conn);
    let b = format!(
        "ST_MakeEnvelope({}, {}, {}, {}, 3301)",
        x - 500.0,
        y - 500.0,
        x + 500.0,
        y + 500.0
    );
    let sql = format!(
        "BEGIN; SELECT set_config('kovgis.subject', 'bench-official-{municipality}', true),
                set_config('kovgis.municipality', '{municipality}', true),
                set_config('kovgis.reach', 'own', true);
         EXPLAIN (ANALYZE, BUFFERS) SELECT p.id, p.report FROM procedure p
         WHERE p.municipality_code = '{municipality}' AND p.state = '{STATE}'
           AND p.geom && {b} AND ST_Intersects(p.geom, {b})
         ORDER BY p.created_at DESC, p.id DESC LIMIT 51"
    );
    println!("  plan of the listing query (goal missed):");
    for m in c.simple_query(&sql).await.expect("EXPLAIN") {
        if let tokio_postgres::SimpleQueryMessage::Row(r) = m
            && let Some(line) = r.get(0)
            && r.columns()[0].name() == "QUERY PLAN"
        {
            println!("    {line}");
        }
    }
    let _ = c.batch_execute("ROLLBACK").await;
}
