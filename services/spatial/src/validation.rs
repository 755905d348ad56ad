//! The validation index behind `ValidateGeometry`: built from PostGIS at start, refreshed when
//! an import or a rule version announces a change (`pg_notify('kovgis_dataset_version', …)`,
//! from this instance or another), and swapped in whole while validations continue on the old
//! one; and the small indexes of past moments, read from PostGIS around one proposal.
//!
//! A refresh reads only what changed since the index in use was built ([`build_since`]): the
//! layers whose version moved are read and indexed again, the parcels and the other layers are
//! shared with the old index — an import of one municipality's zoning costs that layer, not the
//! country. A new cadastre version is read and built whole.
//!
//! A rebuild that fails keeps the previous index answering, marks it stale (since when, and
//! why: [`Freshness`], shown by `GetIndexStats` and the health service) and is retried with
//! exponential back-off until one succeeds.
//!
//! What the engine does with an index is `kovgis-engine`'s; the handlers that use it are in
//! `service::validate`.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

use kovgis_engine::index::{Feature, Index, Layer, LayerInfo, Parcel, areal_part};
use kovgis_engine::rules::{RuleDef, RuleSet, Severity};
use kovgis_store::Caller;
use kovgis_store::index_source::AsOf;
use kovgis_store::index_source::{Held, IndexLayer, IndexSource};
use kovgis_store::{Store, StoreError};

use crate::procedures::ProcedureHandle;

/// An index and the rules, as one consistent snapshot.
#[derive(Debug)]
pub struct Built {
    pub index: Index,
    /// The rule versions, as the `validation_rule` table held them at the build.
    pub rules: RuleSet,
    /// The municipality codes a proposal may name.
    pub municipalities: std::collections::HashSet<String>,
    /// When the newest dataset version in it was imported: earlier dates are answered from
    /// PostGIS ([`build_past`]).
    pub newest_version_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The newest re-check request whose change this index holds (re-checks up to it may run
    /// on it; see kovgis-store `index_source`).
    pub recheck_horizon: i64,
    /// When the build finished (reports say which index answered them).
    pub built_at: SystemTime,
    /// Process resident memory right after the build, bytes (`None` where the platform does
    /// not tell).
    pub resident_bytes: Option<u64>,
}

/// Whether the index answering is the newest the data allows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Freshness {
    /// Since the first failed rebuild in a row (`None`: the last rebuild succeeded).
    pub stale_since: Option<SystemTime>,
    /// Why the last rebuild failed.
    pub reason: String,
}

/// The current [`Built`], shared by the handlers; replaced whole by a refresh. Also tells
/// whether it is stale, to readers and to subscribers ([`IndexHandle::watch`]).
#[derive(Debug, Clone)]
pub struct IndexHandle {
    built: Arc<RwLock<Option<Arc<Built>>>>,
    freshness: Arc<tokio::sync::watch::Sender<Freshness>>,
    /// The other procedures (`CONFLICTS_WITH_PROCEDURE`), kept current one by one
    /// (`crate::procedures`).
    procedures: ProcedureHandle,
}

impl Default for IndexHandle {
    fn default() -> Self {
        Self {
            built: Arc::default(),
            freshness: Arc::new(tokio::sync::watch::Sender::new(Freshness::default())),
            procedures: ProcedureHandle::default(),
        }
    }
}

impl IndexHandle {
    /// The index of other procedures.
    pub fn procedures(&self) -> &ProcedureHandle {
        &self.procedures
    }

    /// The index now in use (`None` until the first build has finished).
    pub fn current(&self) -> Option<Arc<Built>> {
        self.built.read().map(|g| g.clone()).unwrap_or_default()
    }

    /// Whether the index in use is stale.
    pub fn freshness(&self) -> Freshness {
        self.freshness.borrow().clone()
    }

    /// Changes of [`Self::freshness`].
    pub fn watch(&self) -> tokio::sync::watch::Receiver<Freshness> {
        self.freshness.subscribe()
    }

    fn set(&self, built: Built) {
        if let Ok(mut g) = self.built.write() {
            *g = Some(Arc::new(built));
        }
        self.freshness.send_if_modified(|f| {
            let was_stale = f.stale_since.is_some();
            *f = Freshness::default();
            was_stale
        });
    }

    fn failed(&self, reason: String) {
        self.freshness.send_modify(|f| {
            f.stale_since.get_or_insert_with(SystemTime::now);
            f.reason = reason;
        });
    }
}

