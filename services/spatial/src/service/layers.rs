//! `ListLayers` (paged) and `QueryFeatures` (features streamed in batches as PostGIS returns
//! them, a page at a time).
//!
//! A `QueryFeatures` stream holds a database connection while it runs, so it is capped in
//! number (`ServerLimits::max_feature_streams`, one more is refused with `RESOURCE_EXHAUSTED`,
//! reason `TOO_MANY_STREAMS`), and its rows are read by a task of its own that hands the
//! messages over a short channel: a reader that takes no message for
//! `ServerLimits::feature_stream_stall` loses the stream (it ends with `DEADLINE_EXCEEDED`,
//! reason `STREAM_STALLED`) and the connection goes back to the pool.

use futures::StreamExt;
use kovgis_api::convert;
use kovgis_api::page_token::{Filter, page_size};
use kovgis_api::v1;
use kovgis_api::v1::query_features_request::LayerRef;
use kovgis_api::v1::spatial_service_server::SpatialService;
use kovgis_core::InputError;
use kovgis_core::codes::parse_municipality_code;
use kovgis_core::model::Layer;
use kovgis_core::names::{LayerName, layer_resource_name};
use tonic::Status;

use super::{Result, SpatialApi};
use crate::ServiceError;
use crate::access::Access;
use crate::error::Missing;

/// `ListLayers` pages: the default and the largest.
const DEFAULT_LAYER_PAGE: u32 = 100;
const MAX_LAYER_PAGE: u32 = 1000;
/// `QueryFeatures` pages: the default and the largest.
const DEFAULT_FEATURE_PAGE: u32 = 10_000;
const MAX_FEATURE_PAGE: u32 = 100_000;
/// Features per message of the `QueryFeatures` stream.
const FEATURES_PER_MESSAGE: usize = 500;

type FeatureStream = <SpatialApi as SpatialService>::QueryFeaturesStream;

/// Where a layer stands in the `ListLayers` order — national first, then by kind (in the
/// order of `LayerKind`: zoning, restriction, building, detailed plan, other) and name — as the
/// text a page token carries. The listing is sorted by exactly this key, so a position always
/// lies between two layers.
fn list_position(l: &Layer) -> String {
    format!(
        "{}\u{1f}{}\u{1f}{}",
        l.municipality_code.as_deref().unwrap_or(""),
        convert::layer_kind(l.kind) as i32,
        l.name
    )
}

pub(super) async fn list(
    api: &SpatialApi,
    caller: &Access,
    req: v1::ListLayersRequest,
) -> std::result::Result<v1::ListLayersResponse, Status> {
    let run = async {
        let code = parse_municipality_code("municipality_code", &req.municipality_code)?;
        let kind = convert::layer_kind_filter("kind", req.kind)?;
        if api
            .store
            .get_municipality(caller, &code, false)
            .await?
            .is_none()
        {
            return Err(ServiceError::not_found(
                Missing::Municipality,
                &code,
                format!("no municipality with EHAK code {code}"),
            ));
        }
        let filter = Filter::builder("ListLayers")
            .part(code.as_bytes())
            .part(kind.map(|k| k.as_str()).unwrap_or("").as_bytes())
            .finish();
        let after = api.tokens.open(&filter, &req.page_token)?;
        let size = page_size(req.page_size, DEFAULT_LAYER_PAGE, MAX_LAYER_PAGE) as usize;
        // A municipality sees a few dozen layers: they are read whole and paged here, by
        // position (the store's order, made explicit).
        let mut layers = api.store.list_layers(caller, &code, kind).await?;
        layers.sort_by_cached_key(list_position);
        let start = match &after {
            Some(pos) => layers
                .iter()
                .position(|l| list_position(l) > *pos)
                .unwrap_or(layers.len()),
            None => 0,
        };
        let page = &layers[start..(start + size).min(layers.len())];
        let next_page_token = match page.last() {
            Some(last) if start + size < layers.len() => {
                api.tokens.seal(&filter, &list_position(last))
            }
            _ => String::new(),
        };
        Result::Ok(v1::ListLayersResponse {
            layers: page.iter().map(convert::layer).collect(),
            next_page_token,
        })
    };
    Ok(run.await?)
}

/// The layer a request names, by id or by resource name.
async fn resolve(api: &SpatialApi, caller: &Access, layer: Option<&LayerRef>) -> Result<Layer> {
    let found = match layer {
        Some(LayerRef::LayerId(id)) if *id > 0 => api.store.get_layer(caller, *id).await?,
        Some(LayerRef::Layer(name)) => {
            let n = LayerName::parse("layer", name)?;
            api.store
                .get_layer_by_name(caller, n.municipality_code.as_deref(), &n.name)
                .await?
        }
        _ => {
            return Err(InputError::new(
                "layer_id",
                "a layer is required: its id (from ListLayers) or its resource name in `layer`",
            )
            .into());
        }
    };
    found.ok_or_else(|| {
        let key = match layer {
            Some(LayerRef::LayerId(id)) => id.to_string(),
            Some(LayerRef::Layer(name)) => name.clone(),
            None => String::new(),
        };
        ServiceError::not_found(Missing::Layer, &key, format!("no layer {key}"))
    })
}

