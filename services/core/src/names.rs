//! Stable resource names of layers and features, as `kovgis.v1` shows and accepts them.
//!
//! A layer is named by its owner and machine name — `municipalities/0793/layers/zoning` for a
//! municipal layer, `layers/shore-zones` for a national one — and a feature by its layer and the
//! id it has in its source data, `municipalities/0793/layers/zoning/features/Z-17`. Unlike the
//! numeric ids these survive a re-import and a database rebuilt from the same files, so other
//! state systems can store them. Ids are written as they are, except `%` and `/`, which are
//! percent-encoded so that a name splits back into its parts.
//!
//! This module only writes and reads names; which layer a name denotes is the store's question.

use crate::InputError;

/// The parts of a layer's resource name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerName {
    /// `None` for a national layer.
    pub municipality_code: Option<String>,
    /// The machine name (lower-case letters, digits, `-`, `_`).
    pub name: String,
}

impl LayerName {
    /// The resource name, e.g. `municipalities/0793/layers/zoning` or `layers/shore-zones`.
    pub fn to_resource_name(&self) -> String {
        layer_resource_name(self.municipality_code.as_deref(), &self.name)
    }

    /// Reads a layer's resource name; `field` names the request field for the error.
    pub fn parse(field: &str, value: &str) -> Result<Self, InputError> {
        let bad = |why: &str| {
            InputError::new(
                field,
                format!(
                    "'{value}' is not a layer name: {why} (expected \
                     municipalities/<EHAK code>/layers/<name> or layers/<name>)"
                ),
            )
        };
        let parts: Vec<&str> = value.split('/').collect();
        let (municipality_code, name) = match parts.as_slice() {
            ["layers", name] => (None, *name),
            ["municipalities", code, "layers", name] => {
                if code.len() != 4 || !code.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad("the municipality's EHAK code has 4 digits"));
                }
                (Some((*code).to_owned()), *name)
            }
            _ => return Err(bad("unknown form")),
        };
        if !is_machine_name(name) {
            return Err(bad(
                "the layer's name must be lower-case letters, digits, '-' and '_'",
            ));
        }
        Ok(Self {
            municipality_code,
            name: name.to_owned(),
        })
    }
}

/// The longest layer machine name.
pub const MAX_NAME_LEN: usize = 200;

/// Whether `name` is a layer machine name: 1–[`MAX_NAME_LEN`] lower-case ASCII letters, digits,
/// `-` and `_`, starting with a letter or digit (the database's CHECK on `layer.name`, plus a
/// length bound). The import refuses other names, so every layer can be named by its resource
/// name.
pub fn is_machine_name(name: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    name.len() <= MAX_NAME_LEN
        && name.bytes().next().is_some_and(alnum)
        && name.bytes().all(|b| alnum(b) || b == b'-' || b == b'_')
}

/// The resource name of a layer owned by `municipality_code` (`None`: national).
pub fn layer_resource_name(municipality_code: Option<&str>, name: &str) -> String {
    match municipality_code {
        Some(code) => format!("municipalities/{code}/layers/{name}"),
        None => format!("layers/{name}"),
    }
}

/// The resource name of the feature with source id `external_id` in the layer named `layer`.
pub fn feature_resource_name(layer: &str, external_id: &str) -> String {
    let mut out = String::with_capacity(layer.len() + 10 + external_id.len());
    out.push_str(layer);
    out.push_str("/features/");
    for c in external_id.chars() {
        match c {
            '%' => out.push_str("%25"),
            '/' => out.push_str("%2F"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_names_read_back_to_their_parts() {
        let municipal = LayerName::parse("layer", "municipalities/0793/layers/zoning").unwrap();
        assert_eq!(municipal.municipality_code.as_deref(), Some("0793"));
        assert_eq!(municipal.name, "zoning");
        assert_eq!(
            municipal.to_resource_name(),
            "municipalities/0793/layers/zoning"
        );
        let national = LayerName::parse("layer", "layers/shore-zones").unwrap();
        assert_eq!(national.municipality_code, None);
        assert_eq!(national.to_resource_name(), "layers/shore-zones");
    }

    #[test]
    fn malformed_layer_names_are_refused_with_the_field() {
        for bad in [
            "",
            "layers",
            "layers/",
            "layers/Zoning",
            "layers/-zoning",
            "layers/a/b",
            "municipalities/793/layers/zoning",
            "municipalities/0793/zoning",
            "municipality/0793/layers/zoning",
            "/layers/zoning",
            "42",
        ] {
            let e = LayerName::parse("layer", bad).unwrap_err();
            assert_eq!(e.field, "layer", "{bad}");
            assert!(
                e.reason.contains("is not a layer name"),
                "{bad}: {}",
                e.reason
            );
        }
    }

    #[test]
    fn feature_names_escape_only_percent_and_slash() {
        assert_eq!(
            feature_resource_name("layers/shore-zones", "Z-17"),
            "layers/shore-zones/features/Z-17"
        );
        assert_eq!(
            feature_resource_name("municipalities/0793/layers/zoning", "a/b%c õ"),
            "municipalities/0793/layers/zoning/features/a%2Fb%25c õ"
        );
    }
}