/// The process's resident memory from `/proc/self/statm` (`None` where there is none).
fn resident_bytes() -> Option<u64> {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map(|pages| pages * 4096)
}

/// Reads everything from PostGIS and builds the index (the CPU part on a blocking thread).
pub async fn build(store: &Store) -> Result<Built, StoreError> {
    let started = Instant::now();
    let source = store.index_source(&Caller::system("index-builder")).await?;
    let read = started.elapsed();
    let built = tokio::task::spawn_blocking(move || assemble(source, started))
        .await
        .map_err(|e| StoreError::Invalid(format!("building the index: {e}")))?;
    log_built(&built, read);
    Ok(built)
}

/// The next index after `current`: only what changed since it was built is read — the layers
/// whose version or description moved, and the rules — and the parcels and the unchanged layers
/// are shared with it (kovgis-engine `Index::refreshed`). Everything is read and built anew when
/// the cadastre has a newer version.
pub async fn build_since(store: &Store, current: Arc<Built>) -> Result<Built, StoreError> {
    let started = Instant::now();
    let stale = |l: &IndexLayer| {
        current
            .index
            .layer(l.id)
            .is_none_or(|have| !same_layer(&have.info, l))
    };
    let held = Held {
        parcel_version: current.index.parcel_version,
        stale: &stale,
    };
    let source = store
        .index_source_since(&Caller::system("index-builder"), &held)
        .await?;
    let read = started.elapsed();
    let refreshed = source.refreshed_layers.clone();
    let whole = refreshed.is_none();
    let built = tokio::task::spawn_blocking(move || match whole {
        false => assemble_since(&current, source, started),
        true => Some(assemble(source, started)),
    })
    .await
    .map_err(|e| StoreError::Invalid(format!("building the index: {e}")))?;
    let Some(built) = built else {
        // Cannot be (a layer the index lacks is stale, so read): built whole from a new read.
        tracing::warn!("a layer missing from the index and from the refresh; building anew");
        return build(store).await;
    };
    match refreshed {
        Some(layers) => log_refreshed(&built, &layers, read),
        None => log_built(&built, read),
    }
    Ok(built)
}

/// Whether the index's layer is the layer as it is now.
fn same_layer(have: &LayerInfo, now: &IndexLayer) -> bool {
    have.id == now.id
        && have.version == now.version
        && have.name == now.name
        && have.title == now.title
        && have.kind == now.kind
        && have.municipality_code == now.municipality_code
        && have.authority == now.authority
}

/// A small index of what was in force at a past moment around a proposal, read from PostGIS:
/// the parcels under its bounding box, then every feature around those parcels (their buildings
/// and zones decide coverage), so that the same rules give the answer of that day.
pub async fn build_past(
    store: &Store,
    at: chrono::DateTime<chrono::Utc>,
    around: geo::Rect,
) -> Result<Built, StoreError> {
    let started = Instant::now();
    let window = |r: geo::Rect| AsOf {
        at,
        bbox: [r.min().x, r.min().y, r.max().x, r.max().y],
    };
    let history = Caller::system("history");
    let parcels = store
        .index_source_at(&history, Some(window(around)))
        .await?;
    let mut wide = around;
    for p in &parcels.parcels {
        if let Some(b) = geo::BoundingRect::bounding_rect(&p.geometry) {
            wide = geo::Rect::new(
                geo::Coord {
                    x: wide.min().x.min(b.min().x),
                    y: wide.min().y.min(b.min().y),
                },
                geo::Coord {
                    x: wide.max().x.max(b.max().x),
                    y: wide.max().y.max(b.max().y),
                },
            );
        }
    }
    let source = if wide == around {
        parcels
    } else {
        store.index_source_at(&history, Some(window(wide))).await?
    };
    tokio::task::spawn_blocking(move || assemble(source, started))
        .await
        .map_err(|e| StoreError::Invalid(format!("building the index: {e}")))
}

/// The CPU part of a build.
fn assemble(mut source: IndexSource, started: Instant) -> Built {
    let parcels = std::mem::take(&mut source.parcels)
        .into_iter()
        .filter_map(|p| {
            areal_part(&p.geometry).map(|g| Parcel::new(p.code, p.municipality_code, g))
        })
        .collect();
    let layers = layers_of(&mut source, |_| None);
    let index = Index::build(parcels, source.parcel_version, layers, started);
    finish(index, source)
}

