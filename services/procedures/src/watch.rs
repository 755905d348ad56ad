//! `WatchProcedures`: the procedure events, streamed to client apps as they are committed.
//!
//! One [`Feed`] per process reads new events (as the service) when PostgreSQL announces them
//! (`kovgis_procedure_event`, migration 0013; and once a second in case a notification was
//! lost) and fans them out over a bounded broadcast channel. A watcher first catches up from the
//! database — the events after its `after_event_id`, read as the caller under row-level
//! security, a page at a time — then takes the live events from the feed, skipping what it has
//! already sent and what its caller may not see. Event ids are committed in increasing order, so
//! "after id n" names exactly the events a watcher has not yet had: a reconnect with its last id
//! misses nothing and repeats nothing.
//!
//! Memory is bounded per watcher: the feed keeps the last [`WatchConfig::buffer`] events for
//! everyone, and each watcher at most [`WatchConfig::queue`] messages on their way to its client.
//! A watcher that falls further behind than the feed keeps is sent a `resume` message with its
//! last id, and its stream ends: it reconnects from there (its catch-up then comes from the
//! database, not from memory). Watchers per process are limited ([`WatchConfig::max_watchers`],
//! `RESOURCE_EXHAUSTED` beyond).
//!
//! What a live event's caller may see is decided here by the same rules as the row-level
//! security of migration 0012 (`kovgis_may_reach_procedure`): reach all, own municipality,
//! the applicant's own procedures, or those asked of the caller's authority; a caller limited
//! to some procedure types sees only those. The catch-up is read under row-level security itself.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use kovgis_api::convert::timestamp;
use kovgis_api::v1;
use kovgis_core::InputError;
use kovgis_spatial::ServiceError;
use kovgis_store::procedures::{WatchFilter, WatchedEvent};
use kovgis_store::{Caller, Reach, Store, StoreError};
use tokio::sync::{Semaphore, broadcast, mpsc};
use tonic::{Request, Status};

use crate::ProcedureApi;
use crate::contents::{type_name, type_of};
use crate::service::store_status;
use crate::who::Who;

/// The channel new events are announced on (migration 0013).
const CHANNEL: &str = "kovgis_procedure_event";

/// Bounds of the watchers of one process.
#[derive(Debug, Clone)]
pub struct WatchConfig {
    /// Events the feed keeps for watchers that lag (shared by all).
    pub buffer: usize,
    /// Messages on their way to one client.
    pub queue: usize,
    /// Events read from the database at once.
    pub page: i64,
    /// Watchers at once in one process.
    pub max_watchers: usize,
    /// How often the feed reads even without a notification.
    pub poll: Duration,
}

impl Default for WatchConfig {
    /// 4 096 events kept, 64 queued per client, pages of 500, 10 000 watchers, polled each
    /// second.
    fn default() -> Self {
        WatchConfig {
            buffer: 4096,
            queue: 64,
            page: 500,
            max_watchers: 10_000,
            poll: Duration::from_secs(1),
        }
    }
}

/// The process's reader of new events.
#[derive(Debug)]
pub struct Feed {
    events: broadcast::Sender<Arc<WatchedEvent>>,
    watchers: Arc<Semaphore>,
    /// Dropped with the service: the reading task ends.
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Feed {
    /// Starts reading events committed after now.
    async fn start(store: Store, config: &WatchConfig) -> Result<Feed, StoreError> {
        let caller = Caller::system("watch-feed");
        let mut notified = store.listen(CHANNEL).await?;
        let mut last = store.last_event_id(&caller).await?;
        let (events, _) = broadcast::channel(config.buffer.max(1));
        let tx = events.clone();
        let (page, poll) = (config.page, config.poll);
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let all = WatchFilter::default();
            loop {
                let woken = tokio::select! {
                    n = notified.recv() => n.is_some(),
                    _ = tokio::time::sleep(poll) => true,
                    // The service is gone.
                    _ = &mut stopped => return,
                };
                if !woken {
                    // The notification connection is gone: listen again (the reads from `last`
                    // catch up whatever was announced meanwhile).
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    match store.listen(CHANNEL).await {
                        Ok(n) => notified = n,
                        Err(e) => tracing::warn!(error = %e, "cannot listen for procedure events"),
                    }
                }
                while notified.try_recv().is_ok() {}
                loop {
                    let batch = match store.events_after(&caller, last, &all, page).await {
                        Ok(b) => b,
                        Err(e) => {
                            tracing::warn!(error = %e, "reading new procedure events failed");
                            break;
                        }
                    };
                    let full = batch.len() as i64 == page;
                    for e in batch {
                        last = e.id;
                        // No receiver is fine: nobody watches.
                        let _ = tx.send(Arc::new(e));
                    }
                    if !full {
                        break;
                    }
                }
            }
        });
        Ok(Feed {
            events,
            watchers: Arc::new(Semaphore::new(config.max_watchers)),
            _stop: stop,
        })
    }
}

