//! `ValidateGeometry`, `ValidateGeometries` and `GetIndexStats`: proposals checked by the engine
//! on the in-memory index, or — for a moment before the index's newest data — on a small index of
//! what PostGIS held then around the proposal.
//!
//! Each request is first held to the request limits (proposals per batch, parcels per proposal,
//! proposal area, the area a dated request may rebuild from history: `INVALID_ARGUMENT`), then
//! admitted by cost (`crate::admission`): small proposals are read and checked inline, large
//! geometries, large areas, large batches and dated requests in the heavy pool.
//!
//! The index itself (building, keeping it current) is [`crate::validation`]'s; the other
//! procedures a proposal is checked against are [`crate::procedures`]'. A dated request is
//! checked against the procedures that count now: their past states are not kept.

use kovgis_api::convert::{self, ProposalRequest};
use kovgis_api::v1;
use kovgis_core::InputError;
use kovgis_engine::rules;
use tonic::Status;

use super::{Result, SpatialApi};
use crate::access::Access;
use crate::admission::{Cost, blocking};
use crate::procedures::ProcedureHandle;
use crate::validation::Built;

/// Whether a request's moment is before the index's newest data (answered from PostGIS).
fn past(built: &Built, as_of: Option<chrono::DateTime<chrono::Utc>>) -> bool {
    matches!((as_of, built.newest_version_at), (Some(at), Some(newest)) if at < newest)
}

/// The same, read from the request before it is parsed (an unreadable date counts as not
/// past here; reading the request refuses it).
fn dated(built: &Built, req: &v1::ValidateGeometryRequest) -> bool {
    let at = req
        .as_of
        .as_ref()
        .and_then(|t| convert::from_timestamp("as_of", t).ok());
    past(built, at)
}

/// The area of a proposal's bounding box, m².
fn bbox_area(p: &ProposalRequest) -> f64 {
    geo::BoundingRect::bounding_rect(&p.proposal.geometry)
        .map(|r| r.width() * r.height())
        .unwrap_or(0.0)
}

/// An area for a person: "12.3 km²", or "4.5 ha" below a square kilometre.
fn km2(m2: f64) -> String {
    if m2 >= 1e6 {
        format!("{:.1} km²", m2 / 1e6)
    } else {
        format!("{:.1} ha", m2 / 1e4)
    }
}

impl SpatialApi {
    /// Reads a validation request against the index's municipalities and the request limits;
    /// field names are prefixed with `at` (for batch elements).
    fn read(
        &self,
        at: &str,
        req: &v1::ValidateGeometryRequest,
        built: &Built,
    ) -> std::result::Result<ProposalRequest, InputError> {
        let field = |name: &str| {
            if at.is_empty() {
                name.to_owned()
            } else {
                format!("{at}.{name}")
            }
        };
        let limits = &self.requests;
        if req.parcel_codes.len() > limits.max_parcels_per_proposal {
            return Err(InputError::new(
                field("parcel_codes"),
                format!(
                    "{} parcel codes; a proposal may name at most {}",
                    req.parcel_codes.len(),
                    limits.max_parcels_per_proposal
                ),
            )
            .with_code("TOO_MANY_PARCELS"));
        }
        let p = convert::proposal(at, req, &self.limits, |code| {
            built.municipalities.contains(code)
        })?;
        let area = bbox_area(&p);
        if area > limits.max_proposal_area_m2 {
            return Err(InputError::new(
                field("geometry"),
                format!(
                    "the proposal's bounding box covers {}; at most {} is checked",
                    km2(area),
                    km2(limits.max_proposal_area_m2)
                ),
            )
            .with_code("PROPOSAL_TOO_LARGE"));
        }
        if past(built, p.as_of) && area > limits.max_as_of_area_m2 {
            return Err(InputError::new(
                field("as_of"),
                format!(
                    "a check at a past moment rebuilds the data of its area from history: at \
                     most {}, and this proposal's bounding box covers {}",
                    km2(limits.max_as_of_area_m2),
                    km2(area)
                ),
            )
            .with_code("AS_OF_AREA_TOO_LARGE"));
        }
        Ok(p)
    }