/// The CPU part of a refresh: the layers read anew indexed, the others taken from `current`.
/// `None` when a layer the read did not bring is not in `current` either (it cannot be: such a
/// layer is stale, so read): the caller then builds the index whole.
fn assemble_since(current: &Built, mut source: IndexSource, started: Instant) -> Option<Built> {
    let read: HashSet<i64> = source.refreshed_layers.iter().flatten().copied().collect();
    if !source
        .layers
        .iter()
        .all(|l| read.contains(&l.id) || current.index.layer(l.id).is_some())
    {
        return None;
    }
    let layers: Vec<Arc<Layer>> = layers_of(&mut source, |id| {
        (!read.contains(&id))
            .then(|| current.index.layer(id).cloned())
            .flatten()
    });
    let index = current.index.refreshed(layers, started);
    Some(finish(index, source))
}

/// The source's layers in order (its layers and features taken): each the one `kept` gives,
/// or (`kept` says `None`) built from the source's features.
fn layers_of<L: From<Layer>>(source: &mut IndexSource, kept: impl Fn(i64) -> Option<L>) -> Vec<L> {
    let mut by_layer: HashMap<i64, Vec<Feature>> = HashMap::new();
    for f in std::mem::take(&mut source.features) {
        by_layer.entry(f.layer_id).or_default().push(Feature::new(
            f.id,
            f.external_id,
            f.attributes,
            f.geometry,
        ));
    }
    std::mem::take(&mut source.layers)
        .into_iter()
        .map(|l| {
            if let Some(kept) = kept(l.id) {
                return kept;
            }
            let features = by_layer.remove(&l.id).unwrap_or_default();
            L::from(Layer::new(
                LayerInfo {
                    id: l.id,
                    name: l.name,
                    title: l.title,
                    kind: l.kind,
                    municipality_code: l.municipality_code,
                    authority: l.authority,
                    version: l.version,
                },
                features,
            ))
        })
        .collect()
}

/// The rules, the versions and the stats around a built index.
fn finish(index: Index, source: IndexSource) -> Built {
    let rules = RuleSet {
        rules: source
            .rules
            .into_iter()
            .map(|r| RuleDef {
                severity: Severity::parse(&r.severity).unwrap_or(Severity::Blocking),
                code: r.code,
                version: r.version,
                municipality_code: r.municipality_code,
                procedures: r.procedures,
                params: r.params,
                valid_from: r.valid_from,
                valid_to: r.valid_to,
            })
            .collect(),
    };
    Built {
        index,
        rules,
        municipalities: source.municipalities.into_iter().collect(),
        newest_version_at: source.newest_version_at,
        recheck_horizon: source.recheck_horizon,
        built_at: SystemTime::now(),
        resident_bytes: resident_bytes(),
    }
}

fn log_built(built: &Built, read: Duration) {
    let s = &built.index.stats;
    tracing::info!(
        parcels = s.parcels,
        parcel_mib = s.parcel_bytes / (1 << 20),
        layers = s.layers.len(),
        features = s.layers.iter().map(|l| l.features).sum::<usize>(),
        read_ms = read.as_millis() as u64,
        total_ms = s.build.as_millis() as u64,
        resident_mib = built.resident_bytes.unwrap_or(0) / (1 << 20),
        "validation index built"
    );
    for l in &s.layers {
        tracing::debug!(
            layer = l.name,
            municipality = l.municipality_code.as_deref().unwrap_or("national"),
            features = l.features,
            kib = l.bytes / 1024,
            version = l.version,
            "layer indexed"
        );
    }
}

fn log_refreshed(built: &Built, layers: &[i64], read: Duration) {
    let s = &built.index.stats;
    tracing::info!(
        layers_read = layers.len(),
        features_read = s
            .layers
            .iter()
            .filter(|l| layers.contains(&l.layer_id))
            .map(|l| l.features)
            .sum::<usize>(),
        parcels = s.parcels,
        read_ms = read.as_millis() as u64,
        total_ms = s.build.as_millis() as u64,
        resident_mib = built.resident_bytes.unwrap_or(0) / (1 << 20),
        "validation index refreshed (parcels and unchanged layers kept)"
    );
}

