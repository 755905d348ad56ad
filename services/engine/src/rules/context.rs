//! What one validation works on: the [`Proposal`], and the context every rule reads and
//! writes ([`Ctx`]) — the proposal prepared once as a [`Shape`], the sliver tolerances, the
//! hits of a layer kind (zoning hits shared by two rules), the findings so far and the layers
//! read (for the provenance).
//!
//! The hit test lives here because every rule that looks at features or parcels uses the same
//! one: a feature counts only when it shares more than a sliver with the proposal. What a rule
//! concludes from its hits is in the rule's own module.

use chrono::NaiveDate;
use geo::MultiPolygon;
use kovgis_core::model::LayerKind;

use super::catalogue::{Outcome, Reason, RuleCode, RuleDef, Severity};
use super::messages::{Locale, t};
use super::report::{Finding, RuleVersion, Status};
use crate::index::{Feature, Index, Layer, Parcel, ProcedureIndex};
use crate::kernel;
use crate::predicates as p;
use crate::shape::{self, Shape};

/// What is proposed, in EPSG:3301, valid (the API checks it first).
#[derive(Debug, Clone)]
pub struct Proposal {
    pub municipality_code: String,
    /// `building_permit`, `design_criteria`, `detailed_plan`, `excavation_permit`,
    /// `tree_felling_permit`, …
    pub procedure: String,
    pub geometry: MultiPolygon,
    /// e.g. `residential_building` (matched against a zone's `allowed_uses`).
    pub intended_use: String,
    /// Parcels named by the applicant; empty: found by intersection.
    pub parcel_codes: Vec<String>,
    pub on: NaiveDate,
    pub locale: Locale,
    /// Whether findings carry overlap outlines (for display). Without them, a partial overlap is
    /// settled from its exact area and an upper bound of its perimeter where that suffices.
    pub outlines: bool,
    /// The works period, first and last day inclusive (excavation and felling permits);
    /// `None`: none given — it then overlaps every other procedure's period.
    pub works: Option<(NaiveDate, NaiveDate)>,
    /// The id of the procedure being checked, if it is one: it does not conflict with itself.
    pub procedure_id: Option<String>,
}

/// A feature the proposal shares more than a sliver with: layer, feature, overlap, its area.
pub(crate) type Hit<'a> = (&'a Layer, &'a Feature, MultiPolygon, f64);

pub(crate) struct Ctx<'a> {
    pub(crate) index: &'a Index,
    /// The other procedures (CONFLICTS_WITH_PROCEDURE).
    pub(crate) procedures: &'a ProcedureIndex,
    pub(crate) p: &'a Proposal,
    /// The proposal's area, prepared once for every overlap question.
    pub(crate) shape: Shape,
    pub(crate) area: f64,
    pub(crate) perimeter: f64,
    pub(crate) bounds: Option<geo::Rect>,
    /// Zoning hits, used by two rules.
    pub(crate) zones: Option<Vec<Hit<'a>>>,
    pub(crate) sliver_area: f64,
    pub(crate) sliver_width: f64,
    pub(crate) findings: Vec<Finding>,
    pub(crate) rule_versions: Vec<RuleVersion>,
    /// The layers read, in first-use order (their versions go into the provenance).
    pub(crate) layers_used: Vec<&'a Layer>,
}

impl<'a> Ctx<'a> {
    /// A new finding of `rule` (version `def`), failing with the rule's severity unless
    /// `passed`; the caller fills in what it is about.
    pub(crate) fn finding(
        &mut self,
        rule: RuleCode,
        def: &RuleDef,
        code: Outcome,
        passed: bool,
        message: String,
    ) -> &mut Finding {
        let status = if passed {
            Status::Passed
        } else {
            Status::Failed
        };
        self.push(rule, def, code, status, None, message)
    }

    /// A finding that `rule` (version `def`) does not apply to the proposal, and why.
    pub(crate) fn not_applicable(
        &mut self,
        rule: RuleCode,
        def: &RuleDef,
        reason: Reason,
        message: String,
    ) -> &mut Finding {
        let status = Status::NotApplicable;
        self.push(
            rule,
            def,
            Outcome::NotApplicable,
            status,
            Some(reason),
            message,
        )
    }

    /// A finding that `rule` (version `def`) is in force but could not be checked, and why: not
    /// passed, with the rule's severity (what is at stake).
    pub(crate) fn not_checked(
        &mut self,
        rule: RuleCode,
        def: &RuleDef,
        reason: Reason,
        message: String,
    ) -> &mut Finding {
        let status = Status::NotChecked;
        self.push(
            rule,
            def,
            Outcome::NotChecked,
            status,
            Some(reason),
            message,
        )
    }

