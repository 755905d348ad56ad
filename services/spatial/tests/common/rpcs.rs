//! Every RPC of the server, callable by name with one token (or none) and a small, valid request
//! about Tartu (0793) — for the authentication and authorisation matrix. Writes are dry runs or
//! rule versions far in the future, on a database of the test's own.

use std::collections::BTreeMap;

use kovgis_api::v1;
use kovgis_api::v1::audit_service_client::AuditServiceClient;
use kovgis_api::v1::rule_service_client::RuleServiceClient;
use kovgis_api::v1::spatial_service_client::SpatialServiceClient;
use tonic::transport::Channel;
use tonic::{Request, Status};

/// Tartu, whose resources the calls are about.
pub const TARTU: &str = "0793";
/// Tartu's zoning layer in the demo data (see `fixtures/demo`).
pub const TARTU_LAYER: &str = "municipalities/0793/layers/zoning";
/// A personal code (valid check digit) whose data usage is asked for.
pub const PERSON: &str = "38001010009";

/// Every method, `Service/Method`, as the authorisation table names them.
pub const ALL: &[&str] = &[
    "SpatialService/ListMunicipalities",
    "SpatialService/GetMunicipality",
    "SpatialService/LocateMunicipality",
    "SpatialService/GetParcel",
    "SpatialService/FindParcels",
    "SpatialService/ListLayers",
    "SpatialService/QueryFeatures",
    "SpatialService/GetIndexStats",
    "SpatialService/ValidateGeometry",
    "SpatialService/ValidateGeometries",
    "SpatialService/ImportFeatures",
    "RuleService/ListRules",
    "RuleService/CreateRuleVersion",
    "AuditService/ListDataUsage",
];

/// What a successful call returned, for the checks that nothing of another municipality leaks:
/// the municipality codes of every layer, feature, rule or statistic in the answer.
#[derive(Debug, Default)]
pub struct Seen {
    pub municipalities: Vec<String>,
}

fn with_token<T>(message: T, token: Option<&str>) -> Request<T> {
    let mut r = Request::new(message);
    if let Some(t) = token {
        r.metadata_mut()
            .insert("authorization", format!("Bearer {t}").parse().unwrap());
    }
    r
}

/// A 10 m square in central Tartu (EPSG:3301).
fn tartu_square() -> v1::Geometry {
    v1::Geometry {
        value: Some(v1::geometry::Value::Wkt(
            "POLYGON((659000 6474000, 659010 6474000, 659010 6474010, 659000 6474010, \
             659000 6474000))"
                .into(),
        )),
        epsg: 3301,
    }
}

fn proposal() -> v1::ValidateGeometryRequest {
    v1::ValidateGeometryRequest {
        municipality_code: TARTU.into(),
        procedure_type: "building_permit".into(),
        geometry: Some(tartu_square()),
        intended_use: "residential_building".into(),
        ..Default::default()
    }
}

fn timestamp(secs: i64) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp {
        seconds: secs,
        nanos: 0,
    })
}