/// Builds the first index, then keeps it current: every `kovgis_dataset_version` notification
/// (several in a burst count once) refreshes it ([`build_since`]) and swaps it in — or builds
/// it whole for a notification that is not an import's or a rule version's, after a lost
/// connection and on a retry. Listening starts before the first
/// build, so an import committed meanwhile is not missed. A lost connection is retried; after
/// reconnecting the index is rebuilt, as notifications may have been missed. A failed rebuild
/// is retried after `retry` back-off (or at the next notification, whichever comes first).
/// Returns the task that keeps it current; abort it to stop.
pub async fn start(
    store: &Store,
    handle: &IndexHandle,
    retry: crate::Backoff,
) -> Result<tokio::task::JoinHandle<()>, StoreError> {
    let versions = store.listen(CHANNEL).await?;
    load(store, handle).await?;
    Ok(tokio::spawn(keep_current(
        store.clone(),
        handle.clone(),
        versions,
        retry,
    )))
}

const CHANNEL: &str = "kovgis_dataset_version";

/// What woke the refresher.
enum Wake {
    Version(String),
    Retry,
    Lost,
}

async fn keep_current(
    store: Store,
    handle: IndexHandle,
    mut versions: tokio::sync::mpsc::UnboundedReceiver<String>,
    retry: crate::Backoff,
) {
    let mut failures: u32 = 0;
    loop {
        let wake = if failures == 0 {
            versions.recv().await.map_or(Wake::Lost, Wake::Version)
        } else {
            tokio::select! {
                v = versions.recv() => v.map_or(Wake::Lost, Wake::Version),
                _ = tokio::time::sleep(retry.after(failures)) => Wake::Retry,
            }
        };
        // A refresh reads only what moved by the dataset versions; anything else builds whole.
        let mut whole = true;
        match wake {
            Wake::Version(payload) => {
                // Let a burst of imports settle, then rebuild once.
                tokio::time::sleep(Duration::from_millis(50)).await;
                whole = !refreshable(&payload);
                while let Ok(p) = versions.try_recv() {
                    whole |= !refreshable(&p);
                }
                tracing::info!(
                    payload,
                    whole,
                    "new dataset version; refreshing the validation index"
                );
            }
            Wake::Retry => {
                tracing::info!(failures, "retrying the validation index rebuild");
            }
            Wake::Lost => {
                tracing::warn!("lost the notification connection; listening again");
                loop {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    match store.listen(CHANNEL).await {
                        Ok(v) => {
                            versions = v;
                            break;
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "cannot listen for dataset versions")
                        }
                    }
                }
            }
        }
        if rebuild(&store, &handle, whole).await {
            failures = 0;
        } else {
            failures = failures.saturating_add(1);
        }
    }
}

/// Whether a notification's change is one a refresh finds by the dataset versions: an import
/// (`{"target": "layer" | "parcels", …}`) or a rule version (`{"target": "validation_rule"}`).
/// Anything else — an operator's `NOTIFY kovgis_dataset_version, 'rebuild'` after editing data by
/// hand, say — builds the index whole.
fn refreshable(payload: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(payload).is_ok_and(|v| {
        matches!(
            v["target"].as_str(),
            Some("layer" | "parcels" | "validation_rule")
        )
    })
}

/// Builds and swaps in a new index (refreshed from the one in use unless `whole`, or there is
/// none yet); on failure keeps the old one and marks it stale. Returns whether it succeeded.
pub async fn rebuild(store: &Store, handle: &IndexHandle, whole: bool) -> bool {
    let next = match handle.current() {
        Some(current) if !whole => build_since(store, current).await,
        _ => build(store).await,
    };
    match next {
        Ok(built) => {
            if handle.freshness().stale_since.is_some() {
                tracing::info!("validation index rebuilt; no longer stale");
            }
            handle.set(built);
            true
        }
        Err(e) => {
            tracing::error!(error = %e, "rebuilding the validation index failed; keeping the old one");
            handle.failed(e.to_string());
            false
        }
    }
}

/// Builds the index and stores it in the handle.
pub async fn load(store: &Store, handle: &IndexHandle) -> Result<(), StoreError> {
    handle.set(build(store).await?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::refreshable;

    #[test]
    fn imports_and_rule_versions_are_refreshed_anything_else_is_built_whole() {
        // As kovgis-store's import and migration 0006 send them.
        assert!(refreshable(
            r#"{"layer_id":62,"target":"layer","version":83}"#
        ));
        assert!(refreshable(
            r#"{"layer_id":null,"target":"parcels","version":2}"#
        ));
        assert!(refreshable(r#"{"target": "validation_rule"}"#));
        for other in ["rebuild", "", "{}", r#"{"target":"feature"}"#, "[1]"] {
            assert!(!refreshable(other), "{other}");
        }
    }
}
