//! One webhook request: a signed JSON POST over plain HTTP/1.1 with a deadline on the whole
//! exchange and a bound on the answer read. What went wrong is described without the URL (it
//! may carry credentials) and without the secret; a receiver's answer is quoted only as its
//! status and the start of its body.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// Characters of a failed answer's body kept in the failure's description.
const QUOTED_CHARS: usize = 200;

/// The headers a message carries besides `Content-Type`.
pub const MESSAGE_ID_HEADER: &str = "Kovgis-Message-Id";
pub const TIMESTAMP_HEADER: &str = "Kovgis-Timestamp";
pub const SIGNATURE_HEADER: &str = "Kovgis-Signature";

/// What one request ended in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answer {
    /// A 2xx status.
    Accepted(u16),
    /// Anything else, described for `last_error`.
    Failed(String),
}

/// An HTTP/1.1 client with pooled connections (shared by all attempts of a deliverer).
pub(crate) struct Poster {
    client: Client<HttpConnector, Full<Bytes>>,
    timeout: Duration,
    max_response_bytes: usize,
}

/// The headers of one message.
pub(crate) struct Signed<'a> {
    pub message_id: &'a str,
    pub timestamp: i64,
    pub signature: &'a str,
}

impl Poster {
    pub(crate) fn new(timeout: Duration, max_response_bytes: usize) -> Poster {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(timeout));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Poster {
            client,
            timeout,
            max_response_bytes,
        }
    }

    /// POSTs `body` to `url` with the signed headers, within the timeout.
    pub(crate) async fn post(&self, url: &str, signed: &Signed<'_>, body: Bytes) -> Answer {
        let uri: http::Uri = match url.parse() {
            Ok(u) => u,
            Err(_) => return Answer::Failed("the webhook URL cannot be parsed".into()),
        };
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") => {
                return Answer::Failed(
                    "https webhooks are not supported by this deliverer yet (plain http only)"
                        .into(),
                );
            }
            _ => return Answer::Failed("the webhook URL is not an http:// URL".into()),
        }
        let request = http::Request::post(uri)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(MESSAGE_ID_HEADER, signed.message_id)
            .header(TIMESTAMP_HEADER, signed.timestamp.to_string())
            .header(SIGNATURE_HEADER, signed.signature)
            .header(http::header::USER_AGENT, "kovgis-outbox")
            .body(Full::new(body));
        let request = match request {
            Ok(r) => r,
            Err(_) => return Answer::Failed("the request cannot be built".into()),
        };
        match tokio::time::timeout(self.timeout, self.exchange(request)).await {
            Ok(answer) => answer,
            Err(_) => Answer::Failed(format!(
                "timed out after {} ms without a complete answer",
                self.timeout.as_millis()
            )),
        }
    }

    async fn exchange(&self, request: http::Request<Full<Bytes>>) -> Answer {
        let response = match self.client.request(request).await {
            Ok(r) => r,
            Err(e) => return Answer::Failed(format!("request failed: {}", chain(&e))),
        };
        let status = response.status();
        // The answer is read (up to the bound) so that the connection can be reused.
        let body = Limited::new(response.into_body(), self.max_response_bytes)
            .collect()
            .await
            .map(|b| b.to_bytes());
        if status.is_success() {
            return Answer::Accepted(status.as_u16());
        }
        let quoted = match body {
            Ok(b) => quote(&b),
            Err(_) => "(answer body unreadable or too long)".to_owned(),
        };
        let reason = status.canonical_reason().unwrap_or("");
        let mut text = format!("HTTP {} {reason}", status.as_u16())
            .trim_end()
            .to_owned();
        if !quoted.is_empty() {
            text.push_str(": ");
            text.push_str(&quoted);
        }
        Answer::Failed(text)
    }
}

/// An error and its sources, as one line ("client error (Connect): tcp connect error: …").
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}

/// The start of an answer body as one line of text: control characters become spaces.
fn quote(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out: String = text
        .chars()
        .take(QUOTED_CHARS)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().count() > QUOTED_CHARS {
        out.push('…');
    }
    out.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_keeps_one_short_line() {
        assert_eq!(quote(b" busy\r\ntry later "), "busy  try later");
        let long = "x".repeat(250);
        assert_eq!(quote(long.as_bytes()), format!("{}…", "x".repeat(200)));
        assert_eq!(quote(b""), "");
    }
}
