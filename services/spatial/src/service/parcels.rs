//! `GetParcel` and `FindParcels` (one page at a time, in cadastral-code order).

use kovgis_api::convert;
use kovgis_api::page_token::{self, page_size};
use kovgis_api::v1;
use kovgis_core::InputError;
use kovgis_core::codes::{parse_cadastral_code, parse_municipality_code};
use kovgis_store::ParcelQuery;
use tonic::Status;

use super::{Result, SpatialApi};
use crate::ServiceError;
use crate::access::Access;
use crate::error::Missing;

/// Largest page of `FindParcels`, and the default.
const MAX_PAGE: u32 = 1000;
const DEFAULT_PAGE: u32 = 100;

pub(super) async fn get(
    api: &SpatialApi,
    caller: &Access,
    req: v1::GetParcelRequest,
) -> std::result::Result<v1::Parcel, Status> {
    let run = async {
        let code = parse_cadastral_code("cadastral_code", &req.cadastral_code)?;
        let out = convert::output("output", req.output.as_ref())?;
        let as_of = req
            .as_of
            .as_ref()
            .map(|t| convert::from_timestamp("as_of", t))
            .transpose()?;
        let p = api
            .store
            .get_parcel(caller, &code, as_of, !out.omit_geometry)
            .await?
            .ok_or_else(|| {
                let message = match as_of {
                    Some(t) => format!("no parcel {code} in force at {t}"),
                    None => format!("no current parcel {code}"),
                };
                ServiceError::not_found(Missing::Parcel, &code, message)
            })?;
        Result::Ok(convert::parcel(&p, &out)?)
    };
    Ok(run.await?)
}

pub(super) async fn find(
    api: &SpatialApi,
    caller: &Access,
    req: v1::FindParcelsRequest,
) -> std::result::Result<v1::FindParcelsResponse, Status> {
    let run = async {
        use v1::find_parcels_request::Filter;
        let (geometry, hash) = match &req.filter {
            Some(Filter::Intersects(g)) => api.geometry_admitted("intersects", Some(g)).await?,
            Some(Filter::ContainsPoint(g)) => {
                let p = api.geometry_admitted("contains_point", Some(g)).await?;
                if !matches!(p.0.geometry, geo::Geometry::Point(_)) {
                    return Err(InputError::new("contains_point", "must be a Point").into());
                }
                p
            }
            Some(Filter::Bbox(b)) => {
                let g = convert::bbox(b, &api.limits)?;
                let hash = g.hash_hex();
                (g, hash)
            }
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
        let limit = page_size(req.page_size, DEFAULT_PAGE, MAX_PAGE) as usize;
        let out = convert::output("output", req.output.as_ref())?;
        // The filter is the normalised geometry (EPSG:3301 WKB, whichever encoding and CRS the
        // caller used) and the municipality.
        let filter = page_token::Filter::builder("FindParcels")
            .part(hash.as_bytes())
            .part(municipality_code.as_deref().unwrap_or("").as_bytes())
            .finish();
        let after = api.tokens.open(&filter, &req.page_token)?;
        let page = api
            .store
            .find_parcels(
                caller,
                &ParcelQuery {
                    geometry: geometry.geometry,
                    municipality_code,
                    after,
                    limit,
                    with_geometry: !out.omit_geometry,
                },
            )
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
                .map(|after| api.tokens.seal(&filter, after))
                .unwrap_or_default(),
        })
    };
    Ok(run.await?)
}
