//! The verifier end to end with development keys: every refusal reason, ES256 acceptance, the
//! leeway bounds, HS256 only in development mode, the cache and the claim mapping.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use kovgis_auth::testing::{BadToken, TEST_HS256_SECRET, TestAuth};
use kovgis_auth::{AuthError, IdentityKind, Role, Verifier, mint_hs256, mint_unsigned, unix_now};

#[test]
fn a_valid_es256_token_gives_its_identity() {
    let auth = TestAuth::new();
    let v = auth.verifier();
    let mut claims = auth.person("EE37605030299", "0793", &[Role::Official, Role::Approver]);
    claims.token_id = Some("jti-1".into());
    let id = v.verify(&auth.token(&claims)).unwrap();
    assert_eq!(id.subject, "EE37605030299");
    assert_eq!(id.municipality.as_deref(), Some("0793"));
    assert_eq!(
        id.roles.iter().copied().collect::<Vec<_>>(),
        [Role::Official, Role::Approver]
    );
    assert_eq!(id.personal_code.as_deref(), Some("37605030299"));
    assert_eq!(id.kind, IdentityKind::Person);
    assert_eq!(Some(id.expires_at), claims.expires_at);
    assert_eq!(id.token_id.as_deref(), Some("jti-1"));

    let machine = auth.machine(
        "plank-adapter",
        &["kovgis:read:all", "authority:Keskkonnaamet"],
    );
    let id = v.verify(&auth.token(&machine)).unwrap();
    assert_eq!(id.kind, IdentityKind::Machine);
    assert!(id.has_scope("kovgis:read:all"));
    assert_eq!(id.authorities().collect::<Vec<_>>(), ["Keskkonnaamet"]);
}

#[test]
fn every_bad_token_is_refused_with_its_reason() {
    let auth = TestAuth::new();
    let v = auth.verifier();
    let claims = auth.person("official", "0793", &[Role::Official]);
    for bad in BadToken::ALL {
        let token = auth.bad_token(bad, &claims);
        let err = v.verify(&token).unwrap_err();
        assert_eq!(err.reason(), bad.reason(), "{bad:?}");
    }
    assert_eq!(v.verify(""), Err(AuthError::Missing));
    // The same claims, well signed, pass: the refusals above are due to the one defect each.
    assert!(v.verify(&auth.token(&claims)).is_ok());
}

#[test]
fn missing_or_malformed_registered_claims_are_refused() {
    let auth = TestAuth::new();
    let v = auth.verifier();
    let mut c = auth.claims("x");
    c.expires_at = None;
    assert_eq!(
        v.verify(&auth.token(&c)),
        Err(AuthError::MissingClaim("exp"))
    );
    let mut c = auth.claims("x");
    c.extra
        .insert("aud".into(), serde_json::json!(["other", "kovgis"]));
    assert!(
        v.verify(&auth.token(&c)).is_ok(),
        "aud array containing ours"
    );
    c.extra.insert("aud".into(), serde_json::json!(["other"]));
    assert_eq!(v.verify(&auth.token(&c)), Err(AuthError::WrongAudience));
    let c = auth.claims("x").municipality("793");
    assert_eq!(
        v.verify(&auth.token(&c)),
        Err(AuthError::InvalidClaim("municipality"))
    );
    let mut c = auth.claims("x");
    c.extra.insert("exp".into(), serde_json::json!("soon"));
    assert_eq!(
        v.verify(&auth.token(&c)).unwrap_err().reason(),
        "invalid_claim"
    );
    let token = auth.token(&auth.claims("x"));
    let (head, _) = token.rsplit_once('.').unwrap();
    assert_eq!(
        v.verify(&format!("{head}.AAAA")),
        Err(AuthError::BadSignature)
    );
    assert_eq!(v.verify(&format!("{token}.x")), Err(AuthError::Malformed));
    assert_eq!(
        v.verify(&"a".repeat(kovgis_auth::MAX_TOKEN_BYTES + 1)),
        Err(AuthError::Malformed)
    );
}