    /// Checks a proposal on a small index of what PostGIS held at its moment around it (the
    /// reads async, the build and the check on a blocking thread).
    async fn check_past(&self, p: ProposalRequest) -> Result<v1::ValidationReport> {
        let (Some(at), Some(around)) = (
            p.as_of,
            geo::BoundingRect::bounding_rect(&p.proposal.geometry),
        ) else {
            return Err(InputError::new("geometry", "geometry is empty").into());
        };
        let then = crate::validation::build_past(&self.store, at, around).await?;
        let procedures = self.index.procedures().clone();
        blocking(move || check_on(&then, &procedures, &p)).await
    }
}

/// Checks a proposal on an index, and against the other procedures around it.
fn check_on(
    built: &Built,
    procedures: &ProcedureHandle,
    p: &ProposalRequest,
) -> Result<v1::ValidationReport> {
    let around = geo::BoundingRect::bounding_rect(&p.proposal.geometry)
        .map(|r| procedures.around(r))
        .unwrap_or_default();
    Ok(convert::report(
        &rules::validate_with(&built.index, &around, &built.rules, &p.proposal),
        built.built_at,
        p,
    )?)
}

/// `PERMISSION_DENIED` unless the caller may validate this proposal (its municipality and,
/// for a procedure-type scope, its type). Municipalities are public, so this reveals nothing.
fn may_validate(caller: &Access, req: &v1::ValidateGeometryRequest) -> Result<()> {
    let (m, t) = (req.municipality_code.trim(), req.procedure_type.trim());
    if caller.grant.may_validate(m, t) {
        Ok(())
    } else {
        Err(caller.refuse(format!(
            "validating a {t} proposal in municipality {m} is not open to this caller"
        )))
    }
}

pub(super) async fn one(
    api: &SpatialApi,
    caller: &Access,
    req: v1::ValidateGeometryRequest,
) -> std::result::Result<v1::ValidationReport, Status> {
    may_validate(caller, &req)?;
    let built = api.built()?;
    let procedures = api.index.procedures().clone();
    let run = async {
        if dated(&built, &req) {
            return api
                .admission
                .heavy_async("a validation at a past moment", async {
                    let (reader, b) = (api.clone(), built.clone());
                    let p = blocking(move || Ok(reader.read("", &req, &b)?)).await?;
                    api.check_past(p).await
                })
                .await;
        }
        if api.admission.geometry_cost(req.geometry.as_ref()) == Cost::Heavy {
            let reader = api.clone();
            return api
                .admission
                .heavy("a large geometry", move || {
                    let p = reader.read("", &req, &built)?;
                    check_on(&built, &procedures, &p)
                })
                .await;
        }
        let p = api.read("", &req, &built)?;
        let cost = api.admission.area_cost(bbox_area(&p));
        api.admission
            .run(cost, "a large proposal area", move || {
                check_on(&built, &procedures, &p)
            })
            .await
    };
    Ok(run.await?)
}

/// Reads the proposals of a batch, in order (the first error is the lowest-numbered
/// proposal's).
fn read_all(
    api: &SpatialApi,
    built: &Built,
    proposals: &[v1::ValidateGeometryRequest],
) -> Result<Vec<ProposalRequest>> {
    proposals
        .iter()
        .enumerate()
        .map(|(i, req)| Ok(api.read(&format!("proposals[{i}]"), req, built)?))
        .collect()
}

/// Checks read proposals on the index, on one thread; dated ones are left (`None`) for
/// [`SpatialApi::check_past`].
fn check_all(
    built: &Built,
    procedures: &ProcedureHandle,
    parsed: Vec<ProposalRequest>,
) -> Result<Vec<(ProposalRequest, Option<v1::ValidationReport>)>> {
    parsed
        .into_iter()
        .map(|p| {
            let report = if past(built, p.as_of) {
                None
            } else {
                Some(check_on(built, procedures, &p)?)
            };
            Ok((p, report))
        })
        .collect()
}

