//! The authorisation matrix of the ProcedureService over a real socket: every method refuses a
//! missing token and nine kinds of bad token (`UNAUTHENTICATED`) — except `ListPublicNotices`,
//! which is open to everyone; a Tallinn official reads, lists, counts and changes nothing of
//! Tartu's; an applicant sees only their own procedures; an authority only those addressed to
//! it. Reads of the applicant's data are listed by `ListDataUsage` for the applicant.

mod common;

use common::*;
use kovgis_api::v1::audit_service_client::AuditServiceClient;
use kovgis_auth::Role;
use kovgis_auth::testing::BadToken;
use tonic::{Code, Status};

/// Every method of the ProcedureService.
const ALL: &[&str] = &[
    "CreateProcedure",
    "GetProcedure",
    "ListProcedures",
    "UpdateDraft",
    "SubmitProcedure",
    "OverrideFinding",
    "AssignProcedure",
    "RequestCoordination",
    "RecordCoordinationResponse",
    "StartPublicDisplay",
    "RecordPublicOpinion",
    "EndPublicDisplay",
    "PauseClock",
    "ResumeClock",
    "AdvancePlan",
    "Decide",
    "Withdraw",
    "GetProcedureHistory",
    "ListPublicNotices",
    "ListDeliveryFailures",
    "WatchProcedures",
];

/// What a call returned: the names of the procedures in it (for the leak checks).
async fn call(c: &mut Client, rpc: &str, name: &str, version: i64) -> Result<Vec<String>, Status> {
    let n = || name.to_owned();
    let one =
        |r: Result<tonic::Response<v1::Procedure>, Status>| r.map(|p| vec![p.into_inner().name]);
    match rpc {
        "CreateProcedure" => one(c
            .create_procedure(create(v1::ProcedureType::ExcavationPermit, CLEAR_SQUARE))
            .await),
        "GetProcedure" => one(c
            .get_procedure(v1::GetProcedureRequest {
                name: n(),
                purpose: String::new(),
            })
            .await),
        "ListProcedures" => c
            .list_procedures(v1::ListProceduresRequest {
                municipality_code: TARTU.into(),
                sort: v1::ProcedureSort::CreatedDesc as i32,
                ..Default::default()
            })
            .await
            .map(|r| {
                r.into_inner()
                    .procedures
                    .into_iter()
                    .map(|p| p.name)
                    .collect()
            }),
        "UpdateDraft" => one(c
            .update_draft(v1::UpdateDraftRequest {
                name: n(),
                version,
                contents: Some(contents(v1::ProcedureType::ExcavationPermit, CLEAR_SQUARE)),
            })
            .await),
        "SubmitProcedure" => one(c
            .submit_procedure(v1::SubmitProcedureRequest {
                name: n(),
                version,
                override_blocking_reason: String::new(),
            })
            .await),
        "OverrideFinding" => one(c
            .override_finding(v1::OverrideFindingRequest {
                name: n(),
                version,
                finding_key: "x".into(),
                reason: "r".into(),
            })
            .await),
        "AssignProcedure" => one(c
            .assign_procedure(v1::AssignProcedureRequest {
                name: n(),
                version,
                official: "someone".into(),
            })
            .await),
        "RequestCoordination" => one(c
            .request_coordination(v1::RequestCoordinationRequest {
                name: n(),
                version,
                authority: "Päästeamet".into(),
                note: String::new(),
            })
            .await),
        "RecordCoordinationResponse" => one(c
            .record_coordination_response(v1::RecordCoordinationResponseRequest {
                name: n(),
                version,
                number: 1,
                status: v1::CoordinationStatus::Agreed as i32,
                text: String::new(),
                conditions: String::new(),
            })
            .await),
        "StartPublicDisplay" => one(c
            .start_public_display(v1::StartPublicDisplayRequest {
                name: n(),
                version,
                period: None,
                changes_comprehensive_plan: false,
            })
            .await),
        "RecordPublicOpinion" => one(c
            .record_public_opinion(v1::RecordPublicOpinionRequest {
                name: n(),
                version,
                received_on: "2027-03-01".into(),
                objection: false,
                summary: "s".into(),
            })
            .await),
        "EndPublicDisplay" => one(c
            .end_public_display(v1::EndPublicDisplayRequest { name: n(), version })
            .await),
        "PauseClock" => one(c
            .pause_clock(v1::PauseClockRequest {
                name: n(),
                version,
                reason: "r".into(),
            })
            .await),
        "ResumeClock" => one(c
            .resume_clock(v1::ResumeClockRequest {
                name: n(),
                version,
                reason: "r".into(),
            })
            .await),
        "AdvancePlan" => one(c
            .advance_plan(v1::AdvancePlanRequest {
                name: n(),
                version,
                step: v1::PlanStep::Initiate as i32,
                note: String::new(),
            })
            .await),
        "Decide" => one(c
            .decide(v1::DecideRequest {
                name: n(),
                version,
                decision: v1::Decision::Refuse as i32,
                reasons: "r".into(),
                conditions: String::new(),
            })
            .await),
        "Withdraw" => one(c
            .withdraw(v1::WithdrawRequest {
                name: n(),
                version,
                reason: "r".into(),
            })
            .await),
        "GetProcedureHistory" => c
            .get_procedure_history(v1::GetProcedureHistoryRequest { name: n() })
            .await
            .map(|_| vec![n()]),
        "ListPublicNotices" => c
            .list_public_notices(v1::ListPublicNoticesRequest::default())
            .await
            .map(|r| r.into_inner().notices.into_iter().map(|n| n.name).collect()),
        "ListDeliveryFailures" => c
            .list_delivery_failures(v1::ListDeliveryFailuresRequest {
                municipality_code: TARTU.into(),
            })
            .await
            .map(|r| {
                r.into_inner()
                    .failures
                    .into_iter()
                    .map(|f| f.procedure)
                    .collect()
            }),
        // Every event from the first: the names of the procedures they are about, as received
        // within 500 ms.
        "WatchProcedures" => {
            let mut stream = c
                .watch_procedures(v1::WatchProceduresRequest {
                    after_event_id: Some(0),
                    ..Default::default()
                })
                .await?
                .into_inner();
            let mut names = Vec::new();
            loop {
                match tokio::time::timeout(std::time::Duration::from_millis(500), stream.message())
                    .await
                {
                    Ok(Ok(Some(m))) => {
                        if let Some(v1::watch_procedures_response::Item::Event(e)) = m.item {
                            names.push(e.name);
                        }
                    }
                    Ok(Err(e)) => return Err(e),
                    _ => break,
                }
            }
            Ok(names)
        }
        other => panic!("unknown RPC {other}"),
    }
}

