//! `ValidateGeometry`, `ValidateGeometries` and `GetIndexStats`: proposals checked by the engine
//! on the in-memory index, or — for a moment before the index's newest data — on a small index of
//! what PostGIS held then around the proposal.
//!
//! The index itself (building, keeping it current) is [`crate::validation`]'s.

use kovgis_api::convert::{self, ProposalRequest};
use kovgis_api::v1;
use kovgis_core::InputError;
use kovgis_engine::rules;
use tonic::Status;

use super::{Result, SpatialApi};
use crate::ServiceError;
use crate::validation::Built;

/// Whether a request's moment is before the index's newest data (answered from PostGIS).
fn past(built: &Built, as_of: Option<chrono::DateTime<chrono::Utc>>) -> bool {
    matches!((as_of, built.newest_version_at), (Some(at), Some(newest)) if at < newest)
}

impl SpatialApi {
    /// Reads a validation request against the index's municipalities; field names are prefixed
    /// with `at` (for batch elements).
    fn proposal(
        &self,
        at: &str,
        req: &v1::ValidateGeometryRequest,
        built: &Built,
    ) -> std::result::Result<ProposalRequest, InputError> {
        convert::proposal(at, req, &self.limits, |code| {
            built.municipalities.contains(code)
        })
    }

    /// Checks a proposal on the index, or — for a moment before the index's newest data — on a
    /// small index of what PostGIS held then around the proposal.
    async fn check(&self, built: &Built, p: &ProposalRequest) -> Result<v1::ValidationReport> {
        let proposal = &p.proposal;
        match p.as_of {
            Some(at) if past(built, Some(at)) => {
                let Some(around) = geo::BoundingRect::bounding_rect(&proposal.geometry) else {
                    return Err(InputError::new("geometry", "geometry is empty").into());
                };
                let then = crate::validation::build_past(&self.store, at, around).await?;
                Ok(convert::report(
                    &rules::validate(&then.index, &then.rules, proposal),
                    then.built_at,
                    p,
                )?)
            }
            _ => Ok(convert::report(
                &rules::validate(&built.index, &built.rules, proposal),
                built.built_at,
                p,
            )?),
        }
    }
}

pub(super) async fn one(
    api: &SpatialApi,
    req: v1::ValidateGeometryRequest,
) -> std::result::Result<v1::ValidationReport, Status> {
    let run = async {
        let built = api.built()?;
        let p = api.proposal("", &req, &built)?;
        api.check(&built, &p).await
    };
    Ok(run.await?)
}

pub(super) async fn batch(
    api: &SpatialApi,
    req: v1::ValidateGeometriesRequest,
) -> std::result::Result<v1::ValidateGeometriesResponse, Status> {
    let built = api.built()?;
    // Reading the proposals (transforms, validity) and checking them are CPU work: off the
    // runtime's threads, so that a large batch does not hold up other calls, and split over
    // the cores when it is large enough to pay. Each part reads its proposals and, unless
    // one is dated before the index's data, checks them too.
    let parts = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(req.proposals.len().div_ceil(64))
        .max(1);
    let per = req.proposals.len().div_ceil(parts).max(1);
    let mut tasks = Vec::with_capacity(parts);
    let mut rest = req.proposals;
    let mut start = 0;
    while !rest.is_empty() {
        let tail = rest.split_off(per.min(rest.len()));
        let chunk = std::mem::replace(&mut rest, tail);
        let (api, built) = (api.clone(), built.clone());
        let first = start;
        start += chunk.len();
        tasks.push(tokio::task::spawn_blocking(move || {
            let mut parsed = Vec::with_capacity(chunk.len());
            for (i, p) in chunk.iter().enumerate() {
                parsed.push(
                    api.proposal(&format!("proposals[{}]", first + i), p, &built)
                        .map_err(ServiceError::from)?,
                );
            }
            if parsed.iter().any(|p| past(&built, p.as_of)) {
                return Ok::<_, ServiceError>((parsed, None));
            }
            let reports = parsed
                .iter()
                .map(|p| {
                    convert::report(
                        &rules::validate(&built.index, &built.rules, &p.proposal),
                        built.built_at,
                        p,
                    )
                    .map_err(ServiceError::from)
                })
                .collect::<Result<Vec<_>>>()?;
            Ok((parsed, Some(reports)))
        }));
    }
    let mut done = Vec::with_capacity(tasks.len());
    for task in tasks {
        // Parts are in order: the first error is the lowest-numbered proposal's.
        done.push(
            task.await
                .map_err(|e| ServiceError::Internal(format!("validation stopped: {e}")))??,
        );
    }
    if done.iter().all(|(_, reports)| reports.is_some()) {
        let reports = done.into_iter().flat_map(|(_, r)| r.unwrap_or_default());
        return Ok(v1::ValidateGeometriesResponse {
            reports: reports.collect(),
        });
    }
    // Past dates read PostGIS per proposal: one at a time.
    let mut reports = Vec::new();
    for p in done.iter().flat_map(|(parsed, _)| parsed) {
        reports.push(api.check(&built, p).await?);
    }
    Ok(v1::ValidateGeometriesResponse { reports })
}

pub(super) fn index_stats(api: &SpatialApi) -> std::result::Result<v1::IndexStats, Status> {
    let built = api.built()?;
    Ok(convert::index_stats(
        &built.index,
        built.built_at,
        built.resident_bytes,
    ))
}
