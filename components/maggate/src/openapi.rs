//! `GET /openapi.json`: an OpenAPI 3.1 document of the gateway's routes.
//!
//! Guarantees: built at each request from the live state, so it lists exactly
//! the extension endpoints that would be served now (loaded, contributing the
//! endpoint, holding `api.register_endpoint`), one path per endpoint
//! (`/ext/<publisher>/<name>/<endpoint>`, accepting GET and POST) and one per
//! API version it lists (`/<version>/ext/...`), tagged with the extension id
//! and version; the projects API when MagDS is attached. Every operation but
//! the document itself requires a bearer API key or a MagUI session, and
//! lists the gateway's error answers.

use serde_json::{Map, Value, json};

use crate::GateKernel;
use crate::endpoints::{MOUNT, contributed, serving};

fn errors() -> Value {
    json!({
        "401": {"description": "missing, unknown or revoked API key", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
        "403": {"description": "denied by an extension's filter, or the caller's role or key does not allow it"},
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
        "security": [{"apiKey": []}, {"session": []}],
        "responses": responses,
    })
}

/// A projects-API operation: `who` may call it; it answers `ok` with `description`.
fn project_operation(
    summary: &str,
    operation_id: &str,
    who: &str,
    ok: &str,
    description: &str,
) -> Value {
    let mut op = operation(summary, "projects", operation_id);
    op["description"] = json!(format!("Allowed: {who}."));
    op["responses"][ok] = json!({"description": description});
    if let Some(responses) = op["responses"].as_object_mut()
        && ok != "200"
    {
        responses.remove("200");
    }
    op
}

fn project_paths() -> Map<String, Value> {
    const ANY_ROLE_OR_KEY: &str = "any MagUI role; an API key of that project";
    const ADMIN: &str = "a MagUI session with the admin or owner role";
    let mut paths = Map::new();
    paths.insert("/v1/projects".into(), json!({
        "get": project_operation("List projects", "projects_list", "any MagUI role (all); an API key (its own project)", "200", "the projects and the engine"),
        "post": project_operation("Create a project and its database (body: name, extensions)", "projects_create", ADMIN, "201", "the new project"),
    }));
    paths.insert("/v1/projects/{name}".into(), json!({
        "get": project_operation("A project and its migrations", "projects_get", ANY_ROLE_OR_KEY, "200", "the project"),
        "delete": project_operation("Delete a project, its database and its keys", "projects_delete", ADMIN, "200", "what was deleted"),
    }));
    paths.insert("/v1/projects/{name}/health".into(), json!({
        "get": project_operation("A project database's health", "projects_health", ANY_ROLE_OR_KEY, "200", "connections, size, replication lag"),
    }));
    paths.insert("/v1/projects/{name}/keys".into(), json!({
        "get": project_operation("A project's API keys (prefixes only)", "keys_list", "any MagUI role", "200", "the keys"),
        "post": project_operation("Issue an API key (body: name); the key is in this answer only", "keys_issue", ADMIN, "201", "the key, shown once"),
    }));
    paths.insert("/v1/projects/{name}/keys/{id}".into(), json!({
        "delete": project_operation("Revoke an API key", "keys_revoke", ADMIN, "200", "the revoked key"),
    }));
    paths
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
    let mut issue = operation(
        "Make a personal access token (body: name, days); shown once",
        "tokens",
        "tokens_issue",
    );
    issue["description"] = json!("Allowed: a signed-in MagUI session (not a token).");
    paths.insert("/v1/tokens".into(), json!({
        "get": operation("Your personal access tokens (an owner: everyone's)", "tokens", "tokens_list"),
        "post": issue,
    }));
    paths.insert(
        "/v1/tokens/{id}".into(),
        json!({
            "delete": operation("Revoke a personal access token", "tokens", "tokens_revoke"),
        }),
    );
    paths
}

fn extension_paths(kernel: &GateKernel) -> Map<String, Value> {
    let mut paths = Map::new();
    for loaded in serving(kernel) {
        let id = loaded.id();
        for endpoint in contributed(loaded.manifest()) {
            let summary = endpoint
                .title
                .clone()
                .unwrap_or_else(|| endpoint.id.clone());
            let op_id = format!("{id}/{}", endpoint.id).replace(['/', '-'], "_");
            let unversioned = endpoint.versions.first().map(String::as_str);
            let versioned = endpoint
                .versions
                .iter()
                .map(|v| (Some(v.as_str()), v.as_str()));
            for (version, serves) in
                std::iter::once((None, unversioned.unwrap_or("v1"))).chain(versioned)
            {
                let op_id = match version {
                    Some(v) => format!("{op_id}_{v}"),
                    None => op_id.clone(),
                };
                let mut item = json!({
                    "get": operation(&summary, id, &format!("{op_id}_get")),
                    "post": operation(&summary, id, &format!("{op_id}_post")),
                });
                item["x-magflock-extension"] = json!({
                    "id": id, "version": loaded.manifest().version.to_string(),
                    "api_version": serves, "api_versions": endpoint.versions,
                });
                let path = format!("{MOUNT}/{id}/{}", endpoint.id);
                let path = match version {
                    Some(v) => format!("/{v}{path}"),
                    None => path,
                };
                paths.insert(path, item);
            }
        }
    }
    paths
}

/// The document, now.
pub fn document(kernel: &GateKernel, with_projects: bool) -> Value {
    let mut paths = platform_paths();
    if with_projects {
        paths.extend(project_paths());
    }
    paths.extend(extension_paths(kernel));
    json!({
        "openapi": "3.1.0",
        "info": {"title": "MagFlock API (MagGate)", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {
            "securitySchemes": {
                "apiKey": {"type": "http", "scheme": "bearer", "description": "a project API key or a personal access token, mf_…"},
                "session": {"type": "apiKey", "in": "cookie", "name": "magflock_session", "description": "a signed-in MagUI user (same-origin requests only)"},
            },
            "schemas": {"Error": {"type": "object", "required": ["error", "message"],
                "properties": {"error": {"type": "string"}, "message": {"type": "string"}}}},
        },
    })
}
