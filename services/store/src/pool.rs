//! The connection pools and the server checks made when they open.
//!
//! Two pools over the same database, created lazily: `queries` for the services' read queries
//! (each statement bounded by [`StoreConfig::statement_timeout`]; `QueryFeatures` streams and
//! "as of" reads come from it too) and `bulk` for work whose statements are long by nature
//! (imports, index builds, migrations, fixtures), so that waiting imports never take the
//! connections the read calls need. A caller waits at most [`StoreConfig::wait_timeout`] for a
//! connection of either pool ([`StoreError::is_pool_timeout`]).

use std::str::FromStr;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime, Timeouts};
use tokio_postgres::NoTls;

use crate::StoreError;

/// How to reach the database.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// A libpq-style URL, `postgres://user@host:port/db`.
    pub database_url: String,
    /// Most connections of the read-query pool.
    pub max_connections: usize,
    /// Most connections of the bulk pool (imports, index builds, migrations).
    pub max_bulk_connections: usize,
    /// Longest wait for a free connection of either pool (`None`: wait as long as it takes).
    pub wait_timeout: Option<Duration>,
    /// PostgreSQL `statement_timeout` of the read-query connections (`None`: the server's).
    pub statement_timeout: Option<Duration>,
}

impl StoreConfig {
    /// `max_connections` read-query connections, 4 bulk ones, a 5 s wait for a connection and
    /// no statement timeout (what the command-line tools want; `kovgis serve` sets one).
    pub fn new(database_url: impl Into<String>, max_connections: usize) -> Self {
        Self {
            database_url: database_url.into(),
            max_connections,
            max_bulk_connections: 4,
            wait_timeout: Some(Duration::from_secs(5)),
            statement_timeout: None,
        }
    }
}

/// The PostGIS store: a pool of connections, cheap to clone.
#[derive(Clone)]
pub struct Store {
    /// Imports, index builds, migrations, fixtures: no statement timeout.
    pub(crate) pool: Pool,
    /// The services' read queries, under the statement timeout.
    pub(crate) queries: Pool,
    /// For connections outside the pool (LISTEN).
    pg_config: tokio_postgres::Config,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("bulk", &self.pool.status())
            .field("queries", &self.queries.status())
            .finish()
    }
}

impl Store {
    /// Opens the pool and checks the server: PostgreSQL 15+ with PostGIS 3.1+.
    pub async fn connect(config: &StoreConfig) -> Result<Self, StoreError> {
        let mut pg =
            tokio_postgres::Config::from_str(&config.database_url).map_err(StoreError::Config)?;
        // JIT off for every connection: see the crate docs.
        pg.options("-c jit=off -c client_min_messages=warning");
        if pg.get_application_name().is_none() {
            pg.application_name("kovgis");
        }
        let pool = |pg: tokio_postgres::Config, size: usize| {
            let manager = Manager::from_config(
                pg,
                NoTls,
                ManagerConfig {
                    recycling_method: RecyclingMethod::Fast,
                },
            );
            Pool::builder(manager)
                .max_size(size.max(1))
                .timeouts(Timeouts {
                    wait: config.wait_timeout,
                    ..Timeouts::default()
                })
                .runtime(Runtime::Tokio1)
                .build()
        };
        let mut read = pg.clone();
        if let Some(t) = config.statement_timeout {
            read.options(format!(
                "-c jit=off -c client_min_messages=warning -c statement_timeout={}",
                t.as_millis().max(1)
            ));
        }
        let queries = pool(read, config.max_connections)?;
        let bulk = pool(pg.clone(), config.max_bulk_connections)?;
        let store = Store {
            pool: bulk,
            queries,
            pg_config: pg,
        };
        store.check_server().await?;
        Ok(store)
    }

    /// Listens on a notification channel on a connection of its own: the payloads arrive on
    /// the receiver until the connection fails (then it closes; listen again to resume).
    pub async fn listen(
        &self,
        channel: &'static str,
    ) -> Result<tokio::sync::mpsc::UnboundedReceiver<String>, StoreError> {
        use futures_util::StreamExt;
        let (client, mut connection) = self
            .pg_config
            .connect(NoTls)
            .await
            .map_err(StoreError::pg("connecting to listen"))?;
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let done = tx.clone();
        let (ended_tx, ended_rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(Ok(message)) = messages.next().await {
                if let tokio_postgres::AsyncMessage::Notification(n) = message
                    && tx.send(n.payload().to_owned()).is_err()
                {
                    break;
                }
            }
            drop(ended_tx);
        });
        client
            .batch_execute(&format!("LISTEN {channel}"))
            .await
            .map_err(StoreError::pg("starting to listen"))?;
        // The client lives while someone listens and the connection is up; then the channel
        // closes, so the listener learns that the connection is gone.
        tokio::spawn(async move {
            tokio::select! {
                _ = ended_rx => {}
                _ = done.closed() => {}
            }
            drop(client);
            drop(done);
        });
        Ok(rx)
    }

    async fn check_server(&self) -> Result<(), StoreError> {
        let client = self.pool.get().await?;
        let row = client
            .query_one("SELECT current_setting('server_version_num')::int", &[])
            .await
            .map_err(StoreError::pg("reading the server version"))?;
        let version: i32 = row.get(0);
        if version < 150_000 {
            return Err(StoreError::UnsupportedServer(format!(
                "the server is PostgreSQL {}.{}",
                version / 10_000,
                version % 10_000
            )));
        }
        let available = client
            .query_opt(
                "SELECT default_version FROM pg_available_extensions WHERE name = 'postgis'",
                &[],
            )
            .await
            .map_err(StoreError::pg("looking for PostGIS"))?;
        let Some(row) = available else {
            return Err(StoreError::UnsupportedServer(
                "PostGIS is not installed on the server (Debian: apt-get install postgresql-15-postgis-3)"
                    .into(),
            ));
        };
        let v: String = row.get(0);
        let mut parts = v.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
        let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
        if (major, minor) < (3, 1) {
            return Err(StoreError::UnsupportedServer(format!(
                "the server offers PostGIS {v}"
            )));
        }
        Ok(())
    }

    /// A pooled connection, for callers that run their own statements (tests, tools).
    pub async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        Ok(self.pool.get().await?)
    }

    /// A connection of the read-query pool (under the statement timeout).
    pub async fn query_client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        Ok(self.queries.get().await?)
    }

    /// The sizes of the read-query and bulk pools.
    pub fn pool_sizes(&self) -> (usize, usize) {
        (self.queries.status().max_size, self.pool.status().max_size)
    }
}
