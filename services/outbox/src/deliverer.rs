//! The deliverer: claims due outbox messages, POSTs each to its authority's webhook, and
//! records the outcome — delivered on a 2xx, otherwise a failure retried after a backoff, and
//! a dead letter after the last attempt. Runs as `Caller::system("outbox-deliverer")` (reach
//! `all`: it moves every municipality's messages). Any number of deliverers may run at once:
//! the claim keeps them apart (kovgis-store `outbox`).

use std::future::Future;
use std::hash::{BuildHasher, Hash, Hasher};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures::FutureExt;
use kovgis_store::{Caller, ClaimedMessage, NextAttempt, Store, StoreError};

use crate::config::{ConfigError, DelivererConfig};
use crate::http::{Answer, Poster, Signed};
use crate::signature::sign;

/// The subject the deliverer acts as.
pub const DELIVERER: &str = "outbox-deliverer";

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryStats {
    /// Messages claimed (each got one attempt).
    pub claimed: usize,
    /// Accepted by their receivers.
    pub delivered: usize,
    /// Failed, to be retried after a backoff.
    pub retrying: usize,
    /// Failed for the last time: now dead letters.
    pub dead: usize,
    /// Outcomes that could not be recorded (the database failed): those messages come back
    /// when their lease ends.
    pub unrecorded: usize,
}

/// Delivers the outbox (see the module docs).
pub struct Deliverer {
    store: Store,
    caller: Caller,
    config: DelivererConfig,
    poster: Poster,
    /// Seeds the jitter (randomly per deliverer).
    jitter: std::collections::hash_map::RandomState,
}

impl std::fmt::Debug for Deliverer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deliverer")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Deliverer {
    /// A deliverer over `store` with `config` (checked by [`DelivererConfig::validate`]).
    pub fn new(store: Store, config: DelivererConfig) -> Result<Deliverer, ConfigError> {
        config.validate()?;
        Ok(Deliverer {
            store,
            caller: Caller::system(DELIVERER),
            poster: Poster::new(config.request_timeout, config.max_response_bytes),
            config,
            jitter: std::collections::hash_map::RandomState::new(),
        })
    }

    pub fn config(&self) -> &DelivererConfig {
        &self.config
    }

    /// One round: claims up to a batch of due messages, attempts them all concurrently and
    /// records each outcome. An error only when the claim itself failed (nothing was sent).
    pub async fn run_once(&self) -> Result<DeliveryStats, StoreError> {
        let batch = i64::try_from(self.config.batch_size).unwrap_or(i64::MAX);
        let messages = self
            .store
            .claim_outbox(&self.caller, batch, self.config.lease)
            .await?;
        let mut stats = DeliveryStats {
            claimed: messages.len(),
            ..DeliveryStats::default()
        };
        let outcomes = futures::future::join_all(messages.iter().map(|m| self.attempt(m))).await;
        for outcome in outcomes {
            match outcome {
                Some(Outcome::Delivered) => stats.delivered += 1,
                Some(Outcome::Retrying) => stats.retrying += 1,
                Some(Outcome::Dead) => stats.dead += 1,
                None => stats.unrecorded += 1,
            }
        }
        Ok(stats)
    }

    /// Runs rounds until `shutdown` completes: straight on while rounds come back full, else
    /// every `poll_interval`. A round under way when `shutdown` completes is finished first.
    pub fn spawn(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut shutdown = std::pin::pin!(shutdown);
            loop {
                let full = match self.run_once().await {
                    Ok(stats) => stats.claimed == self.config.batch_size,
                    Err(e) => {
                        tracing::warn!(error = %e, "outbox: claiming messages failed");
                        false
                    }
                };
                if full {
                    if shutdown.as_mut().now_or_never().is_some() {
                        break;
                    }
                    continue;
                }
                tokio::select! {
                    _ = shutdown.as_mut() => break,
                    _ = tokio::time::sleep(self.config.poll_interval) => {}
                }
            }
            tracing::info!("outbox deliverer stopped");
        })
    }

    /// One attempt of `m` and its recording; `None` when the outcome could not be recorded.
    async fn attempt(&self, m: &ClaimedMessage) -> Option<Outcome> {
        let started = Instant::now();
        let answer = match &m.webhook {
            // Decided: a message for an authority without a webhook waits like any failure
            // (an attempt, a backoff), and after the last attempt it is a dead letter whose
            // error names the missing configuration — visible to the municipality's officials.
            None => Answer::Failed(format!("no webhook configured for {}", m.authority)),
            Some(w) => {
                let body = Bytes::from(envelope(m).to_string());
                let timestamp = unix_now();
                let signature = sign(w.secret.as_bytes(), timestamp, &body);
                let message_id = message_id(m);
                let signed = Signed {
                    message_id: &message_id,
                    timestamp,
                    signature: &signature,
                };
                self.poster.post(&w.url, &signed, body).await
            }
        };
        let (municipality, id, attempt) = (m.municipality_code.as_str(), m.id, m.attempts);
        let elapsed_ms = started.elapsed().as_millis() as u64;
        let result = match &answer {
            Answer::Accepted(status) => {
                tracing::debug!(municipality, id, authority = %m.authority, attempt, status,
                                elapsed_ms, "outbox: message delivered");
                self.store
                    .outbox_delivered(&self.caller, municipality, id)
                    .await
                    .map(|_| Outcome::Delivered)
            }
            Answer::Failed(error) => {
                let (next, outcome) = if attempt >= self.config.max_attempts {
                    (NextAttempt::Dead, Outcome::Dead)
                } else {
                    let wait = self.config.backoff(attempt, self.jitter_for(m));
                    (NextAttempt::After(wait), Outcome::Retrying)
                };
                tracing::warn!(municipality, id, authority = %m.authority, attempt, elapsed_ms,
                               error = %error, dead = matches!(outcome, Outcome::Dead),
                               "outbox: delivery failed");
                self.store
                    .outbox_failed(&self.caller, municipality, id, attempt, error, next)
                    .await
                    .map(|_| outcome)
            }
        };
        match result {
            Ok(outcome) => Some(outcome),
            Err(e) => {
                tracing::warn!(municipality, id, error = %e,
                               "outbox: the outcome of an attempt was not recorded");
                None
            }
        }
    }

    /// A number in [0, 1) that differs per deliverer, message and attempt.
    fn jitter_for(&self, m: &ClaimedMessage) -> f64 {
        let mut h = self.jitter.build_hasher();
        (&m.municipality_code, m.id, m.attempts).hash(&mut h);
        Instant::now().hash(&mut h);
        (h.finish() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Delivered,
    Retrying,
    Dead,
}

/// `Kovgis-Message-Id`: `<municipality>/<id>`, unique and stable across attempts.
pub fn message_id(m: &ClaimedMessage) -> String {
    format!("{}/{}", m.municipality_code, m.id)
}

/// The JSON body of a message: the same bytes on every attempt.
pub fn envelope(m: &ClaimedMessage) -> serde_json::Value {
    serde_json::json!({
        "message_id": message_id(m),
        "municipality_code": m.municipality_code,
        "procedure_id": m.procedure_id,
        "authority": m.authority,
        "kind": m.kind,
        "created_at": m.created_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "payload": m.payload,
    })
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
