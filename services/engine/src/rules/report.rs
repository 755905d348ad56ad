//! The report of one validation: one [`Finding`] per rule outcome or per hit, each with its
//! [`Status`], the [`Verdict`] they add up to, and the provenance (the rule versions used with
//! their outcome, dataset versions, the hash of the input). The report's id, which also needs the
//! moment checked, is [`super::report_id`]'s.
//!
//! Plain data and the functions that sum it up; how each finding comes about is in the rule
//! modules, the API's rendering of it in the API crate.

use std::sync::Arc;

use geo::{Geometry, MultiPolygon};
use sha2::{Digest, Sha256};

use super::catalogue::{Outcome, Reason, RuleCode, Severity};
use crate::index::{Feature, Layer};

/// One rule's outcome, or one hit of it.
#[derive(Debug, Clone)]
pub struct Finding {
    pub rule: RuleCode,
    pub rule_version: i32,
    /// Stable outcome code, e.g. `OUTSIDE_PARCEL`, `WITHIN_PARCEL`.
    pub code: Outcome,
    /// INFO for a pass or a rule not applied; the rule's severity for a failure and for a rule
    /// not checked (what is at stake).
    pub severity: Severity,
    /// Whether the rule passed or does not apply; false for a failure and for a rule not
    /// checked, so that "not checked" never reads as "clear".
    pub passed: bool,
    pub status: Status,
    /// Why the rule was not applied or not checked.
    pub reason: Option<Reason>,
    pub message: String,
    pub layer_id: Option<i64>,
    pub layer_name: Option<String>,
    pub feature_id: Option<String>,
    pub feature_name: Option<String>,
    /// Stable resource name of the layer (shared with the index).
    pub layer_resource_name: Option<Arc<str>>,
    /// Whether `feature_id` is the feature's id in its source data (then the feature has a
    /// resource name, written when the report is converted, not here on the hot path).
    pub feature_id_from_source: bool,
    /// The feature's attributes (shared with the index).
    pub attributes: Option<Arc<serde_json::Value>>,
    pub overlap_area_m2: Option<f64>,
    pub overlap_share_pct: Option<f64>,
    pub distance_m: Option<f64>,
    pub geometry: Option<MultiPolygon>,
    pub authority: Option<String>,
}

/// What became of a rule, or of one finding of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// Checked and clear.
    Passed,
    /// Does not apply to the proposal's procedure type.
    NotApplicable,
    /// In force, but could not be checked (the reason says why): not a pass.
    NotChecked,
    /// Checked and failed.
    Failed,
}

impl Status {
    /// A rule's status from its findings: failed if any failed, else not checked if any was not
    /// checked, else not applicable if every finding says so, else passed. A rule without
    /// findings is not checked (the engine never leaves it so, see [`super::validate`]).
    pub fn of(findings: &[Finding]) -> Status {
        if findings.is_empty() {
            return Status::NotChecked;
        }
        findings
            .iter()
            .map(|f| f.status)
            .filter(|s| *s != Status::NotApplicable)
            .max()
            .unwrap_or(Status::NotApplicable)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Every rule in force passed or does not apply.
    Clear,
    /// A warning failed (coordination needed); nothing blocks and every rule was checked.
    NeedsCoordination,
    /// Nothing blocks, but a rule in force could not be checked: not a pass.
    Incomplete,
    /// A blocking rule failed.
    Blocked,
}

/// A rule version used by a report, and what became of the rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleVersion {
    pub rule: RuleCode,
    pub version: i32,
    /// The municipality whose own version it is; `None`: the national one.
    pub municipality_code: Option<String>,
    pub status: Status,
}

#[derive(Debug, Clone)]
pub struct Report {
    pub verdict: Verdict,
    pub findings: Vec<Finding>,
    /// The parcels the proposal was checked on.
    pub parcels: Vec<String>,
    /// Every rule in force, in report order, with the version used and its status.
    pub rule_versions: Vec<RuleVersion>,
    /// (what, dataset version) of the data used.
    pub dataset_versions: Vec<(String, Option<i64>)>,
    /// SHA-256 of the proposal's normalised geometry (EPSG:3301 WKB).
    pub input_hash: String,
}

impl Finding {
    /// The layer and feature a hit is about, and its overlap with the proposal (`area` of
    /// `proposal_area`).
    pub(crate) fn describe(
        &mut self,
        layer: &Layer,
        f: &Feature,
        overlap: MultiPolygon,
        area: f64,
        proposal_area: f64,
    ) {
        self.layer_id = Some(layer.info.id);
        self.layer_name = Some(layer.info.name.clone());
        self.feature_id = f.external_id.clone().or_else(|| Some(f.id.to_string()));
        self.feature_name = Some(f.name());
        self.layer_resource_name = Some(Arc::clone(layer.resource_name()));
        self.feature_id_from_source = f.external_id.is_some();
        self.attributes = Some(Arc::clone(&f.attributes));
        self.overlap_area_m2 = Some(area);
        self.overlap_share_pct = Some(100.0 * area / proposal_area.max(f64::MIN_POSITIVE));
        self.geometry = (!overlap.0.is_empty()).then_some(overlap);
        self.authority = f.facts.authority(&layer.info).map(str::to_owned);
    }
}

impl Verdict {
    /// Blocked by a blocking failure; else incomplete when a rule in force could not be checked
    /// (it might have blocked); else needing coordination for a failed warning; else clear.
    pub(crate) fn of(findings: &[Finding]) -> Verdict {
        let failed = |s: Severity| {
            findings
                .iter()
                .any(|f| f.status == Status::Failed && f.severity == s)
        };
        if failed(Severity::Blocking) {
            Verdict::Blocked
        } else if findings.iter().any(|f| f.status == Status::NotChecked) {
            Verdict::Incomplete
        } else if failed(Severity::Warning) {
            Verdict::NeedsCoordination
        } else {
            Verdict::Clear
        }
    }
}

/// SHA-256 of the geometry's WKB, in lowercase hex.
pub(crate) fn input_hash(geometry: &MultiPolygon) -> String {
    let digest = Sha256::digest(kovgis_core::output::to_wkb(&Geometry::MultiPolygon(
        geometry.clone(),
    )));
    hex::encode(digest)
}

#[cfg(test)]
mod tests {
    use geo::{LineString, Polygon};

    use super::*;

    /// The hash is SHA-256 over little-endian ISO WKB, in lower-case hex. The expected value is
    /// Python's `hashlib.sha256(…).hexdigest()` over the same WKB written out by hand with
    /// `struct.pack('<…')`: byte order 1, type 6 (MultiPolygon), 1 polygon; byte order 1, type
    /// 3, 1 ring of 5 points (0 0, 1 0, 1 1, 0 1, 0 0).
    #[test]
    fn input_hash_is_lowercase_sha256_of_the_wkb() {
        let ring = LineString::from(vec![(0., 0.), (1., 0.), (1., 1.), (0., 1.), (0., 0.)]);
        let square = MultiPolygon(vec![Polygon::new(ring, vec![])]);
        assert_eq!(
            input_hash(&square),
            "31feeff2b061896a67ba95060acfe078c102ec6fe8b382853514d708ae446d0f"
        );
    }
}
