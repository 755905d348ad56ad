//! Outbox delivery against the real PostGIS and a webhook receiver in the test: a receiver
//! that fails twice then accepts (one acceptance, three attempts, backoff between them, every
//! signature checked with `openssl`), one that always fails (a dead letter after the last
//! attempt, seen by its municipality's official only), one that never answers (a timeout is a
//! failure), an authority without a webhook, and two deliverers over 50 messages (each
//! delivered exactly once). Every test works in a database of its own, as deliverers take any
//! due message.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::*;
use kovgis_outbox::{Deliverer, DelivererConfig, DeliveryStats};
use kovgis_store::Caller;
use kovgis_testkit::db::FreshDb;

const SECRET: &str = "s3cret-webhook-key-for-tests";
const AUTHORITY: &str = "keskkonnaamet";

/// Small backoffs and timeouts, so that the tests take fractions of a second.
fn config() -> DelivererConfig {
    DelivererConfig {
        batch_size: 8,
        lease: Duration::from_secs(30),
        max_attempts: 8,
        backoff_base: Duration::from_millis(100),
        backoff_cap: Duration::from_millis(400),
        request_timeout: Duration::from_secs(5),
        max_response_bytes: 1024,
        poll_interval: Duration::from_millis(20),
    }
}

/// Runs rounds until `done` holds of the summed stats (at most 20 s, 5 ms between empty
/// rounds); the sum.
async fn rounds_until(d: &Deliverer, done: impl Fn(&DeliveryStats) -> bool) -> DeliveryStats {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut sum = DeliveryStats::default();
    loop {
        let s = d.run_once().await.unwrap();
        sum.claimed += s.claimed;
        sum.delivered += s.delivered;
        sum.retrying += s.retrying;
        sum.dead += s.dead;
        sum.unrecorded += s.unrecorded;
        if done(&sum) {
            return sum;
        }
        assert!(
            Instant::now() < deadline,
            "not reached within 20 s: {sum:?}"
        );
        if s.claimed == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

#[tokio::test]
async fn fails_twice_then_accepts_once_after_three_signed_attempts() {
    let db = FreshDb::new("outbox_twice").await;
    let store = store(&db.url).await;
    let sql = db.sql().await;
    let hook = receiver(Duration::ZERO, |n| match n {
        1 | 2 => Reply::Status(503, "busy"),
        _ => Reply::Status(200, "ok"),
    })
    .await;
    store
        .set_authority_webhook(&Caller::system("admin"), AUTHORITY, &hook.url(), SECRET)
        .await
        .unwrap();
    let ids = seed(&store, TARTU, AUTHORITY, 1).await;
    let d = Deliverer::new(store.clone(), config()).unwrap();

    let sum = rounds_until(&d, |s| s.delivered == 1).await;
    assert_eq!(
        (sum.claimed, sum.retrying, sum.dead, sum.unrecorded),
        (3, 2, 0, 0)
    );
    // Nothing more is due: another round claims nothing and the receiver hears nothing more.
    assert_eq!(d.run_once().await.unwrap(), DeliveryStats::default());
    let got = hook.received();
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(
        got.iter().map(|r| r.status).collect::<Vec<_>>(),
        [Some(503), Some(503), Some(200)]
    );
    let expected_id = format!("{TARTU}/{}", ids[0]);
    let now = chrono::Utc::now().timestamp();
    for r in &got {
        assert_eq!(r.message_id, expected_id);
        assert_eq!(r.content_type, "application/json");
        let ts: i64 = r.timestamp.parse().unwrap();
        assert!((now - ts).abs() <= 60, "timestamp {ts} vs now {now}");
        assert_eq!(
            r.signature,
            openssl_signature(SECRET, &r.timestamp, &r.body).await
        );
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["message_id"], expected_id.as_str());
        assert_eq!(body["municipality_code"], TARTU);
        assert_eq!(body["authority"], AUTHORITY);
        assert_eq!(body["kind"], "coordination_requested");
        assert_eq!(
            body["payload"],
            serde_json::json!({"request": 1, "findings": ["water-protection"]})
        );
    }
    // The same body on every attempt (only the timestamp and signature differ).
    assert!(got.iter().all(|r| r.body == got[0].body));
    // The backoff: at least half of 100 ms, then of 200 ms, between the attempts.
    assert!(got[1].at - got[0].at >= Duration::from_millis(50));
    assert!(got[2].at - got[1].at >= Duration::from_millis(100));

    let r = row(&sql, TARTU, ids[0]).await;
    assert_eq!((r.attempts, r.delivered, r.dead), (3, true, false));
    assert_eq!(
        r.last_error.as_deref(),
        Some("HTTP 503 Service Unavailable: busy")
    );
    db.drop_db().await;
}

#[tokio::test]
async fn always_failing_receiver_leaves_a_dead_letter_only_its_municipality_sees() {
    let db = FreshDb::new("outbox_dead").await;
    let store = store(&db.url).await;
    let sql = db.sql().await;
    let hook = receiver(Duration::ZERO, |_| {
        Reply::Status(500, "down for maintenance")
    })
    .await;
    store
        .set_authority_webhook(&Caller::system("admin"), AUTHORITY, &hook.url(), SECRET)
        .await
        .unwrap();
    let tartu = seed(&store, TARTU, AUTHORITY, 1).await[0];
    let tallinn = seed(&store, TALLINN, AUTHORITY, 1).await[0];
    let d = Deliverer::new(
        store.clone(),
        DelivererConfig {
            max_attempts: 3,
            ..config()
        },
    )
    .unwrap();

    let sum = rounds_until(&d, |s| s.dead == 2).await;
    assert_eq!((sum.claimed, sum.retrying, sum.delivered), (6, 4, 0));
    assert_eq!(d.run_once().await.unwrap(), DeliveryStats::default());
    let got = hook.received();
    let per_id = |id: &str| got.iter().filter(|r| r.message_id == id).count();
    assert_eq!(got.len(), 6);
    assert_eq!(per_id(&format!("{TARTU}/{tartu}")), 3);
    assert_eq!(per_id(&format!("{TALLINN}/{tallinn}")), 3);
    let error = "HTTP 500 Internal Server Error: down for maintenance";
    for (m, id) in [(TARTU, tartu), (TALLINN, tallinn)] {
        let r = row(&sql, m, id).await;
        assert_eq!((r.attempts, r.delivered, r.dead), (3, false, true));
        assert_eq!(r.last_error.as_deref(), Some(error));
    }

    // The officials' view, under row-level security.
    let tartu_official = Caller::municipal("tartu-official", TARTU);
    let tallinn_official = Caller::municipal("tallinn-official", TALLINN);
    let seen = store
        .delivery_failures(&tartu_official, TARTU)
        .await
        .unwrap();
    assert_eq!(seen.len(), 1);
    let l = &seen[0];
    assert_eq!(
        (l.procedure.municipality_code.as_str(), l.id, l.attempts),
        (TARTU, tartu, 3)
    );
    assert_eq!(
        (l.authority.as_str(), l.kind.as_str()),
        (AUTHORITY, "coordination_requested")
    );
    assert_eq!(l.last_error, error);
    assert!(l.failed_at <= chrono::Utc::now());
    assert!(
        store
            .delivery_failures(&tallinn_official, TARTU)
            .await
            .unwrap()
            .is_empty()
    );
    let own = store
        .delivery_failures(&tallinn_official, TALLINN)
        .await
        .unwrap();
    assert_eq!(own.iter().map(|l| l.id).collect::<Vec<_>>(), [tallinn]);
    assert!(
        store
            .delivery_failures(&tartu_official, TALLINN)
            .await
            .unwrap()
            .is_empty()
    );
    let nobody = Caller::municipal("", TARTU);
    assert!(
        store
            .delivery_failures(&nobody, TARTU)
            .await
            .unwrap()
            .is_empty()
    );
    db.drop_db().await;
}

#[tokio::test]
async fn a_receiver_that_never_answers_is_a_failed_attempt_after_the_timeout() {
    let db = FreshDb::new("outbox_timeout").await;
    let store = store(&db.url).await;
    let sql = db.sql().await;
    let hook = receiver(Duration::ZERO, |_| Reply::Hang).await;
    store
        .set_authority_webhook(&Caller::system("admin"), AUTHORITY, &hook.url(), SECRET)
        .await
        .unwrap();
    let id = seed(&store, TARTU, AUTHORITY, 1).await[0];
    let timeout = Duration::from_millis(300);
    let d = Deliverer::new(
        store.clone(),
        DelivererConfig {
            request_timeout: timeout,
            lease: Duration::from_secs(5),
            backoff_base: Duration::from_secs(2),
            backoff_cap: Duration::from_secs(2),
            ..config()
        },
    )
    .unwrap();

    let started = Instant::now();
    let s = d.run_once().await.unwrap();
    let took = started.elapsed();
    assert_eq!((s.claimed, s.retrying, s.delivered, s.dead), (1, 1, 0, 0));
    assert!(took >= timeout && took < Duration::from_secs(3), "{took:?}");
    assert_eq!(hook.received().len(), 1);
    let r = row(&sql, TARTU, id).await;
    assert_eq!((r.attempts, r.delivered, r.dead), (1, false, false));
    assert_eq!(
        r.last_error.as_deref(),
        Some("timed out after 300 ms without a complete answer")
    );
    // Retried after the backoff (half to all of 2 s from now), not before.
    assert!(
        r.due_in_ms > 500.0 && r.due_in_ms <= 2000.0,
        "{}",
        r.due_in_ms
    );
    assert_eq!(d.run_once().await.unwrap().claimed, 0);
    db.drop_db().await;
}

#[tokio::test]
async fn an_authority_without_a_webhook_waits_then_becomes_a_visible_dead_letter() {
    let db = FreshDb::new("outbox_nohook").await;
    let store = store(&db.url).await;
    let sql = db.sql().await;
    let id = seed(&store, TARTU, "maa-amet", 1).await[0];
    let d = Deliverer::new(
        store.clone(),
        DelivererConfig {
            max_attempts: 2,
            ..config()
        },
    )
    .unwrap();

    let s = d.run_once().await.unwrap();
    assert_eq!((s.claimed, s.retrying), (1, 1));
    let r = row(&sql, TARTU, id).await;
    assert_eq!((r.attempts, r.delivered, r.dead), (1, false, false));
    assert_eq!(
        r.last_error.as_deref(),
        Some("no webhook configured for maa-amet")
    );
    let sum = rounds_until(&d, |s| s.dead == 1).await;
    assert_eq!(sum.claimed, 1);
    let seen = store
        .delivery_failures(&Caller::municipal("tartu-official", TARTU), TARTU)
        .await
        .unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!((seen[0].id, seen[0].attempts), (id, 2));
    assert_eq!(seen[0].last_error, "no webhook configured for maa-amet");
    db.drop_db().await;
}

#[tokio::test]
async fn two_deliverers_at_once_deliver_each_of_50_messages_exactly_once() {
    let db = FreshDb::new("outbox_two").await;
    let sql = db.sql().await;
    // Two deliverers with pools of their own, as two instances would have.
    let (store_a, store_b) = (store(&db.url).await, store(&db.url).await);
    // Each answer takes 20 ms, so that the deliverers' rounds overlap.
    let hook = receiver(Duration::from_millis(20), |_| Reply::Status(204, "")).await;
    store_a
        .set_authority_webhook(&Caller::system("admin"), AUTHORITY, &hook.url(), SECRET)
        .await
        .unwrap();
    let mut ids = seed(&store_a, TARTU, AUTHORITY, 30).await;
    ids.extend(seed(&store_a, TALLINN, AUTHORITY, 20).await);
    let small = DelivererConfig {
        batch_size: 5,
        ..config()
    };
    let a = Deliverer::new(store_a, small.clone()).unwrap();
    let b = Deliverer::new(store_b, small).unwrap();

    async fn drain(d: &Deliverer) -> usize {
        let mut delivered = 0;
        loop {
            let s = d.run_once().await.unwrap();
            assert_eq!((s.retrying, s.dead, s.unrecorded), (0, 0, 0), "{s:?}");
            delivered += s.delivered;
            if s.claimed == 0 {
                return delivered;
            }
        }
    }
    let (by_a, by_b) = tokio::join!(drain(&a), drain(&b));
    assert_eq!(by_a + by_b, 50);
    assert!(by_a > 0 && by_b > 0, "both delivered: {by_a} and {by_b}");

    let mut counts: HashMap<String, usize> = HashMap::new();
    for r in hook.received() {
        *counts.entry(r.message_id).or_default() += 1;
    }
    assert_eq!(counts.len(), 50);
    assert!(counts.values().all(|&n| n == 1), "{counts:?}");
    let n: i64 = sql
        .query_one(
            "SELECT count(*) FROM outbox WHERE delivered_at IS NOT NULL AND attempts = 1
                                           AND dead_at IS NULL",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 50);
    db.drop_db().await;
}
