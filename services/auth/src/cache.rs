//! The cache of verified tokens, so that a client reusing its token pays for one signature check,
//! not one per call.
//!
//! Keyed by the SHA-256 of the token (the map never holds a token); an entry answers only until
//! its token's expiry (plus the leeway) and only for the key generation it was verified under, and
//! the verifier clears the whole cache when it reloads keys. Bounded: when full, expired and stale
//! entries go first, then an arbitrary quarter of the rest (no LRU bookkeeping on the hot read
//! path, which takes only a shared lock).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use sha2::{Digest, Sha256};

use crate::identity::Identity;

/// The cache key: SHA-256 of the token.
pub(crate) type TokenHash = [u8; 32];

pub(crate) fn token_hash(token: &str) -> TokenHash {
    Sha256::digest(token.as_bytes()).into()
}

struct Entry {
    identity: Arc<Identity>,
    generation: u64,
    valid_until: u64,
}

pub(crate) struct TokenCache {
    capacity: usize,
    map: RwLock<HashMap<TokenHash, Entry>>,
}

impl TokenCache {
    pub fn new(capacity: usize) -> Self {
        TokenCache {
            capacity,
            map: RwLock::new(HashMap::new()),
        }
    }

    pub fn get(&self, key: &TokenHash, generation: u64, now: u64) -> Option<Arc<Identity>> {
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        map.get(key)
            .filter(|e| e.generation == generation && now <= e.valid_until)
            .map(|e| Arc::clone(&e.identity))
    }

    pub fn insert(
        &self,
        key: TokenHash,
        identity: Arc<Identity>,
        generation: u64,
        valid_until: u64,
        now: u64,
    ) {
        if self.capacity == 0 {
            return;
        }
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        if map.len() >= self.capacity && !map.contains_key(&key) {
            map.retain(|_, e| e.generation == generation && now <= e.valid_until);
            if map.len() >= self.capacity {
                let drop = (self.capacity / 4).max(1);
                let victims: Vec<TokenHash> = map.keys().take(drop).copied().collect();
                for k in victims {
                    map.remove(&k);
                }
            }
        }
        map.insert(
            key,
            Entry {
                identity,
                generation,
                valid_until,
            },
        );
    }

    pub fn clear(&self) {
        self.map.write().unwrap_or_else(|e| e.into_inner()).clear();
    }

    pub fn len(&self) -> usize {
        self.map.read().unwrap_or_else(|e| e.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u32) -> Arc<Identity> {
        Arc::new(Identity::system(&format!("t{n}")))
    }

    #[test]
    fn hit_until_expiry_and_only_in_its_generation() {
        let c = TokenCache::new(10);
        let k = token_hash("a.b.c");
        c.insert(k, id(1), 3, 100, 50);
        assert_eq!(c.get(&k, 3, 100).unwrap().subject, "system:t1");
        assert!(c.get(&k, 3, 101).is_none());
        assert!(c.get(&k, 4, 60).is_none());
        assert!(c.get(&token_hash("a.b.d"), 3, 60).is_none());
        c.clear();
        assert!(c.get(&k, 3, 60).is_none());
    }

    #[test]
    fn bounded_and_prefers_dropping_expired_entries() {
        let c = TokenCache::new(8);
        for n in 0..4 {
            c.insert(token_hash(&format!("old{n}")), id(n), 1, 10, 0);
        }
        for n in 0..4 {
            c.insert(token_hash(&format!("new{n}")), id(n), 1, 1000, 0);
        }
        assert_eq!(c.len(), 8);
        c.insert(token_hash("x"), id(9), 1, 1000, 20);
        assert_eq!(c.len(), 5, "the four expired entries make room");
        for n in 0..100 {
            c.insert(token_hash(&format!("more{n}")), id(n), 1, 1000, 20);
            assert!(c.len() <= 8);
        }
        let off = TokenCache::new(0);
        off.insert(token_hash("x"), id(1), 1, 1000, 0);
        assert_eq!(off.len(), 0);
    }

    #[test]
    fn key_is_the_sha256_of_the_token() {
        // `printf 'a.b.c' | sha256sum`
        let expected = "845e30448809e2bc8958eb025bfc795235d13b077a53d0c3abbd2385170dc9b8";
        let hex: String = token_hash("a.b.c")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(hex, expected);
    }
}