    fn push(
        &mut self,
        rule: RuleCode,
        def: &RuleDef,
        code: Outcome,
        status: Status,
        reason: Option<Reason>,
        message: String,
    ) -> &mut Finding {
        let passed = matches!(status, Status::Passed | Status::NotApplicable);
        self.findings.push(Finding {
            rule,
            rule_version: def.version,
            code,
            severity: if passed { Severity::Info } else { def.severity },
            passed,
            status,
            reason,
            message,
            layer_id: None,
            layer_name: None,
            feature_id: None,
            feature_name: None,
            layer_resource_name: None,
            feature_id_from_source: false,
            attributes: None,
            overlap_area_m2: None,
            overlap_share_pct: None,
            distance_m: None,
            geometry: None,
            authority: None,
        });
        self.findings.last_mut().expect("just pushed")
    }

    /// The overlap of the proposal with `g` and its area, when it is more than a sliver. The
    /// area comes first (exact and cheap for convex shapes, see `predicates::overlap_area`); the
    /// overlap's outline is computed only for a partial overlap — when the proposal lies inside
    /// `g`, the overlap is the proposal itself.
    pub(crate) fn hit(&self, g: &Shape) -> Option<(MultiPolygon, f64)> {
        // The overlap is no larger than the overlap of the bounding boxes: a neighbour that only
        // reaches into a corner of the box is settled without clipping.
        if let (Some(a), Some(b)) = (self.bounds, g.bbox) {
            let w = a.max().x.min(b.max().x) - a.min().x.max(b.min().x);
            let h = a.max().y.min(b.max().y) - a.min().y.max(b.min().y);
            if w <= 0.0 || h <= 0.0 || w * h <= self.sliver_area {
                return None;
            }
        }
        let o = shape::overlap(&self.shape, g);
        let area = o.area;
        if area <= self.sliver_area {
            return None;
        }
        if self.area - area <= 1e-9 * self.area.max(1.0) {
            // Wholly inside: the overlap is the proposal.
            let width = 2.0 * area / self.perimeter.max(f64::MIN_POSITIVE);
            return (width > self.sliver_width).then(|| (self.outline(), area));
        }
        let wide =
            |perimeter: f64| 2.0 * area / perimeter.max(f64::MIN_POSITIVE) > self.sliver_width;
        if !self.p.outlines
            && let Some(bound) = o.perimeter
        {
            // The clipped rings' perimeter is exact when both are convex, else an upper bound
            // (clipping a concave shape adds edges along the window), which settles every
            // overlap that is wide enough.
            if o.exact || wide(bound) {
                return wide(bound).then(|| (MultiPolygon(Vec::new()), area));
            }
        }
        // A partial overlap's outline (or exact perimeter): the overlay's when the area came
        // from one, by clipping when both are convex, else the overlay.
        let overlap = match (o.outline, self.shape.convex, g.convex) {
            (Some(outline), _, _) => outline,
            (None, true, true) => p::convex_intersection(
                self.shape.polygons.0[0].exterior(),
                g.polygons.0[0].exterior(),
            )
            .unwrap_or_else(|| MultiPolygon(Vec::new())),
            (None, _, _) => p::overlap(&self.p.geometry, &g.polygons),
        };
        let width = 2.0 * p::area(&overlap) / kernel::perimeter(&overlap).max(f64::MIN_POSITIVE);
        let width_ok = width > self.sliver_width;
        let overlap = if self.p.outlines {
            overlap
        } else {
            MultiPolygon(Vec::new())
        };
        width_ok.then_some((overlap, area))
    }

    /// The proposal as the overlap outline (when it lies wholly inside), if outlines are wanted.
    pub(crate) fn outline(&self) -> MultiPolygon {
        if self.p.outlines {
            self.p.geometry.clone()
        } else {
            MultiPolygon(Vec::new())
        }
    }

    pub(crate) fn share(&self, area: f64) -> f64 {
        if self.area > 0.0 {
            100.0 * area / self.area
        } else {
            0.0
        }
    }

    pub(crate) fn use_layer(&mut self, l: &'a Layer) {
        if !self.layers_used.iter().any(|u| std::ptr::eq(*u, l)) {
            self.layers_used.push(l);
        }
    }

