//! The outbox calls of kovgis-store the deliverer builds on, against the real PostGIS: a claim
//! hides its messages for the lease and gives them back when the lease ends without an outcome
//! (a deliverer that crashed: at least once), a late failure report of an earlier attempt
//! changes nothing, the bookkeeping and the webhooks need reach `all`, and a refused webhook
//! does not echo its secret.

mod common;

use std::time::Duration;

use common::*;
use kovgis_store::{Caller, NextAttempt};
use kovgis_testkit::db::FreshDb;
use kovgis_testkit::wait::until;

const SECRET: &str = "s3cret-webhook-key-for-tests";

#[tokio::test]
async fn a_claim_holds_for_its_lease_and_an_abandoned_message_comes_back() {
    let db = FreshDb::new("outbox_lease").await;
    let store = store(&db.url).await;
    let sql = db.sql().await;
    let ids = seed(&store, TARTU, "keskkonnaamet", 3).await;
    let me = Caller::system("outbox-deliverer");

    let first = store
        .claim_outbox(&me, 2, Duration::from_millis(400))
        .await
        .unwrap();
    assert_eq!(first.iter().map(|m| m.id).collect::<Vec<_>>(), ids[..2]);
    assert!(first.iter().all(|m| m.attempts == 1 && m.webhook.is_none()));
    // Held: only the third is still due.
    let second = store
        .claim_outbox(&me, 10, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(second.iter().map(|m| m.id).collect::<Vec<_>>(), ids[2..]);
    assert!(
        store
            .claim_outbox(&me, 10, Duration::from_secs(30))
            .await
            .unwrap()
            .is_empty()
    );
    // Nobody recorded an outcome for the first two (a crash): after the lease they are due again.
    let again = until(
        Duration::from_secs(10),
        Duration::from_millis(20),
        || async {
            let c = store
                .claim_outbox(&me, 10, Duration::from_secs(30))
                .await
                .unwrap();
            (!c.is_empty()).then_some(c)
        },
    )
    .await
    .expect("the abandoned messages come back");
    assert_eq!(
        again.iter().map(|m| (m.id, m.attempts)).collect::<Vec<_>>(),
        [(ids[0], 2), (ids[1], 2)]
    );

    // The report of attempt 1 arrives late: attempt 2 holds the message, nothing changes.
    let stale = store
        .outbox_failed(&me, TARTU, ids[0], 1, "late", NextAttempt::Dead)
        .await
        .unwrap();
    assert!(!stale);
    let r = row(&sql, TARTU, ids[0]).await;
    assert_eq!((r.attempts, r.dead, r.last_error), (2, false, None));
    // The current attempt's report counts; a delivery is recorded once.
    assert!(
        store
            .outbox_failed(
                &me,
                TARTU,
                ids[0],
                2,
                "HTTP 502",
                NextAttempt::After(Duration::from_secs(60))
            )
            .await
            .unwrap()
    );
    let r = row(&sql, TARTU, ids[0]).await;
    assert_eq!(r.last_error.as_deref(), Some("HTTP 502"));
    assert!(
        r.due_in_ms > 50_000.0 && r.due_in_ms <= 60_000.0,
        "{}",
        r.due_in_ms
    );
    assert!(store.outbox_delivered(&me, TARTU, ids[1]).await.unwrap());
    assert!(!store.outbox_delivered(&me, TARTU, ids[1]).await.unwrap());
    db.drop_db().await;
}

#[tokio::test]
async fn bookkeeping_and_webhooks_need_reach_all() {
    let db = FreshDb::new("outbox_reach").await;
    let store = store(&db.url).await;
    let sql = db.sql().await;
    let ids = seed(&store, TARTU, "keskkonnaamet", 1).await;
    let official = Caller::municipal("tartu-official", TARTU);
    // No identity fails closed, whatever reach it claims.
    let nobody = Caller {
        subject: String::new(),
        ..Caller::system("x")
    };

    // An official (and no one) claims nothing and records nothing, even of their own
    // municipality.
    for c in [&official, &nobody] {
        assert!(
            store
                .claim_outbox(c, 10, Duration::from_secs(30))
                .await
                .unwrap()
                .is_empty()
        );
        assert!(!store.outbox_delivered(c, TARTU, ids[0]).await.unwrap());
        let failed = store
            .outbox_failed(c, TARTU, ids[0], 0, "x", NextAttempt::Dead)
            .await
            .unwrap();
        assert!(!failed);
    }
    let r = row(&sql, TARTU, ids[0]).await;
    assert_eq!((r.attempts, r.delivered, r.dead), (0, false, false));

    // Webhooks: national configuration.
    let admin = Caller::system("admin");
    let e = store
        .set_authority_webhook(&official, "keskkonnaamet", "http://127.0.0.1:1/x", SECRET)
        .await
        .unwrap_err();
    assert!(e.is_forbidden(), "{e}");
    assert!(!e.to_string().contains(SECRET));
    store
        .set_authority_webhook(&admin, "keskkonnaamet", "http://127.0.0.1:1/a", SECRET)
        .await
        .unwrap();
    store
        .set_authority_webhook(
            &admin,
            "keskkonnaamet",
            "http://127.0.0.1:2/b",
            "another-secret-0001",
        )
        .await
        .unwrap();
    let w = store
        .authority_webhook(&admin, "keskkonnaamet")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (w.url.as_str(), w.secret.as_str()),
        ("http://127.0.0.1:2/b", "another-secret-0001")
    );
    assert!(!format!("{w:?}").contains("another-secret-0001"));
    assert_eq!(
        store
            .authority_webhook(&official, "keskkonnaamet")
            .await
            .unwrap(),
        None
    );
    let n: i64 = sql
        .query_one("SELECT count(*) FROM authority_webhook", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
    // The claim carries the webhook as configured.
    let claimed = store
        .claim_outbox(
            &Caller::system("outbox-deliverer"),
            10,
            Duration::from_secs(30),
        )
        .await
        .unwrap();
    assert_eq!(claimed[0].webhook.as_ref(), Some(&w));

    // Refused values: named by the check, the secret never echoed.
    let short = "short-secret";
    let e = store
        .set_authority_webhook(&admin, "maa-amet", "http://127.0.0.1:1/x", short)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("16 characters"), "{e}");
    assert!(!e.to_string().contains(short), "{e}");
    let e = store
        .set_authority_webhook(&admin, "maa-amet", "ftp://127.0.0.1/x", SECRET)
        .await
        .unwrap_err();
    assert!(!e.to_string().contains(SECRET), "{e}");
    db.drop_db().await;
}
