//! Admission by cost. A request is classified before its CPU work starts: geometries by the
//! size of their encoding (a vertex is 16 bytes of WKB), proposals by bounding-box area, batches
//! by their number of proposals, and dates before the index's data (an index rebuilt from
//! PostGIS history for the call). Light work runs as before; heavy work runs in a pool of its
//! own — `heavy_workers` blocking threads at a time, `heavy_queue` more waiting — so that it can
//! never take more than those cores. When the pool is full a heavy call is refused at once with
//! `RESOURCE_EXHAUSTED` (`OVERLOADED_HEAVY`) and counted ([`Admission::stats`], in
//! `GetIndexStats`).
//!
//! A heavy call whose caller gives up (deadline, cancel) keeps its worker until its CPU work
//! ends: the pool's bound holds for the work, not for the calls.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use kovgis_api::v1;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::{AdmissionConfig, ServiceError};

/// Whether a request runs with the ordinary calls or in the heavy pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cost {
    Light,
    Heavy,
}

/// Counts of heavy calls, for `GetIndexStats`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AdmissionStats {
    /// Heavy calls admitted to the pool.
    pub admitted: u64,
    /// Heavy calls refused because the pool was full.
    pub refused: u64,
}

/// The heavy pool: its admission tickets (workers + queue), its workers, and its counts.
#[derive(Debug, Clone)]
pub struct Admission {
    config: AdmissionConfig,
    tickets: Arc<Semaphore>,
    workers: Arc<Semaphore>,
    admitted: Arc<AtomicU64>,
    refused: Arc<AtomicU64>,
}

/// A heavy call's place in the pool: held until its work is done.
#[derive(Debug)]
pub struct Ticket {
    _ticket: OwnedSemaphorePermit,
    _worker: OwnedSemaphorePermit,
}

impl Admission {
    pub fn new(config: AdmissionConfig) -> Self {
        let workers = config.heavy_workers.max(1);
        Self {
            config,
            tickets: Arc::new(Semaphore::new(workers + config.heavy_queue)),
            workers: Arc::new(Semaphore::new(workers)),
            admitted: Arc::new(AtomicU64::new(0)),
            refused: Arc::new(AtomicU64::new(0)),
        }
    }

    pub fn config(&self) -> &AdmissionConfig {
        &self.config
    }

    pub fn stats(&self) -> AdmissionStats {
        AdmissionStats {
            admitted: self.admitted.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
        }
    }

    /// A place in the heavy pool: refused at once when workers and queue are full, else
    /// waits for a worker.
    pub async fn admit(&self, what: &str) -> Result<Ticket, ServiceError> {
        let Ok(ticket) = self.tickets.clone().try_acquire_owned() else {
            self.refused.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(what, "heavy work refused: the heavy pool is full");
            return Err(ServiceError::Overloaded(format!(
                "the server is busy with other large requests ({what}); try again later or \
                 send a smaller request"
            )));
        };
        self.admitted.fetch_add(1, Ordering::Relaxed);
        let worker = self
            .workers
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| ServiceError::Internal(format!("heavy pool closed: {e}")))?;
        Ok(Ticket {
            _ticket: ticket,
            _worker: worker,
        })
    }

    /// Runs CPU work `f` on a blocking thread in the heavy pool (refused at once when full).
    pub async fn heavy<T: Send + 'static>(
        &self,
        what: &str,
        f: impl FnOnce() -> Result<T, ServiceError> + Send + 'static,
    ) -> Result<T, ServiceError> {
        let ticket = self.admit(what).await?;
        let delay = crate::call::heavy_delay();
        blocking(move || {
            let _ticket = ticket;
            if let Some(d) = delay {
                std::thread::sleep(d);
            }
            f()
        })
        .await
    }

    /// Runs CPU work `f` on a heavy worker, waiting for one however full the pool is: for work
    /// already under way (an import's next batch), which must not fail for being busy.
    pub async fn heavy_waiting<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> Result<T, ServiceError> + Send + 'static,
    ) -> Result<T, ServiceError> {
        let worker = self
            .workers
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| ServiceError::Internal(format!("heavy pool closed: {e}")))?;
        blocking(move || {
            let _worker = worker;
            f()
        })
        .await
    }

    /// Runs `f` as its cost says: light work inline, heavy work in the pool.
    pub async fn run<T: Send + 'static>(
        &self,
        cost: Cost,
        what: &str,
        f: impl FnOnce() -> Result<T, ServiceError> + Send + 'static,
    ) -> Result<T, ServiceError> {
        match cost {
            Cost::Light => f(),
            Cost::Heavy => self.heavy(what, f).await,
        }
    }

    /// Runs an async heavy job (reads then CPU work) holding one worker throughout.
    pub async fn heavy_async<T>(
        &self,
        what: &str,
        job: impl Future<Output = Result<T, ServiceError>>,
    ) -> Result<T, ServiceError> {
        let _ticket = self.admit(what).await?;
        if let Some(d) = crate::call::heavy_delay() {
            tokio::time::sleep(d).await;
        }
        job.await
    }

    /// The cost of reading a request geometry.
    pub fn geometry_cost(&self, g: Option<&v1::Geometry>) -> Cost {
        if geometry_bytes(g) > self.config.heavy_geometry_bytes {
            Cost::Heavy
        } else {
            Cost::Light
        }
    }

    /// The cost of checking a proposal of this bounding-box area.
    pub fn area_cost(&self, area_m2: f64) -> Cost {
        if area_m2 > self.config.heavy_area_m2 {
            Cost::Heavy
        } else {
            Cost::Light
        }
    }
}

/// CPU work on a blocking thread; a panic there becomes `INTERNAL`.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ServiceError> + Send + 'static,
) -> Result<T, ServiceError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ServiceError::Internal(format!("a worker task failed: {e}")))?
}

/// The size of a geometry's encoding, bytes.
pub fn geometry_bytes(g: Option<&v1::Geometry>) -> usize {
    match g.and_then(|g| g.value.as_ref()) {
        Some(v1::geometry::Value::Geojson(s)) => s.len(),
        Some(v1::geometry::Value::Wkt(s)) => s.len(),
        Some(v1::geometry::Value::Wkb(b)) => b.len(),
        None => 0,
    }
}
