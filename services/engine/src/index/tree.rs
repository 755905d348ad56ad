//! The R-tree under every part of the index: items and an rstar tree of their boxes, built in
//! bulk once and only read. An item may be found by several boxes that together cover it (the row
//! boxes of a large, thin feature); a query still yields it once.
//!
//! Knows nothing of parcels, features or layers.

use geo::Rect;
use rstar::{AABB, RStarInsertionStrategy, RTree, RTreeObject, RTreeParams};

/// One bounding box in an R-tree: the index of the thing it bounds.
#[derive(Debug, Clone, Copy)]
pub(super) struct Entry {
    envelope: AABB<[f64; 2]>,
    at: u32,
    /// The item has more than one box in the tree (a query may meet it twice).
    several: bool,
}

impl RTreeObject for Entry {
    type Envelope = AABB<[f64; 2]>;

    fn envelope(&self) -> Self::Envelope {
        self.envelope
    }
}

fn aabb(r: Rect) -> AABB<[f64; 2]> {
    AABB::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y])
}

/// R-tree node sizes: wider than rstar's default (3–6), so a query over the 775 000 parcels
/// visits about five levels instead of eight — fewer cache misses on a tree built once and only
/// read.
struct Wide;

impl RTreeParams for Wide {
    const MIN_SIZE: usize = 8;
    const MAX_SIZE: usize = 16;
    const REINSERTION_COUNT: usize = 4;
    type DefaultInsertionStrategy = RStarInsertionStrategy;
}

/// Items and the R-tree over their boxes.
#[derive(Debug)]
pub(super) struct Indexed<T> {
    pub(super) items: Vec<T>,
    tree: RTree<Entry, Wide>,
}

impl<T> Indexed<T> {
    /// `boxes`: the boxes an item is found by — its bounding box, or several smaller ones that
    /// together cover it.
    pub(super) fn build(items: Vec<T>, boxes: impl Fn(&T) -> Vec<Rect>) -> Self {
        let mut entries = Vec::with_capacity(items.len());
        for (at, item) in items.iter().enumerate() {
            let rects = boxes(item);
            let several = rects.len() > 1;
            entries.extend(rects.into_iter().map(|r| Entry {
                envelope: aabb(r),
                at: at as u32,
                several,
            }));
        }
        Indexed {
            items,
            tree: RTree::bulk_load_with_params(entries),
        }
    }

    /// How many boxes the tree holds (an item may have several).
    pub(super) fn boxes(&self) -> usize {
        self.tree.size()
    }

    /// Items with a box that meets `r` (a superset of those that meet the geometry), each once.
    pub(super) fn near(&self, r: Rect) -> impl Iterator<Item = &T> {
        let mut seen: Vec<u32> = Vec::new();
        self.tree
            .locate_in_envelope_intersecting(aabb(r))
            .filter(move |e| {
                if !e.several {
                    return true;
                }
                if seen.contains(&e.at) {
                    return false;
                }
                seen.push(e.at);
                true
            })
            .map(|e| &self.items[e.at as usize])
    }
}
