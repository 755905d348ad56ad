//! The audit trail and rule versions through the store, as the service role: events written with
//! the writes they record, who and when filled in by the database, one chain per municipality (two
//! municipalities' writers do not wait for each other; one municipality's do), the data tracker's
//! view, and rule versions numbered, authored and confined to the caller's municipality.

use std::time::Duration;

use chrono::{Days, Utc};
use kovgis_store::{AuditAction, AuditEvent, Caller, NewRuleVersion, Store, StoreConfig};
use kovgis_testkit::db::FreshDb;

fn event(municipality: Option<&str>, person: Option<&str>, id: &str) -> AuditEvent {
    AuditEvent {
        municipality_code: municipality.map(Into::into),
        rpc: "Test/Read".into(),
        action: AuditAction::Read,
        entity_kind: "procedure".into(),
        entity_id: id.into(),
        person_code: person.map(Into::into),
        purpose: Some("menetlus".into()),
        details: serde_json::json!({"n": 1}),
    }
}

async fn store(db: &FreshDb) -> Store {
    Store::connect(&StoreConfig::new(db.url.clone(), 4))
        .await
        .unwrap()
}

#[tokio::test]
async fn chains_are_per_municipality_and_writers_of_one_wait_for_each_other() {
    let db = FreshDb::new("auditchain").await;
    let store = store(&db).await;
    let tartu = Caller::municipal("test:tartu", "0793");
    let tallinn = Caller::municipal("test:tallinn", "0784");
    // Tartu's writer holds its chain (event written, not committed yet).
    let a = store.begin_as(&tartu).await.unwrap();
    a.audit(&event(Some("0793"), None, "a")).await.unwrap();
    // Tallinn's writer is not held up by it.
    let b = tokio::time::timeout(Duration::from_secs(5), async {
        let b = store.begin_as(&tallinn).await.unwrap();
        b.audit(&event(Some("0784"), None, "b")).await.unwrap();
        b.commit().await.unwrap();
    })
    .await;
    assert!(
        b.is_ok(),
        "Tallinn's event waited for Tartu's open transaction"
    );
    // Another Tartu writer waits for the first one's commit (one chain, one order).
    let store2 = store.clone();
    let tartu2 = tartu.clone();
    let second = tokio::spawn(async move {
        store2
            .audit(&tartu2, &event(Some("0793"), None, "c"))
            .await
            .unwrap();
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !second.is_finished(),
        "two writers appended to one chain at once"
    );
    a.commit().await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), second)
        .await
        .unwrap()
        .unwrap();
    let c = db.sql().await;
    let rows = c
        .query(
            "SELECT municipality_code::text, seq, entity_id, subject, acting_municipality::text, prev_hash, hash
             FROM audit_event WHERE rpc = 'Test/Read' ORDER BY 1, 2",
            &[],
        )
        .await
        .unwrap();
    let got: Vec<(String, i64, String, String, String)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect();
    assert_eq!(
        got,
        [
            (
                "0784".into(),
                1,
                "b".into(),
                "test:tallinn".into(),
                "0784".into()
            ),
            (
                "0793".into(),
                1,
                "a".into(),
                "test:tartu".into(),
                "0793".into()
            ),
            (
                "0793".into(),
                2,
                "c".into(),
                "test:tartu".into(),
                "0793".into()
            ),
        ]
    );
    // The chain links: Tartu's second event names the first's hash; the first the genesis.
    assert_eq!(rows[1].get::<_, String>(5), "0".repeat(64));
    assert_eq!(rows[2].get::<_, String>(5), rows[1].get::<_, String>(6));
    db.drop_db().await;
}

