//! Every RPC × every way a caller can be wrong, over a real socket: no token and nine kinds of bad
//! token are `UNAUTHENTICATED` for every method; then identities that are right but not allowed
//! — a Tallinn official about Tartu, a Tartu applicant, a state system that may only read, a
//! coordinating authority — get exactly what the authorisation table gives them, and nothing of
//! Tartu leaks into what they may list (layers, index statistics, rules). A Tartu admin and GIS
//! specialist reach everything of Tartu (a dry-run import, a rule version for 2099).

mod common;

use common::rpcs::{self, ALL, TARTU};
use common::*;
use kovgis_auth::Role;
use kovgis_auth::testing::BadToken;
use tonic::Code;

/// What a call must come to.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// Answered, and nothing of Tartu in what it lists.
    OkWithoutTartu,
    /// Answered (Tartu's own things may be in it).
    Answered,
    Refused(Code),
}

use Expect::*;

const REFERENCE: &[&str] = &[
    "SpatialService/ListMunicipalities",
    "SpatialService/GetMunicipality",
    "SpatialService/LocateMunicipality",
    "SpatialService/GetParcel",
    "SpatialService/FindParcels",
];

async fn check(s: &TestServer, who: &str, token: Option<&str>, expect: impl Fn(&str) -> Expect) {
    for rpc in ALL {
        let want = expect(rpc);
        let got = rpcs::call(rpc, s.channel().await, token).await;
        match (want, got) {
            (Refused(code), Err(status)) => {
                assert_eq!(status.code(), code, "{who}, {rpc}: {status:?}")
            }
            (Refused(code), Result::Ok(_)) => panic!("{who}, {rpc}: answered, want {code:?}"),
            (Answered | OkWithoutTartu, Err(status)) => panic!("{who}, {rpc}: {status:?}"),
            (OkWithoutTartu, Result::Ok(seen)) => assert!(
                !seen.municipalities.iter().any(|m| m == TARTU),
                "{who}, {rpc}: Tartu's things in the answer: {:?}",
                seen.municipalities
            ),
            (Answered, Result::Ok(_)) => {}
        }
    }
}

#[tokio::test]
async fn every_rpc_refuses_missing_and_bad_tokens() {
    let s = TestServer::start().await;
    let good = s
        .auth
        .person("tartu-admin", TARTU, &[Role::MunicipalityAdmin]);
    check(&s, "no token", None, |_| Refused(Code::Unauthenticated)).await;
    for bad in BadToken::ALL {
        let token = s.auth.bad_token(bad, &good);
        for rpc in ALL {
            let status = rpcs::call(rpc, s.channel().await, Some(&token))
                .await
                .expect_err(rpc);
            assert_eq!(status.code(), Code::Unauthenticated, "{bad:?}, {rpc}");
            assert_eq!(status.message(), bad.reason(), "{bad:?}, {rpc}");
        }
    }
}

#[tokio::test]
async fn identities_get_what_the_table_gives_them_and_nothing_of_tartu_leaks() {
    let db = FreshDb::new("authmatrix").await;
    let s = TestServer::start_on(&db.url, kovgis_core::InputLimits::default()).await;
    let a = &s.auth;
    let reference = |rpc: &str| REFERENCE.contains(&rpc);

    let tallinn = a.token(&a.person(
        "tallinn-everything",
        "0784",
        &[
            Role::Official,
            Role::Approver,
            Role::GisSpecialist,
            Role::MunicipalityAdmin,
        ],
    ));
    check(&s, "Tallinn official", Some(&tallinn), |rpc| match rpc {
        _ if reference(rpc) => Answered,
        "SpatialService/ListLayers" | "SpatialService/GetIndexStats" | "RuleService/ListRules" => {
            OkWithoutTartu
        }
        "SpatialService/QueryFeatures" => Refused(Code::NotFound),
        _ => Refused(Code::PermissionDenied),
    })
    .await;

    // An applicant may check a proposal in its municipality (the ProcedureService checks a
    // submission with the submitter's identity), and nothing else beyond the reference data.
    let applicant = a.token(&a.person("tartu-applicant", TARTU, &[Role::Applicant]));
    check(&s, "Tartu applicant", Some(&applicant), |rpc| match rpc {
        _ if reference(rpc) => Answered,
        "SpatialService/ValidateGeometry" | "SpatialService/ValidateGeometries" => Answered,
        _ => Refused(Code::PermissionDenied),
    })
    .await;

    let state = a.token(&a.machine("plank-adapter", &["kovgis:read:all"]));
    check(
        &s,
        "state system (read all)",
        Some(&state),
        |rpc| match rpc {
            "SpatialService/ImportFeatures"
            | "RuleService/CreateRuleVersion"
            | "AuditService/ListDataUsage" => Refused(Code::PermissionDenied),
            _ => Answered,
        },
    )
    .await;

    let authority = a.token(&a.machine("keskkonnaamet", &["authority:Keskkonnaamet"]));
    check(&s, "authority", Some(&authority), |rpc| {
        if reference(rpc) {
            Answered
        } else {
            Refused(Code::PermissionDenied)
        }
    })
    .await;

    let tartu = a.token(&a.person(
        "tartu-admin-gis",
        TARTU,
        &[Role::MunicipalityAdmin, Role::GisSpecialist],
    ));
    check(&s, "Tartu admin", Some(&tartu), |rpc| match rpc {
        "AuditService/ListDataUsage" => Refused(Code::PermissionDenied),
        _ => Answered,
    })
    .await;
}
