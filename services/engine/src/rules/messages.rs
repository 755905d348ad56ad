//! The language of the messages, and how a message is chosen in it: every finding's text is
//! written in Estonian and in English side by side where the rule builds it ([`t!`]), and only
//! the one in the proposal's locale is formatted.
//!
//! Not a translation catalogue: the texts stay with the rule that says them, so that a rule's
//! logic and its wording are read together. Numbers in messages go through
//! [`super::number::Dec`].

/// Language of the messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Locale {
    #[default]
    Et,
    En,
}

/// The message in the locale: only that one is formatted.
macro_rules! t {
    ($locale:expr, $et:expr, $en:expr $(,)?) => {
        match $locale {
            $crate::rules::Locale::Et => $et,
            $crate::rules::Locale::En => $en,
        }
    };
}

pub(crate) use t;
