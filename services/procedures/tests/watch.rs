//! WatchProcedures through the generated client over a real socket: a watcher that disconnects
//! and resumes from its last id while writers run gets every event exactly once, in order (the
//! oracle: the event ids in PostgreSQL); callers see only what they may; a watcher that falls
//! behind is told where to resume.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use kovgis_auth::Role;
use kovgis_procedures::WatchConfig;

type Stream = tonic::Streaming<v1::WatchProceduresResponse>;

async fn watch(
    c: &mut Client,
    after: i64,
    filter: impl FnOnce(&mut v1::WatchProceduresRequest),
) -> Stream {
    let mut r = v1::WatchProceduresRequest {
        after_event_id: Some(after),
        ..Default::default()
    };
    filter(&mut r);
    c.watch_procedures(r).await.unwrap().into_inner()
}

/// The next event of `s` within 10 s (panics on a resume message or the end).
async fn next_event(s: &mut Stream) -> v1::WatchedEvent {
    let m = tokio::time::timeout(Duration::from_secs(10), s.message())
        .await
        .expect("no event within 10 s")
        .expect("the stream failed")
        .expect("the stream ended");
    match m.item {
        Some(v1::watch_procedures_response::Item::Event(e)) => e,
        other => panic!("expected an event, got {other:?}"),
    }
}

