//! The service's clock, injected: deadlines, overdue flags and the background jobs read "now"
//! from a [`Now`], so that tests can stand on any day (a holiday, a year's end) and move on.

use std::sync::Mutex;

use chrono::{DateTime, Utc};

/// Where "now" comes from.
pub trait Now: Send + Sync + std::fmt::Debug + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemNow;

impl Now for SystemNow {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stands still until set: for tests.
#[derive(Debug)]
pub struct ManualNow(Mutex<DateTime<Utc>>);

impl ManualNow {
    pub fn new(at: DateTime<Utc>) -> ManualNow {
        ManualNow(Mutex::new(at))
    }

    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = at;
    }
}

impl Now for ManualNow {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}
