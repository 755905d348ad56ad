//! The public keys tokens are verified with, read from a JWKS file or a directory of them.
//!
//! A `KeySet` maps each `kid` to one public key and the one algorithm it may verify: EC P-256
//! keys verify ES256, RSA keys (≥ 2048 bits) RS256. A directory's `*.json` files are merged, so
//! rotation is "add the new key's file, later remove the old one". Symmetric (`oct`) keys, keys
//! marked for encryption, keys of other types and keys without `kid` are skipped with a warning;
//! a key that carries private parameters (`d`, `p`, …) is refused with an error — a JWKS here is
//! public material. Two keys with the same `kid`, unreadable JSON or no usable key at all fail the
//! whole load (the verifier then keeps its previous keys). Errors and logs name files and `kid`s,
//! never key material; JSON errors are reported by position only.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::{Map, Value};

/// Why a JWKS could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeySetError {
    /// The file or directory could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Not JSON (position only: the message never quotes the content).
    #[error("{path} is not valid JSON (line {line}, column {column})")]
    Json {
        path: PathBuf,
        line: usize,
        column: usize,
    },
    /// JSON, but not an object with a `keys` array.
    #[error("{path} is not a JWKS (an object with a \"keys\" array)")]
    NotAJwks { path: PathBuf },
    /// Two keys share a `kid`.
    #[error("key id {kid:?} appears twice (in {first} and {second})")]
    DuplicateKid {
        kid: String,
        first: PathBuf,
        second: PathBuf,
    },
    /// Nothing usable was found.
    #[error("no usable ES256 or RS256 signing key in {path}")]
    NoUsableKeys { path: PathBuf },
}

/// One verification key.
pub(crate) struct KeyEntry {
    pub alg: Algorithm,
    pub key: DecodingKey,
    pub source: PathBuf,
}

/// The keys by `kid`. Immutable once loaded; the verifier swaps whole sets on reload.
#[derive(Default)]
pub struct KeySet {
    keys: BTreeMap<String, KeyEntry>,
}

impl fmt::Debug for KeySet {
    /// The key ids and algorithms only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.keys.iter().map(|(kid, e)| (kid, e.alg)))
            .finish()
    }
}

const PRIVATE_PARAMETERS: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "k"];

impl KeySet {
    /// Loads `path`: a JWKS file, or a directory whose `*.json` files are all JWKS (merged).
    pub fn load(path: &Path) -> Result<KeySet, KeySetError> {
        let io = |source| KeySetError::Io {
            path: path.to_owned(),
            source,
        };
        let mut set = KeySet::default();
        if path.is_dir() {
            for file in jwks_files(path).map_err(io)? {
                set.add_file(&file)?;
            }
        } else {
            set.add_file(path)?;
        }
        if set.keys.is_empty() {
            return Err(KeySetError::NoUsableKeys {
                path: path.to_owned(),
            });
        }
        Ok(set)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when there are no keys.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key ids, sorted.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }

    pub(crate) fn get(&self, kid: &str) -> Option<&KeyEntry> {
        self.keys.get(kid)
    }

    fn add_file(&mut self, file: &Path) -> Result<(), KeySetError> {
        let text = std::fs::read_to_string(file).map_err(|source| KeySetError::Io {
            path: file.to_owned(),
            source,
        })?;
        let doc: Value = serde_json::from_str(&text).map_err(|e| KeySetError::Json {
            path: file.to_owned(),
            line: e.line(),
            column: e.column(),
        })?;
        let Some(keys) = doc.get("keys").and_then(Value::as_array) else {
            return Err(KeySetError::NotAJwks {
                path: file.to_owned(),
            });
        };
        for jwk in keys {
            let Some(jwk) = jwk.as_object() else {
                tracing::warn!(file = %file.display(), "JWKS entry is not an object; skipped");
                continue;
            };
            let kid = jwk.get("kid").and_then(Value::as_str).unwrap_or("");
            match parse_key(jwk) {
                Ok((alg, key)) => {
                    if let Some(first) = self.keys.get(kid) {
                        return Err(KeySetError::DuplicateKid {
                            kid: kid.to_owned(),
                            first: first.source.clone(),
                            second: file.to_owned(),
                        });
                    }
                    let source = file.to_owned();
                    self.keys
                        .insert(kid.to_owned(), KeyEntry { alg, key, source });
                }
                Err(Skip::Private) => tracing::error!(
                    file = %file.display(), kid,
                    "JWKS entry contains private key parameters; refused (publish public keys only)"
                ),
                Err(Skip::Unusable(why)) => {
                    tracing::warn!(file = %file.display(), kid, why, "JWKS entry skipped")
                }
            }
        }
        Ok(())
    }
}

/// The `*.json` files of a directory, sorted by name.
pub(crate) fn jwks_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "json") && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

enum Skip {
    Private,
    Unusable(&'static str),
}

fn parse_key(jwk: &Map<String, Value>) -> Result<(Algorithm, DecodingKey), Skip> {
    let text = |name: &str| jwk.get(name).and_then(Value::as_str);
    if PRIVATE_PARAMETERS.iter().any(|p| jwk.contains_key(*p)) {
        return Err(Skip::Private);
    }
    if text("kid").is_none_or(str::is_empty) {
        return Err(Skip::Unusable("no kid"));
    }
    if text("use").is_some_and(|u| u != "sig") {
        return Err(Skip::Unusable("not a signing key (use)"));
    }
    let declared = text("alg");
    match text("kty") {
        Some("EC") => {
            if text("crv") != Some("P-256") {
                return Err(Skip::Unusable("EC key not on P-256"));
            }
            if declared.is_some_and(|a| a != "ES256") {
                return Err(Skip::Unusable("EC key with an alg other than ES256"));
            }
            let (Some(x), Some(y)) = (text("x"), text("y")) else {
                return Err(Skip::Unusable("EC key without x and y"));
            };
            let coordinate_ok = |c: &str| URL_SAFE_NO_PAD.decode(c).is_ok_and(|b| b.len() == 32);
            if !coordinate_ok(x) || !coordinate_ok(y) {
                return Err(Skip::Unusable("EC coordinates are not 32-byte base64url"));
            }
            let key = DecodingKey::from_ec_components(x, y)
                .map_err(|_| Skip::Unusable("EC key is not a valid P-256 point"))?;
            Ok((Algorithm::ES256, key))
        }
        Some("RSA") => {
            if declared.is_some_and(|a| a != "RS256") {
                return Err(Skip::Unusable("RSA key with an alg other than RS256"));
            }
            let (Some(n), Some(e)) = (text("n"), text("e")) else {
                return Err(Skip::Unusable("RSA key without n and e"));
            };
            let modulus = URL_SAFE_NO_PAD
                .decode(n)
                .map_err(|_| Skip::Unusable("RSA modulus is not base64url"))?;
            let bits = modulus.iter().position(|b| *b != 0).map_or(0, |i| {
                (modulus.len() - i) * 8 - modulus[i].leading_zeros() as usize
            });
            if bits < 2048 {
                return Err(Skip::Unusable("RSA key shorter than 2048 bits"));
            }
            let key = DecodingKey::from_rsa_components(n, e)
                .map_err(|_| Skip::Unusable("RSA key components invalid"))?;
            Ok((Algorithm::RS256, key))
        }
        Some("oct") => Err(Skip::Unusable(
            "symmetric keys are not accepted from a JWKS",
        )),
        _ => Err(Skip::Unusable("unsupported key type")),
    }
}