pub(super) async fn batch(
    api: &SpatialApi,
    caller: &Access,
    req: v1::ValidateGeometriesRequest,
) -> std::result::Result<v1::ValidateGeometriesResponse, Status> {
    for p in &req.proposals {
        may_validate(caller, p)?;
    }
    let built = api.built()?;
    let run = async {
        let n = req.proposals.len();
        if n > api.requests.max_batch {
            return Err(InputError::new(
                "proposals",
                format!(
                    "{n} proposals; a call may carry at most {}",
                    api.requests.max_batch
                ),
            )
            .with_code("TOO_MANY_PROPOSALS")
            .into());
        }
        let any_dated = req.proposals.iter().any(|p| dated(&built, p));
        let heavy = n > api.admission.config().light_batch
            || req
                .proposals
                .iter()
                .any(|p| api.admission.geometry_cost(p.geometry.as_ref()) == Cost::Heavy);
        let (reader, b, proposals) = (api.clone(), built.clone(), req.proposals);
        let read = move || read_all(&reader, &b, &proposals);
        let b = built.clone();
        let procedures = api.index.procedures().clone();
        let done = if any_dated {
            // Dated proposals read PostGIS one at a time, holding the heavy worker.
            api.admission
                .heavy_async("a batch with past moments", async {
                    let done = blocking(move || check_all(&b, &procedures, read()?)).await?;
                    let mut reports = Vec::with_capacity(done.len());
                    for (p, report) in done {
                        reports.push(match report {
                            Some(r) => Some(r),
                            None => Some(api.check_past(p).await?),
                        });
                    }
                    Ok(reports)
                })
                .await?
        } else if heavy {
            api.admission
                .heavy("a large batch", move || check_all(&b, &procedures, read()?))
                .await?
                .into_iter()
                .map(|(_, r)| r)
                .collect()
        } else {
            // A few small proposals: read and checked off the runtime's threads, the check in
            // the heavy pool when one of them covers a large area.
            let parsed = blocking(read).await?;
            let large = parsed
                .iter()
                .any(|p| api.admission.area_cost(bbox_area(p)) == Cost::Heavy);
            let check = move || check_all(&b, &procedures, parsed);
            let done = if large {
                api.admission
                    .heavy("a batch with large areas", check)
                    .await?
            } else {
                blocking(check).await?
            };
            done.into_iter().map(|(_, r)| r).collect()
        };
        Result::Ok(v1::ValidateGeometriesResponse {
            reports: done.into_iter().flatten().collect(),
        })
    };
    Ok(run.await?)
}

pub(super) async fn index_stats(
    api: &SpatialApi,
    caller: &Access,
    _req: v1::GetIndexStatsRequest,
) -> std::result::Result<v1::IndexStats, Status> {
    let built = api.built()?;
    let mut stats = convert::index_stats(&built.index, built.built_at, built.resident_bytes);
    // Only the layers the caller may see, and no total that would count the others.
    let grant = &caller.grant;
    stats.layers.retain(|l| {
        grant.sees((!l.municipality_code.is_empty()).then_some(l.municipality_code.as_str()))
    });
    if !grant.all_municipalities {
        stats.resident_bytes = None;
    }
    let heavy = api.admission.stats();
    stats.heavy_admitted = heavy.admitted;
    stats.heavy_refused = heavy.refused;
    let fresh = api.index.freshness();
    stats.stale = fresh.stale_since.is_some();
    stats.stale_since = fresh
        .stale_since
        .map(|t| convert::timestamp(chrono::DateTime::<chrono::Utc>::from(t)));
    stats.stale_reason = fresh.reason;
    stats.recheck_horizon = built.recheck_horizon.max(0) as u64;
    Ok(stats)
}
