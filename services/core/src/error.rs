//! The error type for bad client input.
//!
//! An [`InputError`] names the offending field relative to the message the caller is checking
//! (e.g. `geojson`, `epsg`), so the service can prefix its own path (`intersects.geojson`) and
//! hand the client a precise `INVALID_ARGUMENT` field violation. Its [`code`](InputError::code)
//! says what kind of problem it is, as the API's machine-readable error reason
//! (`INVALID_ARGUMENT`, `INVALID_GEOMETRY`, `INVALID_PAGE_TOKEN`).

use std::fmt;

/// Input that kovgis refuses, with the field it concerns and a reason a person can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    /// Field path relative to the checked message, dot-separated; empty for the message itself.
    pub field: String,
    /// Why the value is refused, in a sentence.
    pub reason: String,
    /// The kind of problem, upper snake case: [`Self::INVALID_ARGUMENT`] unless said otherwise.
    pub code: &'static str,
}

impl InputError {
    /// A missing, malformed or out-of-range field.
    pub const INVALID_ARGUMENT: &'static str = "INVALID_ARGUMENT";
    /// A geometry that cannot be read or is not acceptable (invalid, empty, too large, outside
    /// Estonia, swapped axes, unknown CRS).
    pub const INVALID_GEOMETRY: &'static str = "INVALID_GEOMETRY";
    /// A page token that was altered, signed with another key, or sent with another filter.
    pub const INVALID_PAGE_TOKEN: &'static str = "INVALID_PAGE_TOKEN";

    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
            code: Self::INVALID_ARGUMENT,
        }
    }

    /// The same error with another [`code`](Self::code).
    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = code;
        self
    }

    /// The same error with `prefix` put in front of its field path.
    pub fn within(mut self, prefix: &str) -> Self {
        self.field = match (prefix.is_empty(), self.field.is_empty()) {
            (true, _) => self.field,
            (false, true) => prefix.to_owned(),
            (false, false) => format!("{prefix}.{}", self.field),
        };
        self
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.reason)
        } else {
            write!(f, "{}: {}", self.field, self.reason)
        }
    }
}

impl std::error::Error for InputError {}
