//! The test database: `DATABASE_URL` as `scripts/test.sh` exports it (migrated, demo data
//! loaded), plain SQL connections, and [`FreshDb`] for tests that write.
//!
//! Not a pool and not the store: tests ask PostGIS for independent expectations over a plain
//! `tokio-postgres` connection, never through the code under test. Two identities: the code
//! under test connects as the service role (`DATABASE_URL`, row-level security applies), plain
//! SQL connections as the cluster's superuser (`KOVGIS_TEST_ADMIN_URL`), which sees and may
//! change everything — the tests' independent view of the data.

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

/// The superuser's URL of the test database: `KOVGIS_TEST_ADMIN_URL`, else `DATABASE_URL`.
pub fn admin_url() -> String {
    std::env::var("KOVGIS_TEST_ADMIN_URL").unwrap_or_else(|_| database_url())
}

/// The owner role's URL of the test database: `KOVGIS_OWNER_DATABASE_URL`, else the admin's.
pub fn owner_url() -> String {
    std::env::var("KOVGIS_OWNER_DATABASE_URL").unwrap_or_else(|_| admin_url())
}

/// `url` with its database name replaced by `name`.
pub fn with_db(url: &str, name: &str) -> String {
    let (prefix, _) = url
        .rsplit_once('/')
        .expect("a database URL names a database");
    format!("{prefix}/{name}")
}

/// A plain connection to `url` (its connection task spawned on the current runtime).
pub async fn connect(url: &str) -> Client {
    let (client, conn) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the test database: {e}"));
    tokio::spawn(conn);
    client
}

/// A plain connection to the test database, as the superuser.
pub async fn sql() -> Client {
    connect(&admin_url()).await
}

/// A database of its own for a test that writes, copied from the template `scripts/test.sh`
/// prepares (migrated, demo data loaded); dropped by [`FreshDb::drop_db`] (a failed test leaves
/// it behind, for a look; the next run of the same test drops it first).
#[derive(Debug)]
pub struct FreshDb {
    /// Its connection string, as the service role (what servers and the CLI under test use).
    pub url: String,
    /// The same database as the superuser (what [`FreshDb::sql`] uses).
    pub admin_db_url: String,
    /// The same database as the owner role.
    pub owner_url: String,
    /// Its name (`kovgis_t_<tag>_<process id>`).
    pub name: String,
    admin_url: String,
}

impl FreshDb {
    /// A new copy of the template; `tag` names the test (lower-case letters, digits, `_`).
    pub async fn new(tag: &str) -> FreshDb {
        let name = format!("kovgis_t_{tag}_{}", std::process::id());
        let admin_url = with_db(&admin_url(), "postgres");
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
            url: with_db(&database_url(), &name),
            admin_db_url: with_db(&self::admin_url(), &name),
            owner_url: with_db(&owner_url(), &name),
            name,
            admin_url,
        }
    }

    /// A plain connection to this database, as the superuser.
    pub async fn sql(&self) -> Client {
        connect(&self.admin_db_url).await
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