    /// Whether a layer of `kind` applies in the proposal's municipality (its own or a national
    /// one). Without one, a rule that reads that kind cannot be checked.
    pub(crate) fn has_layer(&self, kind: LayerKind) -> bool {
        let index: &'a Index = self.index;
        index
            .layers(kind, &self.p.municipality_code)
            .next()
            .is_some()
    }

    /// The finding of a rule that reads layers of `kinds` when none of them is loaded for the
    /// proposal's municipality: not checked, reason `NO_LAYER`. Returns whether it was given.
    pub(crate) fn no_layer(&mut self, rule: RuleCode, def: &RuleDef, kinds: &[LayerKind]) -> bool {
        if kinds.iter().any(|k| self.has_layer(*k)) {
            return false;
        }
        let m = self.p.municipality_code.clone();
        let what: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
        let what = what.join(", ");
        let message = t!(
            self.p.locale,
            format!("ei kontrollitud: omavalitsusele {m} pole laaditud ühtki kihti ({what})"),
            format!("not checked: no layer ({what}) is loaded for municipality {m}"),
        );
        self.not_checked(rule, def, Reason::NoLayer, message);
        true
    }

    /// Zoning hits, computed once per validation.
    pub(crate) fn zone_hits(&mut self) -> Vec<Hit<'a>> {
        if self.zones.is_none() {
            let hits = self.hits(LayerKind::Zoning);
            self.zones = Some(hits);
        }
        self.zones.clone().unwrap_or_default()
    }

    pub(crate) fn hits(&mut self, kind: LayerKind) -> Vec<Hit<'a>> {
        let index: &'a Index = self.index;
        let Some(bounds) = self.bounds else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for layer in index.layers(kind, &self.p.municipality_code) {
            self.use_layer(layer);
            for f in layer.near(bounds) {
                let Some(areal) = &f.areal else {
                    continue;
                };
                if let Some((overlap, area)) = self.hit(areal) {
                    out.push((layer, f, overlap, area));
                }
            }
        }
        // Reports list hits in a stable order, whatever order the tree returns them in.
        out.sort_by_key(|(l, f, _, _)| (l.info.id, f.id));
        out
    }
}

impl<'a> Ctx<'a> {
    /// The context for checking `proposal`: its shape prepared, the sliver tolerances from the
    /// RESTRICTION_OVERLAP version in force (they apply to every hit).
    pub(crate) fn new(
        index: &'a Index,
        procedures: &'a ProcedureIndex,
        rules: &super::RuleSet,
        proposal: &'a Proposal,
    ) -> Ctx<'a> {
        let overlap_rule = rules.in_force(
            RuleCode::RestrictionOverlap,
            &proposal.municipality_code,
            proposal.on,
        );
        let shape = Shape::new(proposal.geometry.clone());
        Ctx {
            index,
            procedures,
            p: proposal,
            area: shape.area,
            perimeter: shape.perimeter,
            bounds: shape.bbox,
            shape,
            zones: None,
            sliver_area: overlap_rule.map_or(0.5, |r| r.number("sliver_area_m2", 0.5)),
            sliver_width: overlap_rule.map_or(0.1, |r| r.number("sliver_width_m", 0.1)),
            findings: Vec::with_capacity(16),
            rule_versions: Vec::new(),
            layers_used: Vec::new(),
        }
    }

    /// The parcels (with the proposal's area on each), by code: named, or every parcel the
    /// proposal covers more than a sliver of; and the named codes that are no current parcel.
    pub(crate) fn parcels(&self) -> (Vec<(&'a Parcel, f64)>, Vec<&'a str>) {
        let (index, proposal): (&'a Index, &'a Proposal) = (self.index, self.p);
        let mut on_parcels: Vec<(&'a Parcel, f64)> = Vec::new();
        let mut missing: Vec<&'a str> = Vec::new();
        if proposal.parcel_codes.is_empty() {
            if let Some(b) = self.bounds {
                for parcel in index.parcels_near(b) {
                    if let Some((_, area)) = self.hit(&parcel.shape) {
                        on_parcels.push((parcel, area));
                    }
                }
            }
        } else {
            for code in &proposal.parcel_codes {
                match index.parcel(code) {
                    Some(parcel) => {
                        on_parcels.push((parcel, shape::overlap_area(&self.shape, &parcel.shape)))
                    }
                    None => missing.push(code),
                }
            }
        }
        on_parcels.sort_by(|a, b| a.0.code.cmp(&b.0.code));
        (on_parcels, missing)
    }
}
