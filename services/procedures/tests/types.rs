//! The other procedure types from application to decision (design criteria in the normal and
//! the open procedure, a building-permit review, a tree-felling permit), a withdrawal and a
//! refusal; the ProcedureService running apart from the SpatialService (the check over gRPC,
//! with the caller's token) giving the same findings as in process; and bad applications
//! refused with the field and the reason.

mod common;

use common::*;
use tonic::Code;

async fn submit(c: &mut Client, p: &v1::Procedure) -> v1::Procedure {
    c.submit_procedure(v1::SubmitProcedureRequest {
        name: p.name.clone(),
        version: p.version,
        override_blocking_reason: String::new(),
    })
    .await
    .unwrap()
    .into_inner()
}

async fn decide(
    c: &mut Client,
    p: &v1::Procedure,
    d: v1::Decision,
) -> Result<v1::Procedure, tonic::Status> {
    c.decide(v1::DecideRequest {
        name: p.name.clone(),
        version: p.version,
        decision: d as i32,
        reasons: "Põhjendus".into(),
        conditions: String::new(),
    })
    .await
    .map(|r| r.into_inner())
}

/// Answers every pending coordination request as the official, agreeing.
async fn agree_all(c: &mut Client, mut p: v1::Procedure) -> v1::Procedure {
    for r in p.coordination_requests.clone() {
        if r.status == v1::CoordinationStatus::Pending as i32 {
            p = c
                .record_coordination_response(v1::RecordCoordinationResponseRequest {
                    name: p.name.clone(),
                    version: p.version,
                    number: r.number,
                    status: v1::CoordinationStatus::Agreed as i32,
                    text: "Kooskõlastatud".into(),
                    conditions: String::new(),
                })
                .await
                .unwrap()
                .into_inner();
        }
    }
    p
}

