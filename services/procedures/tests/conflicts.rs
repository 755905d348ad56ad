//! Conflicts between procedures (CONFLICTS_WITH_PROCEDURE) through the generated clients over a
//! real socket, against the demo database: two excavation permits on one street in the same
//! weeks; periods that touch by one day and periods a day apart; areas apart and a sliver; a
//! neighbouring municipality's procedure (nothing private revealed); a granted procedure whose
//! works are over and a withdrawn one; and two servers on one database.
//!
//! Areas are 8 m squares around CLEAR_SQUARE ((657550, 6476815)–(657558, 6476823)), which lies
//! more than 20 m from every restriction of the demo layers, so each shift of a few metres stays
//! clear of them. The default works period of the harness is 3–21 May 2027.
//!
//! The spatial check runs on the real date (the injected clock moves deadlines, not the map;
//! see `service::submit`), so "works over" is shown with a works period in 2025 and "works not
//! over" with one in 2190 — both sides of any date these tests may run on.

mod common;

use std::time::{Duration, Instant};

use common::*;
use kovgis_api::v1::spatial_service_client::SpatialServiceClient;
use prost::Message;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

const RULE: &str = "CONFLICTS_WITH_PROCEDURE";

/// An excavation permit in Tartu on `area` with works from `first` to `last`.
fn dig(area: &str, first: &str, last: &str) -> v1::CreateProcedureRequest {
    let mut r = create(v1::ProcedureType::ExcavationPermit, area);
    r.contents.as_mut().unwrap().works_period = Some(v1::DatePeriod {
        first_day: first.into(),
        last_day: last.into(),
    });
    r
}