/// A submitted Tartu excavation permit of the demo applicant, asking Keskkonnaamet.
async fn tartu_procedure(s: &Server) -> v1::Procedure {
    let mut a = s.client(Some(&s.applicant())).await;
    let p = a
        .create_procedure(create(v1::ProcedureType::ExcavationPermit, SHORE_SQUARE))
        .await
        .unwrap()
        .into_inner();
    a.submit_procedure(v1::SubmitProcedureRequest {
        name: p.name,
        version: p.version,
        override_blocking_reason: String::new(),
    })
    .await
    .unwrap()
    .into_inner()
}

#[tokio::test]
async fn every_method_refuses_missing_and_bad_tokens_but_public_notices() {
    let db = FreshDb::new("proc_authn").await;
    let s = Server::start(&db.url, Mode::InProcess).await;
    let p = tartu_procedure(&s).await;
    let mut anonymous = s.client(None).await;
    for rpc in ALL {
        let got = call(&mut anonymous, rpc, &p.name, p.version).await;
        if *rpc == "ListPublicNotices" {
            got.expect("public notices are open to everyone");
        } else {
            assert_eq!(got.unwrap_err().code(), Code::Unauthenticated, "{rpc}");
        }
    }
    let good = s
        .auth
        .person("tartu-admin", TARTU, &[Role::Official, Role::Approver]);
    for bad in BadToken::ALL {
        let mut c = s.client(Some(&s.auth.bad_token(bad, &good))).await;
        for rpc in ALL.iter().filter(|r| **r != "ListPublicNotices") {
            let e = call(&mut c, rpc, &p.name, p.version).await.unwrap_err();
            assert_eq!(e.code(), Code::Unauthenticated, "{bad:?}, {rpc}");
            assert_eq!(e.message(), bad.reason(), "{bad:?}, {rpc}");
        }
    }
    drop(s);
    db.drop_db().await;
}

