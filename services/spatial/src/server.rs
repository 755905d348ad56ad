//! The gRPC server around [`SpatialApi`]: the listener (with Nagle's algorithm off), HTTP/2
//! keep-alive and streams per connection, message size limits both ways, gRPC health (with
//! `kovgis.v1.ValidationIndex` NOT_SERVING while the validation index is stale), server
//! reflection, gRPC-Web (HTTP/1.1, for browser clients), the validation index built before
//! serving, and graceful shutdown when the caller's future completes.
//!
//! No request handling here: the handlers are in [`crate::service`].

use std::future::Future;

use kovgis_api::v1::spatial_service_server::SpatialServiceServer;
use kovgis_store::Store;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::service::Routes;
use tonic_health::ServingStatus;

use kovgis_api::v1::audit_service_server::AuditServiceServer;
use kovgis_api::v1::rule_service_server::RuleServiceServer;

use crate::{AuditApi, Auth, Config, RuleApi, SpatialApi, validation};

/// Why the server stopped other than by shutdown.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("gRPC transport error: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error("reflection service: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("building the validation index: {0}")]
    Index(#[from] kovgis_store::StoreError),
    #[error(
        "no keys to verify callers with: configure a JWKS (kovgis serve --jwks; the run command \
         creates a development key) — a server that cannot identify its callers does not start"
    )]
    NoAuth,
}

/// Accepted connections with Nagle's algorithm off: small unary responses must not wait for the
/// client's delayed ACK (measured: 44 ms per call at concurrency 1 without this).
fn incoming(
    listener: TcpListener,
) -> impl futures::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    use futures::StreamExt;
    TcpListenerStream::new(listener).map(|stream| {
        if let Ok(s) = &stream
            && let Err(e) = s.set_nodelay(true)
        {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        stream
    })
}

/// Services served beside SpatialService (the ProcedureService): a function that adds them to
/// the routes, and the paths among them that are open without identity.
pub struct Extra {
    pub add: Box<dyn FnOnce(Routes) -> Routes + Send>,
    pub open_paths: Vec<String>,
}

/// Serves SpatialService, health and reflection on `listener` until `shutdown` resolves, then
/// finishes in-flight calls and returns.
pub async fn run(
    listener: TcpListener,
    store: Store,
    config: Config,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), RunError> {
    run_with(listener, store, config, |_| None, shutdown).await
}

/// [`run`], with the services `extra` builds from the SpatialService (for calls in process).
pub async fn run_with(
    listener: TcpListener,
    store: Store,
    config: Config,
    extra: impl FnOnce(&SpatialApi) -> Option<Extra>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), RunError> {
    // Identity first: without keys nothing is served.
    let auth = auth_layer(&config)?;
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<SpatialServiceServer<SpatialApi>>()
        .await;

    // The validation index: built before serving, then kept current in the background; its
    // freshness is a health status of its own.
    let index = validation::IndexHandle::default();
    let refresher = validation::start(&store, &index, config.index_retry).await?;
    let procedures =
        crate::procedures::start(&store, index.procedures(), config.index_retry).await?;
    health_reporter
        .set_service_status(INDEX_HEALTH, ServingStatus::Serving)
        .await;
    let health_task = tokio::spawn(report_freshness(index.watch(), health_reporter.clone()));
    warn_about_pools(&store, &config);
    let rules = RuleServiceServer::new(RuleApi::new(store.clone()));
    let audit = AuditServiceServer::new(AuditApi::new(store.clone()));
    let api = SpatialApi::new(store, &config, index);
    let extra = extra(&api);
    let spatial = SpatialServiceServer::new(api)
        .max_decoding_message_size(config.max_message_bytes)
        .max_encoding_message_size(config.max_response_bytes);
    let mut routes = Routes::new(health_service)
        .add_service(spatial)
        .add_service(rules)
        .add_service(audit);
    let mut open = Vec::new();
    if let Some(extra) = extra {
        routes = (extra.add)(routes);
        open = extra.open_paths;
    }
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "serving kovgis.v1.SpatialService (gRPC, gRPC-Web, health, reflection)");
    }
    let served = serve(listener, &config, auth, open, routes, shutdown).await;
    refresher.abort();
    procedures.abort();
    health_task.abort();
    served
}

/// Serves only the services `extra` adds (with health and reflection), with the transport,
/// identity and limits of `config`: a process that runs the ProcedureService apart from the
/// SpatialService.
pub async fn run_only(
    listener: TcpListener,
    config: Config,
    extra: Extra,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), RunError> {
    let auth = auth_layer(&config)?;
    let (_reporter, health_service) = tonic_health::server::health_reporter();
    let routes = (extra.add)(Routes::new(health_service));
    serve(listener, &config, auth, extra.open_paths, routes, shutdown).await
}