/// Created and submitted by `client`.
async fn submitted(client: &mut Client, req: v1::CreateProcedureRequest) -> v1::Procedure {
    let p = client.create_procedure(req).await.unwrap().into_inner();
    client
        .submit_procedure(v1::SubmitProcedureRequest {
            name: p.name.clone(),
            version: p.version,
            override_blocking_reason: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
}

fn id(p: &v1::Procedure) -> String {
    p.name.rsplit('/').next().unwrap().to_owned()
}

/// The stored report's findings of the rule.
fn findings(p: &v1::Procedure) -> Vec<v1::Finding> {
    p.report
        .as_ref()
        .expect("a stored report")
        .findings
        .iter()
        .filter(|f| f.rule == RULE)
        .cloned()
        .collect()
}

fn codes(fs: &[v1::Finding]) -> Vec<&str> {
    fs.iter().map(|f| f.code.as_str()).collect()
}

/// The ids (feature ids) of the procedures a report says conflict, sorted.
fn conflicting(fs: &[v1::Finding]) -> Vec<String> {
    let mut v: Vec<String> = fs
        .iter()
        .filter(|f| f.code == "PROCEDURE_CONFLICT")
        .map(|f| f.feature_id.clone())
        .collect();
    v.sort();
    v
}

fn attribute(f: &v1::Finding, key: &str) -> Option<String> {
    match f.attributes.as_ref()?.fields.get(key)?.kind.as_ref()? {
        prost_types::value::Kind::StringValue(s) => Some(s.clone()),
        _ => None,
    }
}

fn assert_no_conflict(p: &v1::Procedure) {
    let fs = findings(p);
    assert_eq!(codes(&fs), ["NO_CONFLICT"], "{fs:#?}");
    assert_eq!(fs[0].status, v1::FindingStatus::Passed as i32);
}

#[tokio::test]
async fn two_digs_on_one_street_in_the_same_weeks_conflict() {
    let db = FreshDb::new("conflict_found").await;
    let s = Server::start(&db.url, Mode::InProcess).await;
    let mut applicant = s.client(Some(&s.applicant())).await;

    let first = submitted(
        &mut applicant,
        dig(CLEAR_SQUARE, "2027-05-03", "2027-05-21"),
    )
    .await;
    assert_no_conflict(&first);
    // 4 m east: (657554, 6476815)–(657562, 6476823) shares a 4 m × 8 m = 32 m² strip, half its
    // area; 10–31 May shares 10–21 May with the first.
    let second = submitted(
        &mut applicant,
        dig(
            &square(657554.0, 6476815.0, 8.0),
            "2027-05-10",
            "2027-05-31",
        ),
    )
    .await;
    assert_eq!(second.state, "under_review", "a warning does not stop it");
    let fs = findings(&second);
    assert_eq!(codes(&fs), ["PROCEDURE_CONFLICT"], "{fs:#?}");
    let f = &fs[0];
    assert_eq!(f.feature_id, id(&first));
    assert_eq!(f.layer_name, "procedures");
    assert_eq!(f.feature_name, "excavation_permit");
    assert_eq!(f.status, v1::FindingStatus::Failed as i32);
    assert_eq!(f.severity, v1::Severity::Warning as i32);
    assert!((f.overlap_area_m2.unwrap() - 32.0).abs() < 1e-6, "{f:?}");
    assert!((f.overlap_share_pct.unwrap() - 50.0).abs() < 1e-6, "{f:?}");
    assert_eq!(
        attribute(f, "works_first_day").as_deref(),
        Some("2027-05-03")
    );
    assert_eq!(
        attribute(f, "works_last_day").as_deref(),
        Some("2027-05-21")
    );
    assert_eq!(attribute(f, "procedure_id"), Some(id(&first)));
    assert!(f.message.contains("2027-05-03–2027-05-21"), "{}", f.message);
    let report = second.report.as_ref().unwrap();
    assert!(report.rule_versions.iter().any(|v| v.rule == RULE
        && v.version == 1
        && v.municipality_code.is_empty()
        && v.status == v1::FindingStatus::Failed as i32));
}

#[tokio::test]
async fn periods_touching_by_one_day_conflict_and_a_day_apart_do_not() {
    let db = FreshDb::new("conflict_days").await;
    let s = Server::start(&db.url, Mode::InProcess).await;
    let mut applicant = s.client(Some(&s.applicant())).await;
    let over = square(657554.0, 6476815.0, 8.0);

    let first = submitted(
        &mut applicant,
        dig(CLEAR_SQUARE, "2027-05-03", "2027-05-21"),
    )
    .await;
    // 22–30 May starts the day after 3–21 May ends.
    let after = submitted(&mut applicant, dig(&over, "2027-05-22", "2027-05-30")).await;
    assert_no_conflict(&after);
    // 21–30 May shares the 21st with the first, and 22–30 May with `after` (same area).
    let touching = submitted(&mut applicant, dig(&over, "2027-05-21", "2027-05-30")).await;
    let mut expected = vec![id(&first), id(&after)];
    expected.sort();
    assert_eq!(conflicting(&findings(&touching)), expected);
}

#[tokio::test]
async fn areas_apart_and_a_sliver_do_not_conflict() {
    let db = FreshDb::new("conflict_apart").await;
    let s = Server::start(&db.url, Mode::InProcess).await;
    let mut applicant = s.client(Some(&s.applicant())).await;

    submitted(
        &mut applicant,
        dig(CLEAR_SQUARE, "2027-05-03", "2027-05-21"),
    )
    .await;
    // 2 m west of it: (657540, …)–(657548, …).
    let apart = submitted(
        &mut applicant,
        dig(
            &square(657540.0, 6476815.0, 8.0),
            "2027-05-03",
            "2027-05-21",
        ),
    )
    .await;
    assert_no_conflict(&apart);
    // From x = 657557.9: a 0.1 m × 8 m = 0.8 m² strip, more than the 0.5 m² sliver area but
    // 2 × 0.8 / 16.2 ≈ 0.099 m wide on average, under the 0.1 m sliver width.
    let sliver = submitted(
        &mut applicant,
        dig(
            &square(657557.9, 6476815.0, 8.0),
            "2027-05-03",
            "2027-05-21",
        ),
    )
    .await;
    assert_no_conflict(&sliver);
    // From x = 657557.7: 0.3 m × 8 m = 2.4 m², 2 × 2.4 / 16.6 ≈ 0.29 m wide: a conflict (with the
    // first, and with the sliver, which it overlaps by 7.8 m × 8 m).
    let wider = submitted(
        &mut applicant,
        dig(
            &square(657557.7, 6476815.0, 8.0),
            "2027-05-03",
            "2027-05-21",
        ),
    )
    .await;
    assert_eq!(conflicting(&findings(&wider)).len(), 2);
}

#[tokio::test]
async fn across_a_border_only_the_type_period_and_municipality_are_told() {
    const TARTU_VALD: &str = "0796";
    let db = FreshDb::new("conflict_border").await;
    let s = Server::start(&db.url, Mode::InProcess).await;
    let mut neighbour = s.client(Some(&s.official(TARTU_VALD))).await;
    let mut applicant = s.client(Some(&s.applicant())).await;

    // Tartu vald's procedure, on ground the Tartu proposal overlaps (the conflict check looks at
    // areas, not at which side of the border the municipality's boundary draws).
    let mut req = dig(CLEAR_SQUARE, "2027-05-03", "2027-05-21");
    req.municipality_code = TARTU_VALD.into();
    let secret_description = "Trench for the Jaani farm water main";
    {
        let c = req.contents.as_mut().unwrap();
        c.applicant = Some(v1::Applicant {
            name: "Jaan Tamm".into(),
            id_code: "10137319".into(),
            email: "jaan.tamm@example.ee".into(),
            phone: "+372 5123 4567".into(),
        });
        c.description = secret_description.into();
    }
    let theirs = submitted(&mut neighbour, req).await;
    assert_eq!(theirs.state, "under_review");

    let ours = submitted(
        &mut applicant,
        dig(
            &square(657554.0, 6476815.0, 8.0),
            "2027-05-10",
            "2027-05-31",
        ),
    )
    .await;
    let fs = findings(&ours);
    assert_eq!(codes(&fs), ["PROCEDURE_CONFLICT"], "{fs:#?}");
    let f = &fs[0];
    assert_eq!(f.feature_name, "excavation_permit");
    assert_eq!(
        attribute(f, "municipality_code").as_deref(),
        Some(TARTU_VALD)
    );
    assert_eq!(
        attribute(f, "works_first_day").as_deref(),
        Some("2027-05-03")
    );
    assert_eq!(
        attribute(f, "works_last_day").as_deref(),
        Some("2027-05-21")
    );
    assert_eq!(attribute(f, "procedure_id"), None);
    assert!(f.message.contains(TARTU_VALD), "{}", f.message);
    // No area, no outline.
    assert!(f.geometry.is_none() && f.overlap_area_m2.is_none() && f.overlap_share_pct.is_none());
    // An opaque id, not theirs.
    assert_eq!(f.feature_id.len(), 32);
    assert_ne!(f.feature_id, id(&theirs));
    // Nothing of theirs anywhere in the report, however it is written out.
    let report = ours.report.as_ref().unwrap();
    let debug = format!("{report:?}");
    let bytes = String::from_utf8_lossy(&report.encode_to_vec()).into_owned();
    let their_id = id(&theirs);
    let no_hyphens = their_id.replace('-', "");
    for secret in [
        their_id.as_str(),
        no_hyphens.as_str(),
        "Jaan Tamm",
        "10137319",
        "jaan.tamm@example.ee",
        "5123 4567",
        secret_description,
    ] {
        assert!(!debug.contains(secret), "{secret} in {debug}");
        assert!(!bytes.contains(secret), "{secret} in the encoded report");
    }
}

#[tokio::test]
async fn a_granted_procedure_whose_works_are_over_and_a_withdrawn_one_no_longer_conflict() {
    let db = FreshDb::new("conflict_ended").await;
    let s = Server::start(&db.url, Mode::InProcess).await;
    let mut applicant = s.client(Some(&s.applicant())).await;
    let mut approver = s.client(Some(&s.approver(TARTU))).await;
    let over = square(657554.0, 6476815.0, 8.0);
    let grant = |p: v1::Procedure| v1::DecideRequest {
        name: p.name.clone(),
        version: p.version,
        decision: v1::Decision::Grant as i32,
        reasons: "Meets the excavation regulation".into(),
        conditions: String::new(),
    };

    // Works in May 2025: over on any day these tests run.
    let past = submitted(
        &mut applicant,
        dig(CLEAR_SQUARE, "2025-05-03", "2025-05-21"),
    )
    .await;
    // While it is under review it counts, whatever the date.
    let early = submitted(&mut applicant, dig(&over, "2025-05-10", "2025-05-31")).await;
    assert_eq!(conflicting(&findings(&early)), [id(&past)]);
    let granted = approver.decide(grant(past)).await.unwrap().into_inner();
    assert_eq!(granted.state, "granted");
    let early = applicant
        .withdraw(v1::WithdrawRequest {
            name: early.name.clone(),
            version: early.version,
            reason: "dug elsewhere".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(early.state, "withdrawn");
    // The same ground and days again: the granted one's works are over, the other is withdrawn.
    let late = submitted(&mut applicant, dig(&over, "2025-05-10", "2025-05-31")).await;
    assert_no_conflict(&late);

    // Granted with works in 2190, not yet over: it still counts.
    let future = submitted(
        &mut applicant,
        dig(CLEAR_SQUARE, "2190-05-03", "2190-05-21"),
    )
    .await;
    let future = approver.decide(grant(future)).await.unwrap().into_inner();
    assert_eq!(future.state, "granted");
    let next = submitted(&mut applicant, dig(&over, "2190-05-21", "2190-05-31")).await;
    assert_eq!(conflicting(&findings(&next)), [id(&future)]);
}

/// `authorization: Bearer <token>` on every SpatialService call.
#[derive(Clone)]
struct Token(tonic::metadata::MetadataValue<tonic::metadata::Ascii>);

impl tonic::service::Interceptor for Token {
    fn call(&mut self, mut r: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        r.metadata_mut().insert("authorization", self.0.clone());
        Ok(r)
    }
}

type Spatial = SpatialServiceClient<InterceptedService<Channel, Token>>;

/// The conflict findings server `s` gives now for a Tartu excavation permit on `area` in May
/// 2027, through its SpatialService.
async fn check_on(client: &mut Spatial, area: &str) -> Vec<v1::Finding> {
    let r = client
        .validate_geometry(v1::ValidateGeometryRequest {
            municipality_code: TARTU.into(),
            procedure_type: "excavation_permit".into(),
            geometry: Some(wkt(area)),
            intended_use: "excavation".into(),
            works_period: Some(v1::WorksPeriod {
                first_day: "2027-05-10".into(),
                last_day: "2027-05-31".into(),
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    r.findings.into_iter().filter(|f| f.rule == RULE).collect()
}

/// Polls `check` until `done` holds of its findings, for at most 5 s.
async fn eventually(
    client: &mut Spatial,
    area: &str,
    done: impl Fn(&[v1::Finding]) -> bool,
) -> Vec<v1::Finding> {
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let fs = check_on(client, area).await;
        if done(&fs) || Instant::now() > until {
            return fs;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn a_procedure_submitted_on_one_server_is_found_by_another() {
    let db = FreshDb::new("conflict_instances").await;
    let a = Server::start(&db.url, Mode::InProcess).await;
    let b = Server::start(&db.url, Mode::InProcess).await;
    let mut applicant = a.client(Some(&a.applicant())).await;
    let token = Token(format!("Bearer {}", b.official(TARTU)).parse().unwrap());
    let mut on_b = SpatialServiceClient::with_interceptor(b.channel().await, token);
    let over = square(657554.0, 6476815.0, 8.0);

    assert_eq!(codes(&check_on(&mut on_b, &over).await), ["NO_CONFLICT"]);
    let p = submitted(
        &mut applicant,
        dig(CLEAR_SQUARE, "2027-05-03", "2027-05-21"),
    )
    .await;
    let fs = eventually(&mut on_b, &over, |fs| !conflicting(fs).is_empty()).await;
    assert_eq!(
        conflicting(&fs),
        [id(&p)],
        "server B learns of it by notification"
    );

    // Withdrawn on A: B drops it.
    applicant
        .withdraw(v1::WithdrawRequest {
            name: p.name.clone(),
            version: p.version,
            reason: "not needed".into(),
        })
        .await
        .unwrap();
    let fs = eventually(&mut on_b, &over, |fs| conflicting(fs).is_empty()).await;
    assert_eq!(codes(&fs), ["NO_CONFLICT"]);
}

/// A bulk load in SQL (6 000 procedures in one transaction: more notifications than the index
/// reads in one refresh; a burst of 5 000 or more waiting at once reloads it whole) ends with
/// the index holding them all: a check beside the first or the last finds exactly that one.
#[tokio::test]
async fn procedures_loaded_in_bulk_with_sql_are_found() {
    let db = FreshDb::new("conflict_bulk").await;
    let s = Server::start(&db.url, Mode::InProcess).await;
    let token = Token(format!("Bearer {}", s.official(TARTU)).parse().unwrap());
    let mut spatial = SpatialServiceClient::with_interceptor(s.channel().await, token);
    let over = square(657554.0, 6476815.0, 8.0);
    assert_eq!(codes(&check_on(&mut spatial, &over).await), ["NO_CONFLICT"]);

    // 100 × 60 excavation permits under review, 8 m squares 12 m apart, the first one on
    // CLEAR_SQUARE ((657550, 6476815)–(657558, 6476823)), all digging 3–21 May 2027.
    let sql = db.sql().await;
    sql.batch_execute(
        "INSERT INTO procedure (municipality_code, procedure_type, workflow_id, state, created_by,
                                request_hash, applicant_name, applicant_code, description, geom,
                                intended_use, works_first_day, works_last_day)
         SELECT '0793', 'excavation_permit', w.id, 'under_review', 'test:bulk',
                'bulk-' || i || '-' || j, 'Taotleja', '10000001', 'bulk',
                ST_Multi(ST_MakeEnvelope(657550 + i * 12, 6476815 + j * 12,
                                         657558 + i * 12, 6476823 + j * 12, 3301)),
                'excavation', date '2027-05-03', date '2027-05-21'
         FROM workflow_version w, generate_series(0, 99) i, generate_series(0, 59) j
         WHERE w.municipality_code IS NULL AND w.procedure_type = 'excavation_permit'",
    )
    .await
    .unwrap();
    let first: String = sql
        .query_one(
            "SELECT id::text FROM procedure WHERE request_hash = 'bulk-0-0'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let fs = eventually(&mut spatial, &over, |fs| !conflicting(fs).is_empty()).await;
    assert_eq!(conflicting(&fs), [first]);
    // And the last, (99, 59) at (658738, 6477523): 4 m east of it, as `over` is of the first.
    let far = square(658742.0, 6477523.0, 8.0);
    let last: String = sql
        .query_one(
            "SELECT id::text FROM procedure WHERE request_hash = 'bulk-99-59'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let fs = eventually(&mut spatial, &far, |fs| !conflicting(fs).is_empty()).await;
    assert_eq!(conflicting(&fs), [last]);
}
