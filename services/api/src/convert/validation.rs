//! Validation in and out: a `ValidateGeometryRequest` read into the engine's [`Proposal`] (with
//! the caller's output choice and "as of" moment), the engine's [`Report`] written as a
//! `ValidationReport`, and the index statistics as `IndexStats`.
//!
//! Which index a proposal is checked on, and when, is the service's business, not this module's.

use std::time::SystemTime;

use kovgis_core::codes::{parse_cadastral_code, parse_municipality_code};
use kovgis_core::crs::TransformError;
use kovgis_core::{InputError, InputLimits};
use kovgis_engine::index::Index;
use kovgis_engine::rules::{self, Locale, Proposal, Report, Severity, Status, Verdict};

use kovgis_core::names::{feature_resource_name, layer_resource_name};

use super::{
    Output, duration, from_timestamp, geometry, json_struct, output, output_geometry, timestamp,
};
use crate::v1;

/// A validation request, read and checked.
#[derive(Debug, Clone)]
pub struct ProposalRequest {
    pub proposal: Proposal,
    /// How the findings' outlines are to be encoded.
    pub output: Output,
    /// The moment asked for (`None`: now).
    pub as_of: Option<chrono::DateTime<chrono::Utc>>,
    /// The moment checked: `as_of`, or when the request was read. The proposal's rule date is
    /// its date in Estonia; it goes into the report id.
    pub at: chrono::DateTime<chrono::Utc>,
}

/// Reads a validation request; field names are prefixed with `at` (for batch elements).
/// `known_municipality` says whether a (well-formed) municipality code exists.
pub fn proposal(
    at: &str,
    req: &v1::ValidateGeometryRequest,
    limits: &InputLimits,
    known_municipality: impl Fn(&str) -> bool,
) -> Result<ProposalRequest, InputError> {
    let field = |name: &str| {
        if at.is_empty() {
            name.to_owned()
        } else {
            format!("{at}.{name}")
        }
    };
    let municipality_code =
        parse_municipality_code(&field("municipality_code"), &req.municipality_code)?;
    if !known_municipality(&municipality_code) {
        return Err(InputError::new(
            field("municipality_code"),
            format!("there is no municipality {municipality_code}"),
        ));
    }
    let word = |name: &str, v: &str, example: &str| {
        let v = v.trim();
        if v.is_empty() || v.len() > 64 || !v.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
            return Err(InputError::new(
                field(name),
                format!("expected a lower-case code such as {example}, got '{v}'"),
            ));
        }
        Ok(v.to_owned())
    };
    let procedure = word("procedure_type", &req.procedure_type, "building_permit")?;
    let intended_use = word("intended_use", &req.intended_use, "residential_building")?;
    let parsed = geometry(&field("geometry"), req.geometry.as_ref(), limits)?;
    let geometry = match parsed.geometry {
        geo::Geometry::Polygon(p) => geo::MultiPolygon(vec![p]),
        geo::Geometry::MultiPolygon(m) => m,
        other => {
            return Err(InputError::new(
                field("geometry"),
                format!(
                    "a proposal must be a Polygon or MultiPolygon, not a {}",
                    geometry_type(&other)
                ),
            ));
        }
    };
    let mut parcel_codes = req
        .parcel_codes
        .iter()
        .enumerate()
        .map(|(i, c)| parse_cadastral_code(&format!("{}[{i}]", field("parcel_codes")), c))
        .collect::<Result<Vec<_>, _>>()?;
    // A set: order and repeats do not change what is checked (nor the report id).
    parcel_codes.sort_unstable();
    parcel_codes.dedup();
    let as_of = req
        .as_of
        .as_ref()
        .map(|t| from_timestamp(&field("as_of"), t))
        .transpose()?;
    // Rule versions are valid from and to dates in Estonia, not in UTC.
    let at = as_of.unwrap_or_else(chrono::Utc::now);
    let on = kovgis_core::tallinn::date(at);
    let locale = match req.locale.as_str() {
        "" | "et" => Locale::Et,
        "en" => Locale::En,
        other => {
            return Err(InputError::new(
                field("locale"),
                format!("'{other}' is not a supported language: et or en"),
            ));
        }
    };
    let out = output(&field("output"), req.output.as_ref())?;
    let works = req
        .works_period
        .as_ref()
        .map(|p| works_period(&field("works_period"), p))
        .transpose()?;
    let procedure_id = match req.procedure_id.trim() {
        "" => None,
        id => Some(
            uuid_text(id)
                .ok_or_else(|| InputError::new(field("procedure_id"), "expected a UUID"))?,
        ),
    };
    Ok(ProposalRequest {
        proposal: Proposal {
            municipality_code,
            procedure,
            geometry,
            intended_use,
            parcel_codes,
            on,
            locale,
            outlines: !out.omit_geometry,
            works,
            procedure_id,
        },
        output: out,
        as_of,
        at,
    })
}

/// A works period: two ISO dates, the last not before the first.
fn works_period(
    field: &str,
    p: &v1::WorksPeriod,
) -> Result<(chrono::NaiveDate, chrono::NaiveDate), InputError> {
    let day = |name: &str, v: &str| {
        chrono::NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d").map_err(|_| {
            InputError::new(
                format!("{field}.{name}"),
                format!("expected a date YYYY-MM-DD, got '{}'", v.trim()),
            )
        })
    };
    let (first, last) = (
        day("first_day", &p.first_day)?,
        day("last_day", &p.last_day)?,
    );
    if last < first {
        return Err(InputError::new(
            format!("{field}.last_day"),
            "must not be before first_day",
        ));
    }
    Ok((first, last))
}

