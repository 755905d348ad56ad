//! `kovgis-bench-validate auth KEY PLAIN AUTHED FULL`: what identity and row-level security cost,
//! against three `kovgis serve` processes on the same database, in the same run:
//!
//! - PLAIN: authentication off (`--insecure-no-auth`), connected as a superuser (row-level
//!   security bypassed): what these benchmarks measured before issue 11;
//! - AUTHED: ES256 tokens verified (JWKS holding the public half of KEY), still a superuser;
//! - FULL: tokens verified and connected as `kovgis_service`, row-level security applied — how
//!   kovgis is deployed.
//!
//! Two loads, each in 7 rounds that visit the servers in turn (so drift falls on all alike),
//! 3 s per server and round:
//!
//! - `ValidateGeometry` at concurrency 64 over 4 HTTP/2 connections; each of the 64 clients
//!   reuses a token of its own (a state system with `kovgis:validate:building_permit`, the
//!   building register's grant), so after its first call the server's token cache answers;
//! - `QueryFeatures` on one municipality's zoning layer around footprints in it (a 200 m margin),
//!   at concurrency 12 (the servers run with `--max-feature-streams 12`), each client a token of
//!   that municipality's official: every stream sets the caller in its transaction, and FULL
//!   filters rows through the policies.
//!
//! Prints per round throughput, p50 and p99, then the median throughputs and the median of the
//! per-round ratios (each round's servers measured back to back, so the load client's and the
//! machine's drift cancels; goal: at most 5 % lost at concurrency 64).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kovgis_api::v1;
use kovgis_api::v1::spatial_service_client::SpatialServiceClient;
use kovgis_auth::{Claims, DevKey, Role};
use tonic::transport::Channel;

use crate::samples::samples;
use crate::stats::summary;

const ROUNDS: usize = 7;
const ROUND: Duration = Duration::from_secs(3);
const VALIDATORS: usize = 64;
const READERS: usize = 12;

/// One server under test: its name and connections.
struct Target {
    name: &'static str,
    channels: Vec<Channel>,
}

/// What one client sends: a request with its token.
type Call = Arc<dyn Fn(SpatialServiceClient<Channel>, usize) -> CallFuture + Send + Sync>;
type CallFuture = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

