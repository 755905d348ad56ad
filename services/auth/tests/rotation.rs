//! Key rotation without a restart: old and new keys both accepted while both are published, the
//! old one refused once its file is gone — by `reload()` and by the background reloader — and a
//! broken JWKS never replaces working keys.

use std::path::Path;
use std::time::{Duration, Instant};

use kovgis_auth::testing::TestAuth;
use kovgis_auth::{AuthError, DEV_JWKS_FILE, DevKey, Verifier};

fn publish(key: &DevKey, jwks_dir: &Path, file: &str) {
    let tmp = jwks_dir.join(format!("{file}.tmp"));
    std::fs::write(&tmp, key.jwks_json()).unwrap();
    std::fs::rename(tmp, jwks_dir.join(file)).unwrap();
}

#[test]
fn reload_adds_and_removes_keys_in_the_same_verifier() {
    let auth = TestAuth::new();
    let v = auth.verifier();
    let claims = auth.claims("rotating");
    let old_token = auth.token(&claims);
    let new_key = DevKey::generate().unwrap();
    let new_token = new_key.mint(&claims).unwrap();
    assert!(v.verify(&old_token).is_ok());
    assert_eq!(v.verify(&new_token), Err(AuthError::UnknownKey));

    publish(&new_key, auth.jwks_dir(), "next.json");
    assert_eq!(v.reload().unwrap(), 2);
    assert!(v.verify(&old_token).is_ok(), "old key during the overlap");
    assert!(v.verify(&new_token).is_ok(), "new key during the overlap");

    std::fs::remove_file(auth.jwks_dir().join(DEV_JWKS_FILE)).unwrap();
    assert_eq!(v.reload().unwrap(), 1);
    assert_eq!(v.verify(&old_token), Err(AuthError::UnknownKey));
    assert!(v.verify(&new_token).is_ok());
}

#[test]
fn a_broken_jwks_keeps_the_previous_keys() {
    let auth = TestAuth::new();
    let v = auth.verifier();
    let token = auth.token(&auth.claims("steady"));
    assert!(v.verify(&token).is_ok());
    let generation = v.stats().key_generation;
    std::fs::write(
        auth.jwks_dir().join("half-written.json"),
        r#"{"keys": [{"kty":"#,
    )
    .unwrap();
    assert!(v.reload().is_err());
    assert!(v.verify(&token).is_ok());
    assert_eq!(v.stats().key_generation, generation);
    std::fs::write(auth.jwks_dir().join("half-written.json"), r#"{"keys": []}"#).unwrap();
    std::fs::remove_file(auth.jwks_dir().join(DEV_JWKS_FILE)).unwrap();
    assert!(
        v.reload().is_err(),
        "no usable key left: refused, old keys kept"
    );
    assert!(v.verify(&token).is_ok());
    // A fresh verifier over that directory refuses to start.
    assert!(Verifier::new(auth.config.clone()).is_err());
}

async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_background_reloader_follows_the_directory() {
    let auth = TestAuth::new();
    let mut config = auth.config.clone();
    config.reload_interval = Duration::from_millis(100);
    let v = std::sync::Arc::new(Verifier::new(config).unwrap());
    let reloader = v.spawn_reloader();
    let claims = auth.claims("rotating");
    let old_token = auth.token(&claims);
    let new_key = DevKey::generate().unwrap();
    let new_token = new_key.mint(&claims).unwrap();
    assert!(v.verify(&old_token).is_ok());
    assert_eq!(v.verify(&new_token), Err(AuthError::UnknownKey));

    publish(&new_key, auth.jwks_dir(), "next.json");
    eventually("new key accepted", || v.verify(&new_token).is_ok()).await;
    assert!(v.verify(&old_token).is_ok());

    std::fs::write(auth.jwks_dir().join("broken.json"), "not json").unwrap();
    let generation = v.stats().key_generation;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        v.stats().key_generation,
        generation,
        "broken JWKS not applied"
    );
    assert!(v.verify(&old_token).is_ok() && v.verify(&new_token).is_ok());
    std::fs::remove_file(auth.jwks_dir().join("broken.json")).unwrap();

    std::fs::remove_file(auth.jwks_dir().join(DEV_JWKS_FILE)).unwrap();
    eventually("old key refused", || {
        v.verify(&old_token) == Err(AuthError::UnknownKey)
    })
    .await;
    assert!(v.verify(&new_token).is_ok());
    reloader.abort();
}
