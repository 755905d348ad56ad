//! The settings of the spatial service: what a client may send (input and request limits), how
//! the server protects itself (deadline, concurrency, keep-alive, message sizes, connections for
//! streams and imports), which work counts as heavy and how much of it runs at once, and how a
//! failed index rebuild is retried. Every field has a safe default; `kovgis serve` exposes them
//! as flags (README: "Limits").

use std::sync::Arc;
use std::time::Duration;

use kovgis_api::page_token::PageTokenKey;
use kovgis_core::InputLimits;

/// Settings of the spatial service.
#[derive(Debug, Clone)]
pub struct Config {
    /// Limits on client geometries (vertex cap).
    pub limits: InputLimits,
    /// Limits on validation requests.
    pub requests: RequestLimits,
    /// Largest gRPC message accepted (decoded), bytes.
    pub max_message_bytes: usize,
    /// Largest gRPC message sent (encoded), bytes.
    pub max_response_bytes: usize,
    /// The key page tokens are signed with: the same on every instance behind one address, so
    /// that any of them continues a listing another began. The default is a random key of this
    /// process (its tokens die with it).
    pub page_tokens: PageTokenKey,
    /// Longest silence of an `ImportFeatures` stream before it is abandoned (its transaction
    /// rolled back, its lock released) with `DEADLINE_EXCEEDED`.
    pub import_idle_timeout: Duration,
    /// Longest `ImportFeatures` stream, from its start to its last message, before it is
    /// abandoned (rolled back, lock released) with `DEADLINE_EXCEEDED` (`IMPORT_TOO_LONG`).
    pub import_total_timeout: Duration,
    /// Deadline, concurrency, keep-alive, streams and imports.
    pub server: ServerLimits,
    /// Which work is heavy and how much of it runs at once.
    pub admission: AdmissionConfig,
    /// Retries of a failed validation index rebuild.
    pub index_retry: Backoff,
    /// How calls are identified. The default has no keys, and a server without keys does not
    /// start: identity fails closed.
    pub auth: Auth,
    /// TLS, and mutual TLS for machine clients; `None`: plain HTTP/2 (behind a TLS-terminating
    /// proxy, or on a private network).
    pub tls: Option<Tls>,
}

/// The server's TLS settings (PEM).
#[derive(Clone)]
pub struct Tls {
    /// The server's certificate chain.
    pub certificate: Vec<u8>,
    /// Its private key.
    pub key: Vec<u8>,
    /// The CA(s) client certificates are verified against. When set, machine identities must
    /// present a certificate their token is bound to (`kovgis_auth::mtls`); people need none.
    pub client_ca: Option<Vec<u8>>,
}

/// No key material in logs.
impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("certificate_bytes", &self.certificate.len())
            .field("key", &"<redacted>")
            .field("client_ca", &self.client_ca.is_some())
            .finish()
    }
}

/// How the server identifies calls.
#[derive(Debug, Clone, Default)]
pub enum Auth {
    /// Nothing configured: [`crate::run`] refuses to start.
    #[default]
    Unconfigured,
    /// Bearer JWTs verified against the configured keys (reloaded in the background).
    Jwt(Arc<kovgis_auth::Verifier>),
    /// Every call runs as this one identity, whatever it sends. Insecure: only to measure what
    /// authentication costs (`kovgis serve --insecure-no-auth`); logged loudly at start.
    InsecureFixed(Arc<kovgis_auth::Identity>),
}

impl Default for Config {
    fn default() -> Self {
        Self {
            limits: InputLimits::default(),
            requests: RequestLimits::default(),
            max_message_bytes: 16 * 1024 * 1024,
            max_response_bytes: 64 * 1024 * 1024,
            page_tokens: PageTokenKey::random(),
            import_idle_timeout: Duration::from_secs(120),
            import_total_timeout: Duration::from_secs(3600),
            server: ServerLimits::default(),
            admission: AdmissionConfig::default(),
            index_retry: Backoff::default(),
            auth: Auth::Unconfigured,
            tls: None,
        }
    }
}

