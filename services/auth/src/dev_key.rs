//! Development signing keys and token minting, for `kovgis token`, the demo and tests.
//!
//! A `DevKey` is an ES256 (P-256) key pair: the private half is stored as a PKCS#8 PEM file
//! readable only by its owner (mode 0600), the public half as a one-key JWKS the verifier loads.
//! Its `kid` is the RFC 7638 thumbprint of the public key, so a key loaded back from its file has
//! the same `kid` without storing one. Production tokens come from a real identity provider; the
//! verifier treats both alike.
//!
//! Minting is deliberately able to make bad tokens too (`mint_with_kid`, `mint_hs256`,
//! `mint_unsigned`, any `Claims` field) so that tests can build every case the verifier refuses.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::SecretKey;
use p256::elliptic_curve::Generate;
use p256::elliptic_curve::sec1::ToSec1Point;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::identity::Role;

/// The issuer of development tokens.
pub const DEV_ISSUER: &str = "kovgis-dev";
/// The audience kovgis expects by default.
pub const DEV_AUDIENCE: &str = "kovgis";
/// File names `DevKey::init_dir` uses inside its directory.
pub const DEV_KEY_FILE: &str = "dev-signing-key.pem";
/// The JWKS directory inside the `init_dir` directory (point the verifier's `jwks_path` here).
pub const DEV_JWKS_DIR: &str = "jwks";
/// The development key's JWKS file inside `DEV_JWKS_DIR`.
pub const DEV_JWKS_FILE: &str = "dev.json";

/// Why a development key could not be made, read or used. Never contains key material.
#[derive(Debug, thiserror::Error)]
pub enum DevKeyError {
    #[error("cannot generate a key: the system random source failed")]
    Random,
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0} is not a PKCS#8 PEM P-256 private key")]
    NotAKey(PathBuf),
    #[error("signing failed")]
    Signing,
}

/// An ES256 key pair for development tokens.
pub struct DevKey {
    kid: String,
    pem: String,
    encoding: EncodingKey,
    x: String,
    y: String,
}

impl std::fmt::Debug for DevKey {
    /// The `kid` only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// The paths `DevKey::init_dir` produced or found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevKeyFiles {
    /// The private key (PKCS#8 PEM, mode 0600).
    pub key_file: PathBuf,
    /// The directory to give the verifier as `jwks_path`.
    pub jwks_dir: PathBuf,
    /// The development key's JWKS inside `jwks_dir`.
    pub jwks_file: PathBuf,
    /// False when the key already existed (it is never overwritten).
    pub created: bool,
}

impl DevKey {
    /// A fresh key from the operating system's random source; `kid` = its thumbprint.
    pub fn generate() -> Result<DevKey, DevKeyError> {
        let secret = SecretKey::try_generate().map_err(|_| DevKeyError::Random)?;
        Self::from_secret(&secret, None)
    }

    /// A fresh key with a chosen `kid` (tests: "another key with the same kid").
    pub fn generate_with_kid(kid: &str) -> Result<DevKey, DevKeyError> {
        let secret = SecretKey::try_generate().map_err(|_| DevKeyError::Random)?;
        Self::from_secret(&secret, Some(kid))
    }

    /// Reads a PKCS#8 PEM P-256 private key file; `kid` = its thumbprint.
    pub fn load(path: &Path) -> Result<DevKey, DevKeyError> {
        let pem = std::fs::read_to_string(path).map_err(|source| DevKeyError::Io {
            path: path.to_owned(),
            source,
        })?;
        let secret =
            SecretKey::from_pkcs8_pem(&pem).map_err(|_| DevKeyError::NotAKey(path.to_owned()))?;
        Self::from_secret(&secret, None)
    }

