//! kovgis-import: bulk import of files into kovgis.
//!
//! Reads GeoPackage, Shapefile (with `.prj` for the CRS and `.cpg`/DBF code page for text),
//! GeoJSON and FlatGeobuf through GDAL, checks and transforms every feature on a reader thread,
//! and streams the rows into the store's import engine (binary COPY into a stage, set-based
//! merge, one transaction; see `kovgis_store::import`).
//!
//! Why GDAL: it is the reference reader for every one of these formats (the Land Board's own
//! downloads are made with it), it already handles `.prj` parsing, DBF code pages and GeoPackage
//! geometry blobs, and it is the same library as the `ogr2ogr` baseline the import is measured
//! against. The cost is a C dependency (Debian's `libgdal-dev`), which only this crate and the
//! binary carry; the gRPC import path does not need it.

mod error;
mod gpkg;
mod progress;
mod reader;
mod rows;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub use error::ImportError;
pub use progress::Progress;
pub use reader::file_sha256;
pub use rows::{AttributeMapping, Problem};

use kovgis_store::import::{
    ImportMode, ImportOptions, ImportStart, ImportSummary, ImportTarget, LayerSpec,
};
use kovgis_store::{Store, StoreError};

/// What to import.
#[derive(Debug, Clone)]
pub enum ImportKind {
    /// Land Board cadastre (schema recognised from the field names).
    Parcels,
    /// Any layer, with an attribute mapping.
    Layer {
        spec: Box<LayerSpec>,
        mapping: AttributeMapping,
    },
}

/// One import request, as the CLI states it.
#[derive(Debug, Clone)]
pub struct ImportRequest {
    pub path: PathBuf,
    /// Layer within a multi-layer source (GeoPackage); required when there is more than one.
    pub layer: Option<String>,
    pub kind: ImportKind,
    /// CRS stated by the user (EPSG code); overrides what the file says.
    pub srs: Option<u32>,
    /// Repair invalid geometries with ST_MakeValid instead of skipping them.
    pub repair: bool,
    pub options: ImportOptions,
}

/// What an import did, with every problem found.
#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    pub summary: ImportSummary,
    /// Features read from the file.
    pub read: u64,
    /// Features not imported, with the reason (invalid and not repaired, outside Estonia, …).
    pub skipped: Vec<Problem>,
    /// Features whose geometry was invalid and sent for repair.
    pub sent_for_repair: Vec<Problem>,
    /// The recognised cadastre schema, for parcel imports.
    pub schema: Option<String>,
    /// The source CRS.
    pub source_epsg: u32,
}

