//! The test database: `DATABASE_URL` as `scripts/test.sh` exports it (migrated, demo data
//! loaded), plain SQL connections, and [`FreshDb`] for tests that write.
//!
//! Not a pool and not the store: tests ask PostGIS for independent expectations over a plain
//! `tokio-postgres` connection, never through the code under test.

use tokio_postgres::{Client, NoTls};

/// The template database `scripts/test.sh` copies the test database into.
const TEMPLATE: &str = "kovgis_template";

/// Copies from one template may not run at the same time (PostgreSQL refuses a template that
/// another session is copying): an advisory lock taken around `CREATE DATABASE`.
const TEMPLATE_LOCK: i64 = 7301;

/// `DATABASE_URL`, or a panic that says how to run the tests.
pub fn database_url() -> String {
    std::env::var("DATABASE_URL").expect(
        "DATABASE_URL is not set: run the tests with scripts/test.sh, which starts PostGIS and loads the demo data",
    )
}

/// A plain connection to `url` (its connection task spawned on the current runtime).
pub async fn connect(url: &str) -> Client {
    let (client, conn) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the test database: {e}"));
    tokio::spawn(conn);
    client
}

/// A plain connection to the test database.
pub async fn sql() -> Client {
    connect(&database_url()).await
}

/// A database of its own for a test that writes, copied from the template `scripts/test.sh`
/// prepares (migrated, demo data loaded); dropped by [`FreshDb::drop_db`] (a failed test leaves
/// it behind, for a look; the next run of the same test drops it first).
#[derive(Debug)]
pub struct FreshDb {
    /// Its connection string.
    pub url: String,
    /// Its name (`kovgis_t_<tag>_<process id>`).
    pub name: String,
    admin_url: String,
}

impl FreshDb {
    /// A new copy of the template; `tag` names the test (lower-case letters, digits, `_`).
    pub async fn new(tag: &str) -> FreshDb {
        let base = database_url();
        let (prefix, _) = base
            .rsplit_once('/')
            .expect("DATABASE_URL names a database");
        let name = format!("kovgis_t_{tag}_{}", std::process::id());
        let admin_url = format!("{prefix}/postgres");
        let admin = connect(&admin_url).await;
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
            .await
            .unwrap();
        admin
            .batch_execute(&format!("SELECT pg_advisory_lock({TEMPLATE_LOCK})"))
            .await
            .unwrap();
        let created = admin
            .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {TEMPLATE}"))
            .await;
        admin
            .batch_execute(&format!("SELECT pg_advisory_unlock({TEMPLATE_LOCK})"))
            .await
            .unwrap();
        created.expect("cannot copy kovgis_template (scripts/test.sh creates it)");
        FreshDb {
            url: format!("{prefix}/{name}"),
            name,
            admin_url,
        }
    }

    /// A plain connection to this database.
    pub async fn sql(&self) -> Client {
        connect(&self.url).await
    }

    /// Drops the database, closing whatever connections are still open on it.
    pub async fn drop_db(self) {
        let admin = connect(&self.admin_url).await;
        let _ = admin
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .await;
    }
}