/// A UUID in its canonical lower-case hyphenated text (`None`: not a UUID).
fn uuid_text(s: &str) -> Option<String> {
    let s = s.to_ascii_lowercase();
    let groups: Vec<&str> = s.split('-').collect();
    let lengths = groups.iter().map(|g| g.len()).collect::<Vec<_>>();
    let hex = groups
        .iter()
        .all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()));
    (lengths == [8, 4, 4, 4, 12] && hex).then_some(s)
}

fn geometry_type(g: &geo::Geometry) -> &'static str {
    match g {
        geo::Geometry::Point(_) => "Point",
        geo::Geometry::Line(_) | geo::Geometry::LineString(_) => "LineString",
        geo::Geometry::MultiPoint(_) => "MultiPoint",
        geo::Geometry::MultiLineString(_) => "MultiLineString",
        geo::Geometry::GeometryCollection(_) => "GeometryCollection",
        _ => "geometry of another type",
    }
}

/// A report as the API gives it, for the request `req`; `index_built_at` is when the index it
/// came from was built.
pub fn report(
    r: &Report,
    index_built_at: SystemTime,
    req: &ProposalRequest,
) -> Result<v1::ValidationReport, TransformError> {
    let out = &req.output;
    let status = |s: Status| match s {
        Status::Passed => v1::FindingStatus::Passed,
        Status::Failed => v1::FindingStatus::Failed,
        Status::NotApplicable => v1::FindingStatus::NotApplicable,
        Status::NotChecked => v1::FindingStatus::NotChecked,
    } as i32;
    let severity = |s: Severity| match s {
        Severity::Info => v1::Severity::Info,
        Severity::Warning => v1::Severity::Warning,
        Severity::Blocking => v1::Severity::Blocking,
    } as i32;
    let findings = r
        .findings
        .iter()
        .map(|f| {
            Ok(v1::Finding {
                rule: f.rule.into(),
                rule_version: f.rule_version,
                code: f.code.into(),
                severity: severity(f.severity),
                passed: f.passed,
                message: f.message.clone(),
                layer_id: f.layer_id.unwrap_or(0),
                layer_name: f.layer_name.clone().unwrap_or_default(),
                feature_id: f.feature_id.clone().unwrap_or_default(),
                feature_name: f.feature_name.clone().unwrap_or_default(),
                attributes: f
                    .attributes
                    .as_deref()
                    .filter(|a| !a.is_null())
                    .map(json_struct),
                overlap_area_m2: f.overlap_area_m2,
                overlap_share_pct: f.overlap_share_pct,
                distance_m: f.distance_m,
                geometry: output_geometry(
                    f.geometry.clone().map(geo::Geometry::MultiPolygon).as_ref(),
                    out,
                )?,
                authority: f.authority.clone().unwrap_or_default(),
                layer_resource_name: f
                    .layer_resource_name
                    .as_deref()
                    .unwrap_or_default()
                    .to_owned(),
                feature_resource_name: match (&f.layer_resource_name, &f.feature_id) {
                    (Some(layer), Some(id)) if f.feature_id_from_source => {
                        feature_resource_name(layer, id)
                    }
                    _ => String::new(),
                },
                status: status(f.status),
                reason: f.reason.map(String::from).unwrap_or_default(),
            })
        })
        .collect::<Result<Vec<_>, TransformError>>()?;
    Ok(v1::ValidationReport {
        verdict: match r.verdict {
            Verdict::Clear => v1::Verdict::Clear,
            Verdict::NeedsCoordination => v1::Verdict::NeedsCoordination,
            Verdict::Incomplete => v1::Verdict::Incomplete,
            Verdict::Blocked => v1::Verdict::Blocked,
        } as i32,
        findings,
        parcel_codes: r.parcels.clone(),
        dataset_versions: r
            .dataset_versions
            .iter()
            .map(|(name, v)| v1::DatasetVersionUsed {
                name: name.clone(),
                version: v.unwrap_or(0),
            })
            .collect(),
        input_hash: r.input_hash.clone(),
        index_built_at: Some(timestamp(chrono::DateTime::<chrono::Utc>::from(
            index_built_at,
        ))),
        rule_versions: r
            .rule_versions
            .iter()
            .map(|v| v1::RuleVersionUsed {
                rule: v.rule.into(),
                version: v.version,
                municipality_code: v.municipality_code.clone().unwrap_or_default(),
                status: status(v.status),
            })
            .collect(),
        checked_at: Some(timestamp(req.at)),
        report_id: rules::report_id(&req.proposal, req.at, r),
    })
}

/// What the validation index holds, as `GetIndexStats` answers.
/// `resident_bytes`: the process's resident memory, where the platform tells it.
pub fn index_stats(
    index: &Index,
    built_at: SystemTime,
    resident_bytes: Option<u64>,
) -> v1::IndexStats {
    let s = &index.stats;
    v1::IndexStats {
        parcels: s.parcels as u64,
        parcel_bytes: s.parcel_bytes as u64,
        layers: s
            .layers
            .iter()
            .map(|l| v1::LayerIndexStats {
                layer_id: l.layer_id,
                name: l.name.clone(),
                municipality_code: l.municipality_code.clone().unwrap_or_default(),
                features: l.features as u64,
                bytes: l.bytes as u64,
                dataset_version: l.version,
                resource_name: layer_resource_name(l.municipality_code.as_deref(), &l.name),
            })
            .collect(),
        build_duration: Some(duration(s.build)),
        built_at: Some(timestamp(chrono::DateTime::<chrono::Utc>::from(built_at))),
        resident_bytes,
        // The server's own state (heavy pool, freshness): set by the service.
        ..Default::default()
    }
}
