//! `RuleService`: the validation rules as data over the API — `ListRules` (national defaults and
//! the caller's municipality's own versions) and `CreateRuleVersion` (a new version, never an
//! edit; the municipality's admin or the national rules scope). The store numbers the version,
//! refuses a start that would rewrite the past and writes the audit event in the same
//! transaction; the validation index rebuilds on the change.

use chrono::NaiveDate;
use kovgis_api::convert;
use kovgis_api::v1;
use kovgis_api::v1::rule_service_server::RuleService;
use kovgis_core::InputError;
use kovgis_core::codes::parse_municipality_code;
use kovgis_engine::rules::RuleCode;
use kovgis_store::{NewRuleVersion, RuleRow, Store};
use tonic::{Request, Response, Status};

use crate::ServiceError;
use crate::access::Access;

/// RuleService over a [`Store`].
#[derive(Debug, Clone)]
pub struct RuleApi {
    store: Store,
}

impl RuleApi {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

fn date(field: &str, value: &str) -> Result<Option<NaiveDate>, InputError> {
    let v = value.trim();
    if v.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| InputError::new(field, format!("{v:?} is not a date (YYYY-MM-DD)")))
}

/// `''` → national, else a 4-digit EHAK code.
fn municipality(field: &str, value: &str) -> Result<Option<String>, InputError> {
    if value.trim().is_empty() {
        Ok(None)
    } else {
        parse_municipality_code(field, value).map(Some)
    }
}

fn severity(s: &str) -> v1::RuleSeverity {
    match s {
        "info" => v1::RuleSeverity::Info,
        "warning" => v1::RuleSeverity::Warning,
        "blocking" => v1::RuleSeverity::Blocking,
        _ => v1::RuleSeverity::Unspecified,
    }
}

fn rule_version(r: RuleRow) -> v1::RuleVersion {
    v1::RuleVersion {
        rule: r.code,
        version: r.version,
        municipality_code: r.municipality_code.unwrap_or_default(),
        severity: severity(&r.severity) as i32,
        procedure_types: r.procedures,
        params: Some(convert::json_struct(&r.params)),
        valid_from: r.valid_from.to_string(),
        valid_to: r.valid_to.map(|d| d.to_string()).unwrap_or_default(),
        description: r.description,
        author: r.author,
        created_at: Some(convert::timestamp(r.created_at)),
    }
}

async fn list(
    store: &Store,
    access: &Access,
    req: v1::ListRulesRequest,
) -> Result<v1::ListRulesResponse, ServiceError> {
    let asked = municipality("municipality_code", &req.municipality_code)?;
    let on = date("in_force_on", &req.in_force_on)?;
    // Another municipality's rules are not there for this caller: the national ones only.
    let visible = asked.filter(|m| access.grant.sees(Some(m)));
    let rows = store
        .list_rules(&access.caller, visible.as_deref(), on)
        .await?;
    Ok(v1::ListRulesResponse {
        rules: rows.into_iter().map(rule_version).collect(),
    })
}

async fn create(
    store: &Store,
    access: &Access,
    req: v1::CreateRuleVersionRequest,
) -> Result<v1::RuleVersion, ServiceError> {
    let code = RuleCode::parse(req.rule.trim())
        .ok_or_else(|| InputError::new("rule", format!("{:?} is not a rule", req.rule)))?;
    let m = municipality("municipality_code", &req.municipality_code)?;
    if !access.grant.may_write(m.as_deref()) {
        return Err(access.refuse(match &m {
            Some(m) => format!("rules of municipality {m} are not yours to change"),
            None => "national rules need the national rules scope".into(),
        }));
    }
    let severity = match v1::RuleSeverity::try_from(req.severity) {
        Ok(v1::RuleSeverity::Info) => "info",
        Ok(v1::RuleSeverity::Warning) => "warning",
        Ok(v1::RuleSeverity::Blocking) => "blocking",
        _ => {
            return Err(InputError::new("severity", "must be INFO, WARNING or BLOCKING").into());
        }
    };
    let valid_from = date("valid_from", &req.valid_from)?
        .ok_or_else(|| InputError::new("valid_from", "required (YYYY-MM-DD)"))?;
    let valid_to = date("valid_to", &req.valid_to)?;
    if valid_to.is_some_and(|to| to <= valid_from) {
        return Err(InputError::new("valid_to", "must be after valid_from").into());
    }
    let params = req
        .params
        .as_ref()
        .map(|p| serde_json::Value::Object(convert::struct_json(p)))
        .unwrap_or_else(|| serde_json::json!({}));
    let row = store
        .create_rule_version(
            &access.caller,
            NewRuleVersion {
                code: code.as_str().to_owned(),
                municipality: m,
                severity: severity.to_owned(),
                procedures: req.procedure_types,
                params,
                valid_from,
                valid_to,
                description: req.description,
            },
        )
        .await?;
    Ok(rule_version(row))
}

#[tonic::async_trait]
impl RuleService for RuleApi {
    async fn list_rules(
        &self,
        request: Request<v1::ListRulesRequest>,
    ) -> Result<Response<v1::ListRulesResponse>, Status> {
        let access = Access::of(request.extensions(), "RuleService/ListRules")?;
        Ok(Response::new(
            list(&self.store, &access, request.into_inner()).await?,
        ))
    }

    async fn create_rule_version(
        &self,
        request: Request<v1::CreateRuleVersionRequest>,
    ) -> Result<Response<v1::RuleVersion>, Status> {
        let access = Access::of(request.extensions(), "RuleService/CreateRuleVersion")?;
        Ok(Response::new(
            create(&self.store, &access, request.into_inner()).await?,
        ))
    }
}
