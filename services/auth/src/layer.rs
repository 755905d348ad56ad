//! The tower layer that puts a verified identity on every request, or refuses it.
//!
//! For every request whose path does not start with one of the open prefixes (gRPC health and
//! reflection by default), the layer reads `authorization: Bearer <token>` — the same header for
//! gRPC and gRPC-Web — verifies it and inserts the `Arc<Identity>` into the request's extensions.
//! Without a valid token it answers itself with gRPC `UNAUTHENTICATED` (HTTP 200, `grpc-status:
//! 16`, `grpc-message` = the reason code only) and the inner service never sees the request. Any
//! identity already in the extensions is removed first, so only this layer can put one there.
//!
//! Verification runs inline on the request's task: a cached token costs about a microsecond, an
//! uncached ES256 token one signature check (see `examples/verify_cost.rs`), which is less than
//! handing it to a blocking pool would cost.
//!
//! With [`AuthLayer::with_client_certificates`] (a server doing mutual TLS) the verified identity
//! is also checked against the connection's client certificate ([`crate::mtls`]).
//!
//! Handlers call `identity()` / `request_identity()`, which fail closed: no identity in the
//! extensions is `UNAUTHENTICATED`, whatever the reason.

use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::{Either, Ready, ready};
use http::{HeaderMap, Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use crate::error::AuthError;
use crate::identity::Identity;
use crate::mtls::check_certificate;
use crate::verifier::Verifier;

/// Paths (prefixes) that need no token by default: gRPC health and reflection.
pub const DEFAULT_OPEN_PREFIXES: [&str; 2] = ["/grpc.health.v1.Health/", "/grpc.reflection."];

/// How the layer identifies a request.
#[derive(Clone, Debug)]
enum Mode {
    /// By its bearer token.
    Verify(Arc<Verifier>),
    /// As one fixed identity, whatever it carries: only for measuring what authentication costs
    /// (`kovgis serve --insecure-no-auth`), never for serving.
    Fixed(Arc<Identity>),
}

/// `Server::builder().layer(AuthLayer::new(verifier))`.
#[derive(Clone, Debug)]
pub struct AuthLayer {
    mode: Mode,
    open_prefixes: Arc<[String]>,
    client_certificates: bool,
}

impl AuthLayer {
    /// Requires a token everywhere except `DEFAULT_OPEN_PREFIXES`.
    pub fn new(verifier: Arc<Verifier>) -> Self {
        AuthLayer {
            mode: Mode::Verify(verifier),
            open_prefixes: DEFAULT_OPEN_PREFIXES.map(String::from).into(),
            client_certificates: false,
        }
    }

    /// Gives every request the one `identity` without looking at any token. Insecure: for
    /// benchmarks that compare a server with and without authentication.
    pub fn insecure_fixed(identity: Arc<Identity>) -> Self {
        AuthLayer {
            mode: Mode::Fixed(identity),
            open_prefixes: DEFAULT_OPEN_PREFIXES.map(String::from).into(),
            client_certificates: false,
        }
    }

    /// Checks every verified identity against the connection's TLS client certificate
    /// ([`crate::mtls::check_certificate`]): for a server that does mutual TLS.
    pub fn with_client_certificates(mut self) -> Self {
        self.client_certificates = true;
        self
    }

    /// Replaces the open path prefixes (an empty list: every path needs a token).
    pub fn with_open_prefixes<I, S>(mut self, prefixes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.open_prefixes = prefixes.into_iter().map(Into::into).collect();
        self
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            mode: self.mode.clone(),
            open_prefixes: Arc::clone(&self.open_prefixes),
            client_certificates: self.client_certificates,
        }
    }
}

/// The service `AuthLayer` wraps around the server's routes.
#[derive(Clone, Debug)]
pub struct AuthService<S> {
    inner: S,
    mode: Mode,
    open_prefixes: Arc<[String]>,
    client_certificates: bool,
}

