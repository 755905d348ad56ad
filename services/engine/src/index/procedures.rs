//! The other procedures a proposal may conflict with (rule `CONFLICTS_WITH_PROCEDURE`): every
//! procedure that counts — active in its workflow, or granted with a works period not yet over —
//! with its type, works period and area, in an rstar R-tree of bounding boxes.
//!
//! Unlike the parcel and layer index ([`super::Index`], built once and swapped whole), this one
//! changes one procedure at a time: [`ProcedureIndex::upsert`] and [`ProcedureIndex::remove`] by
//! (municipality, id), as procedures are submitted, decided or withdrawn. A service keeps it
//! behind a lock and, for one validation, takes [`ProcedureIndex::around`] the proposal — a small
//! index of the entries near it, sharing their prepared shapes — so that the lock is held for one
//! tree query, not for a whole validation.
//!
//! Which procedures count, and when a granted one stops counting, is decided by whoever fills
//! the index (the store's query) and again by the rule on the day checked ([`ProcedureEntry::
//! counts_on`]); this module only keeps them.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::NaiveDate;
use geo::{MultiPolygon, Rect};
use rstar::{AABB, RTree, RTreeObject};

use crate::shape::Shape;

/// One procedure as the conflicts rule needs it. Its applicant, description and other details
/// are deliberately not here: what is not indexed cannot leak into a report.
#[derive(Debug, Clone)]
pub struct ProcedureEntry {
    pub municipality_code: String,
    /// The procedure's id (a UUID, as text).
    pub id: String,
    /// `excavation_permit`, `felling_permit`, …
    pub procedure_type: String,
    /// The works period, first and last day inclusive; `None`: the type has none.
    pub works: Option<(NaiveDate, NaiveDate)>,
    /// In a state its workflow marks active; `false`: granted (it counts while its works
    /// period has not ended).
    pub active: bool,
    /// Its area, prepared for overlap questions.
    pub shape: Shape,
}

impl ProcedureEntry {
    pub fn new(
        municipality_code: String,
        id: String,
        procedure_type: String,
        works: Option<(NaiveDate, NaiveDate)>,
        active: bool,
        geometry: MultiPolygon,
    ) -> Self {
        ProcedureEntry {
            municipality_code,
            id,
            procedure_type,
            works,
            active,
            shape: Shape::indexed(geometry),
        }
    }

    /// Whether it counts on day `on`: active, or granted with a works period whose last day is
    /// not before `on` (a granted permit without a works period has nothing left to do).
    pub fn counts_on(&self, on: NaiveDate) -> bool {
        self.active || self.works.is_some_and(|(_, last)| last >= on)
    }

    /// Whether its works period and `period` share a day (both inclusive). A procedure without
    /// a works period, or a proposal without one, overlaps every period: it may happen at any
    /// time while the procedure counts.
    pub fn overlaps_period(&self, period: Option<(NaiveDate, NaiveDate)>) -> bool {
        match (self.works, period) {
            (Some((a0, a1)), Some((b0, b1))) => a0 <= b1 && b0 <= a1,
            _ => true,
        }
    }
}

/// A box in the tree: the entry it bounds (compared by key, for removal).
#[derive(Debug, Clone)]
struct Node {
    envelope: AABB<[f64; 2]>,
    entry: Arc<ProcedureEntry>,
}

impl PartialEq for Node {
    fn eq(&self, other: &Self) -> bool {
        self.entry.municipality_code == other.entry.municipality_code
            && self.entry.id == other.entry.id
    }
}

impl RTreeObject for Node {
    type Envelope = AABB<[f64; 2]>;

    fn envelope(&self) -> Self::Envelope {
        self.envelope
    }
}

fn aabb(r: Rect) -> AABB<[f64; 2]> {
    AABB::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y])
}

fn node(entry: Arc<ProcedureEntry>) -> Option<Node> {
    entry.shape.bbox.map(|r| Node {
        envelope: aabb(r),
        entry,
    })
}

/// The procedures that count, by area and by (municipality, id).
#[derive(Debug, Default)]
pub struct ProcedureIndex {
    tree: RTree<Node>,
    by_key: HashMap<(String, String), Arc<ProcedureEntry>>,
}

impl ProcedureIndex {
    /// An index of `entries`, bulk-loaded (a later entry with the same key replaces an earlier
    /// one).
    pub fn build(entries: Vec<ProcedureEntry>) -> Self {
        let mut by_key = HashMap::with_capacity(entries.len());
        for e in entries {
            by_key.insert((e.municipality_code.clone(), e.id.clone()), Arc::new(e));
        }
        let nodes = by_key.values().cloned().filter_map(node).collect();
        ProcedureIndex {
            tree: RTree::bulk_load(nodes),
            by_key,
        }
    }

    /// Adds a procedure, or replaces the one with its key.
    pub fn upsert(&mut self, entry: ProcedureEntry) {
        self.remove(&entry.municipality_code, &entry.id);
        let entry = Arc::new(entry);
        self.by_key.insert(
            (entry.municipality_code.clone(), entry.id.clone()),
            Arc::clone(&entry),
        );
        if let Some(n) = node(entry) {
            self.tree.insert(n);
        }
    }

    /// Removes a procedure; returns whether it was there.
    pub fn remove(&mut self, municipality_code: &str, id: &str) -> bool {
        let Some(old) = self
            .by_key
            .remove(&(municipality_code.to_owned(), id.to_owned()))
        else {
            return false;
        };
        if let Some(n) = node(old) {
            self.tree.remove(&n);
        }
        true
    }

