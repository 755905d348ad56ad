//! How a submission is checked on the map: a [`SpatialChecker`] asks SpatialService's
//! `ValidateGeometry`, with the caller's identity, in one of two ways — [`InProcessChecker`]
//! calls the handler of the SpatialService running in the same process (`kovgis serve`), and
//! [`GrpcChecker`] calls a SpatialService elsewhere (`kovgis serve --service procedures
//! --spatial-url …`), forwarding the caller's bearer token. Either way SpatialService applies
//! the same authorisation and the same rules, so a report does not depend on how the services
//! are deployed.

use std::sync::Arc;

use futures::future::BoxFuture;
use kovgis_api::v1;
use kovgis_api::v1::spatial_service_client::SpatialServiceClient;
use kovgis_api::v1::spatial_service_server::SpatialService;
use kovgis_auth::Identity;
use kovgis_spatial::SpatialApi;
use tonic::Status;
use tonic::metadata::AsciiMetadataValue;
use tonic::transport::Channel;

/// The most proposals a [`SpatialChecker::validate_many`] batch should carry: a SpatialService
/// checks a batch this small (of small proposals) on a blocking thread, not in its heavy pool
/// (`AdmissionConfig::light_batch`).
pub const LIGHT_BATCH: usize = 16;

/// On whose behalf a check runs: the verified identity and, when the call came with one, its
/// `authorization` header (forwarded as it was).
#[derive(Debug, Clone)]
pub struct OnBehalf {
    pub identity: Arc<Identity>,
    pub authorization: Option<AsciiMetadataValue>,
}

/// Checks a proposal on the map.
pub trait SpatialChecker: Send + Sync + std::fmt::Debug + 'static {
    fn validate(
        &self,
        on_behalf: OnBehalf,
        request: v1::ValidateGeometryRequest,
    ) -> BoxFuture<'_, Result<v1::ValidationReport, Status>>;

    /// Checks several proposals in one call (`ValidateGeometries`): one report each, in order.
    /// Keep a batch small (at most [`LIGHT_BATCH`]) for it to be checked without the heavy pool.
    fn validate_many(
        &self,
        on_behalf: OnBehalf,
        requests: Vec<v1::ValidateGeometryRequest>,
    ) -> BoxFuture<'_, Result<Vec<v1::ValidationReport>, Status>>;

    /// The newest re-check request whose change the SpatialService's index holds (`None` while
    /// it has none): a re-check of a later request would run on the old data.
    fn recheck_horizon(&self, on_behalf: OnBehalf) -> BoxFuture<'_, Result<Option<i64>, Status>>;

    /// A procedure was changed by a commit of this process: a SpatialService in the same
    /// process reads it again into its index of other procedures at once (read-your-writes);
    /// one elsewhere learns of it from the database's notification (the default: nothing).
    fn procedure_changed<'a>(
        &'a self,
        _municipality_code: &'a str,
        _id: &'a str,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }
}

/// The SpatialService of this process.
#[derive(Debug, Clone)]
pub struct InProcessChecker {
    api: SpatialApi,
}

impl InProcessChecker {
    pub fn new(api: SpatialApi) -> InProcessChecker {
        InProcessChecker { api }
    }
}

impl SpatialChecker for InProcessChecker {
    fn validate(
        &self,
        on_behalf: OnBehalf,
        request: v1::ValidateGeometryRequest,
    ) -> BoxFuture<'_, Result<v1::ValidationReport, Status>> {
        Box::pin(async move {
            let mut r = tonic::Request::new(request);
            // What the authentication layer puts into a request it verified.
            r.extensions_mut().insert(on_behalf.identity);
            Ok(self.api.validate_geometry(r).await?.into_inner())
        })
    }

    fn validate_many(
        &self,
        on_behalf: OnBehalf,
        requests: Vec<v1::ValidateGeometryRequest>,
    ) -> BoxFuture<'_, Result<Vec<v1::ValidationReport>, Status>> {
        Box::pin(async move {
            let mut r = tonic::Request::new(v1::ValidateGeometriesRequest {
                proposals: requests,
            });
            r.extensions_mut().insert(on_behalf.identity);
            Ok(self.api.validate_geometries(r).await?.into_inner().reports)
        })
    }

    fn recheck_horizon(&self, _on_behalf: OnBehalf) -> BoxFuture<'_, Result<Option<i64>, Status>> {
        Box::pin(async move { Ok(self.api.recheck_horizon()) })
    }

    fn procedure_changed<'a>(
        &'a self,
        municipality_code: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if let Err(e) = self.api.refresh_procedure(municipality_code, id).await {
                // The notification of the same commit brings it in step.
                tracing::warn!(error = %e, "refreshing the procedure index after a commit failed");
            }
        })
    }
}

