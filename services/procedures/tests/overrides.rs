//! Blocking findings and overrides, through the gRPC client against the real database: a
//! blocking finding stops a submission; only an approver may submit despite it, with a written
//! reason that is stored and named in the history; an official marks one finding of the stored
//! report not applicable, once, with a reason, and the procedure shows it.

mod common;

use common::*;
use kovgis_auth::Role;
use tonic::Code;

#[tokio::test]
async fn a_blocking_finding_stops_submission_unless_an_approver_overrides_it() {
    let db = FreshDb::new("proc_overrides").await;
    let s = Server::start(&db.url, Mode::InProcess).await;
    let mut applicant = s.client(Some(&s.applicant())).await;
    // An industrial building in a low-rise residential zone: ZONE_USE fails, and it blocks.
    let mut req = create(v1::ProcedureType::BuildingPermit, CLEAR_SQUARE);
    req.contents.as_mut().unwrap().intended_use = "industrial_building".into();
    let p = applicant.create_procedure(req).await.unwrap().into_inner();
    let submit = |version: i64, reason: &str| v1::SubmitProcedureRequest {
        name: p.name.clone(),
        version,
        override_blocking_reason: reason.into(),
    };
    let e = applicant.submit_procedure(submit(1, "")).await.unwrap_err();
    assert_status(&e, Code::FailedPrecondition, Some("BLOCKING_FINDINGS"));
    assert!(
        e.message().contains("ZONE_USE_NOT_ALLOWED"),
        "{}",
        e.message()
    );
    // Nothing was written by the refusal.
    let mut official = s.client(Some(&s.official(TARTU))).await;
    let again = official
        .get_procedure(v1::GetProcedureRequest {
            name: p.name.clone(),
            purpose: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((again.state.as_str(), again.version), ("draft", 1));
    assert!(again.report.is_none());

    // An official who is not an approver may not override.
    let e = official
        .submit_procedure(submit(1, "The zone is being changed"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");
    // An official who is also an approver may, with a reason.
    let both = s.person("head-of-planning", TARTU, &[Role::Official, Role::Approver]);
    let mut head = s.client(Some(&both)).await;
    let reason = "The comprehensive plan's amendment of 2027 makes the zone industrial";
    let p = head
        .submit_procedure(submit(1, reason))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(p.state, "under_review");
    assert_eq!(p.blocking_override_reason, reason);
    let report = p.report.as_ref().unwrap();
    assert_eq!(report.verdict, v1::Verdict::Blocked as i32);
    let zone = report
        .findings
        .iter()
        .find(|f| f.code == "ZONE_USE_NOT_ALLOWED")
        .expect("the blocking finding is in the stored report");
    let key = format!(
        "{}|{}|{}|{}",
        zone.rule, zone.layer_resource_name, zone.feature_id, zone.code
    );

    // The official marks it not applicable: stored, shown, audited in the history.
    let override_ = |version: i64, key: &str| v1::OverrideFindingRequest {
        name: p.name.clone(),
        version,
        finding_key: key.into(),
        reason: "The zone boundary is drawn across the parcel by mistake".into(),
    };
    let p2 = official
        .override_finding(override_(p.version, &key))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(p2.version, p.version + 1);
    assert_eq!(p2.overrides.len(), 1);
    let o = &p2.overrides[0];
    assert_eq!(o.finding_key, key);
    assert_eq!(o.by, "official-0793");
    assert!(o.reason.contains("by mistake"));
    let e = official
        .override_finding(override_(p2.version, &key))
        .await
        .unwrap_err();
    assert_status(&e, Code::FailedPrecondition, Some("ALREADY_OVERRIDDEN"));
    let e = official
        .override_finding(override_(p2.version, "NO_SUCH|x|y|z"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    // The applicant may not override.
    let e = applicant
        .override_finding(override_(p2.version, &key))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);

    let h = official
        .get_procedure_history(v1::GetProcedureHistoryRequest {
            name: p.name.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .events;
    let submit_event = h.iter().find(|e| e.action == "submit").unwrap();
    assert_eq!(submit_event.by, "head-of-planning");
    assert!(submit_event.note.contains(reason), "{submit_event:?}");
    let o = h.iter().find(|e| e.action == "override_finding").unwrap();
    assert_eq!(o.by, "official-0793");
    assert!(o.changes_json.contains(&key), "{o:?}");
    drop(s);
    db.drop_db().await;
}

#[tokio::test]
async fn an_undeliverable_request_is_a_dead_letter_its_officials_see() {
    let db = FreshDb::new("proc_deadletter").await;
    let s = Server::start(&db.url, Mode::InProcess).await;
    let mut applicant = s.client(Some(&s.applicant())).await;
    let p = applicant
        .create_procedure(create(v1::ProcedureType::ExcavationPermit, SHORE_SQUARE))
        .await
        .unwrap()
        .into_inner();
    let p = applicant
        .submit_procedure(v1::SubmitProcedureRequest {
            name: p.name.clone(),
            version: p.version,
            override_blocking_reason: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!p.coordination_requests.is_empty());
    // No authority has a webhook here: with one attempt allowed, every message is dead at once.
    let deliverer = kovgis_outbox::Deliverer::new(
        s.store.clone(),
        kovgis_outbox::DelivererConfig {
            max_attempts: 1,
            ..Default::default()
        },
    )
    .unwrap();
    let stats = deliverer.run_once().await.unwrap();
    assert_eq!(stats.dead, p.coordination_requests.len(), "{stats:?}");
    let mut official = s.client(Some(&s.official(TARTU))).await;
    let failures = official
        .list_delivery_failures(v1::ListDeliveryFailuresRequest {
            municipality_code: TARTU.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .failures;
    assert_eq!(failures.len(), p.coordination_requests.len());
    let f = failures
        .iter()
        .find(|f| f.authority == "Keskkonnaamet")
        .expect("Keskkonnaamet's message");
    assert_eq!(f.procedure, p.name);
    assert_eq!(f.kind, "coordination_requested");
    assert_eq!(f.attempts, 1);
    assert!(f.last_error.contains("no webhook"), "{f:?}");
    // Tallinn's officials see none of Tartu's.
    let mut tallinn = s.client(Some(&s.official(TALLINN))).await;
    let theirs = tallinn
        .list_delivery_failures(v1::ListDeliveryFailuresRequest {
            municipality_code: TARTU.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .failures;
    assert!(theirs.is_empty());
    drop(s);
    db.drop_db().await;
}
