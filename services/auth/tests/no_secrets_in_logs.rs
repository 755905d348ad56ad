//! Secrets never reach the logs: with every log level on, verify good and bad tokens through the
//! layer, reload broken and private-key JWKS files, run in HS256 development mode — then search
//! everything logged for the tokens, the private key, the HS256 secret and the personal code.
//! (Its own test binary: it installs the global log subscriber.)

use std::io::Write;
use std::sync::{Arc, Mutex};

use http::{Request, Response};
use kovgis_auth::testing::{BadToken, TEST_HS256_SECRET, TestAuth};
use kovgis_auth::{AuthLayer, Role, Verifier, mint_hs256};
use tower::{Layer, ServiceExt, service_fn};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn nothing_secret_is_logged() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .init();

    let auth = TestAuth::new();
    let verifier = Arc::new(Verifier::new(auth.dev_mode_config()).unwrap());
    let layer = AuthLayer::new(Arc::clone(&verifier));
    let inner = service_fn(|_: Request<()>| async {
        Ok::<_, std::convert::Infallible>(Response::new(String::new()))
    });

    let mut claims = auth.person("EE60001019906", "0793", &[Role::Applicant]);
    claims.roles.push("superuser".into());
    let mut tokens = vec![
        auth.token(&claims),
        mint_hs256(&claims, TEST_HS256_SECRET, None).unwrap(),
    ];
    tokens.extend(BadToken::ALL.iter().map(|b| auth.bad_token(*b, &claims)));
    for token in &tokens {
        let request = Request::builder()
            .uri("http://x/kovgis.v1.SpatialService/QueryFeatures")
            .header("authorization", format!("Bearer {token}"))
            .body(())
            .unwrap();
        layer.layer(inner).oneshot(request).await.unwrap();
    }
    let key_pem = std::fs::read_to_string(auth.dir.join(kovgis_auth::DEV_KEY_FILE)).unwrap();
    // A JWKS that (wrongly) carries the private key, and a broken one.
    let mut private = auth.key.public_jwk();
    private["d"] = serde_json::json!("cHJpdmF0ZS1zY2FsYXI");
    std::fs::write(
        auth.jwks_dir().join("leaky.json"),
        serde_json::json!({"keys": [private]}).to_string(),
    )
    .unwrap();
    verifier.reload().unwrap();
    std::fs::write(
        auth.jwks_dir().join("broken.json"),
        format!("{{\"keys\": [{key_pem}").as_bytes(),
    )
    .unwrap();
    assert!(verifier.reload().is_err());

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    // The logging did happen (so the search below searched something).
    for expected in [
        "call refused",
        "expired",
        "unknown role",
        "private key parameters",
        "not reloaded",
        "HS256 development mode",
    ] {
        assert!(
            logs.contains(expected),
            "expected {expected:?} in the logs:\n{logs}"
        );
    }
    let key_body: String = key_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let mut secrets: Vec<String> = vec![
        key_body.clone(),
        key_body[..16].to_owned(),
        "cHJpdmF0ZS1zY2FsYXI".into(),
        String::from_utf8_lossy(TEST_HS256_SECRET).into_owned(),
        "60001019906".into(),
    ];
    for token in &tokens {
        secrets.push(token.clone());
        secrets.extend(token.split('.').filter(|p| p.len() > 8).map(str::to_owned));
    }
    for secret in &secrets {
        assert!(
            !logs.contains(secret.as_str()),
            "a secret is in the logs:\n{logs}"
        );
    }
}
