//! The tower layer: directly as a `tower::Service`, and in a real tonic server with the gRPC
//! health service over a socket.

use std::convert::Infallible;
use std::sync::Arc;

use http::{Request, Response};
use kovgis_auth::testing::{BadToken, TestAuth};
use kovgis_auth::{AuthLayer, Identity, Role, identity};
use tower::{Layer, ServiceExt, service_fn};

/// An inner service that reports the identity it was given, or "none".
fn echo_identity() -> impl tower::Service<
    Request<()>,
    Response = Response<String>,
    Error = Infallible,
    Future = impl Future<Output = Result<Response<String>, Infallible>>,
> + Clone {
    service_fn(|req: Request<()>| async move {
        let body = match identity(req.extensions()) {
            Ok(id) => id.subject.clone(),
            Err(status) => format!("none: {:?}", status.code()),
        };
        Ok::<_, Infallible>(Response::new(body))
    })
}

fn request(path: &str, bearer: Option<&str>) -> Request<()> {
    let mut b = Request::builder().uri(format!("http://localhost{path}"));
    if let Some(token) = bearer {
        b = b.header("authorization", format!("Bearer {token}"));
    }
    b.body(()).unwrap()
}

fn grpc_status(response: &Response<String>) -> Option<(&str, &str)> {
    let h = response.headers();
    Some((
        h.get("grpc-status")?.to_str().ok()?,
        h.get("grpc-message")?.to_str().ok()?,
    ))
}

#[tokio::test]
async fn the_layer_verifies_or_answers_unauthenticated() {
    let auth = TestAuth::new();
    let layer = AuthLayer::new(auth.verifier());
    let svc = || layer.layer(echo_identity());
    let rpc = "/kovgis.v1.SpatialService/GetIndexStats";

    let r = svc().oneshot(request(rpc, None)).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(grpc_status(&r), Some(("16", "missing")));
    assert_eq!(r.body(), "", "the inner service never ran");

    let token = auth.token(&auth.person("tartu-official", "0793", &[Role::Official]));
    let r = svc().oneshot(request(rpc, Some(&token))).await.unwrap();
    assert_eq!(grpc_status(&r), None);
    assert_eq!(r.body(), "tartu-official");

    for bad in BadToken::ALL {
        let token = auth.bad_token(bad, &auth.claims("x"));
        let r = svc().oneshot(request(rpc, Some(&token))).await.unwrap();
        assert_eq!(grpc_status(&r), Some(("16", bad.reason())), "{bad:?}");
        assert_eq!(r.body(), "");
    }

    // Open paths pass without a token and without an identity.
    for open in [
        "/grpc.health.v1.Health/Check",
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    ] {
        let r = svc().oneshot(request(open, None)).await.unwrap();
        assert_eq!(r.body(), "none: Unauthenticated");
    }
    // A look-alike path is not open.
    let r = svc()
        .oneshot(request("/grpc.health.v1.HealthX/Check", None))
        .await
        .unwrap();
    assert_eq!(grpc_status(&r), Some(("16", "missing")));

    // Nothing can smuggle an identity past the layer in the request's extensions.
    let mut smuggled = request(rpc, None);
    smuggled
        .extensions_mut()
        .insert(Arc::new(Identity::system("forged")));
    let r = svc().oneshot(smuggled).await.unwrap();
    assert_eq!(grpc_status(&r), Some(("16", "missing")));
    let mut smuggled = request("/grpc.health.v1.Health/Check", None);
    smuggled
        .extensions_mut()
        .insert(Arc::new(Identity::system("forged")));
    let r = svc().oneshot(smuggled).await.unwrap();
    assert_eq!(r.body(), "none: Unauthenticated");

    // With no open prefixes, health needs a token too.
    let closed = AuthLayer::new(auth.verifier()).with_open_prefixes(Vec::<String>::new());
    let r = closed
        .layer(echo_identity())
        .oneshot(request("/grpc.health.v1.Health/Check", None))
        .await
        .unwrap();
    assert_eq!(grpc_status(&r), Some(("16", "missing")));
}

#[tokio::test]
async fn in_a_tonic_server_over_a_socket() {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_client::HealthClient;

    let auth = TestAuth::new();
    let (_reporter, health) = tonic_health::server::health_reporter();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    // Health closed here so that a real service stands behind the layer.
    let layer = AuthLayer::new(auth.verifier()).with_open_prefixes(["/grpc.reflection."]);
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .layer(layer)
            .add_service(health)
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(listener),
                async {
                    let _ = stopped.await;
                },
            ),
    );
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = HealthClient::new(channel);
    let check = || {
        tonic::Request::new(HealthCheckRequest {
            service: String::new(),
        })
    };

    let status = client.check(check()).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    assert_eq!(status.message(), "missing");

    let expired = auth.bad_token(BadToken::Expired, &auth.claims("x"));
    let mut req = check();
    req.metadata_mut().insert(
        "authorization",
        format!("Bearer {expired}").parse().unwrap(),
    );
    let status = client.check(req).await.unwrap_err();
    assert_eq!(
        (status.code(), status.message()),
        (tonic::Code::Unauthenticated, "expired")
    );

    let token = auth.token(&auth.machine("monitor", &["kovgis:read:all"]));
    let mut req = check();
    req.metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    assert!(client.check(req).await.is_ok());

    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