#[tokio::test]
async fn a_write_and_its_event_commit_together_and_the_event_names_the_real_caller() {
    let db = FreshDb::new("audittx").await;
    let store = store(&db).await;
    let tartu = Caller::municipal("test:tartu", "0793");
    let tx = store.begin_as(&tartu).await.unwrap();
    tx.audit(&event(Some("0793"), None, "rolled-back"))
        .await
        .unwrap();
    drop(tx); // rolled back: no event
    // The writer cannot claim another subject: the trigger takes the transaction's caller.
    let tx = store.begin_as(&tartu).await.unwrap();
    tx.query(
        "INSERT INTO audit_event (municipality_code, subject, rpc, action, entity_kind, entity_id, seq, prev_hash, hash, occurred_at)
         VALUES ('0793', 'someone-else', 'Test/Forge', 'read', 'x', 'y', 99, 'z', 'z', '2000-01-01')",
        &[],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let c = db.sql().await;
    let rows = c
        .query(
            "SELECT entity_id, subject, seq, occurred_at > now() - interval '1 hour'
             FROM audit_event WHERE rpc LIKE 'Test/%'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<_, String>(0), "y");
    assert_eq!(rows[0].get::<_, String>(1), "test:tartu");
    assert_eq!(rows[0].get::<_, i64>(2), 1);
    assert!(rows[0].get::<_, bool>(3));
    db.drop_db().await;
}

#[tokio::test]
async fn data_usage_is_shown_to_the_person_and_the_data_tracker_only() {
    let db = FreshDb::new("auditusage").await;
    let store = store(&db).await;
    let person = "38001010008";
    let official = Caller::municipal("test:tartu-official", "0793");
    // An audited read of the person's data.
    let rows = store
        .read_audited(
            &official,
            "SELECT count(*) FROM parcel",
            &[],
            &event(Some("0793"), Some(person), "procedure-1"),
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    store
        .audit(
            &official,
            &event(Some("0793"), Some("49002020006"), "other"),
        )
        .await
        .unwrap();
    let (from, to) = (Utc::now() - Days::new(1), Utc::now() + Days::new(1));
    let tracker = Caller::system("data-tracker");
    let uses = store
        .list_data_usage(&tracker, person, from, to)
        .await
        .unwrap();
    assert_eq!(uses.len(), 1);
    let u = &uses[0];
    assert_eq!(
        (
            u.action.as_str(),
            u.receiver_subject.as_str(),
            u.receiver_municipality.as_deref(),
            u.rpc.as_str(),
            u.entity_kind.as_str(),
            u.entity_id.as_str(),
            u.purpose.as_deref()
        ),
        (
            "read",
            "test:tartu-official",
            Some("0793"),
            "Test/Read",
            "procedure",
            "procedure-1",
            Some("menetlus")
        )
    );
    // The person (identified by their own code) sees it; another person and another
    // municipality's official do not.
    let me = Caller {
        subject: format!("person:{person}"),
        municipality: None,
        reach: kovgis_store::Reach::Own,
        person_code: Some(person.into()),
        authority: None,
    };
    assert_eq!(
        store.list_data_usage(&me, person, from, to).await.unwrap(),
        uses
    );
    let other = Caller {
        person_code: Some("49002020006".into()),
        authority: None,
        ..me.clone()
    };
    assert!(
        store
            .list_data_usage(&other, person, from, to)
            .await
            .unwrap()
            .is_empty()
    );
    let tallinn = Caller::municipal("test:tallinn", "0784");
    assert!(
        store
            .list_data_usage(&tallinn, person, from, to)
            .await
            .unwrap()
            .is_empty()
    );
    // Outside the period: nothing.
    assert!(
        store
            .list_data_usage(&tracker, person, to, to + Days::new(1))
            .await
            .unwrap()
            .is_empty()
    );
    db.drop_db().await;
}

fn setback(municipality: Option<&str>, from: chrono::NaiveDate, min_m: f64) -> NewRuleVersion {
    NewRuleVersion {
        code: "SETBACK".into(),
        municipality: municipality.map(Into::into),
        severity: "warning".into(),
        procedures: vec!["building_permit".into()],
        params: serde_json::json!({ "min_m": min_m }),
        valid_from: from,
        valid_to: None,
        description: "test".into(),
    }
}

#[tokio::test]
async fn rule_versions_are_numbered_authored_audited_and_confined() {
    let db = FreshDb::new("rules").await;
    let store = store(&db).await;
    let c = db.sql().await;
    let today: chrono::NaiveDate = c
        .query_one("SELECT current_date", &[])
        .await
        .unwrap()
        .get(0);
    let admin = Caller::municipal("test:tartu-admin", "0793");
    let v1 = store
        .create_rule_version(&admin, setback(Some("0793"), today, 6.0))
        .await
        .unwrap();
    assert_eq!(
        (
            v1.version,
            v1.municipality_code.as_deref(),
            v1.author.as_str()
        ),
        (1, Some("0793"), "test:tartu-admin")
    );
    let v2 = store
        .create_rule_version(&admin, setback(Some("0793"), today + Days::new(30), 8.0))
        .await
        .unwrap();
    assert_eq!(v2.version, 2);
    // Not starting after the latest version, or in the past: refused.
    for from in [today + Days::new(30), today + Days::new(10)] {
        let e = store
            .create_rule_version(&admin, setback(Some("0793"), from, 9.0))
            .await
            .unwrap_err();
        assert!(
            matches!(
                e,
                kovgis_store::StoreError::InvalidField {
                    field: "valid_from",
                    ..
                }
            ),
            "{e}"
        );
    }
    let coverage_yesterday = NewRuleVersion {
        code: "COVERAGE".into(),
        ..setback(Some("0793"), today - Days::new(1), 9.0)
    };
    let e = store
        .create_rule_version(&admin, coverage_yesterday)
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            kovgis_store::StoreError::InvalidField {
                field: "valid_from",
                ..
            }
        ),
        "{e}"
    );
    // Another municipality's rule, or a national one, is refused by row-level security.
    for m in [Some("0784"), None] {
        let e = store
            .create_rule_version(&admin, setback(m, today + Days::new(60), 9.0))
            .await
            .unwrap_err();
        assert!(e.is_forbidden(), "{m:?}: {e}");
    }
    // A national version by a national caller: version 2 after migration 0006's v1.
    let national = store
        .create_rule_version(
            &Caller::system("test-national"),
            setback(None, today + Days::new(1), 5.0),
        )
        .await
        .unwrap();
    assert_eq!((national.version, national.municipality_code), (2, None));

    // What the rows and the audit trail say, read as the superuser.
    let rows = c
        .query(
            "SELECT coalesce(municipality_code::text, '-'), version, author FROM validation_rule
             WHERE code = 'SETBACK' ORDER BY 1, 2",
            &[],
        )
        .await
        .unwrap();
    let got: Vec<(String, i32, String)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        got,
        [
            ("-".into(), 1, "system:migration-0008".into()),
            ("-".into(), 2, "system:test-national".into()),
            ("0793".into(), 1, "test:tartu-admin".into()),
            ("0793".into(), 2, "test:tartu-admin".into()),
        ]
    );
    let events: Vec<(String, String, String)> = c
        .query(
            "SELECT coalesce(municipality_code::text, '-'), entity_id, subject FROM audit_event
             WHERE entity_kind = 'validation_rule' ORDER BY 1, seq",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        events,
        [
            (
                "-".into(),
                "SETBACK/v2".into(),
                "system:test-national".into()
            ),
            (
                "0793".into(),
                "SETBACK/v1".into(),
                "test:tartu-admin".into()
            ),
            (
                "0793".into(),
                "SETBACK/v2".into(),
                "test:tartu-admin".into()
            ),
        ]
    );

    // Listing: national defaults and the municipality's own; Tallinn does not see Tartu's.
    let national_count: i64 = c
        .query_one(
            "SELECT count(*) FROM validation_rule WHERE municipality_code IS NULL",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let listed = store.list_rules(&admin, Some("0793"), None).await.unwrap();
    assert_eq!(listed.len() as i64, national_count + 2);
    let tallinn = Caller::municipal("test:tallinn-admin", "0784");
    let listed = store
        .list_rules(&tallinn, Some("0793"), None)
        .await
        .unwrap();
    assert_eq!(listed.len() as i64, national_count);
    // In force today: Tartu's v1 and the national SETBACK v1 (v2 starts tomorrow).
    let on_today = store
        .list_rules(&admin, Some("0793"), Some(today))
        .await
        .unwrap();
    let setbacks: Vec<(Option<String>, i32)> = on_today
        .iter()
        .filter(|r| r.code == "SETBACK")
        .map(|r| (r.municipality_code.clone(), r.version))
        .collect();
    assert_eq!(setbacks, [(None, 1), (Some("0793".into()), 1)]);
    db.drop_db().await;
}
