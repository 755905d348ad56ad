//! `ImportFeatures`: the client-streaming bulk import.
//!
//! The stream goes into the same engine as `kovgis import` (kovgis-store's staged COPY and
//! set-based merge in one transaction), with the same per-feature checks (kovgis-core's
//! `ingest` for geometries, `layer_attributes` for the attributes the rules read). The content
//! hash is taken over the encoded features as they arrive, so an unchanged re-send (with the
//! same settings) is recognised at the end and rolled back. If the client cancels or the stream
//! breaks, stalls ([`StreamLimits::idle`]) or runs too long ([`StreamLimits::total`]), the
//! `Import` is dropped unfinished and nothing of it remains. Each batch is checked and converted
//! (decoding, validity, transform, attribute checks, hashing) on the heavy pool's worker, off the
//! runtime's threads, and staged in order.
//!
//! The header is read here rather than in `kovgis-api`: what it becomes (`ImportTarget`,
//! `ImportOptions`) are `kovgis-store` types, and the API crate does not depend on the store.

use kovgis_api::convert;
use kovgis_api::v1;
use kovgis_core::cadastre;
use kovgis_core::codes::{parse_cadastral_code, parse_municipality_code};
use kovgis_core::crs::{self, EPSG_LEST97, EPSG_WGS84};
use kovgis_core::ingest::{self, Prepared, Rejected};
use kovgis_core::layer_attributes;
use kovgis_core::{GeometryEncoding, InputError};
use kovgis_store::import::{
    DEFAULT_MAX_SHRINK, FeatureRow, Import, ImportMode, ImportOptions, ImportStart, ImportTarget,
    LayerSpec, ParcelRow,
};
use std::time::{Duration, Instant};

use prost::Message;
use sha2::{Digest, Sha256};
use tonic::Streaming;

use super::SpatialApi;
use crate::ServiceError;
use crate::access::Access;

/// Problems listed in a response at most.
const MAX_PROBLEMS: usize = 1000;

/// How long an import stream may take: a stalled or endless client must not hold the import
/// lock and an open transaction forever.
#[derive(Debug, Clone, Copy)]
pub struct StreamLimits {
    /// Longest silence (`Config::import_idle_timeout`).
    pub idle: Duration,
    /// Longest stream from its start to its last message (`Config::import_total_timeout`).
    pub total: Duration,
}

/// The next message, waiting at most the idle time, and no longer than the total time left.
async fn next(
    stream: &mut Streaming<v1::ImportFeaturesRequest>,
    limits: StreamLimits,
    started: Instant,
) -> Result<Option<v1::ImportFeaturesRequest>, ServiceError> {
    let too_long = || ServiceError::ImportTooLong {
        message: format!(
            "the import stream ran longer than the {} s an import may take; it was abandoned \
             and nothing was written (send smaller imports, or ask the operator to raise the \
             limit)",
            limits.total.as_secs()
        ),
        limit_seconds: limits.total.as_secs(),
    };
    let left = limits.total.saturating_sub(started.elapsed());
    if left.is_zero() {
        return Err(too_long());
    }
    let wait = limits.idle.min(left);
    match tokio::time::timeout(wait, stream.message()).await {
        Ok(Ok(m)) => Ok(m),
        Ok(Err(e)) => Err(ServiceError::Stream(e.message().to_owned())),
        Err(_) if wait < limits.idle => Err(too_long()),
        Err(_) => Err(ServiceError::Idle(format!(
            "no message for {:.1} s; the import was abandoned",
            limits.idle.as_secs_f64()
        ))),
    }
}

struct Header {
    target: ImportTarget,
    epsg: Option<u32>,
    repair: bool,
    options: ImportOptions,
    source: String,
}

