//! A detailed plan from its application to its final adoption through the gRPC client:
//! initiation, coordination, adoption, a public display held to its notice period and minimum
//! length (dates worked out by hand below), opinions, the public discussion (which cannot be
//! skipped once someone objected), and the final adoption. On the way: the plan is listed by
//! `ListPublicNotices` to anyone, without identity and without personal data.

mod common;

use common::*;
use tonic::Code;

async fn step(
    c: &mut Client,
    p: &v1::Procedure,
    s: v1::PlanStep,
) -> Result<v1::Procedure, tonic::Status> {
    c.advance_plan(v1::AdvancePlanRequest {
        name: p.name.clone(),
        version: p.version,
        step: s as i32,
        note: String::new(),
    })
    .await
    .map(|r| r.into_inner())
}

fn display(p: &v1::Procedure, first: &str, last: &str) -> v1::StartPublicDisplayRequest {
    v1::StartPublicDisplayRequest {
        name: p.name.clone(),
        version: p.version,
        period: Some(v1::DatePeriod {
            first_day: first.into(),
            last_day: last.into(),
        }),
        changes_comprehensive_plan: false,
    }
}

#[tokio::test]
async fn a_detailed_plan_from_application_to_final_adoption() {
    let db = FreshDb::new("proc_plan").await;
    let s = Server::start(&db.url, Mode::InProcess).await;
    let mut applicant = s.client(Some(&s.applicant())).await;
    let mut official = s.client(Some(&s.official(TARTU))).await;
    let mut approver = s.client(Some(&s.approver(TARTU))).await;
    let mut public = s.client(None).await;

    let p = applicant
        .create_procedure(create(v1::ProcedureType::DetailedPlan, CLEAR_SQUARE))
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
    assert_eq!(p.state, "initiation");
    // The applicant cannot initiate its own plan.
    let e = step(&mut applicant, &p, v1::PlanStep::Initiate)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let p = step(&mut approver, &p, v1::PlanStep::Initiate)
        .await
        .unwrap();
    assert_eq!(p.state, "preparation");
    // Adoption comes after coordination.
    let e = step(&mut approver, &p, v1::PlanStep::Adopt)
        .await
        .unwrap_err();
    assert_status(&e, Code::FailedPrecondition, Some("ACTION_NOT_ALLOWED"));
    assert!(
        e.message().contains("request_coordination"),
        "{}",
        e.message()
    );

    let p = official
        .request_coordination(v1::RequestCoordinationRequest {
            name: p.name.clone(),
            version: p.version,
            authority: "Päästeamet".into(),
            note: "Fire safety of the access road".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(p.state, "coordination");
    let r = &p.coordination_requests[0];
    assert_eq!((r.number, r.authority.as_str()), (1, "Päästeamet"));
    // The plan's coordination window: 30 calendar days from Monday 1 March 2027 is Wednesday
    // 31 March 2027 (a working day).
    assert_eq!(r.answer_due, "2027-03-31");
    let e = step(&mut approver, &p, v1::PlanStep::Adopt)
        .await
        .unwrap_err();
    assert_status(&e, Code::FailedPrecondition, Some("COORDINATION_PENDING"));
    let mut rescue = s.client(Some(&s.authority("Päästeamet"))).await;
    let p = rescue
        .record_coordination_response(v1::RecordCoordinationResponseRequest {
            name: p.name.clone(),
            version: p.version,
            number: 1,
            status: v1::CoordinationStatus::Agreed as i32,
            text: "Kooskõlastatud".into(),
            conditions: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let p = step(&mut approver, &p, v1::PlanStep::Adopt).await.unwrap();
    assert_eq!(p.state, "adopted");

    // Display dates, on Monday 1 March 2027, with a notice of 14 calendar days and a display of
    // at least 14: announced today, the display may start on 16 March at the earliest (1 March
    // and the 14 days 2–15 March lie between); starting 16 March, it lasts until 30 March at
    // least (the 14 days 17–30 March; 30 March is a Tuesday).
    let e = official
        .start_public_display(display(&p, "2027-03-10", "2027-04-30"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("2027-03-16"), "{}", e.message());
    let e = official
        .start_public_display(display(&p, "2027-03-16", "2027-03-29"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("2027-03-30"), "{}", e.message());
    let p = official
        .start_public_display(display(&p, "2027-03-16", "2027-03-30"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(p.state, "public_display");

    // Announced, not yet begun: not on the public list.
    let notices = |c: &mut Client| {
        let mut c = c.clone();
        async move {
            c.list_public_notices(v1::ListPublicNoticesRequest {
                municipality_code: TARTU.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .notices
        }
    };
    assert!(notices(&mut public).await.is_empty());
    s.set_now(
        chrono::DateTime::parse_from_rfc3339("2027-03-20T10:00:00+02:00")
            .unwrap()
            .into(),
    );
    let listed = notices(&mut public).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    let n = &listed[0];
    assert_eq!(n.name, p.name);
    assert_eq!(n.r#type, v1::ProcedureType::DetailedPlan as i32);
    assert_eq!(n.display_period.as_ref().unwrap().last_day, "2027-03-30");
    assert!(
        n.geometry_geojson.contains("Polygon"),
        "{}",
        n.geometry_geojson
    );
    // No personal data anywhere in the notice.
    let text = format!("{n:?}");
    for personal in [
        "Mari",
        "Maasikas",
        APPLICANT_CODE,
        "mari@example.ee",
        "5555",
    ] {
        assert!(!text.contains(personal), "{personal} in {text}");
    }

    let p = official
        .record_public_opinion(v1::RecordPublicOpinionRequest {
            name: p.name.clone(),
            version: p.version,
            received_on: "2027-03-19".into(),
            objection: true,
            summary: "The new building shades the neighbouring garden".into(),
        })
        .await
        .unwrap()
        .into_inner();
    // Not before the display's last day is over.
    s.set_now(
        chrono::DateTime::parse_from_rfc3339("2027-03-30T20:00:00+03:00")
            .unwrap()
            .into(),
    );
    let e = official
        .end_public_display(v1::EndPublicDisplayRequest {
            name: p.name.clone(),
            version: p.version,
        })
        .await
        .unwrap_err();
    assert_status(&e, Code::FailedPrecondition, Some("DISPLAY_NOT_OVER"));
    s.set_now(
        chrono::DateTime::parse_from_rfc3339("2027-03-31T09:00:00+03:00")
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
    assert_eq!(p.state, "after_public_display");
    assert!(notices(&mut public).await.is_empty());
    // Someone objected: the discussion cannot be skipped.
    let e = step(&mut official, &p, v1::PlanStep::SkipPublicDiscussion)
        .await
        .unwrap_err();
    assert_status(&e, Code::FailedPrecondition, Some("OBJECTIONS_RAISED"));
    let p = step(&mut official, &p, v1::PlanStep::StartPublicDiscussion)
        .await
        .unwrap();
    let p = step(&mut official, &p, v1::PlanStep::EndPublicDiscussion)
        .await
        .unwrap();
    assert_eq!(p.state, "awaiting_final_adoption");
    let p = approver
        .decide(v1::DecideRequest {
            name: p.name.clone(),
            version: p.version,
            decision: v1::Decision::Grant as i32,
            reasons: "Kehtestatud".into(),
            conditions: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(p.state, "in_force");
    let h = official
        .get_procedure_history(v1::GetProcedureHistoryRequest {
            name: p.name.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .events;
    let actions: Vec<&str> = h.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "create",
            "submit",
            "initiate",
            "request_coordination",
            "record_coordination_response",
            "adopt",
            "start_public_display",
            "record_public_opinion",
            "end_public_display",
            "start_public_discussion",
            "end_public_discussion",
            "decide_grant"
        ]
    );
    drop(s);
    db.drop_db().await;
}
