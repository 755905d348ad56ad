//! Test harness: a real kovgis server on 127.0.0.1:0 over the PostGIS that `scripts/test.sh`
//! starts (DATABASE_URL, with the demo data loaded), the generated gRPC client, and request
//! builders and status checks for the tests of SpatialService. The test databases, plain SQL
//! connections and fixture files are `kovgis-testkit`'s, re-exported here.

#![allow(dead_code, unused_imports)]

pub mod import;
pub mod rpcs;
pub mod validation;

use std::net::SocketAddr;
use std::sync::Arc;

use kovgis_api::v1::spatial_service_client::SpatialServiceClient;
use kovgis_api::v1::spatial_service_server::SpatialService;
use kovgis_auth::testing::TestAuth;
use kovgis_core::InputLimits;
use kovgis_store::{Store, StoreConfig};
use tokio::sync::oneshot;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

pub use kovgis_api::v1;
pub use kovgis_testkit::db::{FreshDb, database_url, sql};
pub use kovgis_testkit::fixtures::json as fixture_json;

/// Puts `authorization: Bearer <token>` on every call of a client (none: an anonymous client).
#[derive(Clone)]
pub struct Bearer(Option<MetadataValue<Ascii>>);

impl Bearer {
    pub fn new(token: Option<&str>) -> Self {
        Bearer(token.map(|t| format!("Bearer {t}").parse().expect("a token is ASCII")))
    }
}

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut r: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(v) = &self.0 {
            r.metadata_mut().insert("authorization", v.clone());
        }
        Ok(r)
    }
}

/// A SpatialService client whose calls carry a token.
pub type Client = SpatialServiceClient<InterceptedService<Channel, Bearer>>;

/// The scopes of the token the test client carries: a national machine that may read, import,
/// change rules and ask the data tracker's question everywhere (the tests of authorisation
/// itself use tokens of their own).
pub const TEST_CLIENT_SCOPES: &[&str] = &[
    "kovgis:read:all",
    "kovgis:write:national",
    "kovgis:rules:national",
    "kovgis:data-tracker",
];

/// A running server; stops when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    pub client: Client,
    /// The keys the server trusts (and that mint the tests' tokens).
    pub auth: Arc<TestAuth>,
    /// The token of `client`.
    pub token: String,
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

    /// A server over another database (a [`FreshDb`]).
    pub async fn start_on(url: &str, limits: InputLimits) -> Self {
        let config = kovgis_spatial::Config {
            limits,
            ..Default::default()
        };
        Self::start_config(url, config).await
    }

    /// A server with its own settings (e.g. a page-token key shared with another instance).
    pub async fn start_config(url: &str, config: kovgis_spatial::Config) -> Self {
        Self::start_full(StoreConfig::new(url, 4), config).await
    }

    /// A server with its own database pools and settings. Unless the settings say otherwise,
    /// it trusts a fresh test key and its client carries a token with [`TEST_CLIENT_SCOPES`].
    pub async fn start_full(store: StoreConfig, mut config: kovgis_spatial::Config) -> Self {
        let auth = Arc::new(TestAuth::new());
        if matches!(config.auth, kovgis_spatial::Auth::Unconfigured) {
            config.auth = kovgis_spatial::Auth::Jwt(auth.verifier());
        }
        let token = auth.token(&auth.machine("test-client", TEST_CLIENT_SCOPES));
        let store = Store::connect(&store)
            .await
            .expect("cannot connect to the test database");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let handle = tokio::spawn(kovgis_spatial::run(listener, store, config, async {
            let _ = stopped.await;
        }));
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .expect("cannot connect to the test server");
        let client = SpatialServiceClient::with_interceptor(channel, Bearer::new(Some(&token)));
        TestServer {
            addr,
            client,
            auth,
            token,
            stop: Some(stop),
            handle: Some(handle),
        }
    }

    /// A client on `channel` whose calls carry `token` (`None`: anonymous).
    pub fn client_on(channel: Channel, token: Option<&str>) -> Client {
        SpatialServiceClient::with_interceptor(channel, Bearer::new(token))
    }

    /// A client on a new connection with the test client's token.
    pub async fn new_client(&self) -> Client {
        Self::client_on(self.channel().await, Some(&self.token))
    }

    /// A new HTTP/2 connection to the server (a client of its own, e.g. one that stalls).
    pub async fn channel(&self) -> Channel {
        tonic::transport::Endpoint::from_shared(format!("http://{}", self.addr))
            .unwrap()
            .connect()
            .await
            .expect("cannot connect to the test server")
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
    // Every refusal also carries an ErrorInfo naming the same field.
    let info = details
        .error_info()
        .unwrap_or_else(|| panic!("no ErrorInfo in {status:?}"));
    assert_eq!(info.domain, "kovgis.ee");
    assert_eq!(
        info.metadata.get("field").map(String::as_str),
        Some(field),
        "{status:?}"
    );
}

/// Asserts that a status carries a `google.rpc.ErrorInfo` of domain kovgis.ee and `reason`.
pub fn assert_reason(status: &tonic::Status, reason: &str) {
    use tonic_types::StatusExt;
    let details = status.get_error_details();
    let info = details
        .error_info()
        .unwrap_or_else(|| panic!("no ErrorInfo in {status:?}"));
    assert_eq!(info.domain, "kovgis.ee", "{status:?}");
    assert_eq!(info.reason, reason, "{status:?}");
}

/// Keeps the trait in scope for the handler-level tests.
pub fn _assert_service<T: SpatialService>() {}
