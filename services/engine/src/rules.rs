//! The rules a proposal is checked against, and the report.
//!
//! Rules are data ([`RuleDef`], stored in PostGIS in `validation_rule`): a national default per
//! rule code, which a municipality may override, each version valid from a date (laws change).
//! Every rule in force is evaluated and reported, passed ones too: "checked and clear" must never
//! look like "not checked".
//!
//! Hits: a feature counts only when it shares more than a sliver with the proposal — more than
//! `sliver_area_m2` of area and a mean width (2 × area / perimeter) above `sliver_width_m`
//! (parameters of `RESTRICTION_OVERLAP`). A neighbour whose boundary the proposal touches, or a
//! digitising sliver along a shared boundary, is not a hit.

use std::sync::Arc;

use chrono::NaiveDate;
use geo::{BooleanOps, Geometry, MultiPolygon};
use kovgis_core::model::LayerKind;
use sha2::{Digest, Sha256};

use crate::index::{Feature, Index, Layer, Parcel};
use crate::kernel;
use crate::predicates as p;
use crate::shape::{self, Shape};

/// Language of the messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Locale {
    #[default]
    Et,
    En,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Info,
    Warning,
    Blocking,
}

impl Severity {
    pub fn parse(s: &str) -> Option<Severity> {
        match s {
            "info" => Some(Severity::Info),
            "warning" => Some(Severity::Warning),
            "blocking" => Some(Severity::Blocking),
            _ => None,
        }
    }
}

/// One version of one rule, national (`municipality_code` `None`) or a municipality's own.
#[derive(Debug, Clone)]
pub struct RuleDef {
    pub code: String,
    pub version: i32,
    pub municipality_code: Option<String>,
    /// Severity of a failure.
    pub severity: Severity,
    /// Procedure types it applies to; empty: all.
    pub procedures: Vec<String>,
    pub params: serde_json::Value,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
}

impl RuleDef {
    fn number(&self, key: &str, default: f64) -> f64 {
        self.params
            .get(key)
            .and_then(|v| v.as_f64())
            .unwrap_or(default)
    }
}

/// Every rule version known.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    pub rules: Vec<RuleDef>,
}

/// The rule codes, in report order.
pub const RULES: [&str; 7] = [
    "GEOMETRY_VALID",
    "WITHIN_PARCEL",
    "SETBACK",
    "ZONE_USE",
    "COVERAGE",
    "RESTRICTION_OVERLAP",
    "DP_REQUIRED",
];

impl RuleSet {
    /// The version of `code` in force in a municipality on a date: the municipality's own if it
    /// has one in force, else the national one.
    pub fn in_force(&self, code: &str, municipality: &str, on: NaiveDate) -> Option<&RuleDef> {
        let valid = |r: &&RuleDef| {
            r.code == code && r.valid_from <= on && r.valid_to.is_none_or(|to| on < to)
        };
        self.rules
            .iter()
            .filter(valid)
            .filter(|r| r.municipality_code.as_deref() == Some(municipality))
            .max_by_key(|r| r.valid_from)
            .or_else(|| {
                self.rules
                    .iter()
                    .filter(valid)
                    .filter(|r| r.municipality_code.is_none())
                    .max_by_key(|r| r.valid_from)
            })
    }
}

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
}

/// One rule's outcome, or one hit of it.
#[derive(Debug, Clone)]
pub struct Finding {
    pub rule: &'static str,
    pub rule_version: i32,
    /// Stable outcome code, e.g. `OUTSIDE_PARCEL`, `WITHIN_PARCEL`.
    pub code: &'static str,
    pub severity: Severity,
    pub passed: bool,
    pub message: String,
    pub layer_id: Option<i64>,
    pub layer_name: Option<String>,
    pub feature_id: Option<String>,
    pub feature_name: Option<String>,
    /// The feature's attributes (shared with the index).
    pub attributes: Option<Arc<serde_json::Value>>,
    pub overlap_area_m2: Option<f64>,
    pub overlap_share_pct: Option<f64>,
    pub distance_m: Option<f64>,
    pub geometry: Option<MultiPolygon>,
    pub authority: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Clear,
    NeedsCoordination,
    Blocked,
}