    fn from_secret(secret: &SecretKey, kid: Option<&str>) -> Result<DevKey, DevKeyError> {
        let pem = secret
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|_| DevKeyError::Signing)?
            .to_string();
        let encoding =
            EncodingKey::from_ec_pem(pem.as_bytes()).map_err(|_| DevKeyError::Signing)?;
        let point = secret.public_key().to_sec1_point(false);
        let (Some(x), Some(y)) = (point.x(), point.y()) else {
            return Err(DevKeyError::Signing);
        };
        let (x, y) = (URL_SAFE_NO_PAD.encode(x), URL_SAFE_NO_PAD.encode(y));
        let kid = match kid {
            Some(k) => k.to_owned(),
            None => thumbprint(&x, &y),
        };
        Ok(DevKey {
            kid,
            pem,
            encoding,
            x,
            y,
        })
    }

    /// The key id tokens carry in their header.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK (`kty` EC, `crv` P-256, `alg` ES256, `use` sig, `kid`).
    pub fn public_jwk(&self) -> Value {
        json!({"kty": "EC", "crv": "P-256", "x": self.x, "y": self.y,
               "alg": "ES256", "use": "sig", "kid": self.kid})
    }

    /// A JWKS document holding only this key's public half.
    pub fn jwks_json(&self) -> String {
        serde_json::to_string_pretty(&json!({"keys": [self.public_jwk()]})).unwrap_or_default()
    }

    /// Writes the private key (new file only, mode 0600) and the JWKS (replaced if present).
    pub fn save(&self, key_file: &Path, jwks_file: &Path) -> Result<(), DevKeyError> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| DevKeyError::Io { path, source }
        };
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(key_file).map_err(io(key_file))?;
        file.write_all(self.pem.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(io(key_file))?;
        self.write_jwks(jwks_file)
    }

    fn write_jwks(&self, jwks_file: &Path) -> Result<(), DevKeyError> {
        let tmp = jwks_file.with_extension("json.tmp");
        std::fs::write(&tmp, self.jwks_json())
            .and_then(|()| std::fs::rename(&tmp, jwks_file))
            .map_err(|source| DevKeyError::Io {
                path: jwks_file.to_owned(),
                source,
            })
    }

    /// Creates `<dir>/dev-signing-key.pem` and `<dir>/jwks/dev.json` unless the key exists; an
    /// existing key is loaded, never overwritten (its JWKS is rewritten if missing).
    pub fn init_dir(dir: &Path) -> Result<(DevKey, DevKeyFiles), DevKeyError> {
        let jwks_dir = dir.join(DEV_JWKS_DIR);
        std::fs::create_dir_all(&jwks_dir).map_err(|source| DevKeyError::Io {
            path: jwks_dir.clone(),
            source,
        })?;
        let mut files = DevKeyFiles {
            key_file: dir.join(DEV_KEY_FILE),
            jwks_file: jwks_dir.join(DEV_JWKS_FILE),
            jwks_dir,
            created: false,
        };
        if files.key_file.exists() {
            let key = DevKey::load(&files.key_file)?;
            if !files.jwks_file.exists() {
                key.write_jwks(&files.jwks_file)?;
            }
            return Ok((key, files));
        }
        let key = DevKey::generate()?;
        key.save(&files.key_file, &files.jwks_file)?;
        files.created = true;
        Ok((key, files))
    }

    /// Signs `claims` with this key (ES256, this key's `kid`).
    pub fn mint(&self, claims: &Claims) -> Result<String, DevKeyError> {
        self.mint_with_kid(claims, Some(&self.kid))
    }

    /// Signs with this key but puts `kid` in the header instead (None: no `kid` at all).
    pub fn mint_with_kid(&self, claims: &Claims, kid: Option<&str>) -> Result<String, DevKeyError> {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = kid.map(str::to_owned);
        jsonwebtoken::encode(&header, &claims.to_json(), &self.encoding)
            .map_err(|_| DevKeyError::Signing)
    }
}

/// An HS256 token signed with `secret` (development mode, or the algorithm-confusion test).
pub fn mint_hs256(
    claims: &Claims,
    secret: &[u8],
    kid: Option<&str>,
) -> Result<String, DevKeyError> {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = kid.map(str::to_owned);
    let key = EncodingKey::from_secret(secret).map_err(|_| DevKeyError::Signing)?;
    jsonwebtoken::encode(&header, &claims.to_json(), &key).map_err(|_| DevKeyError::Signing)
}