/// Runs the benchmark (see the module header).
pub async fn run(key_file: &str, addrs: [&str; 3], url: &str) {
    let (db, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connecting");
    tokio::spawn(conn);
    let key = DevKey::load(key_file.as_ref()).expect("loading the benchmark's signing key");
    let all = samples(&db, 2000, false, 11).await;
    // The municipality with most samples: its zoning layer is what QueryFeatures reads.
    let municipality = {
        let mut counts = std::collections::BTreeMap::<&str, usize>::new();
        for s in &all {
            *counts.entry(&s.municipality).or_default() += 1;
        }
        let (code, _) = counts.into_iter().max_by_key(|(_, n)| *n).expect("samples");
        code.to_owned()
    };
    let validations: Arc<Vec<v1::ValidateGeometryRequest>> =
        Arc::new(all.iter().map(validation).collect());
    let queries: Arc<Vec<v1::QueryFeaturesRequest>> = Arc::new(
        all.iter()
            .filter(|s| s.municipality == municipality)
            .map(|s| query(&municipality, &s.polygon))
            .collect(),
    );
    let hour = Duration::from_secs(3600);
    let validator_tokens: Arc<Vec<String>> = Arc::new(
        (0..VALIDATORS)
            .map(|i| {
                let claims = Claims::dev(format!("bench-ehr-{i}"), hour)
                    .scope("kovgis:validate:building_permit");
                key.mint(&claims).expect("minting")
            })
            .collect(),
    );
    let reader_tokens: Arc<Vec<String>> = Arc::new(
        (0..READERS)
            .map(|i| {
                let claims = Claims::dev(format!("bench-official-{i}"), hour)
                    .municipality(municipality.clone())
                    .role(Role::Official);
                key.mint(&claims).expect("minting")
            })
            .collect(),
    );
    let mut targets = Vec::new();
    for (name, addr) in ["plain", "authed", "full"].into_iter().zip(addrs) {
        let mut channels = Vec::new();
        for _ in 0..4 {
            channels.push(connect(addr).await);
        }
        ready(&channels[0], &validations[0], &validator_tokens[0]).await;
        targets.push(Target { name, channels });
    }
    println!(
        "{} footprints to validate; QueryFeatures on municipalities/{municipality}/layers/zoning around {} of them",
        validations.len(),
        queries.len()
    );

    let validate: Call = {
        let (requests, tokens) = (validations.clone(), validator_tokens.clone());
        Arc::new(move |mut client, i| {
            let req = with_token(
                requests[i % requests.len()].clone(),
                &tokens[i % tokens.len()],
            );
            Box::pin(async move {
                client.validate_geometry(req).await.expect("validate");
            })
        })
    };
    let read: Call = {
        let (requests, tokens) = (queries.clone(), reader_tokens.clone());
        Arc::new(move |mut client, i| {
            let req = with_token(
                requests[i % requests.len()].clone(),
                &tokens[i % tokens.len()],
            );
            Box::pin(async move {
                let mut stream = client
                    .query_features(req)
                    .await
                    .expect("query")
                    .into_inner();
                while stream.message().await.expect("features").is_some() {}
            })
        })
    };
    // Warm-up: every server has built its index and verified every token once.
    for t in &targets {
        let client = SpatialServiceClient::new(t.channels[0].clone());
        for i in 0..VALIDATORS.max(200) {
            validate(client.clone(), i).await;
        }
        for i in 0..READERS.max(50) {
            read(client.clone(), i).await;
        }
    }
    compare("ValidateGeometry", VALIDATORS, &validate, &targets).await;
    compare("QueryFeatures", READERS, &read, &targets).await;
}

/// Rounds of `call` at `concurrency` against every target in turn; prints each round and the
/// ratios of the median throughputs against the first target.
async fn compare(what: &str, concurrency: usize, call: &Call, targets: &[Target]) {
    let mut rates = vec![Vec::new(); targets.len()];
    for round in 1..=ROUNDS {
        for (k, t) in targets.iter().enumerate() {
            let (rate, p50, p99) = load(concurrency, call, &t.channels).await;
            println!(
                "{what}, concurrency {concurrency}, round {round}, {:<6}: {rate:>7.0}/s   p50 {p50:.2} ms   p99 {p99:.2} ms",
                t.name
            );
            rates[k].push(rate);
        }
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let ratio =
        |a: usize, b: usize| median((0..ROUNDS).map(|r| rates[a][r] / rates[b][r]).collect());
    for (k, t) in targets.iter().enumerate() {
        println!(
            "{what}: {:<6} median {:.0}/s",
            t.name,
            median(rates[k].clone())
        );
    }
    for k in 1..targets.len() {
        let r = ratio(k, 0);
        println!(
            "{what}: {} / {} = {r:.3} ({:+.1} %, median of the per-round ratios)",
            targets[k].name,
            targets[0].name,
            (r - 1.0) * 100.0
        );
    }
    if targets.len() == 3 {
        let r = ratio(2, 1);
        println!(
            "{what}: {} / {} = {r:.3} ({:+.1} %, row-level security alone)",
            targets[2].name,
            targets[1].name,
            (r - 1.0) * 100.0
        );
    }
}

/// `concurrency` clients calling for one round; (calls/s, p50 ms, p99 ms).
async fn load(concurrency: usize, call: &Call, channels: &[Channel]) -> (f64, f64, f64) {
    let deadline = Instant::now() + ROUND;
    let mut tasks = Vec::new();
    for w in 0..concurrency {
        let client = SpatialServiceClient::new(channels[w % channels.len()].clone());
        let call = call.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            // Client w always sends token w (of its kind); the requests rotate.
            let mut i = w;
            while Instant::now() < deadline {
                let t = Instant::now();
                call(client.clone(), i).await;
                lat.push(t.elapsed().as_secs_f64() * 1e3);
                i += concurrency * 7;
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
    (n as f64 / secs, p50, p99)
}

/// A connection to `addr`, waiting (up to 10 minutes) for the server to listen.
pub(crate) async fn connect(addr: &str) -> Channel {
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{addr}")).unwrap();
    for _ in 0..1200 {
        if let Ok(channel) = endpoint.connect().await {
            return channel;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("{addr} did not listen within 10 minutes");
}

/// Waits (up to 10 minutes) until the server behind `channel` has built its index.
pub(crate) async fn ready(channel: &Channel, request: &v1::ValidateGeometryRequest, token: &str) {
    let mut client = SpatialServiceClient::new(channel.clone());
    for _ in 0..600 {
        match client
            .validate_geometry(with_token(request.clone(), token))
            .await
        {
            Ok(_) => return,
            Err(s) if s.code() == tonic::Code::Unavailable => {
                tokio::time::sleep(Duration::from_secs(1)).await
            }
            Err(s) => panic!("the server refused the first validation: {s}"),
        }
    }
    panic!("the index was not built within 10 minutes");
}

pub(crate) fn with_token<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut req = tonic::Request::new(message);
    req.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("token header"),
    );
    req
}

fn validation(s: &crate::samples::Sample) -> v1::ValidateGeometryRequest {
    v1::ValidateGeometryRequest {
        municipality_code: s.municipality.clone(),
        procedure_type: "building_permit".into(),
        geometry: Some(wkb(geo::Geometry::Polygon(s.polygon.clone()))),
        intended_use: "residential_building".into(),
        output: Some(v1::OutputOptions {
            omit_geometry: true,
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The zoning features within 200 m of a footprint.
fn query(municipality: &str, footprint: &geo::Polygon) -> v1::QueryFeaturesRequest {
    use geo::BoundingRect;
    let b = footprint.bounding_rect().expect("a footprint has a box");
    let area = geo::Rect::new(
        geo::coord! { x: b.min().x - 200.0, y: b.min().y - 200.0 },
        geo::coord! { x: b.max().x + 200.0, y: b.max().y + 200.0 },
    );
    v1::QueryFeaturesRequest {
        layer_ref: Some(v1::query_features_request::LayerRef::Layer(format!(
            "municipalities/{municipality}/layers/zoning"
        ))),
        intersects: Some(wkb(geo::Geometry::Polygon(area.to_polygon()))),
        ..Default::default()
    }
}

fn wkb(g: geo::Geometry) -> v1::Geometry {
    v1::Geometry {
        value: Some(v1::geometry::Value::Wkb(kovgis_core::output::to_wkb(&g))),
        epsg: 3301,
    }
}