/// Imports one file as `caller` (the dataset version's author). Blocks a reader thread for GDAL; the rest is async.
pub async fn run_import(
    store: &Store,
    caller: &kovgis_store::Caller,
    request: ImportRequest,
    progress: &mut Progress,
) -> Result<ImportReport, ImportError> {
    // Open once up front so that unreadable files, missing CRS and unknown schemas fail before
    // anything is written or locked.
    let mut prepared = {
        let request = request.clone();
        tokio::task::spawn_blocking(move || reader::Prepared::open(&request))
            .await
            .map_err(|e| ImportError::Internal(e.to_string()))??
    };
    // A GeoPackage cadastre's rows are hashed meanwhile (see `gpkg`); the content hash and the
    // start of the import (lock, current parcels) run beside it.
    let cancel = CancelOnDrop(Arc::new(AtomicBool::new(false)));
    let scan = prepared
        .scan_job(cancel.0.clone())
        .map(|job| tokio::task::spawn_blocking(move || job.run()));
    let sha256 = {
        let path = request.path.clone();
        let task = tokio::task::spawn_blocking(move || file_sha256(&path));
        async move {
            match task.await {
                Ok(Ok(sha)) => Ok(Some(sha)),
                // The message names the file; the store passes it on as it is.
                Ok(Err(e)) => Err(kovgis_store::StoreError::Invalid(e.to_string())),
                Err(e) => Err(kovgis_store::StoreError::Invalid(e.to_string())),
            }
        }
    };
    let target = match &request.kind {
        ImportKind::Parcels => ImportTarget::Parcels,
        ImportKind::Layer { spec, .. } => ImportTarget::Layer((**spec).clone()),
    };
    let source_name = request
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut report = ImportReport {
        schema: prepared.schema_name(),
        source_epsg: prepared.epsg,
        ..Default::default()
    };
    tracing::debug!("source opened");
    let options = ImportOptions {
        reader: reader_settings(&request, &prepared),
        ..request.options.clone()
    };
    let mut import = match store
        .begin_import_hashing(caller, target, &source_name, sha256, options)
        .await?
    {
        ImportStart::Unchanged(summary) => {
            report.summary = summary;
            return Ok(report);
        }
        ImportStart::Ready(import) => import,
    };
    tracing::debug!("import begun");
    prepared.set_current(import.current_source_hashes());
    prepared.set_layer_authority(import.layer_authority().is_some());
    progress.start(prepared.feature_count);

    let scanned = match scan {
        Some(scan) => scan
            .await
            .map_err(|e| ImportError::Internal(e.to_string()))
            .and_then(|r| r),
        None => Ok(None),
    };
    let scanned = match scanned {
        Ok(s) => s,
        Err(e) => {
            import.abort().await?;
            return Err(e);
        }
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel::<rows::Batch>(8);
    let reader = tokio::task::spawn_blocking(move || prepared.read_all(scanned, &tx));
    while let Some(batch) = rx.recv().await {
        for item in batch.items {
            match item {
                rows::Item::Parcel(p) => import.push_parcel(&p).await?,
                rows::Item::Feature(f) => import.push_feature(&f).await?,
            }
        }
        import.note_unchanged(&batch.unchanged);
        report.read += batch.read;
        report.skipped.extend(batch.skipped);
        report.sent_for_repair.extend(batch.repair);
        progress.advance(batch.read);
    }
    // A reader error ends the import without writing anything.
    match reader.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            import.abort().await?;
            return Err(e);
        }
        Err(e) => {
            import.abort().await?;
            return Err(ImportError::Internal(e.to_string()));
        }
    }
    progress.finish();
    let replace = request.options.mode == ImportMode::Replace;
    if report.read == 0 && !(replace && request.options.allow_shrink) {
        import.abort().await?;
        return Err(ImportError::Source {
            path: request.path.clone(),
            reason: "the file has no features; refusing to replace the data with nothing".into(),
        });
    }
    report.summary = match import.finish().await {
        Ok(summary) => summary,
        Err(source @ StoreError::WouldShrink(_)) => {
            return Err(ImportError::Refused {
                report: Box::new(report),
                source,
            });
        }
        Err(e) => return Err(e.into()),
    };
    Ok(report)
}

/// What this reader makes of the file besides its bytes, for the import's fingerprint: the
/// layer read, the source CRS, repair, the attribute mapping and the attribute checks' version.
fn reader_settings(request: &ImportRequest, prepared: &reader::Prepared) -> Vec<(String, String)> {
    let mut s: Vec<(String, String)> = vec![
        ("reader".into(), "gdal".into()),
        ("layer".into(), prepared.layer_name().into()),
        ("epsg".into(), prepared.epsg.to_string()),
        ("repair".into(), request.repair.to_string()),
        (
            "attributes".into(),
            kovgis_core::layer_attributes::VERSION.into(),
        ),
    ];
    if let ImportKind::Layer { mapping, .. } = &request.kind {
        s.push(("id".into(), mapping.id_field.clone().unwrap_or_default()));
        for (stored, source) in &mapping.renames {
            s.push(("map".into(), format!("{stored}={source}")));
        }
        s.push(("only_mapped".into(), mapping.only_mapped.to_string()));
    }
    s
}

/// Stops a background scan whose result is no longer wanted.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}
