//! The decision clock through the gRPC client, with the service's clock set by the test. Every
//! expected date is worked out by hand here, from the calendar:
//!
//! - An excavation permit (10 working days) submitted on Thursday 25 March 2027. Good Friday is
//!   26 March 2027 (Easter Sunday 28 March), so the working days counted are 29, 30, 31 March,
//!   1, 2, 5, 6, 7, 8 and 9 April: the deadline is Friday 9 April 2027.
//! - Paused on Wednesday 31 March (that day counts: 29, 30, 31 → 3 days) and resumed on Monday
//!   5 April (1, 2 and 5 April do not count): 6, 7, 8, 9, 12, 13, 14 April make the other 7 —
//!   the deadline is Wednesday 14 April 2027. While paused there is no deadline.
//! - Design criteria (30 calendar days) submitted on Friday 10 December 2027: 11–31 December
//!   (21 days) and 1–9 January 2028 (9 days) end on Sunday 9 January 2028, a day off, so the
//!   deadline is Monday 10 January 2028. It is overdue from 00:00 Tallinn time on 11 January
//!   (22:00 UTC on 10 January), not a second earlier.

mod common;

use chrono::{DateTime, Utc};
use common::*;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().into()
}

async fn submitted(s: &Server, t: v1::ProcedureType) -> v1::Procedure {
    let mut applicant = s.client(Some(&s.applicant())).await;
    let p = applicant
        .create_procedure(create(t, CLEAR_SQUARE))
        .await
        .unwrap()
        .into_inner();
    applicant
        .submit_procedure(v1::SubmitProcedureRequest {
            name: p.name.clone(),
            version: p.version,
            override_blocking_reason: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
}

async fn get(c: &mut Client, p: &v1::Procedure) -> v1::Procedure {
    c.get_procedure(v1::GetProcedureRequest {
        name: p.name.clone(),
        purpose: String::new(),
    })
    .await
    .unwrap()
    .into_inner()
}

#[tokio::test]
async fn working_days_skip_good_friday_and_a_pause() {
    let db = FreshDb::new("proc_clock_easter").await;
    let s = Server::start(&db.url, Mode::InProcess).await;
    s.set_now(at("2027-03-25T12:00:00+02:00"));
    let p = submitted(&s, v1::ProcedureType::ExcavationPermit).await;
    let clock = p.clock.as_ref().unwrap();
    assert_eq!(clock.deadline, "2027-04-09");
    assert!(
        clock.period.starts_with("10 working days"),
        "{}",
        clock.period
    );

    let mut official = s.client(Some(&s.official(TARTU))).await;
    s.set_now(at("2027-03-31T11:00:00+03:00"));
    let p = official
        .pause_clock(v1::PauseClockRequest {
            name: p.name.clone(),
            version: p.version,
            reason: "Waiting for the traffic management plan".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(p.state, "waiting_for_applicant");
    let clock = p.clock.as_ref().unwrap();
    assert!(clock.paused);
    assert_eq!(clock.deadline, "");
    assert_eq!(clock.days_counted, 3);
    // A paused procedure is never overdue, however long it waits.
    s.set_now(at("2027-04-05T10:00:00+03:00"));
    let p = get(&mut official, &p).await;
    assert!(!p.clock.as_ref().unwrap().overdue);
    let p = official
        .resume_clock(v1::ResumeClockRequest {
            name: p.name.clone(),
            version: p.version,
            reason: "The plan arrived".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(p.state, "under_review");
    assert_eq!(p.clock.as_ref().unwrap().deadline, "2027-04-14");
    assert_eq!(p.clock.as_ref().unwrap().days_counted, 3);
    drop(s);
    db.drop_db().await;
}

#[tokio::test]
async fn calendar_days_across_the_year_end_and_the_overdue_flag() {
    let db = FreshDb::new("proc_clock_year").await;
    let s = Server::start(&db.url, Mode::InProcess).await;
    s.set_now(at("2027-12-10T10:00:00+02:00"));
    let p = submitted(&s, v1::ProcedureType::DesignCriteria).await;
    assert_eq!(p.clock.as_ref().unwrap().deadline, "2028-01-10");

    let mut official = s.client(Some(&s.official(TARTU))).await;
    let overdue = |c: &mut Client| {
        let mut c = c.clone();
        async move {
            c.list_procedures(v1::ListProceduresRequest {
                municipality_code: TARTU.into(),
                overdue_only: true,
                sort: v1::ProcedureSort::DeadlineAsc as i32,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .procedures
            .into_iter()
            .map(|p| p.name)
            .collect::<Vec<_>>()
        }
    };
    s.set_now(at("2028-01-10T21:59:59Z"));
    assert!(!get(&mut official, &p).await.clock.unwrap().overdue);
    assert!(overdue(&mut official).await.is_empty());
    s.set_now(at("2028-01-10T22:00:00Z"));
    assert!(get(&mut official, &p).await.clock.unwrap().overdue);
    assert_eq!(overdue(&mut official).await, vec![p.name.clone()]);
    // Due before: the deadline is on or before the day given.
    let due = |d: &str| v1::ListProceduresRequest {
        municipality_code: TARTU.into(),
        due_before: d.into(),
        sort: v1::ProcedureSort::DeadlineAsc as i32,
        ..Default::default()
    };
    let hit = official
        .list_procedures(due("2028-01-10"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(hit.procedures.len(), 1);
    let miss = official
        .list_procedures(due("2028-01-09"))
        .await
        .unwrap()
        .into_inner();
    assert!(miss.procedures.is_empty());
    drop(s);
    db.drop_db().await;
}
