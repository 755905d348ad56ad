//! Test support for the outbox tests: a webhook receiver (a small hyper HTTP/1.1 server on
//! 127.0.0.1:0 that records every request and answers as the test says), seeding procedures
//! and outbox rows through the store as a system caller, reading the outbox back as the
//! superuser, and the `openssl` oracle for signatures.

#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use kovgis_store::{Caller, Store, StoreConfig};
use tokio::io::AsyncWriteExt;

pub const TARTU: &str = "0793";
pub const TALLINN: &str = "0784";

/// What the receiver does with its n-th request (1-based).
#[derive(Debug, Clone)]
pub enum Reply {
    /// Answer with this status and body.
    Status(u16, &'static str),
    /// Never answer (the connection stays open).
    Hang,
}

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    pub message_id: String,
    pub timestamp: String,
    pub signature: String,
    pub content_type: String,
    pub body: Bytes,
    /// What it was answered (`None`: never).
    pub status: Option<u16>,
}

/// A running receiver.
pub struct Receiver {
    pub addr: SocketAddr,
    pub requests: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    pub fn received(&self) -> Vec<Received> {
        self.requests.lock().unwrap().clone()
    }
}

/// Starts a receiver answering request n with `reply(n)` after `delay`.
pub async fn receiver(
    delay: Duration,
    reply: impl Fn(usize) -> Reply + Send + Sync + 'static,
) -> Receiver {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let requests: Arc<Mutex<Vec<Received>>> = Arc::default();
    let reply = Arc::new(reply);
    let log = requests.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (log, reply) = (log.clone(), reply.clone());
            let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let (log, reply) = (log.clone(), reply.clone());
                async move {
                    let at = Instant::now();
                    let header = |name: &str| {
                        req.headers()
                            .get(name)
                            .map(|v| v.to_str().unwrap().to_owned())
                            .unwrap_or_default()
                    };
                    let (message_id, timestamp, signature, content_type) = (
                        header("kovgis-message-id"),
                        header("kovgis-timestamp"),
                        header("kovgis-signature"),
                        header("content-type"),
                    );
                    let body = req.into_body().collect().await.unwrap().to_bytes();
                    let n = {
                        let mut log = log.lock().unwrap();
                        log.push(Received {
                            at,
                            message_id,
                            timestamp,
                            signature,
                            content_type,
                            body,
                            status: None,
                        });
                        log.len()
                    };
                    let answer = reply(n);
                    tokio::time::sleep(delay).await;
                    match answer {
                        Reply::Status(code, text) => {
                            log.lock().unwrap()[n - 1].status = Some(code);
                            let mut r = hyper::Response::new(Full::new(Bytes::from(text)));
                            *r.status_mut() = hyper::StatusCode::from_u16(code).unwrap();
                            Ok::<_, Infallible>(r)
                        }
                        Reply::Hang => std::future::pending().await,
                    }
                }
            });
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Receiver { addr, requests }
}

pub async fn store(url: &str) -> Store {
    Store::connect(&StoreConfig::new(url.to_owned(), 4))
        .await
        .unwrap()
}

/// The seeding identity (a system caller, through the store, under row-level security).
pub fn seeder() -> Caller {
    Caller::system("outbox-test-seed")
}

/// Inserts one excavation-permit procedure in `municipality` (following the national
/// `excavation_permit` workflow version) and `n` outbox messages for `authority`, in one
/// transaction as [`seeder`]; returns their ids in order.
pub async fn seed(store: &Store, municipality: &str, authority: &str, n: usize) -> Vec<i64> {
    let tx = store.begin_as(&seeder()).await.unwrap();
    let rows = tx
        .query(
            "INSERT INTO procedure (municipality_code, procedure_type, workflow_id, state,
                                    created_by, request_hash, applicant_name, applicant_code,
                                    description, geom, intended_use)
             SELECT $1, 'excavation_permit', v.id, 'submitted', 'system:outbox-test-seed',
                    'hash', 'Mari Maasikas', '48901010000', 'a trench',
                    ST_GeomFromEWKT('SRID=3301;MULTIPOLYGON(((659000 6474000, 659100 6474000,
                        659100 6474100, 659000 6474100, 659000 6474000)))'), 'cable'
             FROM workflow_version v
             WHERE v.municipality_code IS NULL AND v.procedure_type = 'excavation_permit'
             RETURNING id::text",
            &[&municipality],
        )
        .await
        .unwrap();
    let procedure: String = rows[0].get(0);
    let mut ids = Vec::new();
    for i in 0..n {
        let payload = serde_json::json!({"request": i + 1, "findings": ["water-protection"]});
        let row = tx
            .query(
                "INSERT INTO outbox (municipality_code, procedure_id, authority, kind, payload)
                 VALUES ($1, $2::text::uuid, $3, 'coordination_requested', $4) RETURNING id",
                &[&municipality, &procedure, &authority, &payload],
            )
            .await
            .unwrap();
        ids.push(row[0].get(0));
    }
    tx.commit().await.unwrap();
    ids
}

/// An outbox row as the superuser reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub attempts: i32,
    pub delivered: bool,
    pub dead: bool,
    pub last_error: Option<String>,
    /// `next_attempt_at - now()` in milliseconds.
    pub due_in_ms: f64,
}

pub async fn row(sql: &tokio_postgres::Client, municipality: &str, id: i64) -> Row {
    let r = sql
        .query_one(
            "SELECT attempts, delivered_at IS NOT NULL, dead_at IS NOT NULL, last_error,
                    (extract(epoch FROM next_attempt_at - clock_timestamp()) * 1000)::float8
             FROM outbox WHERE municipality_code = $1 AND id = $2",
            &[&municipality, &id],
        )
        .await
        .unwrap();
    Row {
        attempts: r.get(0),
        delivered: r.get(1),
        dead: r.get(2),
        last_error: r.get(3),
        due_in_ms: r.get(4),
    }
}

/// The independent oracle: `openssl dgst -sha256 -hmac <secret>` over `<timestamp>.<body>`,
/// as `sha256=<hex>`.
pub async fn openssl_signature(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut child = tokio::process::Command::new("openssl")
        .args(["dgst", "-sha256", "-hmac", secret])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("openssl is needed for the signature oracle");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(timestamp.as_bytes()).await.unwrap();
    stdin.write_all(b".").await.unwrap();
    stdin.write_all(body).await.unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    assert!(out.status.success());
    // "SHA2-256(stdin)= <hex>" (OpenSSL 3) or "(stdin)= <hex>" (1.1).
    let text = String::from_utf8(out.stdout).unwrap();
    let hex = text.trim().rsplit("= ").next().unwrap();
    format!("sha256={hex}")
}