/// An unsigned token, header `{"alg":"none"}` (and `kid` if given), empty signature part.
pub fn mint_unsigned(claims: &Claims, kid: Option<&str>) -> String {
    let mut header = json!({"alg": "none", "typ": "JWT"});
    if let Some(kid) = kid {
        header["kid"] = json!(kid);
    }
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_json().to_string())
    )
}

/// RFC 7638 thumbprint of a P-256 public key.
fn thumbprint(x: &str, y: &str) -> String {
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// The claims of a token to mint. Every field is public so tests can make any token.
#[derive(Debug, Clone, PartialEq)]
pub struct Claims {
    /// `sub`.
    pub subject: String,
    /// `iss`.
    pub issuer: String,
    /// `aud` (one audience).
    pub audience: String,
    /// `municipality` (EHAK code).
    pub municipality: Option<String>,
    /// `roles` (strings, so unknown names can be minted too).
    pub roles: Vec<String>,
    /// `scope` (joined with spaces).
    pub scopes: Vec<String>,
    /// `personal_code`.
    pub personal_code: Option<String>,
    /// `iat`.
    pub issued_at: u64,
    /// `exp` (None leaves it out).
    pub expires_at: Option<u64>,
    /// `nbf` (None leaves it out).
    pub not_before: Option<u64>,
    /// `jti`.
    pub token_id: Option<String>,
    /// Any further claims; they override the fields above.
    pub extra: Map<String, Value>,
}

impl Claims {
    /// Claims issued now, valid for `lifetime`, with no municipality, roles or scopes.
    pub fn new(
        subject: impl Into<String>,
        issuer: impl Into<String>,
        audience: impl Into<String>,
        lifetime: Duration,
    ) -> Claims {
        let now = unix_now();
        Claims {
            subject: subject.into(),
            issuer: issuer.into(),
            audience: audience.into(),
            municipality: None,
            roles: Vec::new(),
            scopes: Vec::new(),
            personal_code: None,
            issued_at: now,
            expires_at: Some(now.saturating_add(lifetime.as_secs())),
            not_before: None,
            token_id: None,
            extra: Map::new(),
        }
    }

    /// Development claims: issuer `DEV_ISSUER`, audience `DEV_AUDIENCE`.
    pub fn dev(subject: impl Into<String>, lifetime: Duration) -> Claims {
        Claims::new(subject, DEV_ISSUER, DEV_AUDIENCE, lifetime)
    }

    /// Sets the municipality.
    pub fn municipality(mut self, code: impl Into<String>) -> Claims {
        self.municipality = Some(code.into());
        self
    }

    /// Adds a role.
    pub fn role(mut self, role: Role) -> Claims {
        self.roles.push(role.claim_name().to_owned());
        self
    }

    /// Adds a scope.
    pub fn scope(mut self, scope: impl Into<String>) -> Claims {
        self.scopes.push(scope.into());
        self
    }

    /// The JSON claims set.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("sub".into(), json!(self.subject));
        m.insert("iss".into(), json!(self.issuer));
        m.insert("aud".into(), json!(self.audience));
        m.insert("iat".into(), json!(self.issued_at));
        if let Some(exp) = self.expires_at {
            m.insert("exp".into(), json!(exp));
        }
        if let Some(nbf) = self.not_before {
            m.insert("nbf".into(), json!(nbf));
        }
        if let Some(code) = &self.municipality {
            m.insert("municipality".into(), json!(code));
        }
        if !self.roles.is_empty() {
            m.insert("roles".into(), json!(self.roles));
        }
        if !self.scopes.is_empty() {
            m.insert("scope".into(), json!(self.scopes.join(" ")));
        }
        if let Some(code) = &self.personal_code {
            m.insert("personal_code".into(), json!(code));
        }
        if let Some(jti) = &self.token_id {
            m.insert("jti".into(), json!(jti));
        }
        for (k, v) in &self.extra {
            m.insert(k.clone(), v.clone());
        }
        Value::Object(m)
    }
}

/// Now, in unix seconds.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