impl<S, B, ResBody> Service<Request<B>> for AuthService<S>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = Either<S::Future, Ready<Result<Response<ResBody>, S::Error>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        request.extensions_mut().remove::<Arc<Identity>>();
        let path = request.uri().path();
        if self
            .open_prefixes
            .iter()
            .any(|p| path.starts_with(p.as_str()))
        {
            return Either::Left(self.inner.call(request));
        }
        let verified = match &self.mode {
            Mode::Verify(verifier) => bearer_token(request.headers())
                .and_then(|t| verifier.verify(t))
                .and_then(|identity| {
                    if self.client_certificates {
                        let certs = client_certificates(request.extensions());
                        let der = certs.as_ref().and_then(|c| c.first()).map(|c| c.as_ref());
                        check_certificate(&identity, der)?;
                    }
                    Ok(identity)
                }),
            Mode::Fixed(identity) => Ok(Arc::clone(identity)),
        };
        match verified {
            Ok(identity) => {
                request.extensions_mut().insert(identity);
                Either::Left(self.inner.call(request))
            }
            Err(e) => {
                tracing::debug!(path, reason = e.reason(), "call refused: unauthenticated");
                Either::Right(ready(Ok(tonic::Status::from(e).into_http())))
            }
        }
    }
}

/// The client's certificate chain (end entity first), verified by TLS against the client CA, if
/// the connection is TLS and the client presented one.
fn client_certificates(
    extensions: &http::Extensions,
) -> Option<Arc<Vec<tonic::transport::CertificateDer<'static>>>> {
    use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
    extensions
        .get::<TlsConnectInfo<TcpConnectInfo>>()
        .and_then(|info| info.peer_certs())
}

/// The token of an `authorization: Bearer <token>` header (scheme case-insensitive).
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, AuthError> {
    let mut values = headers.get_all(http::header::AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return match headers.contains_key(http::header::AUTHORIZATION) {
            true => Err(AuthError::Malformed),
            false => Err(AuthError::Missing),
        };
    };
    let value = value.to_str().map_err(|_| AuthError::Malformed)?;
    let (scheme, token) = value.split_once(' ').ok_or(AuthError::Malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::Malformed);
    }
    match token.trim() {
        "" => Err(AuthError::Missing),
        t => Ok(t),
    }
}

/// The verified identity the layer put into these extensions; `UNAUTHENTICATED` if none.
pub fn identity(extensions: &http::Extensions) -> Result<Arc<Identity>, tonic::Status> {
    extensions
        .get::<Arc<Identity>>()
        .cloned()
        .ok_or_else(|| tonic::Status::unauthenticated(AuthError::Missing.reason()))
}

/// `identity(request.extensions())` for a tonic request.
pub fn request_identity<T>(request: &tonic::Request<T>) -> Result<Arc<Identity>, tonic::Status> {
    identity(request.extensions())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(
                http::header::AUTHORIZATION,
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn bearer_header_forms() {
        assert_eq!(bearer_token(&headers(&["Bearer a.b.c"])), Ok("a.b.c"));
        assert_eq!(bearer_token(&headers(&["bearer a.b.c"])), Ok("a.b.c"));
        assert_eq!(bearer_token(&headers(&[])), Err(AuthError::Missing));
        assert_eq!(
            bearer_token(&headers(&["Bearer "])),
            Err(AuthError::Missing)
        );
        assert_eq!(
            bearer_token(&headers(&["Basic dXNlcg=="])),
            Err(AuthError::Malformed)
        );
        assert_eq!(
            bearer_token(&headers(&["a.b.c"])),
            Err(AuthError::Malformed)
        );
        assert_eq!(
            bearer_token(&headers(&["Bearer a.b.c", "Bearer d.e.f"])),
            Err(AuthError::Malformed)
        );
    }

    #[test]
    fn identity_fails_closed() {
        let ext = http::Extensions::new();
        let status = identity(&ext).unwrap_err();
        assert_eq!(status.code(), tonic::Code::Unauthenticated);
        let mut ext = http::Extensions::new();
        ext.insert(Arc::new(Identity::system("t")));
        assert_eq!(identity(&ext).unwrap().subject, "system:t");
        let request = tonic::Request::new(());
        assert!(request_identity(&request).is_err());
    }
}
