//! WITHIN_PARCEL: the proposal lies on current parcels — every named parcel exists, and no more
//! than a sliver of the area lies outside the parcels it is on (`OUTSIDE_PARCEL` gives how much,
//! and with outlines the part outside).
//!
//! Which parcels the proposal is on is worked out once for every rule
//! ([`super::context::Ctx::parcels`]).

use geo::{BooleanOps, MultiPolygon};

use super::catalogue::{Outcome, RuleCode, RuleDef};
use super::context::Ctx;
use super::messages::t;
use super::number::Dec;
use crate::index::Parcel;

pub(super) fn within_parcel(
    cx: &mut Ctx<'_>,
    def: &RuleDef,
    on: &[(&Parcel, f64)],
    missing: &[&str],
) {
    let parcels: Vec<&Parcel> = on.iter().map(|(p, _)| *p).collect();
    let loc = cx.p.locale;
    for code in missing {
        cx.finding(
            RuleCode::WithinParcel,
            def,
            Outcome::ParcelNotFound,
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
            RuleCode::WithinParcel,
            def,
            Outcome::OutsideParcel,
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
            RuleCode::WithinParcel,
            def,
            Outcome::WithinParcel,
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
            RuleCode::WithinParcel,
            def,
            Outcome::OutsideParcel,
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
