//! The outbox of messages to authorities (migration 0012), from the deliverer's side: claiming
//! due messages, recording their delivery or failure, and the authorities' webhooks.
//!
//! The procedure changes write the messages, in their own transactions ([`crate::procedures`]);
//! this module only moves them along; the dead letters an official sees are
//! [`Store::delivery_failures`]. Claiming is one statement: it picks due messages (undelivered, not dead,
//! `next_attempt_at` passed) with `FOR UPDATE SKIP LOCKED`, counts the attempt and pushes
//! `next_attempt_at` forward by a lease, and commits. A second deliverer running at the same
//! moment skips the locked rows, and once the claim commits the rows are no longer due (the
//! recheck of an updated row under `READ COMMITTED` sees the new `next_attempt_at`), so two
//! instances never hold one message at once. A deliverer that crashes mid-delivery loses only
//! its lease: the message becomes due again when the lease ends (at least once; the receiver
//! deduplicates by message id). Every call runs as a [`Caller`] under row-level security: the
//! bookkeeping needs reach `all` (the deliverer is `Caller::system("outbox-deliverer")`), an
//! official reads only their municipality's messages. The webhook secret never appears in a
//! `Debug` output or an error.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_postgres::Row;

use crate::{Caller, Store, StoreError};

/// Where an authority receives its messages.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthorityWebhook {
    pub authority: String,
    /// `http://` or `https://` (the table checks it).
    pub url: String,
    /// The HMAC key the messages are signed with (16 characters or more).
    pub secret: String,
}

impl std::fmt::Debug for AuthorityWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorityWebhook")
            .field("authority", &self.authority)
            .field("url", &"<redacted>")
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// A claimed message, with the webhook of its authority as it was at the claim.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedMessage {
    pub municipality_code: String,
    pub id: i64,
    pub procedure_id: String,
    pub authority: String,
    pub kind: String,
    pub payload: serde_json::Value,
    pub created_at: DateTime<Utc>,
    /// Attempts so far, this one included (the claim counts it).
    pub attempts: i32,
    /// `None`: no webhook is configured for the authority.
    pub webhook: Option<AuthorityWebhook>,
}

/// What follows a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextAttempt {
    /// Try again this long after now (the database's clock).
    After(Duration),
    /// Give up: the message becomes a dead letter.
    Dead,
}

/// Claims due messages and joins their webhooks (see the module docs). `$1` limit, `$2` lease
/// in milliseconds.
const CLAIM: &str = "
WITH due AS (
    SELECT municipality_code, id FROM outbox
    WHERE delivered_at IS NULL AND dead_at IS NULL AND next_attempt_at <= now()
    ORDER BY next_attempt_at, municipality_code, id
    LIMIT $1
    FOR UPDATE SKIP LOCKED),
claimed AS (
    UPDATE outbox o
    SET attempts = o.attempts + 1,
        next_attempt_at = now() + $2::bigint * interval '1 millisecond'
    FROM due WHERE o.municipality_code = due.municipality_code AND o.id = due.id
    RETURNING o.municipality_code, o.id, o.procedure_id, o.authority, o.kind, o.payload,
              o.created_at, o.attempts)
SELECT c.municipality_code::text, c.id, c.procedure_id::text, c.authority, c.kind, c.payload,
       c.created_at, c.attempts, w.url, w.secret