#[test]
fn a_token_without_kid_is_refused() {
    let auth = TestAuth::new();
    let token = auth.key.mint_with_kid(&auth.claims("x"), None).unwrap();
    assert_eq!(auth.verifier().verify(&token), Err(AuthError::UnknownKey));
}

#[test]
fn unknown_roles_grant_nothing() {
    let auth = TestAuth::new();
    let mut c = auth.claims("x").municipality("0793");
    c.roles = vec!["superuser".into(), "Official".into(), "official".into()];
    let id = auth.verifier().verify(&auth.token(&c)).unwrap();
    assert_eq!(
        id.roles.iter().copied().collect::<Vec<_>>(),
        [Role::Official]
    );
}

#[test]
fn hs256_only_in_development_mode_and_never_against_a_public_key() {
    let auth = TestAuth::new();
    let claims = auth.claims("dev");
    let with_kid = mint_hs256(&claims, TEST_HS256_SECRET, Some(auth.key.kid())).unwrap();
    let without_kid = mint_hs256(&claims, TEST_HS256_SECRET, None).unwrap();
    let production = auth.verifier();
    assert_eq!(
        production.verify(&with_kid),
        Err(AuthError::AlgorithmNotAllowed)
    );
    assert_eq!(
        production.verify(&without_kid),
        Err(AuthError::AlgorithmNotAllowed)
    );

    let dev = Verifier::new(auth.dev_mode_config()).unwrap();
    assert_eq!(dev.verify(&without_kid).unwrap().subject, "dev");
    assert_eq!(dev.verify(&with_kid).unwrap().subject, "dev");
    let other_secret = mint_hs256(&claims, &[9; 32], None).unwrap();
    assert_eq!(dev.verify(&other_secret), Err(AuthError::BadSignature));
    // The public key's bytes as an HMAC secret: the classic confusion attack.
    let jwk_as_secret = mint_hs256(
        &claims,
        auth.key.jwks_json().as_bytes(),
        Some(auth.key.kid()),
    );
    assert!(dev.verify(&jwk_as_secret.unwrap()).is_err());
    // `alg: none` is refused in development mode too.
    assert_eq!(
        dev.verify(&mint_unsigned(&claims, None)),
        Err(AuthError::AlgorithmNotAllowed)
    );
    // ES256 still works in development mode.
    assert!(dev.verify(&auth.token(&claims)).is_ok());
}

/// A clock the test moves.
fn manual_clock(start: u64) -> (Arc<AtomicU64>, kovgis_auth::Clock) {
    let now = Arc::new(AtomicU64::new(start));
    let read = Arc::clone(&now);
    (now, Arc::new(move || read.load(Ordering::SeqCst)))
}

#[test]
fn leeway_forgives_small_skew_only() {
    let auth = TestAuth::new();
    let now = unix_now();
    let mut c = auth.claims("x");
    c.expires_at = Some(now - 10);
    let ten_s_expired = auth.token(&c);
    c.expires_at = Some(now - 60);
    let sixty_s_expired = auth.token(&c);
    let mut c = auth.claims("x");
    c.not_before = Some(now + 10);
    let ten_s_early = auth.token(&c);
    c.not_before = Some(now + 60);
    let sixty_s_early = auth.token(&c);

    let (_, clock) = manual_clock(now);
    let v = Verifier::new(auth.config.clone())
        .unwrap()
        .with_clock(clock);
    assert!(v.verify(&ten_s_expired).is_ok());
    assert_eq!(v.verify(&sixty_s_expired), Err(AuthError::Expired));
    assert!(v.verify(&ten_s_early).is_ok());
    assert_eq!(v.verify(&sixty_s_early), Err(AuthError::NotYetValid));

    let mut strict = auth.config.clone();
    strict.leeway = Duration::ZERO;
    let (_, clock) = manual_clock(now);
    let v = Verifier::new(strict).unwrap().with_clock(clock);
    assert_eq!(v.verify(&ten_s_expired), Err(AuthError::Expired));
    assert_eq!(v.verify(&ten_s_early), Err(AuthError::NotYetValid));

    let mut loose = auth.config.clone();
    loose.leeway = Duration::from_secs(301);
    assert!(matches!(
        Verifier::new(loose),
        Err(kovgis_auth::ConfigError::LeewayTooLarge(_))
    ));
}

