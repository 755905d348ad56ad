//! Conversions between `kovgis.v1` messages and the domain types of `kovgis-core` and
//! `kovgis-engine`.
//!
//! Inbound conversions check as they go and fail with an [`InputError`] naming the proto field;
//! outbound ones encode geometries in the caller's CRS and format. Nothing here reads the
//! database or decides what a request means beyond its fields: that is the service's job.
//!
//! [`InputError`]: kovgis_core::InputError

mod geometry;
mod json;
mod model;
pub mod page_token;
mod time;
mod validation;

pub use geometry::{Output, bbox, geometry, geometry_input, output, output_geometry};
pub use json::{json_struct, struct_json};
pub use model::{feature, layer, layer_kind, layer_kind_filter, municipality, parcel};
pub use time::{from_timestamp, timestamp};
pub use validation::{ProposalRequest, index_stats, proposal, report};