pub(super) async fn query_features(
    api: &SpatialApi,
    caller: &Access,
    req: v1::QueryFeaturesRequest,
) -> std::result::Result<FeatureStream, Status> {
    let run = async {
        let layer = resolve(api, caller, req.layer_ref.as_ref()).await?;
        let slot = SpatialApi::slot(&api.streams, "TOO_MANY_STREAMS", "QueryFeatures streams")?;
        let (geometry, hash) = match req.intersects.as_ref() {
            Some(g) => {
                let (g, hash) = api.geometry_admitted("intersects", Some(g)).await?;
                (Some(g), hash)
            }
            None => (None, String::new()),
        };
        let out = convert::output("output", req.output.as_ref())?;
        let size = page_size(req.page_size, DEFAULT_FEATURE_PAGE, MAX_FEATURE_PAGE) as usize;
        let filter = Filter::builder("QueryFeatures")
            .part(&layer.id.to_le_bytes())
            .part(hash.as_bytes())
            .finish();
        let after = match api.tokens.open(&filter, &req.page_token)? {
            Some(cursor) => Some(cursor.parse::<i64>().map_err(|_| {
                InputError::new("page_token", "not a QueryFeatures page token")
                    .with_code(InputError::INVALID_PAGE_TOKEN)
            })?),
            None => None,
        };
        let rows = api
            .store
            .query_features(
                caller,
                layer.id,
                geometry.as_ref().map(|g| &g.geometry),
                after,
                size as i64 + 1,
                !out.omit_geometry,
            )
            .await?;
        let layer_name = layer_resource_name(layer.municipality_code.as_deref(), &layer.name);
        let tokens = api.tokens.clone();
        // Rows in batches; the row after the page's last one only tells that there is more.
        let mut sent = 0usize;
        let mut last_id = None;
        let stream = rows
            .ready_chunks(FEATURES_PER_MESSAGE)
            .map(move |chunk| {
                let mut message = v1::QueryFeaturesResponse::default();
                for r in chunk {
                    let f = r.map_err(ServiceError::from)?;
                    if sent == size {
                        let last: i64 = last_id.expect("a full page has a last feature");
                        message.next_page_token = tokens.seal(&filter, &last.to_string());
                        break;
                    }
                    sent += 1;
                    last_id = Some(f.id);
                    message
                        .features
                        .push(convert::feature(&f, &layer_name, &out).map_err(ServiceError::from)?);
                }
                Result::Ok(message)
            })
            .map(|m| m.map_err(Status::from));
        Result::Ok(detach(stream, slot, api.stream_stall))
    };
    Ok(run.await?)
}

/// Messages in the channel between a stream's reading task and its client.
const STREAM_BUFFER: usize = 2;

/// Runs `stream` in a task of its own, handing its messages to the client over a short
/// channel. When the client takes no message for `stall` (or goes away), the task stops and
/// drops the stream — and with it the database connection — and `slot`; a stalled client then
/// gets what was buffered and `DEADLINE_EXCEEDED`. A panic in the task ends the stream with
/// `INTERNAL` rather than as if it were complete.
fn detach(
    stream: impl futures::Stream<Item = std::result::Result<v1::QueryFeaturesResponse, Status>>
    + Send
    + 'static,
    slot: tokio::sync::OwnedSemaphorePermit,
    stall: std::time::Duration,
) -> FeatureStream {
    use futures::FutureExt;
    use tokio::sync::mpsc::error::SendTimeoutError;
    let (tx, rx) = tokio::sync::mpsc::channel(STREAM_BUFFER);
    let (end_tx, end_rx) = tokio::sync::oneshot::channel::<Status>();
    tokio::spawn(async move {
        let _slot = slot;
        let pump = async {
            let mut stream = std::pin::pin!(stream);
            while let Some(item) = stream.next().await {
                let failed = item.is_err();
                match tx.send_timeout(item, stall).await {
                    Ok(()) if !failed => {}
                    Ok(()) | Err(SendTimeoutError::Closed(_)) => return None,
                    Err(SendTimeoutError::Timeout(_)) => {
                        tracing::info!(
                            stall_s = stall.as_secs_f64(),
                            "QueryFeatures reader stalled; stream ended"
                        );
                        return Some(Status::from(ServiceError::Stalled(format!(
                            "the client took no message for {:.0} s; the stream was ended",
                            stall.as_secs_f64()
                        ))));
                    }
                }
            }
            None
        };
        let end = match std::panic::AssertUnwindSafe(pump).catch_unwind().await {
            Ok(end) => end,
            Err(panic) => Some(Status::from(ServiceError::Panic {
                method: "QueryFeatures",
                message: crate::call::panic_message(panic.as_ref()),
            })),
        };
        if let Some(status) = end {
            let _ = end_tx.send(status);
        }
    });
    // The messages, then the task's ending status if it had one.
    let messages = tokio_stream::wrappers::ReceiverStream::new(rx);
    let end = futures::stream::once(end_rx).filter_map(|r| async move { r.ok().map(Err) });
    Box::pin(messages.chain(end))
}
