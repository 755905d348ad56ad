//! kovgis-outbox: delivers the outbox of procedure messages (migration 0012) to the webhooks
//! the authorities configured — how authorities learn that their coordination is asked. Other
//! deliverers (e-mail, the state's X-tee exchange) can be added beside this one later; they
//! would claim and record through the same kovgis-store calls.
//!
//! # The protocol a receiver implements
//!
//! Each message is one `POST` to the authority's webhook URL, body JSON
//! (`{"message_id", "municipality_code", "procedure_id", "authority", "kind", "created_at",
//! "payload"}`), with the headers
//!
//! - `Content-Type: application/json`;
//! - `Kovgis-Message-Id: <municipality>/<id>` — the same on every attempt of one message:
//!   delivery is at least once, so a receiver keeps the ids it has accepted and answers 2xx to
//!   a repeat without acting on it again;
//! - `Kovgis-Timestamp: <Unix seconds>` — when this attempt was signed;
//! - `Kovgis-Signature: sha256=<hex>` — HMAC-SHA256, keyed with the webhook secret, of the
//!   bytes `<timestamp>.<body>` (the header's decimal text, a dot, the raw body).
//!
//! To verify: take the raw body bytes as received (before any JSON parsing); refuse a
//! timestamp more than a few minutes (say 5) away from the receiver's clock; compute the HMAC
//! over `<timestamp>.<body>` and compare it with the header's hex in constant time
//! ([`signature::verify`] does exactly this; in a shell: `printf '%s.%s' "$ts" "$body" |
//! openssl dgst -sha256 -hmac "$secret"`). The timestamp is inside the signature so that it
//! cannot be changed: a captured request replayed later carries its old timestamp and is
//! refused as stale, and within the window the message id catches the repeat.
//!
//! A 2xx answer means delivered. Anything else — another status (redirects are not followed),
//! a connection failure, or no complete answer within the timeout (10 s) — is a failed
//! attempt, retried after an exponential backoff with jitter ([`DelivererConfig`]); after the
//! last attempt (8 by default) the message is a dead letter: `dead_at` set, its last error
//! kept, listed for its municipality's officials (`Store::delivery_failures`, ListDeliveryFailures). A message for
//! an authority with no webhook configured fails the same way ("no webhook configured for
//! <authority>"), so that a missing configuration ends up visible rather than silently
//! waiting.
//!
//! Plain `http://` only for now: an `https://` webhook fails with a message saying so (TLS
//! for outgoing requests, with a root store, is for later). Neither the secret nor the URL
//! (which may carry credentials) appears in logs or recorded errors.

pub mod config;
pub mod deliverer;
mod http;
pub mod signature;

pub use config::{ConfigError, DelivererConfig};
pub use deliverer::{DELIVERER, Deliverer, DeliveryStats, envelope, message_id};
pub use http::{MESSAGE_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER};
