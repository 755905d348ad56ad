//! Mutual TLS for machine clients, through a real TLS connection to a real server: the
//! certificates are made by the `openssl` command (a CA, the server, two clients of that CA and
//! one of a stranger's CA), and the RFC 8705 thumbprints the tokens are bound to are worked out
//! by `openssl` too — not by the code under test.
//!
//! Certificate and token are both required for a machine: the bound token with its certificate
//! passes; with the other client's certificate, without one, or unbound it is UNAUTHENTICATED
//! with the reason; a certificate without a token grants nothing; a stranger's certificate does
//! not get through TLS. People's tokens need no certificate, and health stays open.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Client, TestServer, database_url, v1};
use kovgis_auth::Role;
use kovgis_auth::testing::TestAuth;
use kovgis_store::{Store, StoreConfig};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

fn openssl(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A key and a certificate for `name` signed by the CA `ca` (files `<name>.key`, `<name>.pem`).
fn issue(dir: &Path, ca: &str, name: &str, extensions: &str) {
    std::fs::write(dir.join(format!("{name}.ext")), extensions).unwrap();
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
            "-subj",
            &format!("/CN={name}"),
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            &format!("{ca}.pem"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &format!("{name}.ext"),
            "-out",
            &format!("{name}.pem"),
        ],
    );
}

fn ca(dir: &Path, name: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
            "-days",
            "2",
            "-subj",
            &format!("/CN={name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
}

/// RFC 8705 `x5t#S256` of a PEM certificate, by openssl: SHA-256 of the DER, base64url, no
/// padding.
fn thumbprint(dir: &Path, name: &str) -> String {
    let der = openssl(
        dir,
        &["x509", "-in", &format!("{name}.pem"), "-outform", "DER"],
    );
    std::fs::write(dir.join(format!("{name}.der")), der).unwrap();
    let digest = openssl(dir, &["dgst", "-sha256", "-binary", &format!("{name}.der")]);
    std::fs::write(dir.join(format!("{name}.sha256")), digest).unwrap();
    let b64 = openssl(dir, &["base64", "-A", "-in", &format!("{name}.sha256")]);
    String::from_utf8(b64)
        .unwrap()
        .trim()
        .trim_end_matches('=')
        .replace('+', "-")
        .replace('/', "_")
}

struct Pki {
    dir: PathBuf,
}

impl Pki {
    fn new() -> Pki {
        let dir = std::env::temp_dir().join(format!("kovgis-mtls-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        ca(&dir, "ca");
        ca(&dir, "stranger-ca");
        issue(
            &dir,
            "ca",
            "server",
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        );
        for client in ["ehr-adapter", "other-machine"] {
            issue(&dir, "ca", client, "extendedKeyUsage=clientAuth\n");
        }
        issue(
            &dir,
            "stranger-ca",
            "stranger",
            "extendedKeyUsage=clientAuth\n",
        );
        Pki { dir }
    }

    fn read(&self, file: &str) -> Vec<u8> {
        std::fs::read(self.dir.join(file)).unwrap()
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A TLS connection trusting the test CA, presenting `client`'s certificate if given.
async fn connect(
    pki: &Pki,
    addr: std::net::SocketAddr,
    client: Option<&str>,
) -> Result<Channel, tonic::transport::Error> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(pki.read("ca.pem")))
        .domain_name("localhost");
    if let Some(name) = client {
        tls = tls.identity(Identity::from_pem(
            pki.read(&format!("{name}.pem")),
            pki.read(&format!("{name}.key")),
        ));
    }
    Endpoint::from_shared(format!("https://{addr}"))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
}

async fn call(channel: Channel, token: Option<&str>) -> Result<(), tonic::Status> {
    let mut client: Client = TestServer::client_on(channel, token);
    client
        .list_municipalities(v1::ListMunicipalitiesRequest::default())
        .await
        .map(|_| ())
}

fn assert_unauthenticated(result: Result<(), tonic::Status>, reason: &str) {
    let status = result.expect_err("the call was let through");
    assert_eq!(status.code(), tonic::Code::Unauthenticated, "{status:?}");
    assert_eq!(status.message(), reason);
}

#[tokio::test]
async fn machines_need_their_bound_certificate_and_people_none() {
    let pki = Pki::new();
    let auth = TestAuth::new();
    let config = kovgis_spatial::Config {
        auth: kovgis_spatial::Auth::Jwt(auth.verifier()),
        tls: Some(kovgis_spatial::Tls {
            certificate: pki.read("server.pem"),
            key: pki.read("server.key"),
            client_ca: Some(pki.read("ca.pem")),
        }),
        ..Default::default()
    };
    let store = Store::connect(&StoreConfig::new(database_url(), 2))
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(kovgis_spatial::run(listener, store, config, async {
        let _ = stopped.await;
    }));

    let mut machine = auth.machine("ehr-adapter", &["kovgis:read:all"]);
    machine.extra.insert(
        "cnf".into(),
        serde_json::json!({ "x5t#S256": thumbprint(&pki.dir, "ehr-adapter") }),
    );
    let bound = auth.token(&machine);
    let unbound = auth.token(&auth.machine("ehr-adapter", &["kovgis:read:all"]));
    let official = auth.token(&auth.person("tartu-official", "0793", &[Role::Official]));

    // Certificate and the token bound to it: through.
    let with_cert = connect(&pki, addr, Some("ehr-adapter")).await.unwrap();
    call(with_cert.clone(), Some(&bound)).await.unwrap();
    // The token bound to it, over another client's (valid) certificate.
    let other = connect(&pki, addr, Some("other-machine")).await.unwrap();
    assert_unauthenticated(call(other, Some(&bound)).await, "certificate_mismatch");
    // The bound token without a certificate.
    let bare = connect(&pki, addr, None).await.unwrap();
    assert_unauthenticated(
        call(bare.clone(), Some(&bound)).await,
        "client_certificate_required",
    );
    // A machine token not bound to any certificate, even over a valid one.
    assert_unauthenticated(
        call(with_cert.clone(), Some(&unbound)).await,
        "token_not_bound",
    );
    // A certificate alone grants nothing.
    assert_unauthenticated(call(with_cert, None).await, "missing");
    // People need no certificate.
    call(bare.clone(), Some(&official)).await.unwrap();
    // Health stays open over TLS.
    let health = tonic_health::pb::health_client::HealthClient::new(bare)
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .unwrap();
    assert_eq!(health.into_inner().status, 1, "SERVING");

    // A certificate of a CA the server does not trust does not get through TLS.
    let stranger = match connect(&pki, addr, Some("stranger")).await {
        Ok(channel) => call(channel, Some(&bound)).await,
        Err(e) => Err(tonic::Status::unavailable(e.to_string())),
    };
    let status = stranger.expect_err("a stranger's certificate was accepted");
    assert_ne!(status.code(), tonic::Code::Unauthenticated, "{status:?}");
    // Nor does plain HTTP/2 to the TLS port.
    let plain = Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await;
    if let Ok(channel) = plain {
        call(channel, Some(&official))
            .await
            .expect_err("plain HTTP/2 was answered on the TLS port");
    }

    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