/// Every event of Tartu's procedures with an id above `after`, in id order (PostgreSQL).
async fn events_in_db(db: &tokio_postgres::Client, after: i64) -> Vec<i64> {
    db.query(
        "SELECT id FROM procedure_event WHERE municipality_code = '0793' AND id > $1 ORDER BY id",
        &[&after],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

async fn last_id(db: &tokio_postgres::Client) -> i64 {
    db.query_one("SELECT coalesce(max(id), 0) FROM procedure_event", &[])
        .await
        .unwrap()
        .get(0)
}

/// `n` writers, each creating and submitting `rounds` excavation permits as the applicant.
fn writers(s: &Server, n: usize, rounds: usize) -> Vec<tokio::task::JoinHandle<()>> {
    (0..n)
        .map(|w| {
            let (addr, token) = (s.addr, s.applicant());
            tokio::spawn(async move {
                let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
                    .unwrap()
                    .connect()
                    .await
                    .unwrap();
                let bearer = Bearer::token(&token);
                let mut c = v1::procedure_service_client::ProcedureServiceClient::with_interceptor(
                    channel, bearer,
                );
                for r in 0..rounds {
                    let x = 657_550.0 + 3.0 * w as f64;
                    let y = 6_476_815.0 + 3.0 * r as f64 / rounds as f64;
                    let p = c
                        .create_procedure(create(
                            v1::ProcedureType::ExcavationPermit,
                            &square(x, y, 2.0),
                        ))
                        .await
                        .unwrap()
                        .into_inner();
                    c.submit_procedure(v1::SubmitProcedureRequest {
                        name: p.name,
                        version: p.version,
                        override_blocking_reason: String::new(),
                    })
                    .await
                    .unwrap();
                }
            })
        })
        .collect()
}

#[tokio::test]
async fn a_watcher_resumed_from_its_last_id_misses_nothing_while_writers_run() {
    let db = FreshDb::new("watch_resume").await;
    let s = Server::start(&db.url, Mode::InProcess).await;
    let sql = db.sql().await;
    let start = last_id(&sql).await;
    let mut official = s.client(Some(&s.official(TARTU))).await;
    let mut first = watch(&mut official, start, |r| r.municipality_code = TARTU.into()).await;

    // 4 writers × 6 permits, created and submitted: 48 events.
    let running = writers(&s, 4, 6);
    let mut got = Vec::new();
    for _ in 0..10 {
        got.push(next_event(&mut first).await);
    }
    // Disconnect while the writers go on; reconnect from the last id received.
    drop(first);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let last = got.last().unwrap().event_id;
    let mut second = watch(&mut official, last, |r| r.municipality_code = TARTU.into()).await;
    for w in running {
        w.await.unwrap();
    }
    let expected = events_in_db(&sql, start).await;
    assert_eq!(expected.len(), 48);
    while got.len() < expected.len() {
        got.push(next_event(&mut second).await);
    }
    let ids: Vec<i64> = got.iter().map(|e| e.event_id).collect();
    assert_eq!(ids, expected, "every event once, in commit order");
    // Nothing more arrives (no duplicate after the end).
    assert!(
        tokio::time::timeout(Duration::from_millis(1500), second.message())
            .await
            .is_err()
    );
    // What an event says matches the history.
    let e = got.iter().find(|e| e.action == "submit").unwrap();
    assert_eq!(
        (e.state_before.as_str(), e.state_after.as_str()),
        ("draft", "under_review")
    );
    assert_eq!(e.version, 2);
    assert_eq!(e.r#type, v1::ProcedureType::ExcavationPermit as i32);
    assert!(e.name.starts_with("municipalities/0793/procedures/"));
    drop(s);
    db.drop_db().await;
}

#[tokio::test]
async fn watchers_see_only_what_they_may() {
    let db = FreshDb::new("watch_access").await;
    let s = Server::start(&db.url, Mode::InProcess).await;
    let sql = db.sql().await;
    let start = last_id(&sql).await;
    let mut tallinn = s.client(Some(&s.official(TALLINN))).await;
    let other_applicant = s.person("EE49002020002", TARTU, &[Role::Applicant]);
    let mut other = s.client(Some(&other_applicant)).await;
    let mut keskkonnaamet = s.client(Some(&s.authority("Keskkonnaamet"))).await;
    let mut muinsus = s.client(Some(&s.authority("Muinsuskaitseamet"))).await;
    let mut applicant = s.client(Some(&s.applicant())).await;
    let mut w_tallinn = watch(&mut tallinn, start, |_| {}).await;
    let mut w_other = watch(&mut other, start, |_| {}).await;
    let mut w_kk = watch(&mut keskkonnaamet, start, |_| {}).await;
    let mut w_muinsus = watch(&mut muinsus, start, |_| {}).await;
    let mut w_applicant = watch(&mut applicant, start, |_| {}).await;
    let mut w_type = watch(&mut s.client(Some(&s.official(TARTU))).await, start, |r| {
        r.r#type = v1::ProcedureType::FellingPermit as i32
    })
    .await;

    // The demo applicant's excavation permit on the shore: Keskkonnaamet is asked.
    let p = applicant
        .create_procedure(create(v1::ProcedureType::ExcavationPermit, SHORE_SQUARE))
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
        .unwrap();
    let mine = [
        next_event(&mut w_applicant).await,
        next_event(&mut w_applicant).await,
    ];
    assert_eq!(
        mine.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        ["create", "submit"]
    );
    // Keskkonnaamet sees the procedure once it was asked (access is the procedure's as it is
    // when the event is read): the submit, and the create if it was read after the submit.
    loop {
        let e = next_event(&mut w_kk).await;
        assert_eq!(e.name, p.name);
        if e.action == "submit" {
            break;
        }
        assert_eq!(e.action, "create");
    }
    // The others see nothing of it.
    for w in [&mut w_tallinn, &mut w_other, &mut w_muinsus, &mut w_type] {
        assert!(
            tokio::time::timeout(Duration::from_millis(1500), w.message())
                .await
                .is_err(),
            "a watcher saw an event it may not see"
        );
    }
    // Reconnecting from the start: the authority now sees the create as well.
    let mut again = watch(&mut keskkonnaamet, start, |_| {}).await;
    assert_eq!(next_event(&mut again).await.action, "create");
    assert_eq!(next_event(&mut again).await.action, "submit");
    // Filters and bad input.
    let e = tallinn
        .watch_procedures(v1::WatchProceduresRequest {
            after_event_id: Some(-1),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    assert!(e.message().contains("after_event_id"), "{}", e.message());
    let e = s
        .client(None)
        .await
        .watch_procedures(v1::WatchProceduresRequest::default())
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::Unauthenticated);
    drop(s);
    db.drop_db().await;
}

#[tokio::test]
async fn a_watcher_that_falls_behind_is_told_where_to_resume_and_loses_nothing() {
    let db = FreshDb::new("watch_lag").await;
    // The feed keeps 8 events, a client's queue holds 1.
    let s = Server::start_configured(&db.url, Mode::InProcess, |api| {
        api.with_watch(WatchConfig {
            buffer: 8,
            queue: 1,
            ..Default::default()
        })
    })
    .await;
    let sql = db.sql().await;
    let mut official = s.client(Some(&s.official(TARTU))).await;
    let p = s
        .client(Some(&s.applicant()))
        .await
        .create_procedure(create(v1::ProcedureType::ExcavationPermit, CLEAR_SQUARE))
        .await
        .unwrap()
        .into_inner();
    let p = s
        .client(Some(&s.applicant()))
        .await
        .submit_procedure(v1::SubmitProcedureRequest {
            name: p.name.clone(),
            version: p.version,
            override_blocking_reason: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let start = last_id(&sql).await;
    // The slow client has a connection of its own with a 1 KiB HTTP/2 stream window: it takes
    // a few events and no more until it reads.
    let slow_channel = tonic::transport::Endpoint::from_shared(format!("http://{}", s.addr))
        .unwrap()
        .initial_stream_window_size(1024)
        .connect()
        .await
        .unwrap();
    let mut slow_client = v1::procedure_service_client::ProcedureServiceClient::with_interceptor(
        slow_channel,
        Bearer::token(&s.official(TARTU)),
    );
    let mut slow = watch(&mut slow_client, start, |_| {}).await;
    // 600 assignments (one event each) while the watcher reads nothing: more than the HTTP/2
    // window, the queue and the feed's buffer hold.
    let mut version = p.version;
    for i in 0..600 {
        version = official
            .assign_procedure(v1::AssignProcedureRequest {
                name: p.name.clone(),
                version,
                official: format!("official-{}", i % 3),
            })
            .await
            .unwrap()
            .into_inner()
            .version;
    }
    let expected = events_in_db(&sql, start).await;
    assert_eq!(expected.len(), 600);
    let mut got = BTreeSet::new();
    let mut ids = Vec::new();
    let resumed_from;
    loop {
        let m = tokio::time::timeout(Duration::from_secs(10), slow.message())
            .await
            .expect("a message within 10 s")
            .unwrap();
        match m.and_then(|m| m.item) {
            Some(v1::watch_procedures_response::Item::Event(e)) => {
                assert!(got.insert(e.event_id), "event {} twice", e.event_id);
                ids.push(e.event_id);
            }
            Some(v1::watch_procedures_response::Item::Resume(r)) => {
                assert_eq!(Some(&r.last_event_id), ids.last().or(Some(&start)));
                resumed_from = r.last_event_id;
                break;
            }
            None => panic!("the stream ended without a resume message"),
        }
    }
    let from = resumed_from;
    assert!(ids.len() < 600, "the watcher did not fall behind");
    let mut again = watch(&mut slow_client, from, |_| {}).await;
    while ids.len() < expected.len() {
        let e = next_event(&mut again).await;
        assert!(got.insert(e.event_id), "event {} twice", e.event_id);
        ids.push(e.event_id);
    }
    assert_eq!(ids, expected);
    drop(s);
    db.drop_db().await;
}
