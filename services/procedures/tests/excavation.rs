//! An excavation permit from application to decision through the gRPC client, against the real
//! database, with the main refusals on the way: the applicant creates and submits; the spatial
//! check's report is stored with the procedure and its findings that name an authority become
//! one coordination request per authority (with a message in the outbox); the authority
//! answers for itself; an official assigns; an approver grants. The history replays to the
//! procedure as it stands.

mod common;

use common::*;
use kovgis_auth::Role;
use tonic::Code;

#[tokio::test]
async fn an_excavation_permit_from_application_to_grant() {
    let db = FreshDb::new("proc_excavation").await;
    let s = Server::start(&db.url, Mode::InProcess).await;
    let mut applicant = s.client(Some(&s.applicant())).await;
    let mut official = s.client(Some(&s.official(TARTU))).await;
    let mut approver = s.client(Some(&s.approver(TARTU))).await;

    // Created as a draft, with everything the application said.
    let p = applicant
        .create_procedure(create(v1::ProcedureType::ExcavationPermit, SHORE_SQUARE))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(p.state, "draft");
    assert_eq!(p.version, 1);
    assert_eq!(p.municipality_code, TARTU);
    assert!(
        p.name.starts_with("municipalities/0793/procedures/"),
        "{}",
        p.name
    );
    let c = p.contents.as_ref().unwrap();
    assert_eq!(c.applicant.as_ref().unwrap().id_code, APPLICANT_CODE);
    assert_eq!(c.works_period.as_ref().unwrap().first_day, "2027-05-03");
    assert!(
        p.allowed_actions.contains(&"submit".to_string()),
        "{:?}",
        p.allowed_actions
    );

    // Deciding a draft is not a step of the workflow: the refusal names the state and the
    // actions allowed in it.
    let e = approver
        .decide(v1::DecideRequest {
            name: p.name.clone(),
            version: p.version,
            decision: v1::Decision::Grant as i32,
            reasons: "ok".into(),
            conditions: String::new(),
        })
        .await
        .unwrap_err();
    assert_status(&e, Code::FailedPrecondition, Some("ACTION_NOT_ALLOWED"));
    assert!(e.message().contains("state draft"), "{}", e.message());
    assert!(
        e.message().contains("submit") && e.message().contains("withdraw"),
        "{}",
        e.message()
    );

    // Submitted by the applicant: the report is stored, the shore zone's authority is asked.
    let p = applicant
        .submit_procedure(v1::SubmitProcedureRequest {
            name: p.name.clone(),
            version: p.version,
            override_blocking_reason: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(p.state, "under_review");
    assert_eq!(p.version, 2);
    let report = p.report.as_ref().expect("the report is stored");
    assert_eq!(report.report_id.len(), 64);
    assert!(!report.rule_versions.is_empty());
    let asked: Vec<&str> = report
        .findings
        .iter()
        .filter(|f| f.status == v1::FindingStatus::Failed as i32 && !f.authority.is_empty())
        .map(|f| f.authority.as_str())
        .collect();
    assert!(asked.contains(&"Keskkonnaamet"), "{report:?}");
    let req = p
        .coordination_requests
        .iter()
        .find(|r| r.authority == "Keskkonnaamet")
        .expect("a coordination request to Keskkonnaamet");
    assert_eq!(req.status, v1::CoordinationStatus::Pending as i32);
    assert!(!req.finding_keys.is_empty());
    // One request per authority.
    let mut authorities: Vec<&str> = p
        .coordination_requests
        .iter()
        .map(|r| r.authority.as_str())
        .collect();
    authorities.dedup();
    assert_eq!(authorities.len(), p.coordination_requests.len());
    // The decision clock runs: 10 working days from Monday 1 March 2027 (no holidays in
    // between): 2, 3, 4, 5, 8, 9, 10, 11, 12, 15 March.
    let clock = p.clock.as_ref().unwrap();
    assert_eq!(clock.deadline, "2027-03-15");
    assert!(!clock.overdue);
    // The outbox holds one message per request.
    let n: i64 = db
        .sql()
        .await
        .query_one(
            "SELECT count(*) FROM outbox WHERE procedure_id = $1::text::uuid",
            &[&p.name.rsplit('/').next().unwrap()],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n as usize, p.coordination_requests.len());

    // A stale version is refused, and nothing is written.
    let e = official
        .assign_procedure(v1::AssignProcedureRequest {
            name: p.name.clone(),
            version: 1,
            official: "official-0793".into(),
        })
        .await
        .unwrap_err();
    assert_status(&e, Code::Aborted, Some("STALE_VERSION"));
    let p = official
        .assign_procedure(v1::AssignProcedureRequest {
            name: p.name.clone(),
            version: p.version,
            official: "official-0793".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(p.assigned_official, "official-0793");

    // Granting before every authority has answered is refused.
    let e = approver
        .decide(v1::DecideRequest {
            name: p.name.clone(),
            version: p.version,
            decision: v1::Decision::Grant as i32,
            reasons: "ok".into(),
            conditions: String::new(),
        })
        .await
        .unwrap_err();
    assert_status(&e, Code::FailedPrecondition, Some("COORDINATION_PENDING"));

    // Another authority may not answer for Keskkonnaamet; Keskkonnaamet may.
    let mut other = s.client(Some(&s.authority("Muinsuskaitseamet"))).await;
    let number = req.number;
    let e = other
        .record_coordination_response(v1::RecordCoordinationResponseRequest {
            name: p.name.clone(),
            version: p.version,
            number,
            status: v1::CoordinationStatus::Agreed as i32,
            text: "ok".into(),
            conditions: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "not addressed to it: {e:?}");
    let kea = s.client(Some(&s.authority("Keskkonnaamet"))).await;
    let mut p = p;
    for r in p.coordination_requests.clone() {
        let mut client = if r.authority == "Keskkonnaamet" {
            kea.clone()
        } else {
            official.clone()
        };
        p = client
            .record_coordination_response(v1::RecordCoordinationResponseRequest {
                name: p.name.clone(),
                version: p.version,
                number: r.number,
                status: v1::CoordinationStatus::AgreedWithConditions as i32,
                text: "Kooskõlastatud".into(),
                conditions: "Work outside the spawning season".into(),
            })
            .await
            .unwrap()
            .into_inner();
    }
    // An official may not decide; the approver may.
    let e = official
        .decide(v1::DecideRequest {
            name: p.name.clone(),
            version: p.version,
            decision: v1::Decision::Grant as i32,
            reasons: "ok".into(),
            conditions: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");
    let p = approver
        .decide(v1::DecideRequest {
            name: p.name.clone(),
            version: p.version,
            decision: v1::Decision::Grant as i32,
            reasons: "Meets the excavation regulation".into(),
            conditions: "Restore the asphalt by 2027-05-28".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(p.state, "granted");
    let d = p.decision.as_ref().unwrap();
    assert_eq!(d.decision, v1::Decision::Grant as i32);
    assert_eq!(d.by, "approver-0793");
    assert!(p.allowed_actions.is_empty(), "{:?}", p.allowed_actions);
    assert!(!p.clock.unwrap().overdue);

    // The history: one event per version, in order, replaying to the state.
    let h = official
        .get_procedure_history(v1::GetProcedureHistoryRequest {
            name: p.name.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .events;
    let seqs: Vec<i32> = h.iter().map(|e| e.sequence).collect();
    assert_eq!(seqs, (1..=p.version as i32).collect::<Vec<_>>());
    let mut state = String::new();
    let mut assigned = serde_json::Value::Null;
    for e in &h {
        assert_eq!(e.state_before, state, "{e:?}");
        let changes: serde_json::Value = serde_json::from_str(&e.changes_json).unwrap();
        if let Some(s) = changes.get("state") {
            state = s["after"].as_str().unwrap().to_owned();
        }
        if let Some(a) = changes.get("assigned_official") {
            assigned = a["after"].clone();
        }
        assert_eq!(e.state_after, state, "{e:?}");
    }
    assert_eq!(state, p.state);
    assert_eq!(assigned, serde_json::json!(p.assigned_official));
    let actions: Vec<&str> = h.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions[..3], ["create", "submit", "assign"]);
    assert_eq!(*actions.last().unwrap(), "decide_grant");

    // A Tallinn official sees none of it.
    let mut tallinn = s
        .client(Some(&s.person(
            "tallinn",
            TALLINN,
            &[Role::Official, Role::Approver],
        )))
        .await;
    let e = tallinn
        .get_procedure(v1::GetProcedureRequest {
            name: p.name.clone(),
            purpose: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    drop(s);
    db.drop_db().await;
}
