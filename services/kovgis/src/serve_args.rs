//! The flags of `kovgis serve` (each with a `KOVGIS_*` environment fallback) and the store and
//! service settings they make. The README's "Limits" section lists them.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use kovgis_core::InputLimits;
use kovgis_spatial::{AdmissionConfig, Config, PageTokenKey, RequestLimits, ServerLimits};
use kovgis_store::StoreConfig;

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// How callers are identified.
    #[command(flatten)]
    pub auth: crate::auth_args::AuthArgs,
    /// TLS, and mutual TLS for machine clients.
    #[command(flatten)]
    pub tls: crate::tls_args::TlsArgs,
    /// Address to listen on.
    /// Which services this process runs: `all` (SpatialService and ProcedureService, the
    /// spatial checks in process), `spatial`, or `procedures` (with --spatial-url).
    #[arg(long, env = "KOVGIS_SERVICE", value_enum, default_value_t = Service::All)]
    pub service: Service,
    /// The SpatialService the ProcedureService checks with when it runs apart
    /// (`--service procedures`), e.g. http://127.0.0.1:50051.
    #[arg(long, env = "KOVGIS_SPATIAL_URL")]
    pub spatial_url: Option<String>,
    /// How often the background jobs run (deemed agreement), seconds; 0: never in this process.
    #[arg(long, env = "KOVGIS_JOBS_INTERVAL", default_value_t = 60.0)]
    pub jobs_interval: f64,
    /// How often the re-check queue is looked at (stored reports re-checked after a data or
    /// rule change), seconds; 0: never in this process.
    #[arg(long, env = "KOVGIS_RECHECK_INTERVAL", default_value_t = 2.0)]
    pub recheck_interval: f64,
    /// A re-checked overlap area counts as changed when it moves by more than this many m²
    /// and more than --recheck-tolerance-pct of what it was.
    #[arg(long, env = "KOVGIS_RECHECK_TOLERANCE_M2", default_value_t = 1.0)]
    pub recheck_tolerance_m2: f64,
    #[arg(long, env = "KOVGIS_RECHECK_TOLERANCE_PCT", default_value_t = 1.0)]
    pub recheck_tolerance_pct: f64,
    /// With --service procedures: the service's own token for its re-checks at the
    /// SpatialService (a machine token with kovgis:read:all); without it this process runs no
    /// re-checks.
    #[arg(long, env = "KOVGIS_SPATIAL_TOKEN", hide_env_values = true)]
    pub spatial_token: Option<String>,
    #[arg(long, env = "KOVGIS_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,
    /// Most vertices accepted in one client geometry.
    #[arg(long, env = "KOVGIS_MAX_VERTICES", default_value_t = InputLimits::default().max_vertices)]
    max_vertices: usize,
    /// Most database connections for read queries and QueryFeatures streams.
    #[arg(long, env = "KOVGIS_DB_CONNECTIONS", default_value_t = 16)]
    db_connections: usize,
    /// Most database connections for imports and index builds.
    #[arg(long, env = "KOVGIS_DB_BULK_CONNECTIONS", default_value_t = 4)]
    db_bulk_connections: usize,
    /// Longest wait for a free database connection, seconds (then UNAVAILABLE, DATABASE_BUSY).
    #[arg(long, env = "KOVGIS_DB_WAIT_TIMEOUT", default_value_t = 5.0)]
    db_wait_timeout: f64,
    /// PostgreSQL statement_timeout of read queries, seconds; 0 = none.
    #[arg(long, env = "KOVGIS_STATEMENT_TIMEOUT", default_value_t = 60.0)]
    statement_timeout: f64,
    /// Secret (16+ bytes) that page tokens are signed with; give every instance behind one
    /// address the same. Unset: a random key of this process, whose tokens end with it.
    #[arg(long, env = "KOVGIS_PAGE_TOKEN_KEY", hide_env_values = true)]
    page_token_key: Option<String>,
    /// Deadline of a unary call (or of opening a stream), seconds.
    #[arg(long, env = "KOVGIS_CALL_TIMEOUT", default_value_t = secs(ServerLimits::default().call_timeout))]
    call_timeout: f64,
    /// Most calls handled at once (more wait within their deadline).
    #[arg(long, env = "KOVGIS_MAX_CONCURRENT_CALLS", default_value_t = ServerLimits::default().max_concurrent_calls)]
    max_concurrent_calls: usize,
    /// Most HTTP/2 streams per connection.
    #[arg(long, env = "KOVGIS_MAX_STREAMS_PER_CONNECTION", default_value_t = ServerLimits::default().max_streams_per_connection)]
    max_streams_per_connection: u32,
    /// HTTP/2 keep-alive ping interval, seconds.
    #[arg(long, env = "KOVGIS_KEEPALIVE_INTERVAL", default_value_t = secs(ServerLimits::default().keepalive_interval))]
    keepalive_interval: f64,
    /// HTTP/2 keep-alive: close the connection when a ping is not answered within, seconds.
    #[arg(long, env = "KOVGIS_KEEPALIVE_TIMEOUT", default_value_t = secs(ServerLimits::default().keepalive_timeout))]
    keepalive_timeout: f64,
    /// Most QueryFeatures streams at once.
    #[arg(long, env = "KOVGIS_MAX_FEATURE_STREAMS", default_value_t = ServerLimits::default().max_feature_streams)]
    max_feature_streams: usize,
    /// A QueryFeatures reader that takes nothing for this long loses its stream, seconds.
    #[arg(long, env = "KOVGIS_FEATURE_STREAM_STALL", default_value_t = secs(ServerLimits::default().feature_stream_stall))]
    feature_stream_stall: f64,
    /// Most ImportFeatures streams at once.
    #[arg(long, env = "KOVGIS_MAX_IMPORTS", default_value_t = ServerLimits::default().max_imports)]
    max_imports: usize,
    /// Seconds an `ImportFeatures` stream may stay silent before it is abandoned.
    #[arg(long, env = "KOVGIS_IMPORT_IDLE_SECS", default_value_t = Config::default().import_idle_timeout.as_secs())]
    import_idle_secs: u64,
    /// Seconds an `ImportFeatures` stream may take in all before it is abandoned.
    #[arg(long, env = "KOVGIS_IMPORT_TOTAL_SECS", default_value_t = Config::default().import_total_timeout.as_secs())]
    import_total_secs: u64,
    /// Largest request message, bytes.
    #[arg(long, env = "KOVGIS_MAX_MESSAGE_BYTES", default_value_t = Config::default().max_message_bytes)]
    max_message_bytes: usize,
    /// Largest response message, bytes.
    #[arg(long, env = "KOVGIS_MAX_RESPONSE_BYTES", default_value_t = Config::default().max_response_bytes)]
    max_response_bytes: usize,
    /// Most proposals in one ValidateGeometries call.
    #[arg(long, env = "KOVGIS_MAX_BATCH", default_value_t = RequestLimits::default().max_batch)]
    max_batch: usize,
    /// Largest proposal (bounding box), km².
    #[arg(long, env = "KOVGIS_MAX_PROPOSAL_AREA_KM2", default_value_t = RequestLimits::default().max_proposal_area_m2 / 1e6)]
    max_proposal_area_km2: f64,
    /// Most parcel codes in one proposal.
    #[arg(long, env = "KOVGIS_MAX_PARCELS_PER_PROPOSAL", default_value_t = RequestLimits::default().max_parcels_per_proposal)]
    max_parcels_per_proposal: usize,
    /// Largest area (bounding box) a check at a past moment rebuilds from history, km².
    #[arg(long, env = "KOVGIS_MAX_AS_OF_AREA_KM2", default_value_t = RequestLimits::default().max_as_of_area_m2 / 1e6)]
    max_as_of_area_km2: f64,
    /// Heavy calls running at once (each at most one core).
    #[arg(long, env = "KOVGIS_HEAVY_WORKERS", default_value_t = AdmissionConfig::default().heavy_workers)]
    heavy_workers: usize,
    /// Heavy calls waiting for a worker; one more is refused (RESOURCE_EXHAUSTED).
    #[arg(long, env = "KOVGIS_HEAVY_QUEUE", default_value_t = AdmissionConfig::default().heavy_queue)]
    heavy_queue: usize,
    /// A geometry encoded in more bytes than this is heavy.
    #[arg(long, env = "KOVGIS_HEAVY_GEOMETRY_BYTES", default_value_t = AdmissionConfig::default().heavy_geometry_bytes)]
    heavy_geometry_bytes: usize,
    /// A proposal whose bounding box is larger than this (km²) is heavy.
    #[arg(long, env = "KOVGIS_HEAVY_AREA_KM2", default_value_t = AdmissionConfig::default().heavy_area_m2 / 1e6)]
    heavy_area_km2: f64,
    /// A batch of more proposals than this is heavy.
    #[arg(long, env = "KOVGIS_LIGHT_BATCH", default_value_t = AdmissionConfig::default().light_batch)]
    light_batch: usize,
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// A duration flag: finite, not negative.
fn duration(name: &str, s: f64) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(s).with_context(|| format!("--{name}: {s} is not a duration"))
}

