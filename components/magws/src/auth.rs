//! Who a connection is: a project API key or a signed-in MagUI admin, and
//! what each may do.
//!
//! Guarantees:
//! * A key is accepted only through MagGate's [`ApiKeys::authenticate`]
//!   (hashed lookup, revocation), from the `Authorization: Bearer mf_…`
//!   header of the upgrade request or, for browsers (which cannot set that
//!   header on a WebSocket), from the first message
//!   `{"op":"auth","key":"mf_…"}` within the auth timeout. Never from the
//!   URL: a query string that looks like it carries a key is refused before
//!   anything else ([`reject_keys_in_url`]).
//! * A header with a bad key is refused with 401 before the upgrade; a bad
//!   or late `auth` message closes the socket with 4001.
//! * A MagUI session authenticates only when the upgrade request's `Origin`
//!   is this server's own (its `Host`, or the configured public origin), so
//!   a page of another site cannot ride an admin's cookie (cross-site
//!   WebSocket hijacking); otherwise 403. A request carrying a key never
//!   uses a session.
//! * An API key sees only its own project's channels; an admin names the
//!   project of each operation; an auditor may subscribe but not publish.

use http::{HeaderMap, header};
use magflock_kernel::event::Context;
use magflock_maggate::{AdminCaller, ApiKeys, Principal};
use magflock_types::Role;

use crate::WsError;

/// An authenticated connection's identity.
#[derive(Clone, Debug)]
pub enum Identity {
    Key(Principal),
    Admin(AdminCaller),
}

impl Identity {
    pub fn kind(&self) -> &'static str {
        match self {
            Identity::Key(_) => "api_key",
            Identity::Admin(_) => "session",
        }
    }

    /// The key's project, if a key.
    pub fn own_project(&self) -> Option<&str> {
        match self {
            Identity::Key(key) => Some(&key.project),
            Identity::Admin(_) => None,
        }
    }

    /// The project an operation works in: a key's own (naming another is
    /// refused), or the one an admin names.
    pub fn project(&self, named: Option<&str>) -> Result<String, WsError> {
        match (self, named) {
            (Identity::Key(key), None) => Ok(key.project.clone()),
            (Identity::Key(key), Some(p)) if p == key.project => Ok(key.project.clone()),
            (Identity::Key(key), Some(p)) => Err(WsError::Forbidden(format!(
                "API key {}… belongs to project '{}', not '{p}'",
                key.prefix, key.project
            ))),
            (Identity::Admin(_), Some(p)) => Ok(p.to_string()),
            (Identity::Admin(_), None) => Err(WsError::BadRequest(
                "name the project: a MagUI session is not bound to one (add \"project\")".into(),
            )),
        }
    }

    pub fn may_publish(&self) -> Result<(), WsError> {
        match self {
            Identity::Admin(admin) if !admin.role.at_least(Role::Admin) => {
                Err(WsError::Forbidden(format!(
                    "publishing needs the admin role or higher; you are {}",
                    admin.role.as_str()
                )))
            }
            _ => Ok(()),
        }
    }

    /// The event context of this connection's events.
    pub fn context(&self, project: Option<&str>) -> Context {
        Context {
            project_id: project
                .map(str::to_string)
                .or_else(|| self.own_project().map(str::to_string)),
            user_id: match self {
                Identity::Admin(admin) => Some(admin.user_id.clone()),
                Identity::Key(_) => None,
            },
            trace_id: None,
        }
    }

    /// What `realtime.connection.opened` says about the caller (never a key).
    pub fn describe(&self) -> serde_json::Value {
        match self {
            Identity::Key(key) => serde_json::json!({
                "kind": "api_key", "key_id": key.key_id, "key_prefix": key.prefix,
                "key_name": key.name, "project": key.project,
            }),
            Identity::Admin(admin) => serde_json::json!({
                "kind": "session", "user_id": admin.user_id, "role": admin.role.as_str(),
            }),
        }
    }
}

/// Refuses a URL whose query looks like it carries a key (`mf_…`, `key=`,
/// `token=`, `api_key=`); keys in URLs end up in logs and proxies.
pub fn reject_keys_in_url(query: Option<&str>) -> Result<(), WsError> {
    let Some(query) = query else { return Ok(()) };
    let lower = query.to_ascii_lowercase();
    let suspicious = lower.contains("mf_")
        || lower
            .split('&')
            .filter_map(|pair| pair.split('=').next())
            .any(|name| {
                matches!(
                    name,
                    "key" | "token" | "api_key" | "apikey" | "access_token"
                )
            });
    if suspicious {
        Err(WsError::KeyInUrl)
    } else {
        Ok(())
    }
}

/// The key in an `Authorization` header, checked.
pub async fn key_from_header(
    keys: &ApiKeys,
    headers: &HeaderMap,
) -> Option<Result<Identity, WsError>> {
    let header = headers.get(header::AUTHORIZATION)?;
    let value = header.to_str().unwrap_or("");
    Some(
        keys.authenticate(Some(value))
            .await
            .map(Identity::Key)
            .map_err(WsError::from),
    )
}

/// The key of an `auth` message, checked.
pub async fn key_from_message(keys: &ApiKeys, key: &str) -> Result<Identity, WsError> {
    keys.authenticate(Some(&format!("Bearer {key}")))
        .await
        .map(Identity::Key)
        .map_err(WsError::from)
}

/// Whether the request's `Origin` is this server's own: its `Host` (over
/// http or https) or `public_origin`. No `Origin` is not "own".
pub fn same_origin(headers: &HeaderMap, public_origin: Option<&str>) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let origin = origin.trim_end_matches('/');
    if public_origin.is_some_and(|p| p.trim_end_matches('/') == origin) {
        return true;
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    host.is_some_and(|host| {
        origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            .is_some_and(|o| o.eq_ignore_ascii_case(host))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn only_the_servers_own_origin_counts() {
        let own = headers(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "http://127.0.0.1:3000"),
        ]);
        assert!(same_origin(&own, None));
        let evil = headers(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "https://evil.example"),
        ]);
        assert!(!same_origin(&evil, None));
        assert!(same_origin(&evil, Some("https://evil.example/")));
        assert!(!same_origin(&headers(&[("host", "a")]), None), "no Origin");
    }

    #[test]
    fn keys_in_urls_are_refused() {
        assert!(reject_keys_in_url(None).is_ok());
        assert!(reject_keys_in_url(Some("project=sales")).is_ok());
        for bad in ["key=abc", "x=1&token=t", "k=mf_abc", "API_KEY=z"] {
            assert_eq!(
                reject_keys_in_url(Some(bad)),
                Err(WsError::KeyInUrl),
                "{bad}"
            );
        }
    }

    #[test]
    fn keys_are_bound_to_their_project_and_admins_name_one() {
        let key = Identity::Key(Principal {
            key_id: "k".into(),
            project: "sales".into(),
            name: "ci".into(),
            prefix: "mf_abcde".into(),
            created_by: None,
        });
        assert_eq!(key.project(None).unwrap(), "sales");
        assert!(matches!(
            key.project(Some("hr")),
            Err(WsError::Forbidden(_))
        ));
        let auditor = Identity::Admin(AdminCaller {
            user_id: "u".into(),
            email: "a@example.test".into(),
            role: Role::Auditor,
        });
        assert!(matches!(auditor.project(None), Err(WsError::BadRequest(_))));
        assert_eq!(auditor.project(Some("hr")).unwrap(), "hr");
        assert!(auditor.may_publish().is_err());
        assert!(key.may_publish().is_ok());
    }
}