#[derive(Debug, Clone)]
pub struct Report {
    pub verdict: Verdict,
    pub findings: Vec<Finding>,
    /// The parcels the proposal was checked on.
    pub parcels: Vec<String>,
    /// (rule code, version) of every rule evaluated.
    pub rule_versions: Vec<(&'static str, i32)>,
    /// (what, dataset version) of the data used.
    pub dataset_versions: Vec<(String, Option<i64>)>,
    /// SHA-256 of the proposal's normalised geometry (EPSG:3301 WKB).
    pub input_hash: String,
}

/// The message in the locale: only that one is formatted.
macro_rules! t {
    ($locale:expr, $et:expr, $en:expr $(,)?) => {
        match $locale {
            Locale::Et => $et,
            Locale::En => $en,
        }
    };
}

/// A feature the proposal shares more than a sliver with: layer, feature, overlap, its area.
type Hit<'a> = (&'a Layer, &'a Feature, MultiPolygon, f64);

struct Ctx<'a> {
    index: &'a Index,
    p: &'a Proposal,
    /// The proposal's area, prepared once for every overlap question.
    shape: Shape,
    area: f64,
    perimeter: f64,
    bounds: Option<geo::Rect>,
    /// Zoning hits, used by two rules.
    zones: Option<Vec<Hit<'a>>>,
    sliver_area: f64,
    sliver_width: f64,
    findings: Vec<Finding>,
    rule_versions: Vec<(&'static str, i32)>,
    /// The layers read, in first-use order (their versions go into the provenance).
    layers_used: Vec<&'a Layer>,
}

impl<'a> Ctx<'a> {
    fn finding(
        &mut self,
        rule: &'static str,
        def: &RuleDef,
        code: &'static str,
        passed: bool,
        message: String,
    ) -> &mut Finding {
        self.findings.push(Finding {
            rule,
            rule_version: def.version,
            code,
            severity: if passed { Severity::Info } else { def.severity },
            passed,
            message,
            layer_id: None,
            layer_name: None,
            feature_id: None,
            feature_name: None,
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
    fn hit(&self, g: &Shape) -> Option<(MultiPolygon, f64)> {
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
        // A partial overlap's outline (or exact perimeter): by clipping when both are convex,
        // else the overlay.
        let overlap = match (self.shape.convex, g.convex) {
            (true, true) => p::convex_intersection(
                self.shape.polygons.0[0].exterior(),
                g.polygons.0[0].exterior(),
            )
            .unwrap_or_else(|| MultiPolygon(Vec::new())),
            _ => p::overlap(&self.p.geometry, &g.polygons),
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
    fn outline(&self) -> MultiPolygon {
        if self.p.outlines {
            self.p.geometry.clone()
        } else {
            MultiPolygon(Vec::new())
        }
    }

    fn share(&self, area: f64) -> f64 {
        if self.area > 0.0 {
            100.0 * area / self.area
        } else {
            0.0
        }
    }

    fn use_layer(&mut self, l: &'a Layer) {
        if !self.layers_used.iter().any(|u| std::ptr::eq(*u, l)) {
            self.layers_used.push(l);
        }
    }

    /// Zoning hits, computed once per validation.
    fn zone_hits(&mut self) -> Vec<Hit<'a>> {
        if self.zones.is_none() {
            let hits = self.hits(LayerKind::Zoning);
            self.zones = Some(hits);
        }
        self.zones.clone().unwrap_or_default()
    }

    fn hits(&mut self, kind: LayerKind) -> Vec<Hit<'a>> {
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

/// A number as messages show it: rounded to `.1` decimals, trailing zeros dropped — the same
/// text as `Display` of the rounded `f64`, written through integers (the float formatter was a
/// tenth of a check's time).
struct Dec(f64, u32);

impl std::fmt::Display for Dec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scale = 10u64.pow(self.1);
        let scaled = (self.0 * scale as f64).round();
        if !scaled.is_finite() || scaled.abs() >= 1e15 || scaled == 0.0 && self.0 < 0.0 {
            let shown = scaled / scale as f64;
            return write!(f, "{shown}");
        }
        let (sign, n) = if scaled < 0.0 {
            ("-", -scaled as u64)
        } else {
            ("", scaled as u64)
        };
        let (whole, mut fraction) = (n / scale, n % scale);
        write!(f, "{sign}{whole}")?;
        if fraction == 0 {
            return Ok(());
        }
        let mut digits = self.1 as usize;
        while fraction % 10 == 0 {
            fraction /= 10;
            digits -= 1;
        }
        write!(f, ".{fraction:0digits$}")
    }
}

/// Checks a proposal against every rule in force; see the module docs.
pub fn validate(index: &Index, rules: &RuleSet, proposal: &Proposal) -> Report {
    let on = proposal.on;
    let m = proposal.municipality_code.as_str();
    // The sliver tolerances are parameters of RESTRICTION_OVERLAP and apply to every hit.
    let overlap_rule = rules.in_force("RESTRICTION_OVERLAP", m, on);
    let shape = Shape::new(proposal.geometry.clone());
    let mut cx = Ctx {
        index,
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
    };
    let loc = proposal.locale;

    // The parcels: named, or every parcel the proposal covers more than a sliver of.
    // The parcels (with the proposal's area on each): named, or every parcel the proposal
    // covers more than a sliver of.
    let mut on_parcels: Vec<(&Parcel, f64)> = Vec::new();
    let mut missing: Vec<&str> = Vec::new();
    if proposal.parcel_codes.is_empty() {
        if let Some(b) = cx.bounds {
            for parcel in index.parcels_near(b) {
                if let Some((_, area)) = cx.hit(&parcel.shape) {
                    on_parcels.push((parcel, area));
                }
            }
        }
    } else {
        for code in &proposal.parcel_codes {
            match index.parcel(code) {
                Some(parcel) => {
                    on_parcels.push((parcel, shape::overlap_area(&cx.shape, &parcel.shape)))
                }
                None => missing.push(code),
            }
        }
    }
    on_parcels.sort_by(|a, b| a.0.code.cmp(&b.0.code));
    let parcels: Vec<&Parcel> = on_parcels.iter().map(|(p, _)| *p).collect();

    for code in RULES {
        let Some(def) = rules.in_force(code, m, on) else {
            continue;
        };
        cx.rule_versions.push((code, def.version));
        if !def.procedures.is_empty() && !def.procedures.contains(&proposal.procedure) {
            cx.finding(
                code_of(code),
                def,
                "NOT_APPLICABLE",
                true,
                t!(
                    loc,
                    format!("ei kohaldata menetlusele {}", proposal.procedure),
                    format!("does not apply to {}", proposal.procedure),
                ),
            );
            continue;
        }
        match code {
            "GEOMETRY_VALID" => {
                let area = Dec(cx.area, 1);
                cx.finding(
                    "GEOMETRY_VALID",
                    def,
                    "GEOMETRY_VALID",
                    true,
                    t!(
                        loc,
                        format!("geomeetria on korrektne, pindala {area} m²"),
                        format!("geometry is valid, area {area} m²"),
                    ),
                );
            }
            "WITHIN_PARCEL" => within_parcel(&mut cx, def, &on_parcels, &missing),
            "SETBACK" => setback(&mut cx, def, &parcels),
            "ZONE_USE" => zone_use(&mut cx, def),
            "COVERAGE" => coverage(&mut cx, def, &on_parcels),
            "RESTRICTION_OVERLAP" => restrictions(&mut cx, def),
            "DP_REQUIRED" => dp_required(&mut cx, def),
            _ => {}
        }
    }

    let verdict = if cx
        .findings
        .iter()
        .any(|f| !f.passed && f.severity == Severity::Blocking)
    {
        Verdict::Blocked
    } else if cx
        .findings
        .iter()
        .any(|f| !f.passed && f.severity == Severity::Warning)
    {
        Verdict::NeedsCoordination
    } else {
        Verdict::Clear
    };
    let digest = Sha256::digest(kovgis_core::output::to_wkb(&Geometry::MultiPolygon(
        proposal.geometry.clone(),
    )));
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut input_hash = String::with_capacity(64);
    for b in digest {
        input_hash.push(HEX[usize::from(b >> 4)] as char);
        input_hash.push(HEX[usize::from(b & 15)] as char);
    }
    let dataset_versions = std::iter::once(("parcels".to_owned(), index.parcel_version))
        .chain(
            cx.layers_used
                .iter()
                .map(|l| (l.label().to_owned(), l.info.version)),
        )
        .collect();
    Report {
        verdict,
        findings: cx.findings,
        parcels: parcels.iter().map(|p| p.code.clone()).collect(),
        rule_versions: cx.rule_versions,
        dataset_versions,
        input_hash,
    }
}

/// The `&'static str` of a rule code.
fn code_of(code: &str) -> &'static str {
    RULES.iter().find(|c| **c == code).copied().unwrap_or("")
}

fn within_parcel(cx: &mut Ctx<'_>, def: &RuleDef, on: &[(&Parcel, f64)], missing: &[&str]) {
    let parcels: Vec<&Parcel> = on.iter().map(|(p, _)| *p).collect();
    let loc = cx.p.locale;
    for code in missing {
        cx.finding(
            "WITHIN_PARCEL",
            def,
            "PARCEL_NOT_FOUND",
            false,
            t!(
                loc,
                format!("katastriüksust {code} ei ole (kehtivana) olemas"),
                format!("there is no current parcel {code}"),
            ),
        )
        .feature_id = Some((*code).to_owned());
    }
    if parcels.is_empty() {
        cx.finding(
            "WITHIN_PARCEL",
            def,
            "OUTSIDE_PARCEL",
            false,
            t!(
                loc,
                "ala ei asu ühelgi katastriüksusel".into(),
                "the area lies on no parcel".into(),
            ),
        );
        return;
    }
    // Parcels do not overlap each other: what the parcels do not cover is the area minus the
    // sum of the overlaps.
    let inside: f64 = on.iter().map(|(_, area)| area).sum();
    let outside = (cx.area - inside).max(0.0);
    let codes = parcels
        .iter()
        .map(|p| p.code.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    if outside <= cx.sliver_area {
        cx.finding(
            "WITHIN_PARCEL",
            def,
            "WITHIN_PARCEL",
            true,
            t!(
                loc,
                format!("ala asub katastriüksus(t)el {codes}"),
                format!("the area lies within parcel(s) {codes}"),
            ),
        );
    } else {
        let a = Dec(outside, 1);
        let share = Dec(cx.share(outside), 1);
        let share_exact = cx.share(outside);
        let outside_geometry = if cx.p.outlines {
            let union = parcels
                .iter()
                .skip(1)
                .fold(parcels[0].geometry().clone(), |u, p| u.union(p.geometry()));
            cx.p.geometry.difference(&union)
        } else {
            MultiPolygon(Vec::new())
        };
        let f = cx.finding(
            "WITHIN_PARCEL",
            def,
            "OUTSIDE_PARCEL",
            false,
            t!(
                loc,
                format!("{a} m² ({share} %) alast jääb väljapoole katastriüksus(t)i {codes}"),
                format!("{a} m² ({share} %) of the area lies outside parcel(s) {codes}"),
            ),
        );
        f.overlap_area_m2 = Some(outside);
        f.overlap_share_pct = Some(share_exact);
        f.geometry = (!outside_geometry.0.is_empty()).then_some(outside_geometry);
    }
}

fn setback(cx: &mut Ctx<'_>, def: &RuleDef, parcels: &[&Parcel]) {
    let loc = cx.p.locale;
    let min = def.number("min_m", 4.0);
    if parcels.is_empty() {
        return;
    }
    // The boundary of the parcels taken together: a building across the common boundary of two
    // of them is measured to the outside only. Their common boundaries are dropped edge by edge
    // (see `p::outer_edges`); only very large sets are united with an overlay.
    let geometries: Vec<&MultiPolygon> = parcels.iter().map(|p| p.geometry()).collect();
    let d = match p::union_boundary_distance(&cx.p.geometry, &geometries) {
        Some(d) => d,
        None if parcels.len() == 1 => p::boundary_distance(&cx.p.geometry, parcels[0].geometry()),
        None => {
            let union = parcels
                .iter()
                .skip(1)
                .fold(parcels[0].geometry().clone(), |u, p| u.union(p.geometry()));
            p::boundary_distance(&cx.p.geometry, &union)
        }
    };
    let shown = Dec(d, 2);
    let f = if d + 1e-9 >= min {
        cx.finding(
            "SETBACK",
            def,
            "SETBACK_OK",
            true,
            t!(
                loc,
                format!("kaugus katastriüksuse piirist {shown} m (nõue vähemalt {min} m)"),
                format!("{shown} m from the parcel boundary (at least {min} m required)"),
            ),
        )
    } else {
        cx.finding(
            "SETBACK",
            def,
            "SETBACK_TOO_SMALL",
            false,
            t!(
                loc,
                format!("kaugus katastriüksuse piirist on {shown} m, nõue on vähemalt {min} m"),
                format!("{shown} m from the parcel boundary, at least {min} m required"),
            ),
        )
    };
    f.distance_m = Some(d);
}

fn zone_use(cx: &mut Ctx<'_>, def: &RuleDef) {
    let loc = cx.p.locale;
    let hits = cx.zone_hits();
    if hits.is_empty() {
        cx.finding(
            "ZONE_USE",
            def,
            "NO_ZONE",
            true,
            t!(
                loc,
                "üldplaneeringu maakasutuse juhtotstarve puudub".into(),
                "no comprehensive-plan zone here".into(),
            ),
        );
        return;
    }
    let intended = cx.p.intended_use.clone();
    let proposal_area = cx.area;
    for (layer, f, overlap, area) in hits {
        let allowed = &f.facts.allowed_uses;
        let designation = f.facts.designation.as_deref().unwrap_or("?");
        let name = &f.facts.name;
        let ok = allowed.contains(&intended);
        let finding = if ok {
            cx.finding(
                "ZONE_USE",
                def,
                "ZONE_USE_ALLOWED",
                true,
                t!(
                    loc,
                    format!("juhtotstarve {designation} ({name}) lubab kasutust {intended}"),
                    format!("zone {designation} ({name}) allows {intended}"),
                ),
            )
        } else {
            cx.finding(
                "ZONE_USE",
                def,
                "ZONE_USE_NOT_ALLOWED",
                false,
                t!(
                    loc,
                    format!(
                        "juhtotstarve {designation} ({name}) ei luba kasutust {intended}; lubatud: {}",
                        allowed.join(", ")
                    ),
                    format!(
                        "zone {designation} ({name}) does not allow {intended}; allowed: {}",
                        allowed.join(", ")
                    ),
                ),
            )
        };
        describe(finding, layer, f, overlap, area, proposal_area);
    }
}

fn describe(
    finding: &mut Finding,
    layer: &Layer,
    f: &Feature,
    overlap: MultiPolygon,
    area: f64,
    proposal_area: f64,
) {
    finding.layer_id = Some(layer.info.id);
    finding.layer_name = Some(layer.info.name.clone());
    finding.feature_id = f.external_id.clone().or_else(|| Some(f.id.to_string()));
    finding.feature_name = Some(f.name());
    finding.attributes = Some(Arc::clone(&f.attributes));
    finding.overlap_area_m2 = Some(area);
    finding.overlap_share_pct = Some(100.0 * area / proposal_area.max(f64::MIN_POSITIVE));
    finding.geometry = (!overlap.0.is_empty()).then_some(overlap);
    finding.authority = f
        .facts
        .authority
        .clone()
        .or_else(|| layer.info.authority.clone());
}

/// `on`: the parcels with the proposal's area on each.
fn coverage(cx: &mut Ctx<'_>, def: &RuleDef, on: &[(&Parcel, f64)]) {
    let loc = cx.p.locale;
    for &(parcel, new) in on {
        // A detailed plan in force over the parcel decides, else the zone covering most of it;
        // the buildings already on it count (both worked out when the index was built).
        let facts = cx
            .index
            .coverage(&cx.p.municipality_code, parcel, cx.sliver_area);
        let existing = facts.built_m2;
        let Some((max, source)) = facts.limit else {
            cx.finding(
                "COVERAGE",
                def,
                "NO_COVERAGE_LIMIT",
                true,
                t!(
                    loc,
                    format!(
                        "katastriüksusele {} ei ole täisehituse piirangut",
                        parcel.code
                    ),
                    format!("no coverage limit applies to parcel {}", parcel.code),
                ),
            );
            continue;
        };
        let pct = 100.0 * (existing + new) / parcel.shape.area.max(f64::MIN_POSITIVE);
        let shown = Dec(pct, 1);
        let (e, n) = (Dec(existing, 1), Dec(new, 1));
        // At the maximum is allowed; areas are compared to 1e-6 of a percent.
        let f = if pct <= max + 1e-6 {
            cx.finding(
                "COVERAGE",
                def,
                "COVERAGE_OK",
                true,
                t!(
                    loc,
                    format!(
                        "täisehitus {} katastriüksusel {shown} % (olemasolev {e} m² + uus {n} m²), lubatud {max} % ({source})",
                        parcel.code
                    ),
                    format!(
                        "coverage of parcel {} {shown} % (existing {e} m² + new {n} m²), {max} % allowed ({source})",
                        parcel.code
                    ),
                ),
            )
        } else {
            cx.finding(
                "COVERAGE",
                def,
                "COVERAGE_EXCEEDED",
                false,
                t!(
                    loc,
                    format!(
                        "täisehitus {} katastriüksusel oleks {shown} % (olemasolev {e} m² + uus {n} m²), lubatud {max} % ({source})",
                        parcel.code
                    ),
                    format!(
                        "coverage of parcel {} would be {shown} % (existing {e} m² + new {n} m²), {max} % allowed ({source})",
                        parcel.code
                    ),
                ),
            )
        };
        f.feature_id = Some(parcel.code.clone());
        f.overlap_area_m2 = Some(existing + new);
        f.overlap_share_pct = Some(pct);
    }
}

fn restrictions(cx: &mut Ctx<'_>, def: &RuleDef) {
    let loc = cx.p.locale;
    let hits = cx.hits(LayerKind::Restriction);
    if hits.is_empty() {
        cx.finding(
            "RESTRICTION_OVERLAP",
            def,
            "NO_RESTRICTION",
            true,
            t!(
                loc,
                "ala ei kattu ühegi kitsendusega".into(),
                "the area overlaps no restriction".into(),
            ),
        );
        return;
    }
    for (layer, f, overlap, area) in hits {
        let name = &f.facts.name;
        let a = Dec(area, 1);
        let share = Dec(cx.share(area), 1);
        let authority = f
            .facts
            .authority
            .as_deref()
            .or(layer.info.authority.as_deref())
            .unwrap_or_default();
        let proposal_area = cx.area;
        let finding = cx.finding(
            "RESTRICTION_OVERLAP",
            def,
            "RESTRICTION_OVERLAP",
            false,
            t!(
                loc,
                format!(
                    "{a} m² ({share} %) alast jääb kitsendusse {name} ({}); kooskõlastada: {authority}",
                    layer.info.title
                ),
                format!(
                    "{a} m² ({share} %) of the area lies in {name} ({}); coordinate with {authority}",
                    layer.info.title
                ),
            ),
        );
        describe(finding, layer, f, overlap, area, proposal_area);
    }
}

fn dp_required(cx: &mut Ctx<'_>, def: &RuleDef) {
    let loc = cx.p.locale;
    let zones = cx.zone_hits();
    let requiring: Vec<String> = zones
        .iter()
        .filter(|(_, f, _, _)| f.facts.dp_required)
        .map(|(_, f, _, _)| f.name())
        .collect();
    if requiring.is_empty() {
        cx.finding(
            "DP_REQUIRED",
            def,
            "DP_NOT_REQUIRED",
            true,
            t!(
                loc,
                "detailplaneeringu kohustust ei ole".into(),
                "no detailed plan is required here".into(),
            ),
        );
        return;
    }
    // A plan in force must cover the whole proposal (up to a sliver).
    let plans = cx.hits(LayerKind::DetailedPlan);
    let covering = plans
        .iter()
        .find(|(_, f, _, area)| f.facts.in_force && cx.area - area <= cx.sliver_area);
    let zones = requiring.join(", ");
    match covering {
        Some((_, f, _, _)) => {
            let plan = f.name();
            cx.finding(
                "DP_REQUIRED",
                def,
                "DP_IN_FORCE",
                true,
                t!(
                    loc,
                    format!("alal ({zones}) on nõutud detailplaneering; kehtib {plan}"),
                    format!("a detailed plan is required here ({zones}); {plan} is in force"),
                ),
            );
        }
        None => {
            cx.finding(
                "DP_REQUIRED",
                def,
                "DP_REQUIRED",
                false,
                t!(
                    loc,
                    format!("alal ({zones}) on nõutud detailplaneering, kehtivat ei ole"),
                    format!("a detailed plan is required here ({zones}) and none is in force"),
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Dec;

    #[test]
    fn numbers_read_as_the_rounded_float_displays() {
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        for i in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let unit = (x >> 11) as f64 / (1u64 << 53) as f64;
            // Small and large, whole, halves and negative values.
            let v = match i % 5 {
                0 => unit * 10.0,
                1 => unit * 1e7,
                2 => (unit * 1e4).round() / 2.0,
                3 => -unit * 500.0,
                _ => (unit * 1e3).round() / 100.0 + 0.005,
            };
            for digits in [1u32, 2] {
                let f = 10f64.powi(digits as i32);
                let expected = format!("{}", (v * f).round() / f);
                assert_eq!(format!("{}", Dec(v, digits)), expected, "{v} to {digits}");
            }
        }
    }
}
