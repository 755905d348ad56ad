//! The `SpatialService` handlers.

use std::pin::Pin;

use futures::{Stream, StreamExt};
use kovgis_api::convert::{self, Output};
use kovgis_api::v1;
use kovgis_api::v1::spatial_service_server::SpatialService;
use kovgis_core::codes::{parse_cadastral_code, parse_municipality_code};
use kovgis_core::{InputError, InputLimits, ParsedGeometry};
use kovgis_store::{ParcelQuery, Store};
use tonic::{Request, Response, Status};

use crate::ServiceError;
use crate::validation::{Built, IndexHandle};
use kovgis_engine::rules::{self, Locale, Proposal, Severity, Verdict};

/// Largest page of `FindParcels`, and the default.
const MAX_PAGE: u32 = 1000;
const DEFAULT_PAGE: u32 = 100;
/// Most features one `QueryFeatures` call streams.
const MAX_FEATURES: u32 = 100_000;

/// SpatialService over a [`Store`] and the validation index.
#[derive(Debug, Clone)]
pub struct SpatialApi {
    store: Store,
    limits: InputLimits,
    index: IndexHandle,
}

impl SpatialApi {
    pub fn new(store: Store, limits: InputLimits, index: IndexHandle) -> Self {
        Self {
            store,
            limits,
            index,
        }
    }

    /// The validation index, or UNAVAILABLE while the first one is being built.
    fn built(&self) -> Result<std::sync::Arc<Built>> {
        self.index.current().ok_or_else(|| {
            ServiceError::Unavailable("the validation index is being built; try again".into())
        })
    }

    /// Checks a proposal on the index, or — for a moment before the index's newest data — on a
    /// small index of what PostGIS held then around the proposal.
    async fn check(
        &self,
        built: &Built,
        proposal: &Proposal,
        out: &convert::Output,
        as_of: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<v1::ValidationReport> {
        match as_of {
            Some(at) if past(built, Some(at)) => {
                let Some(around) = geo::BoundingRect::bounding_rect(&proposal.geometry) else {
                    return Err(InputError::new("geometry", "geometry is empty").into());
                };
                let then = crate::validation::build_past(&self.store, at, around).await?;
                report_message(
                    &rules::validate(&then.index, &then.rules, proposal),
                    &then,
                    out,
                )
            }
            _ => report_message(
                &rules::validate(&built.index, &built.rules, proposal),
                built,
                out,
            ),
        }
    }

    /// Reads a validation request; field names are prefixed with `at` (for batch elements).
    fn proposal(
        &self,
        at: &str,
        req: &v1::ValidateGeometryRequest,
        built: &Built,
    ) -> std::result::Result<
        (
            Proposal,
            convert::Output,
            Option<chrono::DateTime<chrono::Utc>>,
        ),
        InputError,
    > {
        let field = |name: &str| {
            if at.is_empty() {
                name.to_owned()
            } else {
                format!("{at}.{name}")
            }
        };
        let municipality_code =
            parse_municipality_code(&field("municipality_code"), &req.municipality_code)?;
        if !built.municipalities.contains(&municipality_code) {
            return Err(InputError::new(
                field("municipality_code"),
                format!("there is no municipality {municipality_code}"),
            ));
        }
        let word = |name: &str, v: &str, example: &str| {
            let v = v.trim();
            if v.is_empty()
                || v.len() > 64
                || !v.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
            {
                return Err(InputError::new(
                    field(name),
                    format!("expected a lower-case code such as {example}, got '{v}'"),
                ));
            }
            Ok(v.to_owned())
        };
        let procedure = word("procedure_type", &req.procedure_type, "building_permit")?;
        let intended_use = word("intended_use", &req.intended_use, "residential_building")?;
        let parsed = self.geometry(&field("geometry"), req.geometry.as_ref())?;
        let geometry = match parsed.geometry {
            geo::Geometry::Polygon(p) => geo::MultiPolygon(vec![p]),
            geo::Geometry::MultiPolygon(m) => m,
            other => {
                return Err(InputError::new(
                    field("geometry"),
                    format!(
                        "a proposal must be a Polygon or MultiPolygon, not a {}",
                        geometry_type(&other)
                    ),
                ));
            }
        };
        let parcel_codes = req
            .parcel_codes
            .iter()
            .enumerate()
            .map(|(i, c)| parse_cadastral_code(&format!("{}[{i}]", field("parcel_codes")), c))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let as_of = req
            .as_of
            .as_ref()
            .map(|t| convert::from_timestamp(&field("as_of"), t))
            .transpose()?;
        let on = as_of.unwrap_or_else(chrono::Utc::now).date_naive();
        let locale = match req.locale.as_str() {
            "" | "et" => Locale::Et,
            "en" => Locale::En,
            other => {
                return Err(InputError::new(
                    field("locale"),
                    format!("'{other}' is not a supported language: et or en"),
                ));
            }
        };
        let out = convert::output(&field("output"), req.output.as_ref())?;
        Ok((
            Proposal {
                municipality_code,
                procedure,
                geometry,
                intended_use,
                parcel_codes,
                on,
                locale,
                outlines: !out.omit_geometry,
            },
            out,
            as_of,
        ))
    }

    /// Parses and checks a request geometry; errors are prefixed with `field`.
    fn geometry(
        &self,
        field: &str,
        g: Option<&v1::Geometry>,
    ) -> std::result::Result<ParsedGeometry, InputError> {
        convert::geometry_input(field, g)?
            .parse(&self.limits)
            .map_err(|e| e.within(field))
    }
}

type Result<T> = std::result::Result<T, ServiceError>;

/// Whether a request's moment is before the index's newest data (answered from PostGIS).
fn past(built: &Built, as_of: Option<chrono::DateTime<chrono::Utc>>) -> bool {
    matches!((as_of, built.newest_version_at), (Some(at), Some(newest)) if at < newest)
}

fn geometry_type(g: &geo::Geometry) -> &'static str {
    match g {
        geo::Geometry::Point(_) => "Point",
        geo::Geometry::Line(_) | geo::Geometry::LineString(_) => "LineString",
        geo::Geometry::MultiPoint(_) => "MultiPoint",
        geo::Geometry::MultiLineString(_) => "MultiLineString",
        geo::Geometry::GeometryCollection(_) => "GeometryCollection",
        _ => "geometry of another type",
    }
}