fn header(h: &v1::ImportHeader) -> Result<Header, InputError> {
    let f = |name: &str| format!("header.{name}");
    let epsg = if h.epsg == 0 { None } else { Some(h.epsg) };
    if let Some(e) = epsg {
        crs::transform_xy(0.0, 0.0, e, EPSG_LEST97).map_err(|_| {
            InputError::new(
                f("epsg"),
                format!("EPSG:{e} is not a CRS PROJ can transform to EPSG:3301"),
            )
        })?;
    }
    let target = match v1::ImportTarget::try_from(h.target) {
        Ok(v1::ImportTarget::Parcels) => ImportTarget::Parcels,
        Ok(v1::ImportTarget::Layer) => {
            let municipality_code = match (h.municipality_code.is_empty(), h.national) {
                (true, true) => None,
                (false, false) => Some(parse_municipality_code(
                    &f("municipality_code"),
                    &h.municipality_code,
                )?),
                (true, false) => {
                    return Err(InputError::new(
                        f("municipality_code"),
                        "say whose layer this is: a municipality code, or national = true",
                    ));
                }
                (false, true) => {
                    return Err(InputError::new(
                        f("national"),
                        "a national layer has no municipality code",
                    ));
                }
            };
            let kind = convert::layer_kind_filter(&f("kind"), h.kind)?
                .ok_or_else(|| InputError::new(f("kind"), "a layer kind is required"))?;
            if h.layer_name.is_empty() {
                return Err(InputError::new(f("layer_name"), "a layer name is required"));
            }
            ImportTarget::Layer(LayerSpec {
                municipality_code,
                name: h.layer_name.clone(),
                title: if h.layer_title.is_empty() {
                    h.layer_name.clone()
                } else {
                    h.layer_title.clone()
                },
                kind,
                description: String::new(),
                attribution: h.attribution.clone(),
                authority: (!h.authority.is_empty()).then(|| h.authority.clone()),
                keyed: h.keyed,
            })
        }
        _ => return Err(InputError::new(f("target"), "PARCELS or LAYER is required")),
    };
    let max_shrink = match h.max_shrink_percent {
        None => DEFAULT_MAX_SHRINK,
        Some(p) if p.is_finite() && (0.0..=100.0).contains(&p) => p / 100.0,
        Some(p) => {
            return Err(InputError::new(
                f("max_shrink_percent"),
                format!("a share in percent from 0 to 100 is expected, got {p}"),
            ));
        }
    };
    let mode = match v1::ImportMode::try_from(h.mode) {
        Ok(v1::ImportMode::Replace) => ImportMode::Replace,
        Ok(v1::ImportMode::Upsert) => ImportMode::Upsert,
        Ok(v1::ImportMode::Unspecified) => {
            return Err(InputError::new(
                f("mode"),
                "say what to do with current rows the stream does not mention: REPLACE (close \
                 them) or UPSERT (keep them)",
            ));
        }
        Err(_) => {
            return Err(InputError::new(
                f("mode"),
                format!("unknown import mode {}", h.mode),
            ));
        }
    };
    Ok(Header {
        target,
        epsg,
        repair: h.repair,
        options: ImportOptions {
            mode,
            wait_for_lock: h.wait,
            dry_run: h.dry_run,
            allow_shrink: h.allow_shrink,
            max_shrink,
            // What this reader makes of a stream besides its content: part of the fingerprint.
            reader: vec![
                ("reader".into(), "grpc".into()),
                ("epsg".into(), h.epsg.to_string()),
                ("repair".into(), h.repair.to_string()),
                ("attributes".into(), layer_attributes::VERSION.into()),
            ],
            ..Default::default()
        },
        source: if h.source.is_empty() {
            "grpc".into()
        } else {
            h.source.clone()
        },
    })
}

