//! The server around SpatialService: health, reflection, gRPC-Web from an HTTP/1.1 client, and
//! graceful shutdown.

mod common;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn channel(s: &TestServer) -> tonic::transport::Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{}", s.addr))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

#[tokio::test]
async fn health_reports_serving() {
    let s = TestServer::start().await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel(&s).await);
    let r = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "kovgis.v1.SpatialService".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        r.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
}

#[tokio::test]
async fn reflection_lists_and_describes_the_service() {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let s = TestServer::start().await;
    let mut client = ServerReflectionClient::new(channel(&s).await);
    let requests = vec![
        ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        },
        ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::FileContainingSymbol(
                "kovgis.v1.SpatialService".into(),
            )),
        },
    ];
    let mut responses = client
        .server_reflection_info(tokio_stream::iter(requests))
        .await
        .unwrap()
        .into_inner();
    let first = responses.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = first.message_response else {
        panic!("{first:?}")
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    assert!(
        names.contains(&"kovgis.v1.SpatialService".to_string()),
        "{names:?}"
    );
    assert!(
        names.contains(&"grpc.health.v1.Health".to_string()),
        "{names:?}"
    );
    let second = responses.message().await.unwrap().unwrap();
    let Some(MessageResponse::FileDescriptorResponse(fd)) = second.message_response else {
        panic!("{second:?}")
    };
    assert!(!fd.file_descriptor_proto.is_empty());
}

/// A browser-style gRPC-Web call over plain HTTP/1.1, framed by hand.
#[tokio::test]
async fn grpc_web_over_http1() {
    use prost::Message;
    let s = TestServer::start().await;
    let msg = v1::GetMunicipalityRequest {
        code: "0784".into(),
        output: Some(v1::OutputOptions {
            omit_geometry: true,
            ..Default::default()
        }),
    }
    .encode_to_vec();
    let mut body = vec![0u8];
    body.extend_from_slice(&(msg.len() as u32).to_be_bytes());
    body.extend_from_slice(&msg);
    let head = format!(
        "POST /kovgis.v1.SpatialService/GetMunicipality HTTP/1.1\r\nHost: {}\r\n\
         Content-Type: application/grpc-web+proto\r\nX-Grpc-Web: 1\r\nAccept: application/grpc-web+proto\r\n\
         Authorization: Bearer {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        s.addr,
        s.token,
        body.len()
    );
    let mut tcp = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    tcp.write_all(head.as_bytes()).await.unwrap();
    tcp.write_all(&body).await.unwrap();
    let mut raw = Vec::new();
    tcp.read_to_end(&mut raw).await.unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("no HTTP header end");
    let headers = String::from_utf8_lossy(&raw[..split]).to_lowercase();
    assert!(headers.starts_with("http/1.1 200"), "{headers}");
    assert!(
        headers.contains("content-type: application/grpc-web+proto"),
        "{headers}"
    );
    let mut payload = raw[split + 4..].to_vec();
    if headers.contains("transfer-encoding: chunked") {
        payload = dechunk(&payload);
    }
    // Frames: 0x00 = message, 0x80 = trailers.
    let (mut message, mut trailers) = (None, String::new());
    let mut i = 0;
    while i + 5 <= payload.len() {
        let flag = payload[i];
        let len = u32::from_be_bytes(payload[i + 1..i + 5].try_into().unwrap()) as usize;
        let data = &payload[i + 5..i + 5 + len];
        if flag & 0x80 != 0 {
            trailers.push_str(&String::from_utf8_lossy(data));
        } else {
            message = Some(v1::Municipality::decode(data).unwrap());
        }
        i += 5 + len;
    }
    assert!(
        trailers.to_lowercase().contains("grpc-status:0"),
        "{trailers}"
    );
    assert_eq!(message.unwrap().name, "Tallinn");
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = b.windows(2).position(|w| w == b"\r\n").unwrap();
        let size =
            usize::from_str_radix(std::str::from_utf8(&b[..line_end]).unwrap().trim(), 16).unwrap();
        b = &b[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&b[..size]);
        b = &b[size + 2..];
    }
}

#[tokio::test]
async fn shuts_down_gracefully_on_signal() {
    let mut s = TestServer::start().await;
    s.client
        .list_municipalities(v1::ListMunicipalitiesRequest::default())
        .await
        .unwrap();
    let addr = s.addr;
    tokio::time::timeout(std::time::Duration::from_secs(10), s.shutdown())
        .await
        .expect("server did not stop")
        .expect("server failed");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "still listening after shutdown"
    );
}