    pub fn get(&self, municipality_code: &str, id: &str) -> Option<&ProcedureEntry> {
        self.by_key
            .get(&(municipality_code.to_owned(), id.to_owned()))
            .map(|e| e.as_ref())
    }

    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// Entries whose bounding box meets `r` (a superset of those whose area does).
    pub fn near(&self, r: Rect) -> impl Iterator<Item = &ProcedureEntry> {
        self.tree
            .locate_in_envelope_intersecting(aabb(r))
            .map(|n| n.entry.as_ref())
    }

    /// A small index of the entries whose box meets `r`, sharing their prepared shapes: what a
    /// validation around `r` needs, taken under a lock and used after it is released.
    pub fn around(&self, r: Rect) -> ProcedureIndex {
        let nodes: Vec<Node> = self
            .tree
            .locate_in_envelope_intersecting(aabb(r))
            .cloned()
            .collect();
        let by_key = nodes
            .iter()
            .map(|n| {
                (
                    (n.entry.municipality_code.clone(), n.entry.id.clone()),
                    Arc::clone(&n.entry),
                )
            })
            .collect();
        ProcedureIndex {
            tree: RTree::bulk_load(nodes),
            by_key,
        }
    }
}

#[cfg(test)]
mod tests {
    use geo::{LineString, Polygon};

    use super::*;

    fn square(x: f64, y: f64, side: f64) -> MultiPolygon {
        let ring = LineString::from(vec![
            (x, y),
            (x + side, y),
            (x + side, y + side),
            (x, y + side),
            (x, y),
        ]);
        MultiPolygon(vec![Polygon::new(ring, vec![])])
    }

    fn day(m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2027, m, d).unwrap()
    }

    fn entry(m: &str, id: &str, x: f64) -> ProcedureEntry {
        ProcedureEntry::new(
            m.into(),
            id.into(),
            "excavation_permit".into(),
            Some((day(5, 3), day(5, 21))),
            true,
            square(x, 0.0, 10.0),
        )
    }

    fn ids(index: &ProcedureIndex, r: Rect) -> Vec<String> {
        let mut v: Vec<String> = index.near(r).map(|e| e.id.clone()).collect();
        v.sort();
        v
    }

    fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> Rect {
        Rect::new((x0, y0), (x1, y1))
    }

    #[test]
    fn upsert_replaces_and_remove_drops_from_the_tree() {
        let mut index =
            ProcedureIndex::build(vec![entry("0793", "a", 0.0), entry("0793", "b", 100.0)]);
        assert_eq!(ids(&index, rect(-1.0, -1.0, 5.0, 5.0)), ["a"]);
        // "a" moves from x 0..10 to x 200..210: found there only, and counted once.
        index.upsert(entry("0793", "a", 200.0));
        assert_eq!(index.len(), 2);
        assert!(ids(&index, rect(-1.0, -1.0, 5.0, 5.0)).is_empty());
        assert_eq!(ids(&index, rect(195.0, 0.0, 205.0, 5.0)), ["a"]);
        // The same id in another municipality is another procedure.
        index.upsert(entry("0784", "a", 100.0));
        assert_eq!(index.len(), 3);
        assert!(index.remove("0793", "b"));
        assert!(!index.remove("0793", "b"));
        let here: Vec<(String, String)> = index
            .near(rect(95.0, 0.0, 105.0, 5.0))
            .map(|e| (e.municipality_code.clone(), e.id.clone()))
            .collect();
        assert_eq!(here, [("0784".to_owned(), "a".to_owned())]);
    }

    #[test]
    fn around_keeps_only_the_entries_near() {
        let index = ProcedureIndex::build(vec![entry("0793", "a", 0.0), entry("0793", "b", 100.0)]);
        let small = index.around(rect(95.0, 0.0, 101.0, 1.0));
        assert_eq!(small.len(), 1);
        assert!(small.get("0793", "b").is_some());
        assert!(small.get("0793", "a").is_none());
    }

    /// Works periods are inclusive: 3–21 May and 21–30 May share the 21st; 22–30 May does not.
    #[test]
    fn periods_overlap_inclusively_and_a_missing_period_overlaps_all() {
        let e = entry("0793", "a", 0.0);
        assert!(e.overlaps_period(Some((day(5, 21), day(5, 30)))));
        assert!(!e.overlaps_period(Some((day(5, 22), day(5, 30)))));
        assert!(e.overlaps_period(Some((day(4, 1), day(5, 3)))));
        assert!(!e.overlaps_period(Some((day(4, 1), day(5, 2)))));
        assert!(e.overlaps_period(None));
        let plan = ProcedureEntry {
            works: None,
            ..entry("0793", "p", 0.0)
        };
        assert!(plan.overlaps_period(Some((day(1, 1), day(1, 2)))));
    }

    /// Active counts whatever the day; granted counts up to and including its last works day.
    #[test]
    fn a_granted_procedure_counts_until_its_works_end() {
        let granted = ProcedureEntry {
            active: false,
            ..entry("0793", "a", 0.0)
        };
        assert!(granted.counts_on(day(5, 21)));
        assert!(!granted.counts_on(day(5, 22)));
        let active = entry("0793", "a", 0.0);
        assert!(active.counts_on(day(12, 31)));
        let no_period = ProcedureEntry {
            works: None,
            ..granted.clone()
        };
        assert!(!no_period.counts_on(day(1, 1)));
    }
}