#[tokio::test]
async fn nothing_of_tartu_reaches_tallinn_other_applicants_or_other_authorities() {
    let db = FreshDb::new("proc_authz").await;
    let s = Server::start(&db.url, Mode::InProcess).await;
    let p = tartu_procedure(&s).await;

    // A Tallinn person with every municipal role: Tartu's procedure does not exist for them.
    let tallinn = s.person(
        "tallinn-all",
        TALLINN,
        &[
            Role::Official,
            Role::Approver,
            Role::GisSpecialist,
            Role::MunicipalityAdmin,
            Role::Applicant,
        ],
    );
    let mut c = s.client(Some(&tallinn)).await;
    for rpc in ALL {
        let got = call(&mut c, rpc, &p.name, p.version).await;
        match *rpc {
            // Creating in Tartu is refused outright.
            "CreateProcedure" => assert_eq!(got.unwrap_err().code(), Code::PermissionDenied),
            // Lists answer, with nothing of Tartu in them.
            "ListProcedures" | "ListDeliveryFailures" | "WatchProcedures" => {
                assert_eq!(got.unwrap(), Vec::<String>::new(), "{rpc}")
            }
            "ListPublicNotices" => {
                got.unwrap();
            }
            _ => assert_eq!(got.unwrap_err().code(), Code::NotFound, "{rpc}"),
        }
    }
    // Nothing changed.
    let mut official = s.client(Some(&s.official(TARTU))).await;
    let now = official
        .get_procedure(v1::GetProcedureRequest {
            name: p.name.clone(),
            purpose: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(now.version, p.version);

    // Another applicant of Tartu neither sees nor lists the demo applicant's procedure.
    let other = s.person("EE49002020002", TARTU, &[Role::Applicant]);
    let mut c = s.client(Some(&other)).await;
    for rpc in ["GetProcedure", "GetProcedureHistory", "Withdraw"] {
        let e = call(&mut c, rpc, &p.name, p.version).await.unwrap_err();
        assert_eq!(e.code(), Code::NotFound, "{rpc}");
    }
    assert!(
        call(&mut c, "ListProcedures", "", 0)
            .await
            .unwrap()
            .is_empty()
    );
    let mut own = create(v1::ProcedureType::FellingPermit, CLEAR_SQUARE);
    own.contents
        .as_mut()
        .unwrap()
        .applicant
        .as_mut()
        .unwrap()
        .id_code = "49002020002".into();
    let mine = c.create_procedure(own).await.unwrap().into_inner().name;
    assert_eq!(
        call(&mut c, "ListProcedures", "", 0).await.unwrap(),
        vec![mine]
    );
    // The demo applicant lists its own only.
    let mut a = s.client(Some(&s.applicant())).await;
    assert_eq!(
        call(&mut a, "ListProcedures", "", 0).await.unwrap(),
        vec![p.name.clone()]
    );

    // Keskkonnaamet was asked: it sees the procedure; Muinsuskaitseamet was not.
    let mut kea = s.client(Some(&s.authority("Keskkonnaamet"))).await;
    assert_eq!(
        call(&mut kea, "GetProcedure", &p.name, 0).await.unwrap(),
        vec![p.name.clone()]
    );
    assert_eq!(
        call(&mut kea, "ListProcedures", "", 0).await.unwrap(),
        vec![p.name.clone()]
    );
    let mut heritage = s.client(Some(&s.authority("Muinsuskaitseamet"))).await;
    let e = call(&mut heritage, "GetProcedure", &p.name, 0)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    assert!(
        call(&mut heritage, "ListProcedures", "", 0)
            .await
            .unwrap()
            .is_empty()
    );
    // An authority may answer, not decide or assign.
    for rpc in [
        "Decide",
        "AssignProcedure",
        "CreateProcedure",
        "StartPublicDisplay",
    ] {
        let e = call(&mut kea, rpc, &p.name, p.version).await.unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied, "{rpc}");
    }
    drop(s);
    db.drop_db().await;
}

#[tokio::test]
async fn data_usage_lists_the_reads_of_the_applicant_data() {
    let db = FreshDb::new("proc_datausage").await;
    let s = Server::start(&db.url, Mode::InProcess).await;
    let p = tartu_procedure(&s).await;
    let mut official = s.client(Some(&s.official(TARTU))).await;
    official
        .get_procedure(v1::GetProcedureRequest {
            name: p.name.clone(),
            purpose: "excavation review".into(),
        })
        .await
        .unwrap();
    official
        .get_procedure_history(v1::GetProcedureHistoryRequest {
            name: p.name.clone(),
        })
        .await
        .unwrap();
    // The applicant asks who used their data.
    let token: tonic::metadata::MetadataValue<_> =
        format!("Bearer {}", s.applicant()).parse().unwrap();
    let mut audit =
        AuditServiceClient::with_interceptor(s.channel().await, move |mut r: tonic::Request<()>| {
            r.metadata_mut().insert("authorization", token.clone());
            Ok(r)
        });
    let uses = audit
        .list_data_usage(v1::ListDataUsageRequest {
            personal_code: APPLICANT_CODE.into(),
            from: Some(prost_types::Timestamp {
                seconds: 0,
                nanos: 0,
            }),
            to: Some(prost_types::Timestamp {
                seconds: 4_102_444_800,
                nanos: 0,
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .uses;
    let id = p.name.rsplit('/').next().unwrap();
    let read = uses
        .iter()
        .find(|u| {
            u.rpc.ends_with("ProcedureService/GetProcedure")
                && u.receiver_subject == "official-0793"
        })
        .unwrap_or_else(|| panic!("the official's read is not listed: {uses:?}"));
    assert_eq!(read.action, "read");
    assert_eq!(read.purpose, "excavation review");
    assert_eq!(read.receiver_institution, TARTU);
    assert!(read.data.contains(id), "{read:?}");
    assert!(
        uses.iter().any(|u| u.rpc.ends_with("GetProcedureHistory")),
        "{uses:?}"
    );
    // The creation and the submission (writes of the data) are there too.
    assert!(
        uses.iter()
            .any(|u| u.action == "create" && u.data.contains(id)),
        "{uses:?}"
    );
    assert!(
        uses.iter()
            .any(|u| u.action == "write" && u.rpc.ends_with("SubmitProcedure")),
        "{uses:?}"
    );
    drop(s);
    db.drop_db().await;
}

#[tokio::test]
async fn a_state_system_reaches_only_its_procedure_type() {
    let db = FreshDb::new("proc_typed").await;
    let s = Server::start(&db.url, Mode::InProcess).await;
    let excavation = tartu_procedure(&s).await;
    let ehr = s.auth.token(
        &s.auth
            .machine("ehr-adapter", &["kovgis:procedures:building_permit"]),
    );
    let mut c = s.client(Some(&ehr)).await;
    let permit = c
        .create_procedure(create(v1::ProcedureType::BuildingPermit, CLEAR_SQUARE))
        .await
        .unwrap()
        .into_inner();
    let e = c
        .create_procedure(create(v1::ProcedureType::ExcavationPermit, CLEAR_SQUARE))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    // The excavation permit does not exist for it, and no read of its applicant is recorded.
    for rpc in ["GetProcedure", "GetProcedureHistory", "Withdraw"] {
        let e = call(&mut c, rpc, &excavation.name, excavation.version)
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::NotFound, "{rpc}");
    }
    let count = |action: &'static str| {
        let url = db.admin_db_url.clone();
        async move {
            let n: i64 = kovgis_testkit::db::connect(&url)
                .await
                .query_one(
                    "SELECT count(*) FROM audit_event WHERE subject = 'ehr-adapter' AND action = $1",
                    &[&action],
                )
                .await
                .unwrap()
                .get(0);
            n
        }
    };
    // Its own creation is recorded under its subject (the count below can see it), no read is.
    assert_eq!(count("create").await, 1);
    assert_eq!(count("read").await, 0);
    // It lists its own type only, and must say so.
    let e = call(&mut c, "ListProcedures", "", 0).await.unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let listed: Vec<String> = c
        .list_procedures(v1::ListProceduresRequest {
            municipality_code: TARTU.into(),
            r#type: v1::ProcedureType::BuildingPermit as i32,
            sort: v1::ProcedureSort::CreatedDesc as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .procedures
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(listed, vec![permit.name.clone()]);
    drop(s);
    db.drop_db().await;
}
