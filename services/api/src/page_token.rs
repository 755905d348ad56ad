//! Page tokens: opaque, versioned, signed continuation points of the List RPCs.
//!
//! A token carries where the next page starts (the cursor: the last key the caller saw) and a
//! digest of the request's filter, and is signed with HMAC-SHA256 under a key every instance of
//! the service shares (`--page-token-key`), so any instance behind a load balancer can continue
//! a listing another one began. A token that was altered, was signed with another key, or comes
//! back with a different filter (another municipality, geometry, kind, …) is refused with
//! `INVALID_ARGUMENT` on `page_token`: a client never gets a page of one query spliced onto
//! another.
//!
//! The layout (hex on the wire): version byte, 16 bytes of the filter's SHA-256, the cursor, and
//! the first 16 bytes of the HMAC over all of it. Not encryption: the cursor (a cadastral code, a
//! feature id) is visible to whoever holds the token, and is nothing the caller could not see in
//! the page itself.

use std::fmt;

use hmac::{KeyInit, Mac};
use kovgis_core::InputError;
use sha2::{Digest, Sha256};

type HmacSha256 = hmac::Hmac<Sha256>;

/// The layout version written into every token; a token of another version is refused.
const VERSION: u8 = 1;
/// Bytes of the filter digest kept in the token.
const FILTER_LEN: usize = 16;
/// Bytes of the HMAC tag kept in the token (128 bits: forging one is 2⁻¹²⁸ a try).
const TAG_LEN: usize = 16;
/// The shortest key accepted: 128 bits.
pub const MIN_KEY_LEN: usize = 16;

/// The key page tokens are signed with. Debug output never shows it.
#[derive(Clone)]
pub struct PageTokenKey(Vec<u8>);

impl fmt::Debug for PageTokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PageTokenKey(…)")
    }
}

impl PageTokenKey {
    /// A configured key: at least [`MIN_KEY_LEN`] bytes of secret text, the same on every
    /// instance.
    pub fn new(secret: &[u8]) -> Result<Self, String> {
        if secret.len() < MIN_KEY_LEN {
            return Err(format!(
                "the page-token key must be at least {MIN_KEY_LEN} bytes (got {})",
                secret.len()
            ));
        }
        Ok(Self(secret.to_vec()))
    }

    /// A random key for one process: its tokens are honoured by this process only, until it
    /// stops. For development and single-instance use.
    pub fn random() -> Self {
        let mut key = vec![0u8; 32];
        getrandom::fill(&mut key).expect("the operating system's random source failed");
        Self(key)
    }

    fn mac(&self, body: &[u8]) -> [u8; TAG_LEN] {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(body);
        let full = mac.finalize().into_bytes();
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&full[..TAG_LEN]);
        tag
    }

    /// The token that continues the query `filter` after `cursor`.
    pub fn seal(&self, filter: &Filter, cursor: &str) -> String {
        let mut body = Vec::with_capacity(1 + FILTER_LEN + cursor.len() + TAG_LEN);
        body.push(VERSION);
        body.extend_from_slice(&filter.0);
        body.extend_from_slice(cursor.as_bytes());
        let tag = self.mac(&body);
        body.extend_from_slice(&tag);
        hex::encode(body)
    }

    /// The cursor of `token` for the query `filter`: `None` for an empty token (the first page),
    /// an [`InputError`] on `page_token` for anything not sealed by this key for this filter.
    pub fn open(&self, filter: &Filter, token: &str) -> Result<Option<String>, InputError> {
        if token.is_empty() {
            return Ok(None);
        }
        let refused = |why: &str| InputError::new("page_token", why);
        let not_ours = || {
            refused(
                "not a page token of this service (altered, truncated, or signed with another \
                 key); start again without a page_token",
            )
        };
        let bytes = hex::decode(token).map_err(|_| not_ours())?;
        if bytes.len() < 1 + FILTER_LEN + TAG_LEN {
            return Err(not_ours());
        }
        let (body, tag) = bytes.split_at(bytes.len() - TAG_LEN);
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(body);
        mac.verify_truncated_left(tag).map_err(|_| not_ours())?;
        if body[0] != VERSION {
            return Err(refused(
                "a page token of another version of the service; start again without a page_token",
            ));
        }
        if body[1..1 + FILTER_LEN] != filter.0 {
            return Err(refused(
                "the page token was issued for a different request (the filter changed); send \
                 the same filter as for the first page, or start again without a page_token",
            ));
        }
        let cursor = std::str::from_utf8(&body[1 + FILTER_LEN..]).map_err(|_| not_ours())?;
        Ok(Some(cursor.to_owned()))
    }
}

