//! `SubmitProcedure` over gRPC at concurrency 16 against a running `kovgis serve`: drafts made
//! first with `CreateProcedure` (timed apart), then each submitted once — the spatial check,
//! the stored report, the coordination requests, the decision clock, the event, the outbox
//! messages and the audit event in one transaction — and only the Submit call timed.
//!
//! Every call carries the token of an official and approver of the procedure's municipality
//! (one per municipality, verified once, then from the server's cache) and submits with an
//! override reason, so that a footprint with blocking findings is submitted too (a refused
//! submission writes nothing and would flatter the figure).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kovgis_api::v1;
use kovgis_api::v1::procedure_service_client::ProcedureServiceClient;
use kovgis_auth::{Claims, DevKey, Role};
use tonic::transport::Channel;

use crate::auth_cost::with_token;
use crate::samples::Sample;
use crate::stats::summary;

/// Who submits: `bench-submitter-<municipality>`.
pub const SUBMITTER: &str = "bench-submitter-";

/// The types the submissions cycle through (each with the fields it needs).
const TYPES: [v1::ProcedureType; 4] = [
    v1::ProcedureType::BuildingPermit,
    v1::ProcedureType::ExcavationPermit,
    v1::ProcedureType::FellingPermit,
    v1::ProcedureType::DesignCriteria,
];

/// Latencies (ms) and wall time of one phase.
pub struct Phase {
    pub latencies: Vec<f64>,
    pub wall_s: f64,
}

impl Phase {
    pub fn line(&self, what: &str) -> String {
        let n = self.latencies.len();
        let (p50, p99, _) = summary(self.latencies.clone());
        format!(
            "{what}: {n} calls, p50 {p50:.1} ms, p99 {p99:.1} ms, {:.0}/s",
            n as f64 / self.wall_s
        )
    }
}

/// Tokens of an official and approver per municipality.
pub fn tokens(key: &DevKey, samples: &[Sample]) -> Arc<BTreeMap<String, String>> {
    let mut map = BTreeMap::new();
    for s in samples {
        map.entry(s.municipality.clone()).or_insert_with(|| {
            let claims = Claims::dev(
                format!("{SUBMITTER}{}", s.municipality),
                Duration::from_secs(6 * 3600),
            )
            .municipality(s.municipality.clone())
            .role(Role::Official)
            .role(Role::Approver);
            key.mint(&claims).expect("minting")
        });
    }
    Arc::new(map)
}

/// Creates one draft per sample at `concurrency`; the drafts' names and versions, in order.
pub async fn create_drafts(
    channels: &[Channel],
    tokens: &Arc<BTreeMap<String, String>>,
    samples: &[Sample],
    concurrency: usize,
) -> (Vec<(String, String, i64)>, Phase) {
    let samples = Arc::new(samples.to_vec());
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..concurrency {
        let mut client = ProcedureServiceClient::new(channels[w % channels.len()].clone());
        let (samples, tokens) = (samples.clone(), tokens.clone());
        tasks.push(tokio::spawn(async move {
            let mut made = Vec::new();
            let mut lat = Vec::new();
            for i in (w..samples.len()).step_by(concurrency) {
                let s = &samples[i];
                let req = with_token(create(i, s), &tokens[&s.municipality]);
                let t = Instant::now();
                let p = client
                    .create_procedure(req)
                    .await
                    .expect("CreateProcedure")
                    .into_inner();
                lat.push(t.elapsed().as_secs_f64() * 1e3);
                made.push((i, (s.municipality.clone(), p.name, p.version)));
            }
            (made, lat)
        }));
    }
    let mut all = Vec::new();
    let mut latencies = Vec::new();
    for t in tasks {
        let (made, lat) = t.await.expect("a creating task");
        all.extend(made);
        latencies.extend(lat);
    }
    all.sort_by_key(|(i, _)| *i);
    let wall_s = started.elapsed().as_secs_f64();
    (
        all.into_iter().map(|(_, d)| d).collect(),
        Phase { latencies, wall_s },
    )
}

