//! Concurrency and idempotency, through the gRPC client against the real database.
//!
//! - Many writers race on one procedure, each reading it and writing on the version it read:
//!   every write either lands or is `ABORTED` (stale), none is lost — the final version is one
//!   more than the number of writes that landed, and the history holds exactly one event per
//!   version, each naming the writer that landed it.
//! - A create retried with the same idempotency key (also many at once) makes one procedure;
//!   the same key with other contents is `ALREADY_EXISTS`.

mod common;

use std::collections::BTreeSet;

use common::*;
use kovgis_auth::Role;
use tonic::Code;

#[tokio::test]
async fn concurrent_writers_on_stale_versions_lose_nothing() {
    let db = FreshDb::new("proc_concurrency").await;
    let s = Server::start(&db.url, Mode::InProcess).await;
    let mut applicant = s.client(Some(&s.applicant())).await;
    let p = applicant
        .create_procedure(create(v1::ProcedureType::FellingPermit, CLEAR_SQUARE))
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
    let start = p.version;

    const WRITERS: usize = 12;
    const ROUNDS: usize = 6;
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let token = s.person(&format!("official-{w}"), TARTU, &[Role::Official]);
        let mut c = s.client(Some(&token)).await;
        let name = p.name.clone();
        tasks.push(tokio::spawn(async move {
            let (mut landed, mut aborted) = (Vec::new(), 0);
            for round in 0..ROUNDS {
                let cur = c
                    .get_procedure(v1::GetProcedureRequest {
                        name: name.clone(),
                        purpose: String::new(),
                    })
                    .await
                    .unwrap()
                    .into_inner();
                let who = format!("official-{w}-round-{round}");
                match c
                    .assign_procedure(v1::AssignProcedureRequest {
                        name: name.clone(),
                        version: cur.version,
                        official: who.clone(),
                    })
                    .await
                {
                    Ok(r) => landed.push((r.into_inner().version, who)),
                    Err(e) => {
                        assert_eq!(e.code(), Code::Aborted, "{e:?}");
                        aborted += 1;
                    }
                }
            }
            (landed, aborted)
        }));
    }
    let mut landed = Vec::new();
    let mut aborted = 0;
    for t in tasks {
        let (l, a) = t.await.unwrap();
        landed.extend(l);
        aborted += a;
    }
    assert_eq!(landed.len() + aborted, WRITERS * ROUNDS);
    assert!(!landed.is_empty());
    assert!(
        aborted > 0,
        "the writers never raced: the test proves nothing"
    );

    let mut official = s.client(Some(&s.official(TARTU))).await;
    let now = official
        .get_procedure(v1::GetProcedureRequest {
            name: p.name.clone(),
            purpose: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(now.version, start + landed.len() as i64);
    // Each landed write produced a version of its own, and the history has exactly one event
    // per version, holding what that writer wrote.
    let versions: BTreeSet<i64> = landed.iter().map(|(v, _)| *v).collect();
    assert_eq!(versions.len(), landed.len());
    let h = official
        .get_procedure_history(v1::GetProcedureHistoryRequest {
            name: p.name.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .events;
    assert_eq!(
        h.iter().map(|e| e.sequence as i64).collect::<Vec<_>>(),
        (1..=now.version).collect::<Vec<_>>()
    );
    for (v, who) in &landed {
        let e = &h[(*v - 1) as usize];
        let changes: serde_json::Value = serde_json::from_str(&e.changes_json).unwrap();
        assert_eq!(changes["assigned_official"]["after"], *who, "{e:?}");
    }
    // The last landed write is what the procedure holds.
    let last = landed.iter().max_by_key(|(v, _)| *v).unwrap();
    assert_eq!(now.assigned_official, last.1);
    drop(s);
    db.drop_db().await;
}

#[tokio::test]
async fn a_retried_create_makes_one_procedure() {
    let db = FreshDb::new("proc_idempotent").await;
    let s = Server::start(&db.url, Mode::InProcess).await;
    let token = s.applicant();
    let mut req = create(v1::ProcedureType::ExcavationPermit, CLEAR_SQUARE);
    req.idempotency_key = "app-7f3c-0001".into();

    // Eight retries of one request at once.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let mut c = s.client(Some(&token)).await;
        let r = req.clone();
        tasks.push(tokio::spawn(async move {
            c.create_procedure(r).await.map(|r| r.into_inner().name)
        }));
    }
    let mut names = BTreeSet::new();
    for t in tasks {
        names.insert(t.await.unwrap().unwrap());
    }
    assert_eq!(names.len(), 1, "{names:?}");
    let n: i64 = db
        .sql()
        .await
        .query_one("SELECT count(*) FROM procedure", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);

    // The same key with other contents.
    let mut other = req.clone();
    other.contents.as_mut().unwrap().description = "another excavation".into();
    let mut c = s.client(Some(&token)).await;
    let e = c.create_procedure(other).await.unwrap_err();
    assert_status(&e, Code::AlreadyExists, Some("IDEMPOTENCY_KEY_REUSED"));
    // Another caller's same key is its own.
    let mut official = s.client(Some(&s.official(TARTU))).await;
    let theirs = official
        .create_procedure(req.clone())
        .await
        .unwrap()
        .into_inner();
    assert!(!names.contains(&theirs.name));
    // Without a key, every create is a new procedure.
    let mut plain = req.clone();
    plain.idempotency_key.clear();
    let a = c
        .create_procedure(plain.clone())
        .await
        .unwrap()
        .into_inner();
    let b = c.create_procedure(plain).await.unwrap().into_inner();
    assert_ne!(a.name, b.name);
    drop(s);
    db.drop_db().await;
}

/// The store itself refuses a second change made on the same version (the service's own early
/// check bypassed): the first lands, the second is stale, and only one event is written.
#[tokio::test]
async fn the_store_writes_one_change_per_version() {
    use kovgis_store::procedures::{Change, ProcedureKey, Set};
    use kovgis_store::{AuditAction, AuditEvent, Caller, StoreError};
    let db = FreshDb::new("proc_store_version").await;
    let s = Server::start(&db.url, Mode::InProcess).await;
    let mut applicant = s.client(Some(&s.applicant())).await;
    let p = applicant
        .create_procedure(create(v1::ProcedureType::FellingPermit, CLEAR_SQUARE))
        .await
        .unwrap()
        .into_inner();
    let id = p.name.rsplit('/').next().unwrap().to_owned();
    let key = ProcedureKey {
        municipality_code: TARTU.into(),
        id: id.clone(),
    };
    let caller = Caller::municipal("official-0793", TARTU);
    let change = |who: &str| Change {
        key: key.clone(),
        expected_version: 1,
        action: "assign".into(),
        note: String::new(),
        state_before: "draft".into(),
        state_after: "draft".into(),
        sets: vec![Set::value("assigned_official", Some(who.to_owned()))],
        changes: serde_json::json!({"assigned_official": {"before": null, "after": who}}),
        open: vec![],
        answer: None,
        outbox: vec![],
        audit: AuditEvent {
            municipality_code: Some(TARTU.into()),
            rpc: "test".into(),
            action: AuditAction::Write,
            entity_kind: "procedure".into(),
            entity_id: id.clone(),
            person_code: None,
            purpose: None,
            details: serde_json::json!({}),
        },
    };
    let (a, b) = tokio::join!(
        s.store.change_procedure(&caller, change("first")),
        s.store.change_procedure(&caller, change("second"))
    );
    let (won, lost) = match (a, b) {
        (Ok(w), Err(e)) | (Err(e), Ok(w)) => (w, e),
        other => panic!("exactly one change must land: {other:?}"),
    };
    assert_eq!(won.version, 2);
    assert!(
        matches!(
            lost,
            StoreError::StaleVersion {
                expected: 1,
                current: 2,
                ..
            }
        ),
        "{lost:?}"
    );
    let sql = db.sql().await;
    let events: i64 = sql
        .query_one(
            "SELECT count(*) FROM procedure_event WHERE procedure_id = $1::text::uuid",
            &[&id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(events, 2, "the create and the one change");
    let stored: String = sql
        .query_one(
            "SELECT assigned_official FROM procedure WHERE id = $1::text::uuid",
            &[&id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(Some(stored), won.assigned_official);
    drop(s);
    db.drop_db().await;
}

/// A change whose statements all go to the database together, commit included, writes nothing
/// when one of them refuses: here it opens request 1 (an insert that succeeds), then answers
/// request 2, which is not pending (there is none) — `Invalid`, and the procedure's version,
/// its events, its requests, its outbox and the audit trail are as before.
#[tokio::test]
async fn a_change_refused_midway_writes_nothing() {
    use kovgis_store::procedures::{Answer, Change, NewCoordination, OutboxMessage, ProcedureKey};
    use kovgis_store::{AuditAction, AuditEvent, Caller, StoreError};
    let db = FreshDb::new("proc_store_midway").await;
    let s = Server::start(&db.url, Mode::InProcess).await;
    let mut applicant = s.client(Some(&s.applicant())).await;
    let p = applicant
        .create_procedure(create(v1::ProcedureType::FellingPermit, CLEAR_SQUARE))
        .await
        .unwrap()
        .into_inner();
    let id = p.name.rsplit('/').next().unwrap().to_owned();
    let change = Change {
        key: ProcedureKey {
            municipality_code: TARTU.into(),
            id: id.clone(),
        },
        expected_version: 1,
        action: "midway".into(),
        note: String::new(),
        state_before: "draft".into(),
        state_after: "draft".into(),
        sets: vec![],
        changes: serde_json::json!({}),
        open: vec![NewCoordination {
            number: 1,
            authority: "Keskkonnaamet".into(),
            finding_keys: vec![],
            note: String::new(),
            answer_due: chrono::NaiveDate::from_ymd_opt(2030, 1, 1).unwrap(),
            rule: serde_json::json!({}),
        }],
        answer: Some(Answer {
            number: 2,
            status: "agreed".into(),
            text: String::new(),
            conditions: String::new(),
        }),
        outbox: vec![OutboxMessage {
            authority: "Keskkonnaamet".into(),
            kind: "coordination_requested".into(),
            payload: serde_json::json!({}),
        }],
        audit: AuditEvent {
            municipality_code: Some(TARTU.into()),
            rpc: "midway-test".into(),
            action: AuditAction::Write,
            entity_kind: "procedure".into(),
            entity_id: id.clone(),
            person_code: None,
            purpose: None,
            details: serde_json::json!({}),
        },
    };
    let caller = Caller::municipal("official-0793", TARTU);
    let refused = s.store.change_procedure(&caller, change).await;
    assert!(
        matches!(&refused, Err(StoreError::Invalid(m)) if m.contains("not pending")),
        "{refused:?}"
    );
    let sql = db.sql().await;
    let count = |q: &'static str| {
        let sql = &sql;
        let id = id.clone();
        async move { sql.query_one(q, &[&id]).await.unwrap().get::<_, i64>(0) }
    };
    assert_eq!(
        count("SELECT version FROM procedure WHERE id = $1::text::uuid").await,
        1
    );
    assert_eq!(
        count("SELECT count(*) FROM procedure_event WHERE procedure_id = $1::text::uuid").await,
        1,
        "only the create's event"
    );
    assert_eq!(
        count("SELECT count(*) FROM coordination_request WHERE procedure_id = $1::text::uuid")
            .await,
        0
    );
    assert_eq!(
        count("SELECT count(*) FROM outbox WHERE procedure_id = $1::text::uuid").await,
        0
    );
    assert_eq!(
        count("SELECT count(*) FROM audit_event WHERE entity_id = $1 AND rpc = 'midway-test'")
            .await,
        0
    );
    drop(s);
    db.drop_db().await;
}