fn text(v: Option<&serde_json::Value>) -> Option<String> {
    match v? {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn number(v: Option<&serde_json::Value>) -> Option<f64> {
    match v? {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().replace(',', ".").parse().ok(),
        _ => None,
    }
}

/// Runs one import stream to its end.
pub async fn run(
    api: &SpatialApi,
    caller: &Access,
    mut stream: Streaming<v1::ImportFeaturesRequest>,
) -> Result<v1::ImportFeaturesResponse, ServiceError> {
    let (store, limits) = (&api.store, api.import_limits);
    use v1::import_features_request::Message as M;
    let started = Instant::now();
    let first = next(&mut stream, limits, started).await?;
    let h = match first.and_then(|m| m.message) {
        Some(M::Header(h)) => header(&h)?,
        _ => {
            return Err(
                InputError::new("header", "the first message must be the ImportHeader").into(),
            );
        }
    };
    // The target must lie within the caller's grant: its own municipality's layers, national
    // layers and the cadastre only with the national scope.
    let owner = match &h.target {
        ImportTarget::Parcels => None,
        ImportTarget::Layer(l) => l.municipality_code.as_deref(),
    };
    if !caller.grant.may_write(owner) {
        return Err(caller.refuse(match owner {
            Some(m) => {
                format!("importing into municipality {m}'s layers is not open to this caller")
            }
            None => "the cadastre and national layers need the national write scope".into(),
        }));
    }
    let h = std::sync::Arc::new(h);
    let mut import = match store
        .begin_import(caller, h.target.clone(), &h.source, None, h.options.clone())
        .await?
    {
        ImportStart::Ready(i) => i,
        ImportStart::Unchanged(_) => unreachable!("no hash was given"),
    };
    let mut hasher = Sha256::new();
    let mut index: u64 = 0;
    let mut problems: Vec<v1::ImportProblem> = Vec::new();
    let mut skipped: u64 = 0;
    let layer_check = match &h.target {
        ImportTarget::Layer(spec) => Some((spec.kind, import.layer_authority().is_some())),
        ImportTarget::Parcels => None,
    };
    while let Some(msg) = next(&mut stream, limits, started).await? {
        let batch = match msg.message {
            Some(M::Batch(b)) => b,
            Some(M::Header(_)) => {
                return Err(
                    InputError::new("header", "only the first message may be a header").into(),
                );
            }
            None => continue,
        };
        // The batch is converted on the heavy pool's worker (waiting for it, not refused: the
        // import is under way), then staged here in order.
        let (first, head) = (index, h.clone());
        let converted;
        (hasher, converted) = api
            .admission
            .heavy_waiting(move || {
                let mut out = Vec::with_capacity(batch.features.len());
                for (k, feature) in batch.features.into_iter().enumerate() {
                    hasher.update(feature.encode_to_vec());
                    let c = convert(&head, layer_check, first + k as u64, &feature)?;
                    out.push((feature.id, c));
                }
                Ok((hasher, out))
            })
            .await?;
        for (id, c) in converted {
            if let Some((reason, was_skipped)) = stage(&mut import, c).await? {
                skipped += was_skipped as u64;
                if problems.len() < MAX_PROBLEMS {
                    problems.push(v1::ImportProblem { index, id, reason });
                }
            }
            index += 1;
        }
    }
    let replace = h.options.mode == ImportMode::Replace;
    if index == 0 && !(replace && h.options.allow_shrink) {
        return Err(InputError::new(
            "batch",
            "the stream has no features; refusing to replace the data with nothing",
        )
        .into());
    }
    let sha = hex::encode(hasher.finalize());
    let summary = import.finish_with_hash(&sha).await?;
    for (i, reason) in &summary.dropped {
        if problems.len() < MAX_PROBLEMS {
            problems.push(v1::ImportProblem {
                index: *i as u64,
                id: String::new(),
                reason: reason.clone(),
            });
        }
    }
    Ok(v1::ImportFeaturesResponse {
        dataset_version: summary.version,
        unchanged: summary.unchanged_file,
        dry_run: summary.dry_run,
        received: index,
        written: summary.written,
        unchanged_rows: summary.unchanged,
        repaired: summary.repaired,
        skipped: if summary.unchanged_file {
            0
        } else {
            skipped + summary.dropped.len() as u64
        },
        closed: summary.closed,
        duration: Some(convert::duration(std::time::Duration::from_secs_f64(
            summary.seconds.max(0.0),
        ))),
        problems: if summary.unchanged_file {
            Vec::new()
        } else {
            problems
        },
        shrink: summary.shrink.map(|s| v1::ImportShrink {
            current: s.current,
            closing: s.closing,
            incoming: s.incoming,
            max_percent: s.max_share * 100.0,
            exceeds: s.exceeds(),
        }),
    })
}

/// One feature, checked and converted: a row to stage (with a note to report), or a problem
/// (and whether the feature was skipped).
enum Converted {
    Parcel(Box<ParcelRow>, Option<(String, bool)>),
    Feature(Box<FeatureRow>, Option<(String, bool)>),
    Problem(String, bool),
}

/// Stages a converted feature; returns the problem or note to report.
async fn stage(import: &mut Import, c: Converted) -> Result<Option<(String, bool)>, ServiceError> {
    Ok(match c {
        Converted::Parcel(row, note) => {
            import.push_parcel(&row).await?;
            note
        }
        Converted::Feature(row, note) => {
            import.push_feature(&row).await?;
            note
        }
        Converted::Problem(reason, skipped) => Some((reason, skipped)),
    })
}

/// Checks and converts one feature (CPU work: decoding, validity, transform, hashing), or an
/// error that ends the import.
fn convert(
    h: &Header,
    layer_check: Option<(kovgis_core::model::LayerKind, bool)>,
    index: u64,
    f: &v1::ImportFeature,
) -> Result<Converted, ServiceError> {
    let field = |name: &str| format!("batch.features[{index}].{name}");
    let (encoding, default_epsg) = match &f.geometry {
        Some(v1::import_feature::Geometry::Geojson(s)) => {
            (GeometryEncoding::GeoJson(s.clone()), EPSG_WGS84)
        }
        Some(v1::import_feature::Geometry::Wkb(b)) => {
            (GeometryEncoding::Wkb(b.clone()), EPSG_LEST97)
        }
        None => return Ok(Converted::Problem("no geometry".into(), true)),
    };
    let (geometry, embedded) = match encoding.decode() {
        Ok(g) => g,
        Err(e) => {
            return Ok(Converted::Problem(
                format!("geometry cannot be read: {}", e.reason),
                true,
            ));
        }
    };
    let epsg = h.epsg.or(embedded).unwrap_or(default_epsg);
    let (geometry, needs_repair, note) = match ingest::prepare(geometry, epsg) {
        Ok(Prepared::Valid(g)) => (g, false, None),
        Ok(Prepared::Invalid(g, reason)) => {
            if !h.repair {
                return Ok(Converted::Problem(reason, true));
            }
            (g, true, Some((format!("repaired: {reason}"), false)))
        }
        Err(Rejected::Skip(reason)) => return Ok(Converted::Problem(reason, true)),
        Err(Rejected::Stop(reason)) => {
            return Err(InputError::new(field("geometry"), reason).into());
        }
    };
    let mut attributes = f
        .attributes
        .as_ref()
        .map(convert::struct_json)
        .unwrap_or_default();
    let Some((kind, layer_has_authority)) = layer_check else {
        let keys: Vec<String> = attributes.keys().cloned().collect();
        let columns = cadastre::detect(&keys).ok();
        let get = |i: Option<usize>| i.and_then(|i| attributes.get(&keys[i]));
        let code = if f.id.is_empty() {
            text(get(columns.as_ref().map(|c| c.cadastral_code)))
        } else {
            Some(f.id.clone())
        };
        let Some(code) = code else {
            return Ok(Converted::Problem(
                "no cadastral code (id or tunnus)".into(),
                true,
            ));
        };
        if let Err(e) = parse_cadastral_code("id", &code) {
            return Ok(Converted::Problem(e.reason, true));
        }
        let geometry = match ingest::as_multipolygon(geometry) {
            Ok(g) => g,
            Err(reason) => return Ok(Converted::Problem(reason, true)),
        };
        let mut row = ParcelRow {
            index: index as i64,
            municipality_name: columns
                .as_ref()
                .and_then(|c| text(get(c.municipality_name))),
            address: columns.as_ref().and_then(|c| text(get(c.address))),
            uses: columns
                .as_ref()
                .map(|c| {
                    c.uses.map(|(u, p)| {
                        (
                            text(get(u)),
                            number(get(p)).map(|n| n.round().clamp(0.0, 100.0) as i16),
                        )
                    })
                })
                .unwrap_or_default(),
            registered_area_m2: columns
                .as_ref()
                .and_then(|c| number(get(c.registered_area))),
            attributes: serde_json::Value::Null,
            wkb: kovgis_core::output::to_wkb(&geometry),
            needs_repair,
            row_hash: Vec::new(),
            source_hash: None,
            cadastral_code: code,
        };
        if let Some(c) = &columns {
            for i in c.mapped() {
                attributes.remove(&keys[i]);
            }
        }
        row.attributes = serde_json::Value::Object(attributes);
        row.row_hash = row.content_hash();
        return Ok(Converted::Parcel(Box::new(row), note));
    };
    // The attributes the rules read, as they read them, or the feature is skipped.
    let problems = layer_attributes::normalise(kind, &mut attributes, layer_has_authority);
    if !problems.is_empty() {
        return Ok(Converted::Problem(problems.join("; "), true));
    }
    let mut row = FeatureRow {
        index: index as i64,
        external_id: (!f.id.is_empty()).then(|| f.id.clone()),
        attributes: serde_json::Value::Object(attributes),
        wkb: kovgis_core::output::to_wkb(&geometry),
        needs_repair,
        row_hash: Vec::new(),
    };
    row.row_hash = row.content_hash();
    Ok(Converted::Feature(Box::new(row), note))
}