/// Submits every draft once at `concurrency`, timing each Submit call.
pub async fn submit_all(
    channels: &[Channel],
    tokens: &Arc<BTreeMap<String, String>>,
    drafts: &[(String, String, i64)],
    concurrency: usize,
) -> Phase {
    let drafts = Arc::new(drafts.to_vec());
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..concurrency {
        let mut client = ProcedureServiceClient::new(channels[w % channels.len()].clone());
        let (drafts, tokens) = (drafts.clone(), tokens.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            for i in (w..drafts.len()).step_by(concurrency) {
                let (municipality, name, version) = &drafts[i];
                let req = with_token(
                    v1::SubmitProcedureRequest {
                        name: name.clone(),
                        version: *version,
                        override_blocking_reason: "benchmark: submitted whatever the check finds"
                            .into(),
                    },
                    &tokens[municipality],
                );
                let t = Instant::now();
                let p = client
                    .submit_procedure(req)
                    .await
                    .expect("SubmitProcedure")
                    .into_inner();
                lat.push(t.elapsed().as_secs_f64() * 1e3);
                assert!(p.report.is_some(), "a submitted procedure has its report");
            }
            lat
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.expect("a submitting task"));
    }
    Phase {
        latencies,
        wall_s: started.elapsed().as_secs_f64(),
    }
}

/// A draft application of the `i`-th type on the sample's footprint.
fn create(i: usize, s: &Sample) -> v1::CreateProcedureRequest {
    use v1::procedure_details::Details;
    let t = TYPES[i % TYPES.len()];
    let works = Some(v1::DatePeriod {
        first_day: "2027-05-03".into(),
        last_day: "2027-05-21".into(),
    });
    let (works, details, intended_use) = match t {
        v1::ProcedureType::ExcavationPermit => (
            works,
            Some(Details::Excavation(v1::ExcavationDetails {
                road_surface: "asphalt".into(),
                traffic_impact: v1::TrafficImpact::Partial as i32,
            })),
            "excavation",
        ),
        v1::ProcedureType::FellingPermit => (
            works,
            Some(Details::Felling(v1::FellingDetails {
                trees: vec![v1::Tree {
                    species: "Tilia cordata".into(),
                    trunk_diameter_cm: 42,
                    count: 2,
                }],
            })),
            "tree_felling",
        ),
        v1::ProcedureType::BuildingPermit => (
            None,
            Some(Details::BuildingPermit(v1::BuildingPermitDetails {
                ehr_procedure_id: format!("EHR-BENCH-{i}"),
            })),
            "residential_building",
        ),
        _ => (None, None, "residential_building"),
    };
    v1::CreateProcedureRequest {
        municipality_code: s.municipality.clone(),
        r#type: t as i32,
        contents: Some(v1::ProcedureContents {
            applicant: Some(v1::Applicant {
                name: format!("Taotleja {i}"),
                id_code: format!("{}", 10_000_000 + i % 90_000_000),
                email: format!("taotleja{i}@example.ee"),
                phone: String::new(),
            }),
            description: format!("{} (benchmark {i})", t.as_str_name()),
            geometry: Some(v1::Geometry {
                value: Some(v1::geometry::Value::Wkb(kovgis_core::output::to_wkb(
                    &geo::Geometry::Polygon(s.polygon.clone()),
                ))),
                epsg: 3301,
            }),
            parcel_codes: vec![],
            intended_use: intended_use.into(),
            works_period: works,
            details: details.map(|d| v1::ProcedureDetails { details: Some(d) }),
            attachments: vec![v1::Attachment {
                name: "plan.pdf".into(),
                media_type: "application/pdf".into(),
                size_bytes: 123_456,
                sha256: "a".repeat(64),
                uri: format!("https://dhs.example.ee/documents/{i}"),
            }],
        }),
        idempotency_key: String::new(),
    }
}