/// The digest of what a listing is over: the RPC and every request field that selects rows
/// (not the page size or output options, which may change between pages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter([u8; FILTER_LEN]);

impl Filter {
    /// Starts the digest of one RPC's filter.
    pub fn builder(rpc: &str) -> FilterBuilder {
        let mut b = FilterBuilder(Sha256::new());
        b.part(rpc.as_bytes());
        b
    }
}

/// Adds the filter's fields one by one; each part is length-prefixed, so `("ab", "c")` and
/// `("a", "bc")` differ.
pub struct FilterBuilder(Sha256);

impl fmt::Debug for FilterBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FilterBuilder")
    }
}

impl FilterBuilder {
    pub fn part(&mut self, bytes: &[u8]) -> &mut Self {
        self.0.update((bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
        self
    }

    pub fn finish(&self) -> Filter {
        let full = self.0.clone().finalize();
        let mut out = [0u8; FILTER_LEN];
        out.copy_from_slice(&full[..FILTER_LEN]);
        Filter(out)
    }
}

/// The page size a request gets: `requested` clamped to `1..=max`, `default` when 0.
pub fn page_size(requested: u32, default: u32, max: u32) -> u32 {
    match requested {
        0 => default.min(max),
        n => n.min(max),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str) -> PageTokenKey {
        PageTokenKey::new(k.as_bytes()).unwrap()
    }

    fn filter(municipality: &str) -> Filter {
        Filter::builder("FindParcels")
            .part(municipality.as_bytes())
            .finish()
    }

    #[test]
    fn a_sealed_token_opens_to_its_cursor_for_the_same_filter() {
        let k = key("sixteen bytes at least");
        let t = k.seal(&filter("0793"), "78401:101:0238");
        assert_eq!(
            k.open(&filter("0793"), &t).unwrap().as_deref(),
            Some("78401:101:0238")
        );
        assert_eq!(k.open(&filter("0793"), "").unwrap(), None);
        // Another instance with the same configured key continues the listing.
        assert_eq!(
            key("sixteen bytes at least")
                .open(&filter("0793"), &t)
                .unwrap()
                .as_deref(),
            Some("78401:101:0238")
        );
    }

    #[test]
    fn altered_truncated_foreign_and_garbage_tokens_are_refused() {
        let k = key("sixteen bytes at least");
        let f = filter("0793");
        let t = k.seal(&f, "78401:101:0238");
        // Every single hex digit changed gives a refused token.
        for i in 0..t.len() {
            let mut b = t.clone().into_bytes();
            b[i] = if b[i] == b'0' { b'1' } else { b'0' };
            let altered = String::from_utf8(b).unwrap();
            let e = k.open(&f, &altered).unwrap_err();
            assert_eq!(e.field, "page_token", "digit {i}");
        }
        assert!(k.open(&f, &t[..t.len() - 2]).is_err());
        assert!(key("another key of 16+ bytes").open(&f, &t).is_err());
        for garbage in ["zz", "00", "0", "hello"] {
            assert_eq!(k.open(&f, garbage).unwrap_err().field, "page_token");
        }
    }

    #[test]
    fn a_token_reused_with_another_filter_is_refused_as_such() {
        let k = key("sixteen bytes at least");
        let t = k.seal(&filter("0793"), "78401:101:0238");
        let e = k.open(&filter("0784"), &t).unwrap_err();
        assert_eq!(e.field, "page_token");
        assert!(e.reason.contains("different request"), "{}", e.reason);
        // Another RPC with the same fields is another filter too.
        let other_rpc = Filter::builder("ListLayers").part(b"0793").finish();
        assert!(k.open(&other_rpc, &t).is_err());
    }

    #[test]
    fn filter_parts_are_length_prefixed() {
        let a = Filter::builder("X").part(b"ab").part(b"c").finish();
        let b = Filter::builder("X").part(b"a").part(b"bc").finish();
        assert_ne!(a, b);
    }

    #[test]
    fn short_keys_are_refused() {
        assert!(PageTokenKey::new(b"too short").is_err());
        assert!(PageTokenKey::new(&[7u8; MIN_KEY_LEN]).is_ok());
    }

    #[test]
    fn page_sizes_are_clamped_not_refused() {
        assert_eq!(page_size(0, 100, 1000), 100);
        assert_eq!(page_size(5, 100, 1000), 5);
        assert_eq!(page_size(1_000_000, 100, 1000), 1000);
        assert_eq!(page_size(0, 5000, 1000), 1000);
    }
}