#[test]
fn the_cache_answers_without_reverifying_until_expiry() {
    let auth = TestAuth::new();
    let now = unix_now();
    let (clock_now, clock) = manual_clock(now);
    let v = Verifier::new(auth.config.clone())
        .unwrap()
        .with_clock(clock);
    let mut c = auth.claims("cached");
    c.expires_at = Some(now + 100);
    let token = auth.token(&c);
    let first = v.verify(&token).unwrap();
    for _ in 0..50 {
        let again = v.verify(&token).unwrap();
        assert!(
            Arc::ptr_eq(&first, &again),
            "the same identity, not a re-verified copy"
        );
    }
    let stats = v.stats();
    assert_eq!(
        (
            stats.signature_checks,
            stats.cache_hits,
            stats.cached_tokens
        ),
        (1, 50, 1)
    );

    // Past expiry + leeway the cached entry no longer answers: refused, re-checked.
    clock_now.store(now + 100 + 30 + 1, Ordering::SeqCst);
    assert_eq!(v.verify(&token), Err(AuthError::Expired));
    assert_eq!(v.stats().signature_checks, 2);

    // A reload empties the cache: the next call verifies again.
    clock_now.store(now, Ordering::SeqCst);
    v.verify(&token).unwrap();
    let before = v.stats();
    v.reload().unwrap();
    assert_eq!(v.stats().cached_tokens, 0);
    assert_eq!(v.stats().key_generation, before.key_generation + 1);
    let after_reload = v.verify(&token).unwrap();
    assert!(!Arc::ptr_eq(&first, &after_reload));
    assert_eq!(v.stats().signature_checks, before.signature_checks + 1);
}

#[test]
fn refused_tokens_are_not_cached() {
    let auth = TestAuth::new();
    let v = auth.verifier();
    let token = auth.bad_token(BadToken::WrongIssuer, &auth.claims("x"));
    for _ in 0..3 {
        assert_eq!(v.verify(&token), Err(AuthError::WrongIssuer));
    }
    assert_eq!(v.stats().signature_checks, 3);
    assert_eq!(v.stats().cached_tokens, 0);
}

#[test]
fn cache_off_verifies_every_time() {
    let auth = TestAuth::new();
    let mut config = auth.config.clone();
    config.cache_entries = 0;
    let v = Verifier::new(config).unwrap();
    let token = auth.token(&auth.claims("x"));
    for _ in 0..3 {
        v.verify(&token).unwrap();
    }
    assert_eq!((v.stats().signature_checks, v.stats().cache_hits), (3, 0));
}

#[test]
fn errors_and_identities_never_show_the_token_or_key() {
    let auth = TestAuth::new();
    let v = Verifier::new(auth.dev_mode_config()).unwrap();
    let mut claims = auth.person("EE60001019906", "0793", &[Role::Applicant]);
    claims.expires_at = Some(unix_now() - 3600);
    let token = auth.token(&claims);
    let err = v.verify(&token).unwrap_err();
    claims.expires_at = Some(unix_now() + 3600);
    let good = auth.token(&claims);
    let id = v.verify(&good).unwrap();
    let key_pem = std::fs::read_to_string(auth.dir.join(kovgis_auth::DEV_KEY_FILE)).unwrap();
    let key_body: String = key_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let secret = String::from_utf8_lossy(TEST_HS256_SECRET).into_owned();
    let printed = format!(
        "{err} {err:?} {id} {id:?} {v:?} {:?} {:?}",
        auth.key, auth.config
    );
    for needle in [
        &token[..],
        &good,
        &key_body,
        &key_body[..20],
        &secret,
        "60001019906",
    ] {
        assert!(!printed.contains(needle), "found a secret in {printed}");
    }
    // Segments of the tokens (the signature, the payload) are not there either.
    for part in good.split('.') {
        assert!(!printed.contains(part), "token part in output");
    }
}
