//! ListDataUsage over a real socket: a person sees the uses of their own data — including their
//! own earlier question, which is itself recorded as a read of it — and nobody else's.

mod common;

use common::rpcs::PERSON;
use common::*;
use kovgis_api::v1::audit_service_client::AuditServiceClient;
use kovgis_auth::Role;

fn ask(token: &str, code: &str) -> tonic::Request<v1::ListDataUsageRequest> {
    let mut r = tonic::Request::new(v1::ListDataUsageRequest {
        personal_code: code.into(),
        from: Some(prost_types::Timestamp {
            seconds: 0,
            nanos: 0,
        }),
        to: Some(prost_types::Timestamp {
            seconds: 4_102_444_800,
            nanos: 0,
        }),
    });
    r.metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    r
}

#[tokio::test]
async fn a_person_sees_the_uses_of_their_own_data_and_their_question_is_one() {
    let db = FreshDb::new("datausage").await;
    let s = TestServer::start_on(&db.url, kovgis_core::InputLimits::default()).await;
    let mut claims = s.auth.person("EE38001010009", "0793", &[Role::Applicant]);
    claims.personal_code = Some(PERSON.into());
    let token = s.auth.token(&claims);
    let mut client = AuditServiceClient::new(s.channel().await);

    let first = client.list_data_usage(ask(&token, PERSON)).await.unwrap();
    assert!(first.get_ref().uses.is_empty(), "{:?}", first.get_ref());
    // The first question was recorded as a read of the person's data.
    let second = client.list_data_usage(ask(&token, PERSON)).await.unwrap();
    let uses = &second.get_ref().uses;
    assert_eq!(uses.len(), 1, "{uses:?}");
    assert_eq!(uses[0].rpc, "AuditService/ListDataUsage");
    assert_eq!(uses[0].action, "read");
    assert_eq!(uses[0].receiver_subject, "EE38001010009");

    // Another person's code: refused.
    let other = client
        .list_data_usage(ask(&token, "49002020002"))
        .await
        .expect_err("another person's data usage");
    assert_eq!(other.code(), tonic::Code::PermissionDenied);
}
