//! `GET /openapi.json`: an OpenAPI 3.1 document of the gateway's routes.
//!
//! Guarantees: built at each request from the live state, so it lists exactly
//! the extension endpoints that would be served now (loaded, contributing the
//! endpoint, holding `api.register_endpoint`), one path per endpoint
//! (`/ext/<publisher>/<name>/<endpoint>`, accepting GET and POST), tagged with
//! the extension id and version; every operation but the document itself
//! requires a bearer API key, and lists the gateway's error answers.

use magflock_kernel::Capability;
use serde_json::{Map, Value, json};

use crate::GateKernel;
use crate::endpoints::{MOUNT, contributed};

fn errors() -> Value {
    json!({
        "401": {"description": "missing, unknown or revoked API key", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
        "403": {"description": "denied by an extension's filter"},
        "413": {"description": "request body too large"},
        "429": {"description": "rate limit exceeded (see Retry-After)"},
        "504": {"description": "the extension did not answer in time"},
    })
}

fn operation(summary: &str, tag: &str, operation_id: &str) -> Value {
    let mut responses = errors();
    responses["200"] = json!({"description": "the extension's answer"});
    json!({
        "summary": summary,
        "tags": [tag],
        "operationId": operation_id,
        "security": [{"apiKey": []}],
        "responses": responses,
    })
}

fn platform_paths() -> Map<String, Value> {
    let mut paths = Map::new();
    paths.insert(
        "/openapi.json".into(),
        json!({"get": {"summary": "This document", "tags": ["platform"], "operationId": "openapi",
            "security": [], "responses": {"200": {"description": "OpenAPI document"}}}}),
    );
    let mut whoami = operation(
        "The calling API key (never its secret)",
        "platform",
        "whoami",
    );
    whoami["responses"]["200"] = json!({"description": "the key's id, project, name and prefix"});
    paths.insert("/v1/whoami".into(), json!({"get": whoami}));
    paths
}

fn extension_paths(kernel: &GateKernel) -> Map<String, Value> {
    let mut paths = Map::new();
    for loaded in kernel.sandbox.loaded() {
        let id = loaded.id();
        if kernel
            .gate
            .check(id, Capability::ApiRegisterEndpoint)
            .is_err()
        {
            continue;
        }
        for endpoint in contributed(loaded.manifest()) {
            let summary = endpoint
                .title
                .clone()
                .unwrap_or_else(|| endpoint.id.clone());
            let op_id = format!("{id}/{}", endpoint.id).replace(['/', '-'], "_");
            let mut item = json!({
                "get": operation(&summary, id, &format!("{op_id}_get")),
                "post": operation(&summary, id, &format!("{op_id}_post")),
            });
            item["x-magflock-extension"] =
                json!({"id": id, "version": loaded.manifest().version.to_string()});
            paths.insert(format!("{MOUNT}/{id}/{}", endpoint.id), item);
        }
    }
    paths
}

/// The document, now.
pub fn document(kernel: &GateKernel) -> Value {
    let mut paths = platform_paths();
    paths.extend(extension_paths(kernel));
    json!({
        "openapi": "3.1.0",
        "info": {"title": "MagFlock API (MagGate)", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer", "description": "a project API key, mf_…"}},
            "schemas": {"Error": {"type": "object", "required": ["error", "message"],
                "properties": {"error": {"type": "string"}, "message": {"type": "string"}}}},
        },
    })
}
