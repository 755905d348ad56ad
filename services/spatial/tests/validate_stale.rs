//! A validation index rebuild that fails: the previous index keeps answering, GetIndexStats and
//! the health service say it is stale and since when, the rebuild is retried with back-off, and
//! once the database is mended the index recovers — against a database of its own whose rule
//! table is renamed away and back.

mod common;

use std::time::{Duration, Instant};

use common::validation::{request, square};
use common::*;
use kovgis_spatial::{Backoff, Config};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

async fn stats(s: &mut TestServer) -> v1::IndexStats {
    s.client
        .get_index_stats(v1::GetIndexStatsRequest {})
        .await
        .unwrap()
        .into_inner()
}

/// Polls GetIndexStats until `stale` is as wanted (at most 15 s).
async fn until_stale(s: &mut TestServer, stale: bool) -> v1::IndexStats {
    let t = Instant::now();
    loop {
        let st = stats(s).await;
        if st.stale == stale {
            return st;
        }
        assert!(
            t.elapsed() < Duration::from_secs(15),
            "index stale = {} after 15 s, expected {stale}",
            st.stale
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn health(s: &TestServer, service: &str) -> i32 {
    HealthClient::new(s.channel().await)
        .check(HealthCheckRequest {
            service: service.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status
}

#[tokio::test]
async fn a_failed_rebuild_keeps_the_old_index_says_stale_and_recovers() {
    let db = FreshDb::new("stale").await;
    let c = db.sql().await;
    let mut s = TestServer::start_config(
        &db.url,
        Config {
            index_retry: Backoff {
                initial: Duration::from_millis(200),
                max: Duration::from_millis(800),
            },
            ..Default::default()
        },
    )
    .await;
    let proposal = || request("0793", &square(657_600.0, 6_477_150.0, 10.0));
    let before = s
        .client
        .validate_geometry(proposal())
        .await
        .unwrap()
        .into_inner();
    let fresh = stats(&mut s).await;
    assert!(!fresh.stale && fresh.stale_since.is_none() && fresh.stale_reason.is_empty());
    assert_eq!(
        health(&s, "kovgis.v1.ValidationIndex").await,
        ServingStatus::Serving as i32
    );

    // The rules can no longer be read; an import's notification asks for a rebuild.
    c.batch_execute(
        "ALTER TABLE validation_rule RENAME TO validation_rule_away;
         SELECT pg_notify('kovgis_dataset_version', 'test');",
    )
    .await
    .unwrap();
    let broke_at = std::time::SystemTime::now();
    let stale = until_stale(&mut s, true).await;
    assert!(
        stale.stale_reason.contains("validation_rule"),
        "{}",
        stale.stale_reason
    );
    let since = stale.stale_since.expect("stale since");
    let since = std::time::UNIX_EPOCH + Duration::new(since.seconds as u64, since.nanos as u32);
    assert!(since >= broke_at - Duration::from_secs(1), "{since:?}");
    assert_eq!(stale.built_at, fresh.built_at, "the old index is kept");
    assert_eq!(
        health(&s, "kovgis.v1.ValidationIndex").await,
        ServingStatus::NotServing as i32
    );
    // The rest of the service is up, and validations are answered from the old index.
    assert_eq!(
        health(&s, "kovgis.v1.SpatialService").await,
        ServingStatus::Serving as i32
    );
    let during = s
        .client
        .validate_geometry(proposal())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(during.findings, before.findings);
    assert_eq!(during.index_built_at, fresh.built_at);
    // Retried meanwhile: still stale, since the same moment.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let later = stats(&mut s).await;
    assert!(later.stale);
    assert_eq!(later.stale_since, stale.stale_since);

    // Mended: the next retry rebuilds (no new notification needed), and all is fresh again.
    c.batch_execute("ALTER TABLE validation_rule_away RENAME TO validation_rule")
        .await
        .unwrap();
    let mended = until_stale(&mut s, false).await;
    assert!(mended.stale_since.is_none() && mended.stale_reason.is_empty());
    assert_ne!(mended.built_at, fresh.built_at);
    assert_eq!(
        health(&s, "kovgis.v1.ValidationIndex").await,
        ServingStatus::Serving as i32
    );
    drop(s);
    db.drop_db().await;
}
