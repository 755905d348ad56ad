//! The one place where a layer feature's attributes are read: the typed [`Facts`] the rules use
//! (name, designation, `allowed_uses`, `max_coverage_pct`, `status`, `dp_required`, `authority`),
//! read once when the index is built.
//!
//! Nothing else in the engine looks into a feature's JSON attributes; a finding only passes them
//! on whole, for display.

use std::sync::Arc;

use super::LayerInfo;

/// What the rules read from a feature's attributes, read once when the index is built.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// A display name: `name_et` / `name` / `plan_name` / `monument` / `designation`, else the
    /// external id, else the id.
    pub name: Arc<str>,
    /// `designation`: a zone's land-use designation.
    pub designation: Option<String>,
    /// `allowed_uses`: what a zone allows.
    pub allowed_uses: Vec<String>,
    /// `max_coverage_pct`.
    pub max_coverage_pct: Option<f64>,
    /// `status` is `in_force` (a detailed plan).
    pub in_force: bool,
    /// `dp_required`, true or non-zero.
    pub dp_required: bool,
    /// `authority`: whom to coordinate with (else the layer's).
    pub authority: Option<String>,
}

impl Facts {
    pub(super) fn of(id: i64, external_id: Option<&str>, a: &serde_json::Value) -> Facts {
        let text = |k: &str| a.get(k).and_then(|v| v.as_str());
        let name = ["name_et", "name", "plan_name", "monument", "designation"]
            .iter()
            .find_map(|k| text(k))
            .map(str::to_owned)
            .or_else(|| external_id.map(str::to_owned))
            .unwrap_or_else(|| id.to_string());
        Facts {
            name: name.into(),
            designation: text("designation").map(str::to_owned),
            allowed_uses: a
                .get("allowed_uses")
                .and_then(|v| v.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            max_coverage_pct: a.get("max_coverage_pct").and_then(|v| v.as_f64()),
            in_force: text("status") == Some("in_force"),
            dp_required: a
                .get("dp_required")
                .and_then(|v| v.as_bool().or_else(|| v.as_i64().map(|i| i != 0)))
                .unwrap_or(false),
            authority: text("authority").map(str::to_owned),
        }
    }
}

impl Facts {
    /// Whom to coordinate with: the feature's `authority`, else its layer's.
    pub fn authority<'a>(&'a self, layer: &'a LayerInfo) -> Option<&'a str> {
        self.authority.as_deref().or(layer.authority.as_deref())
    }
}