/// The authentication layer `config` asks for (refusing to serve without keys).
fn auth_layer(config: &Config) -> Result<kovgis_auth::AuthLayer, RunError> {
    match &config.auth {
        Auth::Unconfigured => Err(RunError::NoAuth),
        Auth::Jwt(verifier) => Ok(kovgis_auth::AuthLayer::new(verifier.clone())),
        Auth::InsecureFixed(identity) => {
            tracing::warn!(
                subject = identity.subject_for_log(),
                "AUTHENTICATION IS OFF: every call runs as one fixed identity (for benchmarks \
                 only; never serve like this)"
            );
            Ok(kovgis_auth::AuthLayer::insecure_fixed(identity.clone()))
        }
    }
}

/// The transport around `routes`: reflection, TLS (mutual for machine clients with a client
/// CA), keep-alive, stream limits, gRPC-Web, and the identity check on every path but health,
/// reflection and `open_paths`.
async fn serve(
    listener: TcpListener,
    config: &Config,
    auth: kovgis_auth::AuthLayer,
    open_paths: Vec<String>,
    routes: Routes,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), RunError> {
    let reloader = match &config.auth {
        Auth::Jwt(verifier) => Some(verifier.spawn_reloader()),
        _ => None,
    };
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(kovgis_api::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(kovgis_api::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;
    let routes = routes
        .add_service(reflection)
        .add_service(reflection_v1alpha);
    let mut auth = if open_paths.is_empty() {
        auth
    } else {
        auth.with_open_prefixes(
            kovgis_auth::DEFAULT_OPEN_PREFIXES
                .iter()
                .map(|p| (*p).to_owned())
                .chain(open_paths),
        )
    };
    let limits = &config.server;
    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = &config.tls {
        let mut settings = tonic::transport::ServerTlsConfig::new()
            .identity(tonic::transport::Identity::from_pem(
                &tls.certificate,
                &tls.key,
            ))
            .timeout(TLS_HANDSHAKE_TIMEOUT);
        if let Some(ca) = &tls.client_ca {
            // Verified when presented, optional at the TLS level: people's apps have none;
            // machine identities are held to theirs by the auth layer.
            settings = settings
                .client_ca_root(tonic::transport::Certificate::from_pem(ca))
                .client_auth_optional(true);
            auth = auth.with_client_certificates();
        }
        builder = builder.tls_config(settings)?;
        tracing::info!(
            mutual = tls.client_ca.is_some(),
            "TLS on (mutual for machine clients when a client CA is given)"
        );
    }
    let served = builder
        .http2_keepalive_interval(Some(limits.keepalive_interval))
        .http2_keepalive_timeout(Some(limits.keepalive_timeout))
        .max_concurrent_streams(limits.max_streams_per_connection)
        .accept_http1(true)
        // gRPC-Web is translated first, so its calls meet the same identity check.
        .layer(tonic_web::GrpcWebLayer::new())
        .layer(auth)
        .add_routes(routes)
        .serve_with_incoming_shutdown(incoming(listener), shutdown)
        .await;
    if let Some(r) = reloader {
        r.abort();
    }
    served?;
    tracing::info!("server stopped");
    Ok(())
}

/// Longest TLS handshake before the connection is dropped.
const TLS_HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The health service name that says whether the validation index is current.
pub const INDEX_HEALTH: &str = "kovgis.v1.ValidationIndex";

/// Keeps [`INDEX_HEALTH`] in step with the index: NOT_SERVING while it is stale.
async fn report_freshness(
    mut freshness: tokio::sync::watch::Receiver<validation::Freshness>,
    reporter: tonic_health::server::HealthReporter,
) {
    loop {
        let stale = freshness.borrow_and_update().stale_since.is_some();
        let status = if stale {
            ServingStatus::NotServing
        } else {
            ServingStatus::Serving
        };
        reporter.set_service_status(INDEX_HEALTH, status).await;
        if freshness.changed().await.is_err() {
            return;
        }
    }
}

/// Streams and imports each hold a connection: say so when their caps leave no connection of
/// their pool for the calls that need one.
fn warn_about_pools(store: &Store, config: &Config) {
    let (queries, bulk) = store.pool_sizes();
    if config.server.max_feature_streams >= queries {
        tracing::warn!(
            streams = config.server.max_feature_streams,
            queries,
            "QueryFeatures streams may take every read-query connection; lower \
             --max-feature-streams or raise --db-connections"
        );
    }
    if config.server.max_imports >= bulk {
        tracing::warn!(
            imports = config.server.max_imports,
            bulk,
            "imports may take every bulk connection (index rebuilds wait); lower --max-imports \
             or raise --db-bulk-connections"
        );
    }
}
