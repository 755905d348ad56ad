//! Deemed agreement: a coordination request left unanswered past its window, under a rule that
//! says silence counts as agreement, is recorded as agreed by the background job — once, even
//! with two instances running the job at the same moment — as an event naming the rule. A
//! request answered in time is left alone, and nothing happens before the window has ended.
//!
//! Dates by hand: a building-permit review submitted on Monday 1 March 2027 asks Keskkonnaamet;
//! its answer window is 10 calendar days (2–11 March), so the answer is due on Thursday
//! 11 March 2027 and silence counts from Friday 12 March.

mod common;

use chrono::{DateTime, Utc};
use common::*;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().into()
}

#[tokio::test]
async fn silence_counts_as_agreement_once_the_window_has_ended() {
    let db = FreshDb::new("proc_deemed").await;
    let s = Server::start(&db.url, Mode::InProcess).await;
    let mut applicant = s.client(Some(&s.applicant())).await;
    let mut official = s.client(Some(&s.official(TARTU))).await;
    let p = applicant
        .create_procedure(create(v1::ProcedureType::BuildingPermit, SHORE_SQUARE))
        .await
        .unwrap()
        .into_inner();
    let p = official
        .submit_procedure(v1::SubmitProcedureRequest {
            name: p.name.clone(),
            version: p.version,
            override_blocking_reason: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let kea = p
        .coordination_requests
        .iter()
        .find(|r| r.authority == "Keskkonnaamet")
        .expect("Keskkonnaamet is asked")
        .clone();
    assert_eq!(kea.answer_due, "2027-03-11");
    // A second, manual request, answered in time.
    let p = official
        .request_coordination(v1::RequestCoordinationRequest {
            name: p.name.clone(),
            version: p.version,
            authority: "Päästeamet".into(),
            note: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let rescue = p.coordination_requests.last().unwrap().number;
    let p = official
        .record_coordination_response(v1::RecordCoordinationResponseRequest {
            name: p.name.clone(),
            version: p.version,
            number: rescue,
            status: v1::CoordinationStatus::Refused as i32,
            text: "No fire access".into(),
            conditions: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let others: Vec<i32> = p
        .coordination_requests
        .iter()
        .filter(|r| r.status == v1::CoordinationStatus::Pending as i32)
        .map(|r| r.number)
        .collect();

    // On the last day of the window (late evening in Tallinn) nothing is deemed.
    s.set_now(at("2027-03-11T23:30:00+02:00"));
    assert_eq!(s.api.deem_agreements().await.unwrap(), 0);

    // From the next day: two instances at once record each pending request once.
    s.set_now(at("2027-03-12T00:30:00+02:00"));
    let other_instance = s.api.clone();
    let (a, b) = tokio::join!(s.api.deem_agreements(), other_instance.deem_agreements());
    assert_eq!(a.unwrap() + b.unwrap(), others.len());
    assert_eq!(s.api.deem_agreements().await.unwrap(), 0);

    let p = official
        .get_procedure(v1::GetProcedureRequest {
            name: p.name.clone(),
            purpose: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    for r in &p.coordination_requests {
        if r.number == rescue {
            assert_eq!(r.status, v1::CoordinationStatus::Refused as i32, "{r:?}");
        } else {
            assert_eq!(
                r.status,
                v1::CoordinationStatus::DeemedAgreed as i32,
                "{r:?}"
            );
            assert_eq!(r.responded_by, "system:deemed-agreement");
        }
    }
    let h = official
        .get_procedure_history(v1::GetProcedureHistoryRequest {
            name: p.name.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .events;
    let deemed: Vec<&v1::ProcedureEvent> = h
        .iter()
        .filter(|e| e.action == "deemed_agreement")
        .collect();
    assert_eq!(deemed.len(), others.len());
    let e = deemed
        .iter()
        .find(|e| e.note.contains("Keskkonnaamet"))
        .expect("Keskkonnaamet's deemed agreement");
    assert_eq!(e.by, "system:deemed-agreement");
    // The event names the rule that applied (the national building-permit seed of migration
    // 0011: 10 calendar days, Ehitusseadustik).
    assert!(e.note.contains("2027-03-11"), "{}", e.note);
    assert!(e.note.contains("10 calendar days"), "{}", e.note);
    assert!(e.note.contains("Ehitusseadustik"), "{}", e.note);
    drop(s);
    db.drop_db().await;
}
