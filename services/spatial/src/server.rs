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

/// Serves SpatialService, health and reflection on `listener` until `shutdown` resolves, then
/// finishes in-flight calls and returns.
pub async fn run(
    listener: TcpListener,
    store: Store,
    config: Config,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), RunError> {
    // Identity first: without keys nothing is served.
    let (auth, reloader) = match &config.auth {
        Auth::Unconfigured => return Err(RunError::NoAuth),
        Auth::Jwt(verifier) => (
            kovgis_auth::AuthLayer::new(verifier.clone()),
            Some(verifier.spawn_reloader()),
        ),
        Auth::InsecureFixed(identity) => {
            tracing::warn!(
                subject = identity.subject_for_log(),
                "AUTHENTICATION IS OFF: every call runs as one fixed identity (for benchmarks \
                 only; never serve like this)"
            );
            (
                kovgis_auth::AuthLayer::insecure_fixed(identity.clone()),
                None,
            )
        }
    };
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<SpatialServiceServer<SpatialApi>>()
        .await;

    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(kovgis_api::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(kovgis_api::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;

    // The validation index: built before serving, then kept current in the background; its
    // freshness is a health status of its own.
    let index = validation::IndexHandle::default();
    let refresher = validation::start(&store, &index, config.index_retry).await?;
    health_reporter
        .set_service_status(INDEX_HEALTH, ServingStatus::Serving)
        .await;
    let health_task = tokio::spawn(report_freshness(index.watch(), health_reporter.clone()));
    warn_about_pools(&store, &config);
    let rules = RuleServiceServer::new(RuleApi::new(store.clone()));
    let audit = AuditServiceServer::new(AuditApi::new(store.clone()));
    let spatial = SpatialServiceServer::new(SpatialApi::new(store, &config, index))
        .max_decoding_message_size(config.max_message_bytes)
        .max_encoding_message_size(config.max_response_bytes);

    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "serving kovgis.v1.SpatialService (gRPC, gRPC-Web, health, reflection)");
    }
    let limits = &config.server;
    let mut builder = tonic::transport::Server::builder();
    let mut auth = auth;
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
    builder
        .http2_keepalive_interval(Some(limits.keepalive_interval))
        .http2_keepalive_timeout(Some(limits.keepalive_timeout))
        .max_concurrent_streams(limits.max_streams_per_connection)
        .accept_http1(true)
        // gRPC-Web is translated first, so its calls meet the same identity check.
        .layer(tonic_web::GrpcWebLayer::new())
        .layer(auth)
        .add_service(health_service)
        .add_service(reflection)
        .add_service(reflection_v1alpha)
        .add_service(spatial)
        .add_service(rules)
        .add_service(audit)
        .serve_with_incoming_shutdown(incoming(listener), shutdown)
        .await?;
    refresher.abort();
    health_task.abort();
    if let Some(r) = reloader {
        r.abort();
    }
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