/// The services of one `kovgis serve` process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Service {
    All,
    Spatial,
    Procedures,
}

impl ServeArgs {
    /// How often the jobs run, if at all.
    pub fn jobs_every(&self) -> anyhow::Result<Option<Duration>> {
        let d = duration("jobs-interval", self.jobs_interval)?;
        Ok((!d.is_zero()).then_some(d))
    }

    /// How often the re-checks run, if at all, and how.
    pub fn recheck(&self) -> anyhow::Result<(Option<Duration>, kovgis_procedures::RecheckConfig)> {
        let d = duration("recheck-interval", self.recheck_interval)?;
        let (m2, pct) = (self.recheck_tolerance_m2, self.recheck_tolerance_pct);
        if !(m2.is_finite() && m2 >= 0.0 && pct.is_finite() && (0.0..=100.0).contains(&pct)) {
            anyhow::bail!(
                "--recheck-tolerance-m2 must be a number ≥ 0 and --recheck-tolerance-pct one from 0 to 100"
            );
        }
        let config = kovgis_procedures::RecheckConfig {
            tolerance: kovgis_procedures::Tolerance {
                area_m2: m2,
                share: pct / 100.0,
            },
            ..Default::default()
        };
        Ok(((!d.is_zero()).then_some(d), config))
    }