/// Calls `rpc` on `channel` with `token`.
pub async fn call(rpc: &str, channel: Channel, token: Option<&str>) -> Result<Seen, Status> {
    let mut spatial = SpatialServiceClient::new(channel.clone());
    let mut seen = Seen::default();
    match rpc {
        "SpatialService/ListMunicipalities" => {
            spatial
                .list_municipalities(with_token(v1::ListMunicipalitiesRequest::default(), token))
                .await?;
        }
        "SpatialService/GetMunicipality" => {
            let req = v1::GetMunicipalityRequest {
                code: TARTU.into(),
                ..Default::default()
            };
            spatial.get_municipality(with_token(req, token)).await?;
        }
        "SpatialService/LocateMunicipality" => {
            let req = v1::LocateMunicipalityRequest {
                geometry: Some(tartu_square()),
            };
            spatial.locate_municipality(with_token(req, token)).await?;
        }
        "SpatialService/GetParcel" => {
            let req = v1::GetParcelRequest {
                cadastral_code: "79514:036:0008".into(),
                ..Default::default()
            };
            spatial.get_parcel(with_token(req, token)).await?;
        }
        "SpatialService/FindParcels" => {
            let req = v1::FindParcelsRequest {
                filter: Some(v1::find_parcels_request::Filter::Intersects(tartu_square())),
                ..Default::default()
            };
            spatial.find_parcels(with_token(req, token)).await?;
        }
        "SpatialService/ListLayers" => {
            let req = v1::ListLayersRequest {
                municipality_code: TARTU.into(),
                ..Default::default()
            };
            let r = spatial.list_layers(with_token(req, token)).await?;
            seen.municipalities = r
                .into_inner()
                .layers
                .into_iter()
                .map(|l| l.municipality_code)
                .collect();
        }
        "SpatialService/QueryFeatures" => {
            let req = v1::QueryFeaturesRequest {
                layer_ref: Some(v1::query_features_request::LayerRef::Layer(
                    TARTU_LAYER.into(),
                )),
                ..Default::default()
            };
            let mut stream = spatial
                .query_features(with_token(req, token))
                .await?
                .into_inner();
            while let Some(m) = stream.message().await? {
                if !m.features.is_empty() {
                    seen.municipalities.push(TARTU.into());
                }
            }
        }
        "SpatialService/GetIndexStats" => {
            let r = spatial
                .get_index_stats(with_token(v1::GetIndexStatsRequest::default(), token))
                .await?;
            seen.municipalities = r
                .into_inner()
                .layers
                .into_iter()
                .map(|l| l.municipality_code)
                .collect();
        }
        "SpatialService/ValidateGeometry" => {
            spatial
                .validate_geometry(with_token(proposal(), token))
                .await?;
        }
        "SpatialService/ValidateGeometries" => {
            let req = v1::ValidateGeometriesRequest {
                proposals: vec![proposal()],
            };
            spatial.validate_geometries(with_token(req, token)).await?;
        }
        "SpatialService/ImportFeatures" => {
            let header = v1::ImportHeader {
                target: v1::ImportTarget::Layer as i32,
                municipality_code: TARTU.into(),
                kind: v1::LayerKind::Restriction as i32,
                layer_name: "noise-zones".into(),
                authority: "Terviseamet".into(),
                source: "auth-matrix".into(),
                mode: v1::ImportMode::Replace as i32,
                dry_run: true,
                allow_shrink: true,
                ..Default::default()
            };
            let messages = vec![v1::ImportFeaturesRequest {
                message: Some(v1::import_features_request::Message::Header(header)),
            }];
            spatial
                .import_features(with_token(futures::stream::iter(messages), token))
                .await?;
        }
        "RuleService/ListRules" => {
            let req = v1::ListRulesRequest {
                municipality_code: TARTU.into(),
                ..Default::default()
            };
            let r = RuleServiceClient::new(channel)
                .list_rules(with_token(req, token))
                .await?;
            seen.municipalities = r
                .into_inner()
                .rules
                .into_iter()
                .map(|r| r.municipality_code)
                .collect();
        }
        "RuleService/CreateRuleVersion" => {
            let params = prost_types::Struct {
                fields: BTreeMap::from([(
                    "min_m".to_owned(),
                    prost_types::Value {
                        kind: Some(prost_types::value::Kind::NumberValue(5.0)),
                    },
                )]),
            };
            let req = v1::CreateRuleVersionRequest {
                rule: "SETBACK".into(),
                municipality_code: TARTU.into(),
                severity: v1::RuleSeverity::Warning as i32,
                procedure_types: vec!["building_permit".into()],
                params: Some(params),
                valid_from: "2099-01-01".into(),
                description: "auth matrix".into(),
                ..Default::default()
            };
            RuleServiceClient::new(channel)
                .create_rule_version(with_token(req, token))
                .await?;
        }
        "AuditService/ListDataUsage" => {
            let req = v1::ListDataUsageRequest {
                personal_code: PERSON.into(),
                from: timestamp(0),
                to: timestamp(4_102_444_800),
            };
            AuditServiceClient::new(channel)
                .list_data_usage(with_token(req, token))
                .await?;
        }
        other => panic!("no call for {other}"),
    }
    Ok(seen)
}
