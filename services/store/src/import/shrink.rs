//! The shrink guard: a replace import that would stage nothing, or close more than a share of
//! the target's current rows, is refused with the numbers ("would close 1 204 of 1 210
//! features") unless the caller allows it — one bad file must not empty a layer or the
//! cadastre. A dry run reports the same numbers and whether a real run would be refused.
//!
//! What counts as closed: for parcels and keyed layers, current rows whose key the source no
//! longer has (or whose new version was dropped at merge); for a layer without ids, whose rows
//! are all replaced, how many fewer features it would have. Changed rows get a new version and
//! are not counted. Not how rows are closed (see the merge modules).

use super::Import;
use super::options::{ImportMode, ImportSummary};
use crate::StoreError;

/// What a replace import closes of the current rows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shrink {
    /// Rows current before the import.
    pub current: u64,
    /// Current rows closed without a new version (see the module docs).
    pub closing: u64,
    /// Rows of the source that would be current after the import (staged and not dropped, or
    /// found unchanged).
    pub incoming: u64,
    /// The share of `current` that may close without `allow_shrink`.
    pub max_share: f64,
    /// What the rows are, for messages: "parcels" or "features".
    pub noun: &'static str,
}

impl Shrink {
    /// Nothing of the source could be imported.
    pub fn stages_nothing(&self) -> bool {
        self.incoming == 0
    }

    /// A real import is refused without `allow_shrink`.
    pub fn exceeds(&self) -> bool {
        self.stages_nothing() || self.closing as f64 > self.max_share * self.current as f64
    }

    /// The share of the current rows that would close, in percent.
    pub fn percent(&self) -> f64 {
        if self.current == 0 {
            0.0
        } else {
            100.0 * self.closing as f64 / self.current as f64
        }
    }

    /// "would close 1 204 of 1 210 features (99.5 %; …)".
    pub fn describe(&self) -> String {
        let closing = format!(
            "close {} of {} {}",
            grouped(self.closing),
            grouped(self.current),
            self.noun
        );
        if self.stages_nothing() {
            format!("would stage nothing (no row of the source could be imported) and {closing}")
        } else {
            format!(
                "would {closing} ({:.1} %; at most {} % may close without allowing it)",
                self.percent(),
                self.max_share * 100.0
            )
        }
    }
}

/// `1204` as "1 204".
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

impl Import {
    /// Records what a replace import closes, and refuses it when that is too much (a dry run
    /// is not refused: it reports). Called at merge before anything is closed; the caller's
    /// error ends the import with a rollback, which releases its lock.
    pub(super) fn guard_shrink(
        &self,
        shrink: Shrink,
        summary: &mut ImportSummary,
    ) -> Result<(), StoreError> {
        debug_assert_eq!(self.options.mode, ImportMode::Replace);
        summary.shrink = Some(shrink);
        if shrink.exceeds() && !self.options.allow_shrink && !self.options.dry_run {
            tracing::warn!(
                target = %self.target.describe(),
                current = shrink.current,
                closing = shrink.closing,
                incoming = shrink.incoming,
                "import refused: it would shrink the target"
            );
            return Err(StoreError::WouldShrink(shrink));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shrink(current: u64, closing: u64, incoming: u64) -> Shrink {
        Shrink {
            current,
            closing,
            incoming,
            max_share: 0.2,
            noun: "features",
        }
    }

    #[test]
    fn the_share_and_nothing_staged_decide() {
        assert!(!shrink(10, 2, 8).exceeds(), "20 % of 10 may close");
        assert!(shrink(10, 3, 7).exceeds());
        assert!(!shrink(0, 0, 5).exceeds(), "a new target");
        assert!(shrink(0, 0, 0).exceeds(), "nothing staged");
        assert!(shrink(3, 3, 0).exceeds());
        assert!(!shrink(1210, 0, 1210).exceeds());
    }

    #[test]
    fn messages_carry_the_numbers() {
        assert_eq!(
            shrink(1210, 1204, 6).describe(),
            "would close 1 204 of 1 210 features (99.5 %; at most 20 % may close without allowing it)"
        );
        assert_eq!(
            shrink(3, 3, 0).describe(),
            "would stage nothing (no row of the source could be imported) and close 3 of 3 features"
        );
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1 000");
        assert_eq!(grouped(775_365), "775 365");
        assert_eq!(grouped(1_234_567), "1 234 567");
    }
}