    /// The database settings.
    pub fn store_config(&self, database_url: String) -> anyhow::Result<StoreConfig> {
        let statement = duration("statement-timeout", self.statement_timeout)?;
        Ok(StoreConfig {
            max_bulk_connections: self.db_bulk_connections,
            wait_timeout: Some(duration("db-wait-timeout", self.db_wait_timeout)?),
            statement_timeout: (!statement.is_zero()).then_some(statement),
            ..StoreConfig::new(database_url, self.db_connections)
        })
    }

    /// The service settings.
    pub fn config(&self) -> anyhow::Result<Config> {
        let page_tokens = match &self.page_token_key {
            Some(secret) => PageTokenKey::new(secret.as_bytes())
                .map_err(anyhow::Error::msg)
                .context("--page-token-key / KOVGIS_PAGE_TOKEN_KEY")?,
            None => {
                tracing::warn!(
                    "no --page-token-key (KOVGIS_PAGE_TOKEN_KEY): page tokens are signed with \
                     a random key of this process; another instance or a restart refuses them"
                );
                PageTokenKey::random()
            }
        };
        Ok(Config {
            limits: InputLimits {
                max_vertices: self.max_vertices,
            },
            requests: RequestLimits {
                max_batch: self.max_batch,
                max_proposal_area_m2: self.max_proposal_area_km2 * 1e6,
                max_parcels_per_proposal: self.max_parcels_per_proposal,
                max_as_of_area_m2: self.max_as_of_area_km2 * 1e6,
            },
            max_message_bytes: self.max_message_bytes,
            max_response_bytes: self.max_response_bytes,
            page_tokens,
            import_idle_timeout: std::time::Duration::from_secs(self.import_idle_secs.max(1)),
            import_total_timeout: std::time::Duration::from_secs(self.import_total_secs.max(1)),
            server: ServerLimits {
                call_timeout: duration("call-timeout", self.call_timeout)?,
                max_concurrent_calls: self.max_concurrent_calls,
                max_streams_per_connection: self.max_streams_per_connection,
                keepalive_interval: duration("keepalive-interval", self.keepalive_interval)?,
                keepalive_timeout: duration("keepalive-timeout", self.keepalive_timeout)?,
                max_feature_streams: self.max_feature_streams,
                feature_stream_stall: duration("feature-stream-stall", self.feature_stream_stall)?,
                max_imports: self.max_imports,
            },
            admission: AdmissionConfig {
                heavy_workers: self.heavy_workers,
                heavy_queue: self.heavy_queue,
                heavy_geometry_bytes: self.heavy_geometry_bytes,
                heavy_area_m2: self.heavy_area_km2 * 1e6,
                light_batch: self.light_batch,
            },
            ..Config::default()
        })
    }
}