/// Whether `caller` (limited to `types`, if any) may see the procedure of `e`: the rules of
/// `kovgis_may_reach_procedure` (migration 0012).
pub fn sees(caller: &Caller, types: Option<&[String]>, e: &WatchedEvent) -> bool {
    if caller.subject.is_empty() {
        return false;
    }
    if let Some(types) = types
        && !types.iter().any(|t| *t == e.procedure_type)
    {
        return false;
    }
    let own = caller.municipality.as_deref() == Some(e.key.municipality_code.as_str());
    match caller.reach {
        Reach::All => true,
        Reach::Own => own,
        Reach::Applicant => {
            own && (e.created_by == caller.subject
                || caller.person_code.as_deref() == Some(e.applicant_code.as_str()))
        }
        Reach::Authority => caller
            .authority
            .as_ref()
            .is_some_and(|a| e.authorities.contains(a)),
    }
}

fn message(e: &WatchedEvent) -> v1::WatchProceduresResponse {
    v1::WatchProceduresResponse {
        item: Some(v1::watch_procedures_response::Item::Event(v1::WatchedEvent {
            event_id: e.id,
            name: e.key.name(),
            municipality_code: e.key.municipality_code.clone(),
            r#type: type_of(&e.procedure_type) as i32,
            version: e.seq,
            occurred_at: Some(timestamp(e.at)),
            action: e.action.clone(),
            state_before: e.state_before.clone(),
            state_after: e.state_after.clone(),
            assigned_official: e.assigned_official.clone().unwrap_or_default(),
            finding_changes_json: if e.findings.is_null() {
                String::new()
            } else {
                e.findings.to_string()
            },
        })),
    }
}

fn resume(last: i64, reason: &str) -> v1::WatchProceduresResponse {
    v1::WatchProceduresResponse {
        item: Some(v1::watch_procedures_response::Item::Resume(v1::WatchResume {
            last_event_id: last,
            reason: reason.to_owned(),
        })),
    }
}

pub(crate) type WatchStream =
    Pin<Box<dyn Stream<Item = Result<v1::WatchProceduresResponse, Status>> + Send>>;

impl ProcedureApi {
    pub(crate) async fn watch_procedures(
        &self,
        request: Request<v1::WatchProceduresRequest>,
    ) -> Result<WatchStream, Status> {
        let who = Who::of(request.extensions(), "WatchProcedures")?;
        let req = request.into_inner();
        let input = |e: InputError| Status::from(ServiceError::from(e));
        let municipality_code = if req.municipality_code.is_empty() {
            None
        } else {
            Some(
                kovgis_core::codes::parse_municipality_code(
                    "municipality_code",
                    &req.municipality_code,
                )
                .map_err(input)?,
            )
        };
        let procedure_type = match req.r#type {
            0 => None,
            t => Some(
                type_name(t)
                    .ok_or_else(|| {
                        input(InputError::new("type", format!("unknown procedure type {t}")))
                    })?
                    .to_owned(),
            ),
        };
        if req.after_event_id < 0 {
            return Err(input(InputError::new(
                "after_event_id",
                "must be 0 (from now) or an event id",
            )));
        }
        let assigned = req.assigned_official.trim();
        let filter = WatchFilter {
            municipality_code,
            procedure_type,
            assigned_official: (!assigned.is_empty()).then(|| assigned.to_owned()),
        };
        let feed = self
            .feed
            .get_or_try_init(|| Feed::start(self.store.clone(), &self.watch))
            .await
            .map_err(store_status)?;
        let permit = feed.watchers.clone().try_acquire_owned().map_err(|_| {
            Status::resource_exhausted(format!(
                "this server has {} watchers, its limit; try again later or another instance",
                self.watch.max_watchers
            ))
        })?;
        // Subscribe before reading: whatever commits from here on reaches the live part.
        let mut live = feed.events.subscribe();
        let mut cursor = if req.after_event_id > 0 {
            req.after_event_id
        } else {
            self.store
                .last_event_id(&Caller::system("watch-feed"))
                .await
                .map_err(store_status)?
        };
        let (tx, rx) = mpsc::channel(self.watch.queue.max(1));
        let (store, page) = (self.store.clone(), self.watch.page);
        let (caller, types) = (who.caller, who.types);
        tokio::spawn(async move {
            let _permit = permit;
            // Catch up from the database, as the caller.
            loop {
                let batch = match store.events_after(&caller, cursor, &filter, page).await {
                    Ok(b) => b,
                    Err(e) => {
                        let _ = tx.send(Err(store_status(e))).await;
                        return;
                    }
                };
                let full = batch.len() as i64 == page;
                for e in batch {
                    if types.as_deref().is_none_or(|t| t.contains(&e.procedure_type))
                        && tx.send(Ok(message(&e))).await.is_err()
                    {
                        return;
                    }
                    cursor = e.id;
                }
                if !full {
                    break;
                }
            }
            // Then live.
            loop {
                match live.recv().await {
                    Ok(e) => {
                        if e.id <= cursor {
                            continue;
                        }
                        if filter.matches(&e)
                            && sees(&caller, types.as_deref(), &e)
                            && tx.send(Ok(message(&e))).await.is_err()
                        {
                            return;
                        }
                        cursor = e.id;
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        let _ = tx
                            .send(Ok(resume(
                                cursor,
                                "this watcher fell too far behind; reconnect with \
                                 after_event_id = last_event_id",
                            )))
                            .await;
                        return;
                    }
                    Err(broadcast::error::RecvError::Closed) => {
                        let _ = tx
                            .send(Err(Status::unavailable("the event feed stopped; reconnect")))
                            .await;
                        return;
                    }
                }
            }
        });
        Ok(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx)))
    }
}
