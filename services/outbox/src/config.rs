//! How the deliverer works: batch size, lease, attempts, backoff, timeouts, and the backoff
//! schedule itself (exponential with jitter), kept pure so that it is tested by hand-worked
//! values.

use std::time::Duration;

/// The deliverer's settings. [`DelivererConfig::default`] is what production runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelivererConfig {
    /// Most messages claimed (and delivered concurrently) per round.
    pub batch_size: usize,
    /// How long a claimed message stays away from other deliverers. Must be well over
    /// `request_timeout` (see [`DelivererConfig::validate`]): a message whose lease ran out
    /// while its attempt was still running could be sent a second time concurrently.
    pub lease: Duration,
    /// Attempts before a message becomes a dead letter (the first one included).
    pub max_attempts: i32,
    /// The wait after the first failure; it doubles with each further failure …
    pub backoff_base: Duration,
    /// … up to this.
    pub backoff_cap: Duration,
    /// The whole of one attempt: connecting, sending and reading the answer.
    pub request_timeout: Duration,
    /// Most bytes of a response body read (the rest is not read; the status decides).
    pub max_response_bytes: usize,
    /// How often [`crate::Deliverer::spawn`] looks for due messages when the last round left
    /// none waiting.
    pub poll_interval: Duration,
}

impl Default for DelivererConfig {
    /// 16 messages per round, a 60 s lease, 8 attempts, backoff from 1 min doubling to at most
    /// 6 h (with jitter, the 7 waits before the 8th attempt add up to 63½–127 min), a 10 s
    /// timeout per request, 4 KiB of response read, a look every 5 s.
    fn default() -> Self {
        DelivererConfig {
            batch_size: 16,
            lease: Duration::from_secs(60),
            max_attempts: 8,
            backoff_base: Duration::from_secs(60),
            backoff_cap: Duration::from_secs(6 * 3600),
            request_timeout: Duration::from_secs(10),
            max_response_bytes: 4096,
            poll_interval: Duration::from_secs(5),
        }
    }
}

/// A configuration that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid outbox deliverer configuration: {0}")]
pub struct ConfigError(pub String);

impl DelivererConfig {
    /// Refuses settings that cannot work: an empty batch, no attempts, a zero backoff or a cap
    /// below it, a zero timeout, and a lease not at least twice the request timeout (one
    /// attempt, plus its bookkeeping, must end well within its lease).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |s: &str| Err(ConfigError(s.to_owned()));
        if self.batch_size == 0 {
            return bad("batch_size must be at least 1");
        }
        if self.max_attempts < 1 {
            return bad("max_attempts must be at least 1");
        }
        if self.backoff_base.is_zero() || self.backoff_cap < self.backoff_base {
            return bad("backoff_base must be over zero and backoff_cap at least backoff_base");
        }
        if self.request_timeout.is_zero() {
            return bad("request_timeout must be over zero");
        }
        if self.lease < self.request_timeout * 2 {
            return bad("lease must be at least twice request_timeout");
        }
        if self.poll_interval.is_zero() {
            return bad("poll_interval must be over zero");
        }
        Ok(())
    }

    /// The wait after the `attempts`-th failed attempt (1 = the first): `base · 2^(attempts−1)`,
    /// at most `cap`, of which the upper half is scaled by `jitter` ∈ [0, 1) ("equal jitter":
    /// between half and all of it, so that messages failing together spread out without any
    /// retrying sooner than half the schedule).
    pub fn backoff(&self, attempts: i32, jitter: f64) -> Duration {
        let doublings = attempts.saturating_sub(1).clamp(0, 31) as u32;
        let full = self
            .backoff_base
            .checked_mul(1u32 << doublings)
            .unwrap_or(self.backoff_cap)
            .min(self.backoff_cap);
        let half = full / 2;
        half + half.mul_f64(jitter.clamp(0.0, 1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(base_ms: u64, cap_ms: u64) -> DelivererConfig {
        DelivererConfig {
            backoff_base: Duration::from_millis(base_ms),
            backoff_cap: Duration::from_millis(cap_ms),
            ..DelivererConfig::default()
        }
    }

    #[test]
    fn backoff_doubles_from_base_to_cap_with_equal_jitter() {
        // base 1000 ms, cap 10 000 ms: full waits 1000, 2000, 4000, 8000, 10 000, 10 000 ms.
        let c = config(1000, 10_000);
        let ms = |a, j| c.backoff(a, j).as_millis();
        assert_eq!(
            [
                ms(1, 0.0),
                ms(2, 0.0),
                ms(3, 0.0),
                ms(4, 0.0),
                ms(5, 0.0),
                ms(40, 0.0)
            ],
            [500, 1000, 2000, 4000, 5000, 5000]
        );
        assert_eq!(
            [ms(1, 1.0), ms(3, 0.5), ms(4, 0.25), ms(5, 1.0)],
            [1000, 3000, 5000, 10_000]
        );
        // Out-of-range jitter is clamped; attempt 0 or below counts as the first.
        assert_eq!([ms(2, -3.0), ms(2, 7.0), ms(0, 0.0)], [1000, 2000, 500]);
    }

    #[test]
    fn default_schedule_is_one_minute_doubling_and_valid() {
        let c = DelivererConfig::default();
        assert_eq!(c.validate(), Ok(()));
        // Full waits after failures 1..7: 1, 2, 4, 8, 16, 32, 64 min = 127 min; half: 63.5.
        let total: Duration = (1..=7).map(|a| c.backoff(a, 1.0)).sum();
        assert_eq!(total, Duration::from_secs(127 * 60));
        let least: Duration = (1..=7).map(|a| c.backoff(a, 0.0)).sum();
        assert_eq!(least, Duration::from_secs(127 * 30));
    }

    #[test]
    fn validate_refuses_what_cannot_work() {
        let ok = DelivererConfig::default();
        let refused = [
            DelivererConfig {
                batch_size: 0,
                ..ok.clone()
            },
            DelivererConfig {
                max_attempts: 0,
                ..ok.clone()
            },
            DelivererConfig {
                backoff_base: Duration::ZERO,
                ..ok.clone()
            },
            DelivererConfig {
                backoff_cap: Duration::from_secs(1),
                ..ok.clone()
            },
            DelivererConfig {
                request_timeout: Duration::ZERO,
                ..ok.clone()
            },
            DelivererConfig {
                lease: Duration::from_secs(19),
                ..ok.clone()
            },
            DelivererConfig {
                poll_interval: Duration::ZERO,
                ..ok.clone()
            },
        ];
        for c in refused {
            assert!(c.validate().is_err(), "{c:?}");
        }
    }
}