/// What one validation request may ask for; beyond it the request is refused with
/// `INVALID_ARGUMENT` naming the field.
#[derive(Debug, Clone, Copy)]
pub struct RequestLimits {
    /// Most proposals in one `ValidateGeometries` call.
    pub max_batch: usize,
    /// Largest proposal area (of its bounding box), m².
    pub max_proposal_area_m2: f64,
    /// Most `parcel_codes` in one proposal.
    pub max_parcels_per_proposal: usize,
    /// Largest bounding box, m², of a proposal dated before the index's data (rebuilt from the
    /// history in PostGIS for that call).
    pub max_as_of_area_m2: f64,
}

impl Default for RequestLimits {
    fn default() -> Self {
        Self {
            max_batch: 1000,
            max_proposal_area_m2: 100e6,
            max_parcels_per_proposal: 100,
            max_as_of_area_m2: 25e6,
        }
    }
}

/// How the server protects itself from slow, many or stuck calls.
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    /// Longest a unary call (or the opening of a stream) may take: then `DEADLINE_EXCEEDED`.
    pub call_timeout: Duration,
    /// Most SpatialService calls handled at once; more wait (within their deadline).
    pub max_concurrent_calls: usize,
    /// Most HTTP/2 streams one connection may have open.
    pub max_streams_per_connection: u32,
    /// HTTP/2 keep-alive: a ping after this much silence …
    pub keepalive_interval: Duration,
    /// … and the connection is closed when it is not answered within this.
    pub keepalive_timeout: Duration,
    /// Most `QueryFeatures` streams reading the database at once (each holds a connection);
    /// one more is refused with `RESOURCE_EXHAUSTED`.
    pub max_feature_streams: usize,
    /// A `QueryFeatures` reader that takes no message for this long loses its stream (ended
    /// with `DEADLINE_EXCEEDED`) and its database connection.
    pub feature_stream_stall: Duration,
    /// Most `ImportFeatures` streams at once (running or waiting for their lock); one more is
    /// refused with `RESOURCE_EXHAUSTED`.
    pub max_imports: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            call_timeout: Duration::from_secs(30),
            max_concurrent_calls: 512,
            max_streams_per_connection: 256,
            keepalive_interval: Duration::from_secs(30),
            keepalive_timeout: Duration::from_secs(10),
            max_feature_streams: 4,
            feature_stream_stall: Duration::from_secs(30),
            max_imports: 2,
        }
    }
}

/// Admission by cost: work above these thresholds is heavy and runs in a small pool of its own
/// (`heavy_workers` at a time, `heavy_queue` more waiting); when that is full a heavy call is
/// refused at once with `RESOURCE_EXHAUSTED` (`OVERLOADED_HEAVY`), so ordinary calls keep their
/// cores.
#[derive(Debug, Clone, Copy)]
pub struct AdmissionConfig {
    /// Heavy calls running at once (each takes at most one core).
    pub heavy_workers: usize,
    /// Heavy calls waiting for a worker; one more is refused.
    pub heavy_queue: usize,
    /// A geometry whose encoding is larger than this (bytes) is heavy (16 bytes a vertex in WKB).
    pub heavy_geometry_bytes: usize,
    /// A proposal whose bounding box is larger than this (m²) is heavy.
    pub heavy_area_m2: f64,
    /// A batch of more proposals than this is heavy.
    pub light_batch: usize,
}

impl Default for AdmissionConfig {
    fn default() -> Self {
        Self {
            heavy_workers: 1,
            heavy_queue: 4,
            heavy_geometry_bytes: 32 * 1024,
            heavy_area_m2: 1e6,
            light_batch: 16,
        }
    }
}

/// Exponential back-off: `initial`, doubled after every failure, at most `max`.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
        }
    }
}

impl Backoff {
    /// The wait after `failures` failures in a row (1 = the first).
    pub fn after(&self, failures: u32) -> Duration {
        let factor = 2u32.saturating_pow(failures.saturating_sub(1).min(20));
        self.initial.saturating_mul(factor).min(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let b = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_millis(500),
        };
        let waits: Vec<u128> = (1..=5).map(|n| b.after(n).as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 500, 500]);
        assert_eq!(b.after(u32::MAX).as_millis(), 500);
    }
}
