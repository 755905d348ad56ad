//! The connection pool and the server checks made when it opens.

use std::str::FromStr;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

use crate::StoreError;

/// How to reach the database.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// A libpq-style URL, `postgres://user@host:port/db`.
    pub database_url: String,
    /// Most connections the pool opens.
    pub max_connections: usize,
}

/// The PostGIS store: a pool of connections, cheap to clone.
#[derive(Clone)]
pub struct Store {
    pub(crate) pool: Pool,
    /// For connections outside the pool (LISTEN).
    pg_config: tokio_postgres::Config,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("status", &self.pool.status())
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
        let manager = Manager::from_config(
            pg.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(config.max_connections.max(1))
            .build()?;
        let store = Store {
            pool,
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
}
