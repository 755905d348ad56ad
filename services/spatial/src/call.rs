//! The boundary around every SpatialService call: a global concurrency limit (calls beyond it
//! wait for a slot, within their deadline), the per-call deadline (`DEADLINE_EXCEEDED`, reason
//! `DEADLINE_EXCEEDED`), and a panic boundary — a handler that panics answers `INTERNAL` for
//! that call only, is logged once, and the server carries on.
//!
//! With the `test-hooks` feature (enabled by this crate's own tests, never by the binary) a
//! request's metadata can make its handler panic (`kovgis-test-panic`), sleep first
//! (`kovgis-test-sleep-ms`) or make its heavy work last longer (`kovgis-test-heavy-ms`, slept on
//! the heavy worker), so that those paths are tested through a real socket.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use tokio::sync::Semaphore;
use tonic::Status;

use crate::ServiceError;

/// Deadline, concurrency limit and panic boundary, shared by every handler.
#[derive(Debug)]
pub struct Calls {
    deadline: Duration,
    slots: Semaphore,
}

impl Calls {
    pub fn new(limits: &crate::ServerLimits) -> Arc<Self> {
        Arc::new(Self {
            deadline: limits.call_timeout,
            slots: Semaphore::new(limits.max_concurrent_calls.max(1)),
        })
    }

    /// Runs `handler` within the deadline, a concurrency slot and the panic boundary.
    pub async fn run<T>(
        &self,
        method: &'static str,
        handler: impl Future<Output = Result<T, Status>>,
    ) -> Result<T, Status> {
        let work = async {
            let _slot = self.slots.acquire().await;
            AssertUnwindSafe(handler).catch_unwind().await
        };
        match tokio::time::timeout(self.deadline, work).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(panic)) => Err(self.panicked(method, panic)),
            Err(_) => Err(ServiceError::Deadline(format!(
                "{method} did not finish within {:.1} s",
                self.deadline.as_secs_f64()
            ))
            .into()),
        }
    }

    /// Runs a handler without the deadline (client streams, whose length is the client's):
    /// the concurrency slot is held while it runs, and its panics are caught.
    pub async fn run_unbounded<T>(
        &self,
        method: &'static str,
        handler: impl Future<Output = Result<T, Status>>,
    ) -> Result<T, Status> {
        let _slot = self.slots.acquire().await;
        match AssertUnwindSafe(handler).catch_unwind().await {
            Ok(answer) => answer,
            Err(panic) => Err(self.panicked(method, panic)),
        }
    }

    fn panicked(&self, method: &'static str, panic: Box<dyn std::any::Any + Send>) -> Status {
        ServiceError::Panic {
            method,
            message: panic_message(panic.as_ref()),
        }
        .into()
    }
}

/// The text a panic carries, where it has one.
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

/// What the test hooks ask of one request (nothing without the `test-hooks` feature).
#[derive(Debug, Clone, Copy, Default)]
pub struct Hook {
    #[cfg(feature = "test-hooks")]
    panic: bool,
    #[cfg(feature = "test-hooks")]
    sleep: Option<Duration>,
    #[cfg(feature = "test-hooks")]
    heavy: Option<Duration>,
}

#[cfg(feature = "test-hooks")]
tokio::task_local! {
    static HEAVY_DELAY: Option<Duration>;
}

/// The extra time a test asks the heavy work of the current call to take (never without the
/// `test-hooks` feature).
pub fn heavy_delay() -> Option<Duration> {
    #[cfg(feature = "test-hooks")]
    {
        HEAVY_DELAY.try_with(|d| *d).ok().flatten()
    }
    #[cfg(not(feature = "test-hooks"))]
    {
        None
    }
}

impl Hook {
    /// Reads the hook metadata of a request.
    #[cfg(feature = "test-hooks")]
    pub fn of<T>(request: &tonic::Request<T>) -> Self {
        let m = request.metadata();
        let ms = |key: &str| {
            m.get(key)
                .and_then(|v| v.to_str().ok()?.parse().ok())
                .map(Duration::from_millis)
        };
        Hook {
            panic: m.get("kovgis-test-panic").is_some(),
            sleep: ms("kovgis-test-sleep-ms"),
            heavy: ms("kovgis-test-heavy-ms"),
        }
    }

    #[cfg(not(feature = "test-hooks"))]
    pub fn of<T>(_request: &tonic::Request<T>) -> Self {
        Hook {}
    }

    /// Runs a handler with the hook's heavy-work delay in scope.
    pub async fn scope<F: Future>(self, handler: F) -> F::Output {
        #[cfg(feature = "test-hooks")]
        {
            HEAVY_DELAY.scope(self.heavy, handler).await
        }
        #[cfg(not(feature = "test-hooks"))]
        {
            handler.await
        }
    }

    /// Does what the hook asks: sleeps, then panics.
    pub async fn fire(self) {
        #[cfg(feature = "test-hooks")]
        {
            if let Some(d) = self.sleep {
                tokio::time::sleep(d).await;
            }
            if self.panic {
                panic!("test hook: kovgis-test-panic");
            }
        }
    }
}
