//! The two connection pools against the test database: read-query connections run under the
//! configured `statement_timeout` (PostgreSQL cancels a longer statement, SQLSTATE 57014) and
//! bulk connections do not; a pool with every connection taken answers a waiting caller with a
//! timeout error after its wait timeout, not never.

use std::time::{Duration, Instant};

use kovgis_store::{Store, StoreConfig};
use kovgis_testkit::db::database_url;

async fn store(config: StoreConfig) -> Store {
    Store::connect(&config).await.expect("connecting")
}

#[tokio::test]
async fn read_queries_are_cut_at_the_statement_timeout_and_bulk_work_is_not() {
    let s = store(StoreConfig {
        statement_timeout: Some(Duration::from_millis(200)),
        ..StoreConfig::new(database_url(), 2)
    })
    .await;
    let read = s.query_client().await.unwrap();
    let setting: String = read
        .query_one("SHOW statement_timeout", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(setting, "200ms");
    let e = read
        .query_one("SELECT pg_sleep(2)", &[])
        .await
        .expect_err("cancelled by statement_timeout");
    assert_eq!(
        e.code(),
        Some(&tokio_postgres::error::SqlState::QUERY_CANCELED),
        "{e:?}"
    );
    let bulk = s.client().await.unwrap();
    bulk.query_one("SELECT pg_sleep(0.5)", &[])
        .await
        .expect("bulk work has no statement timeout");
}

#[tokio::test]
async fn a_full_pool_answers_a_waiting_caller_with_a_timeout() {
    let s = store(StoreConfig {
        wait_timeout: Some(Duration::from_millis(300)),
        ..StoreConfig::new(database_url(), 1)
    })
    .await;
    let _held = s.query_client().await.unwrap();
    let t = Instant::now();
    let e = s.query_client().await.expect_err("no free connection");
    assert!(e.is_pool_timeout(), "{e:?}");
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    // The bulk pool is another: its connections are still to be had.
    assert!(s.client().await.is_ok());
}