/// A report as the API gives it.
fn report_message(
    r: &rules::Report,
    built: &Built,
    out: &convert::Output,
) -> Result<v1::ValidationReport> {
    let severity = |s: Severity| match s {
        Severity::Info => v1::Severity::Info,
        Severity::Warning => v1::Severity::Warning,
        Severity::Blocking => v1::Severity::Blocking,
    } as i32;
    let findings = r
        .findings
        .iter()
        .map(|f| {
            Ok(v1::Finding {
                rule: f.rule.into(),
                rule_version: f.rule_version,
                code: f.code.into(),
                severity: severity(f.severity),
                passed: f.passed,
                message: f.message.clone(),
                layer_id: f.layer_id.unwrap_or(0),
                layer_name: f.layer_name.clone().unwrap_or_default(),
                feature_id: f.feature_id.clone().unwrap_or_default(),
                feature_name: f.feature_name.clone().unwrap_or_default(),
                attributes: f
                    .attributes
                    .as_deref()
                    .filter(|a| !a.is_null())
                    .map(convert::json_struct),
                overlap_area_m2: f.overlap_area_m2,
                overlap_share_pct: f.overlap_share_pct,
                distance_m: f.distance_m,
                geometry: convert::output_geometry(
                    f.geometry.clone().map(geo::Geometry::MultiPolygon).as_ref(),
                    out,
                )?,
                authority: f.authority.clone().unwrap_or_default(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(v1::ValidationReport {
        verdict: match r.verdict {
            Verdict::Clear => v1::Verdict::Clear,
            Verdict::NeedsCoordination => v1::Verdict::NeedsCoordination,
            Verdict::Blocked => v1::Verdict::Blocked,
        } as i32,
        findings,
        parcel_codes: r.parcels.clone(),
        dataset_versions: r
            .dataset_versions
            .iter()
            .map(|(name, v)| v1::DatasetVersionUsed {
                name: name.clone(),
                version: v.unwrap_or(0),
            })
            .collect(),
        input_hash: r.input_hash.clone(),
        index_built_at: Some(convert::timestamp(chrono::DateTime::<chrono::Utc>::from(
            built.built_at,
        ))),
    })
}

/// Page tokens are the hex of `v1:<last cadastral code>`: opaque to clients, checkable here.
fn encode_page_token(after: &str) -> String {
    hex::encode(format!("v1:{after}"))
}

fn decode_page_token(token: &str) -> std::result::Result<Option<String>, InputError> {
    if token.is_empty() {
        return Ok(None);
    }
    let bad = || {
        InputError::new(
            "page_token",
            "not a page token from a previous FindParcels response",
        )
    };
    let bytes = hex::decode(token).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let code = text.strip_prefix("v1:").ok_or_else(bad)?;
    parse_cadastral_code("page_token", code).map_err(|_| bad())?;
    Ok(Some(code.to_owned()))
}

/// A bounding box as an EPSG:3301 polygon.
fn bbox_geometry(
    b: &v1::BoundingBox,
    limits: &InputLimits,
) -> std::result::Result<ParsedGeometry, InputError> {
    let vals = [b.min_x, b.min_y, b.max_x, b.max_y];
    if vals.iter().any(|v| !v.is_finite()) {
        return Err(InputError::new(
            "bbox",
            "coordinates must be finite numbers",
        ));
    }
    if b.min_x > b.max_x || b.min_y > b.max_y {
        return Err(InputError::new(
            "bbox",
            "min_x must not exceed max_x, nor min_y max_y",
        ));
    }
    let epsg = if b.epsg == 0 {
        kovgis_core::crs::EPSG_LEST97
    } else {
        b.epsg
    };
    // Densified edges, so that the box stays the box the caller meant after a transform.
    const STEPS: usize = 16;
    let mut ring = Vec::with_capacity(4 * STEPS + 1);
    let lerp = |a: f64, b: f64, t: f64| a + (b - a) * t;
    for i in 0..STEPS {
        ring.push((lerp(b.min_x, b.max_x, i as f64 / STEPS as f64), b.min_y));
    }
    for i in 0..STEPS {
        ring.push((b.max_x, lerp(b.min_y, b.max_y, i as f64 / STEPS as f64)));
    }
    for i in 0..STEPS {
        ring.push((lerp(b.max_x, b.min_x, i as f64 / STEPS as f64), b.max_y));
    }
    for i in 0..STEPS {
        ring.push((b.min_x, lerp(b.max_y, b.min_y, i as f64 / STEPS as f64)));
    }
    ring.push((b.min_x, b.min_y));
    let wkt = if b.min_x == b.max_x || b.min_y == b.max_y {
        format!(
            "LINESTRING({} {}, {} {})",
            b.min_x, b.min_y, b.max_x, b.max_y
        )
    } else {
        format!(
            "POLYGON(({}))",
            ring.iter()
                .map(|(x, y)| format!("{x} {y}"))
                .collect::<Vec<_>>()
                .join(",")
        )
    };
    kovgis_core::GeometryInput::wkt(wkt, epsg)
        .parse(limits)
        .map_err(|e| match e.field.as_str() {
            "epsg" => e.within("bbox"),
            _ => InputError::new("bbox", e.reason),
        })
}

#[tonic::async_trait]
impl SpatialService for SpatialApi {
    async fn list_municipalities(
        &self,
        request: Request<v1::ListMunicipalitiesRequest>,
    ) -> std::result::Result<Response<v1::ListMunicipalitiesResponse>, Status> {
        let req = request.into_inner();
        let run = async {
            let out = convert::output("output", req.output.as_ref())?;
            let with_boundary = req.include_boundary && !out.omit_geometry;
            let rows = self.store.list_municipalities(with_boundary).await?;
            let municipalities = rows
                .iter()
                .map(|m| convert::municipality(m, &out))
                .collect::<std::result::Result<_, _>>()?;
            Result::Ok(v1::ListMunicipalitiesResponse { municipalities })
        };
        Ok(Response::new(run.await?))
    }

    async fn get_municipality(
        &self,
        request: Request<v1::GetMunicipalityRequest>,
    ) -> std::result::Result<Response<v1::Municipality>, Status> {
        let req = request.into_inner();
        let run = async {
            let code = parse_municipality_code("code", &req.code)?;
            let out = convert::output("output", req.output.as_ref())?;
            let m = self
                .store
                .get_municipality(&code, !out.omit_geometry)
                .await?
                .ok_or_else(|| {
                    ServiceError::NotFound(format!("no municipality with EHAK code {code}"))
                })?;
            Result::Ok(convert::municipality(&m, &out)?)
        };
        Ok(Response::new(run.await?))
    }

    async fn locate_municipality(
        &self,
        request: Request<v1::LocateMunicipalityRequest>,
    ) -> std::result::Result<Response<v1::LocateMunicipalityResponse>, Status> {
        let req = request.into_inner();
        let run = async {
            let g = self.geometry("geometry", req.geometry.as_ref())?;
            let (m, share) = self
                .store
                .locate_municipality(&g.geometry)
                .await?
                .ok_or_else(|| {
                    ServiceError::NotFound(
                        "no municipality contains this geometry (at sea?)".into(),
                    )
                })?;
            let municipality = convert::municipality(&m, &Output::default())?;
            Result::Ok(v1::LocateMunicipalityResponse {
                municipality: Some(municipality),
                share,
            })
        };
        Ok(Response::new(run.await?))
    }

    async fn get_parcel(
        &self,
        request: Request<v1::GetParcelRequest>,
    ) -> std::result::Result<Response<v1::Parcel>, Status> {
        let req = request.into_inner();
        let run = async {
            let code = parse_cadastral_code("cadastral_code", &req.cadastral_code)?;
            let out = convert::output("output", req.output.as_ref())?;
            let as_of = req
                .as_of
                .as_ref()
                .map(|t| convert::from_timestamp("as_of", t))
                .transpose()?;
            let p = self
                .store
                .get_parcel(&code, as_of, !out.omit_geometry)
                .await?
                .ok_or_else(|| match as_of {
                    Some(t) => ServiceError::NotFound(format!("no parcel {code} in force at {t}")),
                    None => ServiceError::NotFound(format!("no current parcel {code}")),
                })?;
            Result::Ok(convert::parcel(&p, &out)?)
        };
        Ok(Response::new(run.await?))
    }

    async fn find_parcels(
        &self,
        request: Request<v1::FindParcelsRequest>,
    ) -> std::result::Result<Response<v1::FindParcelsResponse>, Status> {
        let req = request.into_inner();
        let run = async {
            use v1::find_parcels_request::Filter;
            let geometry = match &req.filter {
                Some(Filter::Intersects(g)) => self.geometry("intersects", Some(g))?,
                Some(Filter::ContainsPoint(g)) => {
                    let p = self.geometry("contains_point", Some(g))?;
                    if !matches!(p.geometry, geo::Geometry::Point(_)) {
                        return Err(InputError::new("contains_point", "must be a Point").into());
                    }
                    p
                }
                Some(Filter::Bbox(b)) => bbox_geometry(b, &self.limits)?,
                None => {
                    return Err(InputError::new(
                        "filter",
                        "one of intersects, bbox or contains_point must be set",
                    )
                    .into());
                }
            };
            let municipality_code = if req.municipality_code.is_empty() {
                None
            } else {
                Some(parse_municipality_code(
                    "municipality_code",
                    &req.municipality_code,
                )?)
            };
            if req.page_size > MAX_PAGE {
                return Err(InputError::new(
                    "page_size",
                    format!("at most {MAX_PAGE} parcels per page"),
                )
                .into());
            }
            let limit = if req.page_size == 0 {
                DEFAULT_PAGE
            } else {
                req.page_size
            } as usize;
            let out = convert::output("output", req.output.as_ref())?;
            let page = self
                .store
                .find_parcels(&ParcelQuery {
                    geometry: geometry.geometry,
                    municipality_code,
                    after: decode_page_token(&req.page_token)?,
                    limit,
                    with_geometry: !out.omit_geometry,
                })
                .await?;
            let parcels = page
                .parcels
                .iter()
                .map(|p| convert::parcel(p, &out))
                .collect::<std::result::Result<_, _>>()?;
            Result::Ok(v1::FindParcelsResponse {
                parcels,
                next_page_token: page
                    .next_after
                    .as_deref()
                    .map(encode_page_token)
                    .unwrap_or_default(),
            })
        };
        Ok(Response::new(run.await?))
    }

    async fn list_layers(
        &self,
        request: Request<v1::ListLayersRequest>,
    ) -> std::result::Result<Response<v1::ListLayersResponse>, Status> {
        let req = request.into_inner();
        let run = async {
            let code = parse_municipality_code("municipality_code", &req.municipality_code)?;
            let kind = convert::layer_kind_filter("kind", req.kind)?;
            if self.store.get_municipality(&code, false).await?.is_none() {
                return Err(ServiceError::NotFound(format!(
                    "no municipality with EHAK code {code}"
                )));
            }
            let layers = self.store.list_layers(&code, kind).await?;
            Result::Ok(v1::ListLayersResponse {
                layers: layers.iter().map(convert::layer).collect(),
            })
        };
        Ok(Response::new(run.await?))
    }

    async fn validate_geometry(
        &self,
        request: Request<v1::ValidateGeometryRequest>,
    ) -> std::result::Result<Response<v1::ValidationReport>, Status> {
        let req = request.into_inner();
        let run = async {
            let built = self.built()?;
            let (proposal, out, as_of) = self.proposal("", &req, &built)?;
            self.check(&built, &proposal, &out, as_of).await
        };
        Ok(Response::new(run.await?))
    }

    async fn validate_geometries(
        &self,
        request: Request<v1::ValidateGeometriesRequest>,
    ) -> std::result::Result<Response<v1::ValidateGeometriesResponse>, Status> {
        let req = request.into_inner();
        let built = self.built()?;
        // Reading the proposals (transforms, validity) and checking them are CPU work: off the
        // runtime's threads, so that a large batch does not hold up other calls, and split over
        // the cores when it is large enough to pay. Each part reads its proposals and, unless
        // one is dated before the index's data, checks them too.
        let parts = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .min(req.proposals.len().div_ceil(64))
            .max(1);
        let per = req.proposals.len().div_ceil(parts).max(1);
        let mut tasks = Vec::with_capacity(parts);
        let mut rest = req.proposals;
        let mut start = 0;
        while !rest.is_empty() {
            let tail = rest.split_off(per.min(rest.len()));
            let chunk = std::mem::replace(&mut rest, tail);
            let (api, built) = (self.clone(), built.clone());
            let first = start;
            start += chunk.len();
            tasks.push(tokio::task::spawn_blocking(move || {
                let mut parsed = Vec::with_capacity(chunk.len());
                for (i, p) in chunk.iter().enumerate() {
                    parsed.push(
                        api.proposal(&format!("proposals[{}]", first + i), p, &built)
                            .map_err(ServiceError::from)?,
                    );
                }
                if parsed.iter().any(|(_, _, as_of)| past(&built, *as_of)) {
                    return Ok::<_, ServiceError>((parsed, None));
                }
                let reports = parsed
                    .iter()
                    .map(|(p, out, _)| {
                        report_message(&rules::validate(&built.index, &built.rules, p), &built, out)
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok((parsed, Some(reports)))
            }));
        }
        let mut done = Vec::with_capacity(tasks.len());
        for task in tasks {
            // Parts are in order: the first error is the lowest-numbered proposal's.
            done.push(
                task.await
                    .map_err(|e| Status::internal(format!("validation stopped: {e}")))??,
            );
        }
        if done.iter().all(|(_, reports)| reports.is_some()) {
            let reports = done.into_iter().flat_map(|(_, r)| r.unwrap_or_default());
            return Ok(Response::new(v1::ValidateGeometriesResponse {
                reports: reports.collect(),
            }));
        }
        // Past dates read PostGIS per proposal: one at a time.
        let mut reports = Vec::new();
        for (p, out, as_of) in done.iter().flat_map(|(parsed, _)| parsed) {
            reports.push(self.check(&built, p, out, *as_of).await?);
        }
        Ok(Response::new(v1::ValidateGeometriesResponse { reports }))
    }

    async fn get_index_stats(
        &self,
        _request: Request<v1::GetIndexStatsRequest>,
    ) -> std::result::Result<Response<v1::IndexStats>, Status> {
        let built = self.built()?;
        let s = &built.index.stats;
        Ok(Response::new(v1::IndexStats {
            parcels: s.parcels as u64,
            parcel_bytes: s.parcel_bytes as u64,
            layers: s
                .layers
                .iter()
                .map(|l| v1::LayerIndexStats {
                    layer_id: l.layer_id,
                    name: l.name.clone(),
                    municipality_code: l.municipality_code.clone().unwrap_or_default(),
                    features: l.features as u64,
                    bytes: l.bytes as u64,
                    dataset_version: l.version.unwrap_or(0),
                })
                .collect(),
            build_seconds: s.build.as_secs_f64(),
            built_at: Some(convert::timestamp(chrono::DateTime::<chrono::Utc>::from(
                built.built_at,
            ))),
            resident_bytes: built.resident_bytes,
        }))
    }

    async fn import_features(
        &self,
        request: Request<tonic::Streaming<v1::ImportFeaturesRequest>>,
    ) -> std::result::Result<Response<v1::ImportFeaturesResponse>, Status> {
        let response = crate::import::run(&self.store, request.into_inner()).await?;
        Ok(Response::new(response))
    }

    type QueryFeaturesStream =
        Pin<Box<dyn Stream<Item = std::result::Result<v1::Feature, Status>> + Send + 'static>>;

    async fn query_features(
        &self,
        request: Request<v1::QueryFeaturesRequest>,
    ) -> std::result::Result<Response<Self::QueryFeaturesStream>, Status> {
        let req = request.into_inner();
        let run = async {
            if req.layer_id <= 0 {
                return Err(InputError::new(
                    "layer_id",
                    "a layer id (from ListLayers) is required",
                )
                .into());
            }
            let geometry = req
                .intersects
                .as_ref()
                .map(|g| self.geometry("intersects", Some(g)))
                .transpose()?;
            let out = convert::output("output", req.output.as_ref())?;
            if req.limit > MAX_FEATURES {
                return Err(InputError::new(
                    "limit",
                    format!("at most {MAX_FEATURES} features per call"),
                )
                .into());
            }
            let limit = if req.limit == 0 {
                MAX_FEATURES
            } else {
                req.limit
            };
            self.store
                .get_layer(req.layer_id)
                .await?
                .ok_or_else(|| ServiceError::NotFound(format!("no layer {}", req.layer_id)))?;
            let rows = self
                .store
                .query_features(
                    req.layer_id,
                    geometry.as_ref().map(|g| &g.geometry),
                    limit as i64,
                    !out.omit_geometry,
                )
                .await?;
            let stream = rows.map(move |r| {
                let f = r.map_err(ServiceError::from)?;
                convert::feature(&f, &out).map_err(|e| Status::from(ServiceError::from(e)))
            });
            Result::Ok(Box::pin(stream) as Self::QueryFeaturesStream)
        };
        Ok(Response::new(run.await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens_round_trip_and_reject_garbage() {
        let t = encode_page_token("78401:101:0238");
        assert_eq!(
            decode_page_token(&t).unwrap().as_deref(),
            Some("78401:101:0238")
        );
        assert_eq!(decode_page_token("").unwrap(), None);
        for bad in [
            "zz",
            "00",
            &hex::encode("v2:78401:101:0238"),
            &hex::encode("v1:nope"),
        ] {
            assert_eq!(decode_page_token(bad).unwrap_err().field, "page_token");
        }
    }
}
