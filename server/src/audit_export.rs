//! `GET /audit/export?format=csv|json&<the Audit Log's filters>`: the audit
//! entries a filter matches as a file download.
//!
//! Guarantees: the same wall as MagUI's server functions (the session's
//! validity, the auditor role or higher, `permission_resolver`, refusals
//! audited) before anything is read; the export is audited with its filter
//! and count; the answer is never cached and always a download (so the
//! browser never renders exported text as a page).

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, http::Uri};
use magflock_app::AppError;
use magflock_app::api::audit::filter_from_query;
use magflock_app::server::audit::{ExportFormat, export};
use magflock_app::server::guard::require_in;
use magflock_app::server::{AppContext, ClientIp};
use magflock_types::Role;
use std::collections::HashMap;
use tower_sessions::Session;

pub fn router(ctx: AppContext) -> Router {
    Router::new()
        .route("/audit/export", get(download))
        .with_state(ctx)
}

async fn download(
    State(ctx): State<AppContext>,
    session: Session,
    Extension(ip): Extension<ClientIp>,
    uri: Uri,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    match answer(&ctx, &session, ip, &uri, &params).await {
        Ok(response) => response,
        Err(error) => {
            let status =
                StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (status, error.to_string()).into_response()
        }
    }
}

async fn answer(
    ctx: &AppContext,
    session: &Session,
    ip: ClientIp,
    uri: &Uri,
    params: &HashMap<String, String>,
) -> Result<Response, AppError> {
    let caller = require_in(ctx, session, ip.0, Some(uri.path()), Role::Auditor).await?;
    let format = ExportFormat::parse(params.get("format").map_or("csv", String::as_str))?;
    let filter = filter_from_query(|key| params.get(key).cloned(), 0);
    let body = export(ctx, &caller, filter, format).await?;
    let day = magflock_types::time::format_utc(magflock_store::now_millis());
    let file = format!(
        "attachment; filename=\"magflock-audit-{}.{}\"",
        day.get(..10).unwrap_or("export"),
        format.extension()
    );
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&file).map_err(AppError::internal)?,
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
