//! kovgis-auth: who is calling.
//!
//! Bearer JWTs signed with asymmetric keys (ES256, RS256) published in a JWKS file or directory —
//! the same way a real OpenID Connect issuer (TARA, a municipality's own IdP) publishes them —
//! are verified by a `Verifier` (issuer, audience, expiry and not-before with a bounded leeway;
//! verified tokens cached; keys reloaded without a restart) and turned into an immutable
//! `Arc<Identity>`. `AuthLayer` applies this to every gRPC call except health and reflection and
//! fails closed. `DevKey` and `Claims` mint development and test tokens.
//!
//! With mutual TLS configured, machine identities also need a client certificate their token is
//! bound to (`mtls`, RFC 8705).
//!
//! What an identity may do is not decided here: that is the server's RPC × role/scope table.
//! Nothing in this crate logs or formats a token, a claim's personal code or key material.

mod cache;
mod claims;
mod config;
mod dev_key;
mod error;
mod identity;
mod keyset;
mod layer;
pub mod mtls;
mod personal_code;
mod reloader;
#[cfg(feature = "testing")]
pub mod testing;
mod verifier;

pub use claims::is_valid_municipality_code;
pub use config::{AuthConfig, ConfigError, DevelopmentSecret, MAX_LEEWAY, MIN_HS256_SECRET_BYTES};
pub use dev_key::{
    Claims, DEV_AUDIENCE, DEV_ISSUER, DEV_JWKS_DIR, DEV_JWKS_FILE, DEV_KEY_FILE, DevKey,
    DevKeyError, DevKeyFiles, mint_hs256, mint_unsigned, unix_now,
};
pub use error::AuthError;
pub use identity::{Identity, IdentityKind, Role};
pub use keyset::{KeySet, KeySetError};
pub use layer::{
    AuthLayer, AuthService, DEFAULT_OPEN_PREFIXES, bearer_token, identity, request_identity,
};
pub use personal_code::is_valid_personal_code;
pub use verifier::{Clock, MAX_TOKEN_BYTES, Verifier, VerifierStats, system_clock};
