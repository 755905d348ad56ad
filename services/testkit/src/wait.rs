//! Waiting for something that happens in the background (an index rebuilt after a
//! notification, an import's COPY starting or ending) by polling with a deadline, so that a
//! test neither sleeps a fixed guess nor hangs when the thing never happens.
//!
//! Not for time-dependent logic under test: that takes an injected clock.

use std::future::Future;
use std::time::{Duration, Instant};

use tokio_postgres::Client;

/// Calls `probe` every `step` until it gives `Some`, for at most `within` (it is called at least
/// once, and once more at the deadline); `None` if it never did.
pub async fn until<T, F, Fut>(within: Duration, step: Duration, mut probe: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = probe().await {
            return Some(v);
        }
        let now = Instant::now();
        if now >= deadline {
            return None;
        }
        tokio::time::sleep(step.min(deadline - now)).await;
    }
}

/// Whether an import is copying rows into its staging table in the database `c` is connected
/// to right now (an active `COPY import_stage…` in `pg_stat_activity`).
pub async fn import_copying(c: &Client) -> bool {
    let n: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
               AND query LIKE 'COPY import_stage%' AND state = 'active'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    n > 0
}

/// Waits up to `within` until an import's COPY is running (`true`) or gone (`false`) in the
/// database `c` is connected to; says whether it got there.
pub async fn import_copy(c: &Client, running: bool, within: Duration) -> bool {
    until(within, Duration::from_millis(10), || async {
        (import_copying(c).await == running).then_some(())
    })
    .await
    .is_some()
}
