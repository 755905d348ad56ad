//! Test harness: a real kovgis server on 127.0.0.1:0 over the PostGIS that `scripts/test.sh`
//! starts (DATABASE_URL, with the demo data loaded), the generated gRPC client, and a plain SQL
//! connection to ask PostGIS for independent expectations.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;

use kovgis_api::v1::spatial_service_client::SpatialServiceClient;
use kovgis_api::v1::spatial_service_server::SpatialService;
use kovgis_core::InputLimits;
use kovgis_store::{Store, StoreConfig};
use tokio::sync::oneshot;
use tonic::transport::Channel;

pub use kovgis_api::v1;

pub fn database_url() -> String {
    std::env::var("DATABASE_URL").expect(
        "DATABASE_URL is not set: run the tests with scripts/test.sh, which starts PostGIS and loads the demo data",
    )
}

/// A running server; stops when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    pub client: SpatialServiceClient<Channel>,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<Result<(), kovgis_spatial::RunError>>>,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(InputLimits::default()).await
    }

    pub async fn start_with(limits: InputLimits) -> Self {
        Self::start_on(&database_url(), limits).await
    }

    /// A server over another database (see [`FreshDb`]).
    pub async fn start_on(url: &str, limits: InputLimits) -> Self {
        let store = Store::connect(&StoreConfig {
            database_url: url.to_owned(),
            max_connections: 4,
        })
        .await
        .expect("cannot connect to the test database");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let config = kovgis_spatial::Config {
            limits,
            ..Default::default()
        };
        let handle = tokio::spawn(kovgis_spatial::run(listener, store, config, async {
            let _ = stopped.await;
        }));
        let client = SpatialServiceClient::connect(format!("http://{addr}"))
            .await
            .expect("cannot connect to the test server");
        TestServer {
            addr,
            client,
            stop: Some(stop),
            handle: Some(handle),
        }
    }

    /// Stops the server and waits until it has finished.
    pub async fn shutdown(mut self) -> Result<(), kovgis_spatial::RunError> {
        let _ = self.stop.take().unwrap().send(());
        self.handle
            .take()
            .unwrap()
            .await
            .expect("server task panicked")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A database of its own for a test that writes, copied from the template `scripts/test.sh`
/// prepares (migrated, demo data loaded); dropped by [`FreshDb::drop_db`].
pub struct FreshDb {
    pub url: String,
    name: String,
    admin_url: String,
}

impl FreshDb {
    pub async fn new(tag: &str) -> FreshDb {
        let base = database_url();
        let (prefix, _) = base
            .rsplit_once('/')
            .expect("DATABASE_URL names a database");
        let name = format!("kovgis_g_{tag}_{}", std::process::id());
        let admin_url = format!("{prefix}/postgres");
        let (admin, conn) = tokio_postgres::connect(&admin_url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
            .await
            .unwrap();
        admin
            .batch_execute("SELECT pg_advisory_lock(7301)")
            .await
            .unwrap();
        let created = admin
            .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE kovgis_template"))
            .await;
        admin
            .batch_execute("SELECT pg_advisory_unlock(7301)")
            .await
            .unwrap();
        created.expect("cannot copy kovgis_template (scripts/test.sh creates it)");
        FreshDb {
            url: format!("{prefix}/{name}"),
            name,
            admin_url,
        }
    }

    pub async fn sql(&self) -> tokio_postgres::Client {
        let (c, conn) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        c
    }

    pub async fn drop_db(self) {
        let (admin, conn) = tokio_postgres::connect(&self.admin_url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        let _ = admin
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .await;
    }
}

/// A plain connection to the test database.
pub async fn sql() -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(&database_url(), tokio_postgres::NoTls)
        .await
        .expect("cannot connect to the test database");
    tokio::spawn(conn);
    client
}

/// The checkout's fixtures folder.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// Reads a fixture GeoJSON FeatureCollection as JSON.
pub fn fixture_json(rel: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(fixtures().join(rel)).unwrap();
    serde_json::from_str(&text).unwrap()
}

pub fn geojson(s: &str, epsg: u32) -> v1::Geometry {
    v1::Geometry {
        value: Some(v1::geometry::Value::Geojson(s.to_owned())),
        epsg,
    }
}

pub fn wkt(s: &str, epsg: u32) -> v1::Geometry {
    v1::Geometry {
        value: Some(v1::geometry::Value::Wkt(s.to_owned())),
        epsg,
    }
}

pub fn out(epsg: u32, format: v1::GeometryFormat) -> Option<v1::OutputOptions> {
    Some(v1::OutputOptions {
        epsg,
        format: format as i32,
        omit_geometry: false,
    })
}

/// Asserts an INVALID_ARGUMENT whose field violation names `field` and whose reason contains
/// `needle`.
pub fn assert_invalid(status: &tonic::Status, field: &str, needle: &str) {
    use tonic_types::StatusExt;
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    let details = status.get_error_details();
    let br = details
        .bad_request()
        .unwrap_or_else(|| panic!("no BadRequest details in {status:?}"));
    let v = &br.field_violations[0];
    assert_eq!(v.field, field, "{status:?}");
    assert!(
        v.description
            .to_lowercase()
            .contains(&needle.to_lowercase()),
        "expected '{needle}' in '{}'",
        v.description
    );
}

/// Keeps the trait in scope for the handler-level tests.
pub fn _assert_service<T: SpatialService>() {}