/// A SpatialService over gRPC.
#[derive(Debug, Clone)]
pub struct GrpcChecker {
    client: SpatialServiceClient<Channel>,
    /// The service's own `authorization` header, for background work that has no caller (the
    /// re-checks): a machine token with `kovgis:read:all`.
    background: Option<AsciiMetadataValue>,
}

impl GrpcChecker {
    /// A checker on `channel` (connected lazily by tonic; reconnects by itself).
    pub fn new(channel: Channel) -> GrpcChecker {
        GrpcChecker {
            client: SpatialServiceClient::new(channel).max_decoding_message_size(64 * 1024 * 1024),
            background: None,
        }
    }

    /// The same checker, with `token` for the background work (see [`GrpcChecker`]).
    pub fn with_background_token(mut self, token: &str) -> Result<GrpcChecker, String> {
        let v = format!("Bearer {token}")
            .parse()
            .map_err(|_| "the token is not a valid header value".to_owned())?;
        self.background = Some(v);
        Ok(self)
    }

    /// The `authorization` header to send for `on_behalf`: the caller's own, or for system work
    /// the service's background token; `UNAUTHENTICATED` when there is neither.
    fn token_for(&self, on_behalf: &OnBehalf) -> Result<AsciiMetadataValue, Status> {
        let background = on_behalf
            .identity
            .is_system()
            .then(|| self.background.clone());
        on_behalf
            .authorization
            .clone()
            .or(background.flatten())
            .ok_or_else(|| {
                // Only a caller with a token can be spoken for across processes.
                Status::unauthenticated(
                    "the call to the SpatialService runs with the caller's token, and this call has none",
                )
            })
    }

    /// Whether background work can be spoken for.
    pub fn has_background_token(&self) -> bool {
        self.background.is_some()
    }
}

impl SpatialChecker for GrpcChecker {
    fn validate(
        &self,
        on_behalf: OnBehalf,
        request: v1::ValidateGeometryRequest,
    ) -> BoxFuture<'_, Result<v1::ValidationReport, Status>> {
        let mut client = self.client.clone();
        let token = self.token_for(&on_behalf);
        Box::pin(async move {
            let token = token?;
            let mut r = tonic::Request::new(request);
            r.metadata_mut().insert("authorization", token);
            Ok(client.validate_geometry(r).await?.into_inner())
        })
    }

    fn validate_many(
        &self,
        on_behalf: OnBehalf,
        requests: Vec<v1::ValidateGeometryRequest>,
    ) -> BoxFuture<'_, Result<Vec<v1::ValidationReport>, Status>> {
        let mut client = self.client.clone();
        let token = self.token_for(&on_behalf);
        Box::pin(async move {
            let token = token?;
            let mut r = tonic::Request::new(v1::ValidateGeometriesRequest {
                proposals: requests,
            });
            r.metadata_mut().insert("authorization", token);
            Ok(client.validate_geometries(r).await?.into_inner().reports)
        })
    }

    fn recheck_horizon(&self, on_behalf: OnBehalf) -> BoxFuture<'_, Result<Option<i64>, Status>> {
        let mut client = self.client.clone();
        let token = self.token_for(&on_behalf);
        Box::pin(async move {
            let token = token?;
            let mut r = tonic::Request::new(v1::GetIndexStatsRequest::default());
            r.metadata_mut().insert("authorization", token);
            let stats = client.get_index_stats(r).await?.into_inner();
            Ok(Some(stats.recheck_horizon as i64))
        })
    }
}

/// The `authorization` header of a request, to forward.
pub fn authorization_of<T>(request: &tonic::Request<T>) -> Option<AsciiMetadataValue> {
    request.metadata().get("authorization").cloned()
}