FROM claimed c LEFT JOIN authority_webhook w ON w.authority = c.authority
ORDER BY c.municipality_code, c.id";

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Store {
    /// Sets (inserts or replaces) the webhook of `authority`. National configuration: only a
    /// caller with reach `all` may (otherwise [`StoreError::is_forbidden`]).
    pub async fn set_authority_webhook(
        &self,
        caller: &Caller,
        authority: &str,
        url: &str,
        secret: &str,
    ) -> Result<(), StoreError> {
        let tx = self.begin_as(caller).await?;
        tx.client()
            .execute(
                "INSERT INTO authority_webhook (authority, url, secret) VALUES ($1, $2, $3)
                 ON CONFLICT (authority) DO UPDATE
                 SET url = excluded.url, secret = excluded.secret, updated_at = now()",
                &[&authority, &url, &secret],
            )
            .await
            // The server's words could quote the row (the secret): only the condition is named.
            .map_err(webhook_refused)?;
        tx.commit().await
    }

    /// The webhook of `authority`, if one is configured and `caller` may read it (reach `all`).
    pub async fn authority_webhook(
        &self,
        caller: &Caller,
        authority: &str,
    ) -> Result<Option<AuthorityWebhook>, StoreError> {
        let rows = self
            .query_as(
                caller,
                "SELECT authority, url, secret FROM authority_webhook WHERE authority = $1",
                &[&authority],
            )
            .await?;
        Ok(rows.first().map(|r| AuthorityWebhook {
            authority: r.get(0),
            url: r.get(1),
            secret: r.get(2),
        }))
    }

    /// Claims up to `limit` due messages for `lease` (see the module docs), oldest due first.
    pub async fn claim_outbox(
        &self,
        caller: &Caller,
        limit: i64,
        lease: Duration,
    ) -> Result<Vec<ClaimedMessage>, StoreError> {
        let tx = self.begin_as(caller).await?;
        let rows = tx.query(CLAIM, &[&limit, &millis(lease)]).await?;
        tx.commit().await?;
        Ok(rows.iter().map(message).collect())
    }

    /// Records that message `id` of `municipality` was delivered (the receiver answered 2xx);
    /// the last error of earlier attempts stays, for the record. Says whether it was still
    /// undelivered (a message delivered twice, after a lease ran out, keeps its first time; one
    /// declared dead meanwhile by another deliverer is delivered after all).
    pub async fn outbox_delivered(
        &self,
        caller: &Caller,
        municipality: &str,
        id: i64,
    ) -> Result<bool, StoreError> {
        let tx = self.begin_as(caller).await?;
        let n = tx
            .client()
            .execute(
                "UPDATE outbox SET delivered_at = now(), dead_at = NULL
                 WHERE municipality_code = $1 AND id = $2 AND delivered_at IS NULL",
                &[&municipality, &id],
            )
            .await
            .map_err(StoreError::pg("recording a delivery"))?;
        tx.commit().await?;
        Ok(n == 1)
    }

    /// Records that attempt number `attempt` of message `id` failed with `error`, and when to
    /// try again (or that it is dead). Only the latest attempt's outcome is recorded: a report
    /// from an attempt whose lease ran out and that another deliverer has claimed since, or of a
    /// message delivered meanwhile, changes nothing (`false`).
    pub async fn outbox_failed(
        &self,
        caller: &Caller,
        municipality: &str,
        id: i64,
        attempt: i32,
        error: &str,
        next: NextAttempt,
    ) -> Result<bool, StoreError> {
        let (retry_ms, dead) = match next {
            NextAttempt::After(d) => (millis(d), false),
            NextAttempt::Dead => (0, true),
        };
        let tx = self.begin_as(caller).await?;
        let n = tx
            .client()
            .execute(
                "UPDATE outbox
                 SET last_error = $4,
                     next_attempt_at = CASE WHEN $6 THEN next_attempt_at
                                            ELSE now() + $5::bigint * interval '1 millisecond' END,
                     dead_at = CASE WHEN $6 THEN now() END
                 WHERE municipality_code = $1 AND id = $2 AND attempts = $3
                   AND delivered_at IS NULL AND dead_at IS NULL",
                &[&municipality, &id, &attempt, &error, &retry_ms, &dead],
            )
            .await
            .map_err(StoreError::pg("recording a failed delivery"))?;
        tx.commit().await?;
        Ok(n == 1)
    }
}

fn message(r: &Row) -> ClaimedMessage {
    let authority: String = r.get(3);
    let url: Option<String> = r.get(8);
    let secret: Option<String> = r.get(9);
    let webhook = url.zip(secret).map(|(url, secret)| AuthorityWebhook {
        authority: authority.clone(),
        url,
        secret,
    });
    ClaimedMessage {
        municipality_code: r.get(0),
        id: r.get(1),
        procedure_id: r.get(2),
        authority,
        kind: r.get(4),
        payload: r.get(5),
        created_at: r.get(6),
        attempts: r.get(7),
        webhook,
    }
}

/// A refused webhook write. Lack of privilege stays a PostgreSQL error
/// ([`StoreError::is_forbidden`]); anything else is named by the server's message and code only,
/// as its detail line can quote the row, secret included.
fn webhook_refused(e: tokio_postgres::Error) -> StoreError {
    use tokio_postgres::error::SqlState;
    let Some(db) = e.as_db_error() else {
        return StoreError::Postgres(e, "saving an authority webhook");
    };
    if db.code() == &SqlState::INSUFFICIENT_PRIVILEGE && db.detail().is_none() {
        return StoreError::Postgres(e, "saving an authority webhook");
    }
    if db.code() == &SqlState::CHECK_VIOLATION {
        return StoreError::Invalid(format!(
            "the authority webhook was refused by {}: the url must start with http:// or \
             https://, the secret must have 16 characters or more",
            db.constraint().unwrap_or("a check")
        ));
    }
    StoreError::Invalid(format!(
        "the authority webhook was not saved: {} ({})",
        db.message(),
        db.code().code()
    ))
}