#[tokio::test]
async fn every_other_type_from_application_to_decision() {
    let db = FreshDb::new("proc_types").await;
    let s = Server::start(&db.url, Mode::InProcess).await;
    let mut applicant = s.client(Some(&s.applicant())).await;
    let mut official = s.client(Some(&s.official(TARTU))).await;
    let mut approver = s.client(Some(&s.approver(TARTU))).await;
    for t in [
        v1::ProcedureType::DesignCriteria,
        v1::ProcedureType::BuildingPermit,
        v1::ProcedureType::FellingPermit,
    ] {
        let p = applicant
            .create_procedure(create(t, CLEAR_SQUARE))
            .await
            .unwrap()
            .into_inner();
        let p = submit(&mut applicant, &p).await;
        assert_eq!(p.state, "under_review", "{t:?}");
        assert!(p.report.is_some());
        assert!(
            !p.clock.as_ref().unwrap().deadline.is_empty(),
            "{t:?}: a decision clock"
        );
        let p = agree_all(&mut official, p).await;
        let p = decide(&mut approver, &p, v1::Decision::Grant)
            .await
            .unwrap();
        assert_eq!(p.state, "granted", "{t:?}");
    }

    // Design criteria in the open procedure: granted only after a public display.
    let p = applicant
        .create_procedure(create(v1::ProcedureType::DesignCriteriaOpen, CLEAR_SQUARE))
        .await
        .unwrap()
        .into_inner();
    let p = agree_all(&mut official, submit(&mut applicant, &p).await).await;
    let e = decide(&mut approver, &p, v1::Decision::Grant)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert!(
        e.message().contains("start_public_display"),
        "{}",
        e.message()
    );
    // Notice of 7 days from Monday 1 March 2027: from 9 March; at least 14 days: to 23 March.
    let p = official
        .start_public_display(v1::StartPublicDisplayRequest {
            name: p.name.clone(),
            version: p.version,
            period: Some(v1::DatePeriod {
                first_day: "2027-03-09".into(),
                last_day: "2027-03-23".into(),
            }),
            changes_comprehensive_plan: false,
        })
        .await
        .unwrap()
        .into_inner();
    s.set_now(
        chrono::DateTime::parse_from_rfc3339("2027-03-24T08:00:00+02:00")
            .unwrap()
            .into(),
    );
    let p = official
        .end_public_display(v1::EndPublicDisplayRequest {
            name: p.name.clone(),
            version: p.version,
        })
        .await
        .unwrap()
        .into_inner();
    let p = decide(&mut approver, &p, v1::Decision::Grant)
        .await
        .unwrap();
    assert_eq!(p.state, "granted");

    // A draft withdrawn by its applicant; a felling permit refused.
    let p = applicant
        .create_procedure(create(v1::ProcedureType::FellingPermit, CLEAR_SQUARE))
        .await
        .unwrap()
        .into_inner();
    let w = applicant
        .withdraw(v1::WithdrawRequest {
            name: p.name.clone(),
            version: p.version,
            reason: "Puu jääb alles".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(w.state, "withdrawn");
    let e = submit_err(&mut applicant, &w).await;
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert!(e.message().contains("has ended"), "{}", e.message());
    let p = applicant
        .create_procedure(create(v1::ProcedureType::FellingPermit, CLEAR_SQUARE))
        .await
        .unwrap()
        .into_inner();
    let p = submit(&mut applicant, &p).await;
    let p = decide(&mut approver, &p, v1::Decision::Refuse)
        .await
        .unwrap();
    assert_eq!(p.state, "refused");
    drop(s);
    db.drop_db().await;
}

async fn submit_err(c: &mut Client, p: &v1::Procedure) -> tonic::Status {
    c.submit_procedure(v1::SubmitProcedureRequest {
        name: p.name.clone(),
        version: p.version,
        override_blocking_reason: String::new(),
    })
    .await
    .unwrap_err()
}

#[tokio::test]
async fn the_check_over_grpc_finds_what_the_check_in_process_finds() {
    let db = FreshDb::new("proc_grpc").await;
    let mut findings = Vec::new();
    for mode in [Mode::InProcess, Mode::Grpc] {
        let s = Server::start(&db.url, mode).await;
        let mut applicant = s.client(Some(&s.applicant())).await;
        let p = applicant
            .create_procedure(create(v1::ProcedureType::ExcavationPermit, SHORE_SQUARE))
            .await
            .unwrap()
            .into_inner();
        let p = submit(&mut applicant, &p).await;
        let r = p.report.unwrap();
        let mut keys: Vec<(String, String, String, i32)> = r
            .findings
            .iter()
            .map(|f| {
                (
                    f.rule.clone(),
                    f.feature_id.clone(),
                    f.code.clone(),
                    f.status,
                )
            })
            .collect();
        keys.sort();
        findings.push((keys, r.verdict, p.coordination_requests.len()));
        // Withdrawn, it no longer counts for the next mode's check (else that one would find a
        // conflict with it: CONFLICTS_WITH_PROCEDURE has tests of its own).
        applicant
            .withdraw(v1::WithdrawRequest {
                name: p.name.clone(),
                version: p.version,
                reason: "checked both ways".into(),
            })
            .await
            .unwrap();
        drop(s);
    }
    assert_eq!(findings[0], findings[1]);
    assert!(!findings[0].0.is_empty());
    db.drop_db().await;
}

/// A change that spoils a good request.
type Edit = Box<dyn Fn(&mut v1::CreateProcedureRequest)>;

#[tokio::test]
async fn bad_applications_are_refused_with_the_field() {
    let db = FreshDb::new("proc_bad").await;
    let s = Server::start(&db.url, Mode::InProcess).await;
    let mut c = s.client(Some(&s.applicant())).await;
    let base = create(v1::ProcedureType::ExcavationPermit, CLEAR_SQUARE);
    let cases: Vec<(&str, Edit)> = vec![
        ("type", Box::new(|r| r.r#type = 0)),
        ("type", Box::new(|r| r.r#type = 99)),
        (
            "municipality_code",
            Box::new(|r| r.municipality_code = "79".into()),
        ),
        (
            "contents.applicant.id_code",
            Box::new(|r| {
                r.contents
                    .as_mut()
                    .unwrap()
                    .applicant
                    .as_mut()
                    .unwrap()
                    .id_code = "38001010008".into()
            }),
        ),
        (
            "contents.works_period",
            Box::new(|r| r.contents.as_mut().unwrap().works_period = None),
        ),
        (
            "contents.works_period.last_day",
            Box::new(|r| {
                r.contents.as_mut().unwrap().works_period = Some(v1::DatePeriod {
                    first_day: "2027-05-10".into(),
                    last_day: "2027-05-01".into(),
                })
            }),
        ),
        (
            "contents.details.excavation.traffic_impact",
            Box::new(|r| {
                r.contents.as_mut().unwrap().details = Some(v1::ProcedureDetails {
                    details: Some(v1::procedure_details::Details::Excavation(
                        v1::ExcavationDetails {
                            road_surface: "asphalt".into(),
                            traffic_impact: 0,
                        },
                    )),
                })
            }),
        ),
        (
            "contents.attachments[0].sha256",
            Box::new(|r| r.contents.as_mut().unwrap().attachments[0].sha256 = "XYZ".into()),
        ),
        (
            "contents.geometry",
            Box::new(|r| {
                r.contents.as_mut().unwrap().geometry = Some(wkt("POINT(657550 6476815)"))
            }),
        ),
        (
            "contents.description",
            Box::new(|r| r.contents.as_mut().unwrap().description = " ".into()),
        ),
    ];
    for (field, change) in cases {
        let mut r = base.clone();
        change(&mut r);
        let e = c.create_procedure(r).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{field}: {e:?}");
        use tonic_types::StatusExt;
        let details = e.get_error_details();
        let v = &details
            .bad_request()
            .expect("field violations")
            .field_violations[0];
        assert_eq!(v.field, field, "{e:?}");
    }
    // A building permit has no works period.
    let mut r = create(v1::ProcedureType::BuildingPermit, CLEAR_SQUARE);
    r.contents.as_mut().unwrap().works_period = Some(v1::DatePeriod {
        first_day: "2027-05-01".into(),
        last_day: "2027-05-02".into(),
    });
    let e = c.create_procedure(r).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    // Nothing was written by any of them.
    let n: i64 = db
        .sql()
        .await
        .query_one("SELECT count(*) FROM procedure", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
    drop(s);
    db.drop_db().await;
}
