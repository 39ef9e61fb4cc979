//! Naming Policy: `before_db_create` and `before_project_create` filters that
//! refuse database and project names breaking the configured rule, with a
//! reason naming the rule:
//! * `max_length`: at most this many bytes (Postgres keeps 63);
//! * `forbidden_prefixes`: names may not start with these (case-insensitive);
//! * `pattern`: the naming style (`snake_case`, `kebab-case`, `camelCase`,
//!   `PascalCase`, `lowercase` or `any`), matched without regular expressions.
//!
//! The same check answers the `check` endpoint (JSON) and the `check`
//! command. After a schema change made in MagUI (`after_schema_change`) it
//! checks the changed table's name and keeps the last [`KEEP_CHANGES`]
//! verdicts (key `changes`); MagUI's schema explorer (`extend_schema_explorer`)
//! shows a Naming tab rendered from widget [`SCHEMA_EXPLORER`]: the table's
//! and its columns' verdicts and the project's recent changes. The settings
//! `init` receives are kept in the key-value store under `config`, so every
//! instance applies the same policy.

use magflock_sdk::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The widget id MagUI asks for the schema explorer's tab.
const SCHEMA_EXPLORER: &str = "schema-explorer";
/// How many checked schema changes are kept.
const KEEP_CHANGES: usize = 20;

/// A schema change MagUI reported, with the verdict on the table's name.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
struct CheckedChange {
    project_id: String,
    table: Option<String>,
    change: String,
    /// `None` when the name follows the rule (or no table was named).
    broken_rule: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Style {
    Snake,
    Kebab,
    Camel,
    Pascal,
    Lower,
    Any,
}

impl Style {
    const ALL: [Style; 6] = [
        Style::Snake,
        Style::Kebab,
        Style::Camel,
        Style::Pascal,
        Style::Lower,
        Style::Any,
    ];

    fn name(self) -> &'static str {
        match self {
            Style::Snake => "snake_case",
            Style::Kebab => "kebab-case",
            Style::Camel => "camelCase",
            Style::Pascal => "PascalCase",
            Style::Lower => "lowercase",
            Style::Any => "any",
        }
    }

    fn parse(text: &str) -> Result<Style, String> {
        Style::ALL
            .into_iter()
            .find(|s| s.name().eq_ignore_ascii_case(text))
            .ok_or_else(|| {
                let names: Vec<_> = Style::ALL.iter().map(|s| s.name()).collect();
                format!("`pattern` '{text}' is not one of {}", names.join(", "))
            })
    }

    fn describe(self) -> &'static str {
        match self {
            Style::Snake => {
                "use lower-case letters and digits in words joined by single underscores, starting with a letter (like sales_eu_2024)"
            }
            Style::Kebab => {
                "use lower-case letters and digits in words joined by single hyphens, starting with a letter (like sales-eu-2024)"
            }
            Style::Camel => {
                "use letters and digits only, starting with a lower-case letter (like salesEu2024)"
            }
            Style::Pascal => {
                "use letters and digits only, starting with an upper-case letter (like SalesEu2024)"
            }
            Style::Lower => {
                "use lower-case letters and digits only, starting with a letter (like saleseu2024)"
            }
            Style::Any => "any name",
        }
    }

    fn matches(self, name: &str) -> bool {
        let first = name.chars().next();
        let lower_first = first.is_some_and(|c| c.is_ascii_lowercase());
        let alnum = name.chars().all(|c| c.is_ascii_alphanumeric());
        let words = |sep: char| {
            name.split(sep).all(|word| {
                !word.is_empty()
                    && word
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            })
        };
        match self {
            Style::Snake => lower_first && words('_'),
            Style::Kebab => lower_first && words('-'),
            Style::Camel => lower_first && alnum,
            Style::Pascal => first.is_some_and(|c| c.is_ascii_uppercase()) && alnum,
            Style::Lower => {
                lower_first
                    && name
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            }
            Style::Any => true,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
struct Config {
    pattern: String,
    max_length: usize,
    forbidden_prefixes: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            pattern: "snake_case".into(),
            max_length: 63,
            forbidden_prefixes: vec!["pg_".into(), "magflock_".into()],
        }
    }
}

/// A checked configuration.
struct Policy {
    style: Style,
    config: Config,
}

impl Policy {
    fn from_config(config: Config) -> Result<Policy, String> {
        let style = Style::parse(&config.pattern)?;
        if !(1..=63).contains(&config.max_length) {
            return Err("`max_length` must be 1 to 63 (Postgres keeps 63 bytes of a name)".into());
        }
        if config.forbidden_prefixes.iter().any(|p| p.is_empty()) {
            return Err("`forbidden_prefixes` must not contain an empty prefix".into());
        }
        Ok(Policy { style, config })
    }

    /// The stored policy; the defaults if none was stored.
    fn load() -> Policy {
        host::kv::get("config")
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .and_then(|config| Policy::from_config(config).ok())
            .unwrap_or_else(|| Policy::from_config(Config::default()).expect("valid defaults"))
    }

    /// `Err((rule, what is wrong))` for a name the policy refuses.
    fn check(&self, name: &str) -> Result<(), (String, String)> {
        if name.is_empty() {
            return Err(("not_empty".into(), "a name is required".into()));
        }
        if name.len() > self.config.max_length {
            return Err((
                "max_length".into(),
                format!(
                    "it is {} bytes long; at most {} are allowed",
                    name.len(),
                    self.config.max_length
                ),
            ));
        }
        let lower = name.to_lowercase();
        if let Some(prefix) = self
            .config
            .forbidden_prefixes
            .iter()
            .find(|p| lower.starts_with(&p.to_lowercase()))
        {
            return Err((
                "forbidden_prefixes".into(),
                format!("names starting with '{prefix}' are reserved"),
            ));
        }
        if !self.style.matches(name) {
            return Err((self.style.name().into(), self.style.describe().into()));
        }
        Ok(())
    }

    fn summary(&self) -> String {
        let mut text = format!(
            "names must be {}, at most {} bytes",
            self.style.name(),
            self.config.max_length
        );
        if !self.config.forbidden_prefixes.is_empty() {
            text.push_str(&format!(
                ", not starting with {}",
                self.config.forbidden_prefixes.join(", ")
            ));
        }
        text
    }

    fn verdict(&self, name: &str) -> Value {
        let (rule, reason) = match self.check(name) {
            Ok(()) => (None, None),
            Err((rule, reason)) => (Some(rule), Some(reason)),
        };
        json!({
            "name": name,
            "allowed": rule.is_none(),
            "rule": rule,
            "reason": reason,
            "policy": {
                "pattern": self.style.name(),
                "max_length": self.config.max_length,
                "forbidden_prefixes": self.config.forbidden_prefixes,
            },
        })
    }
}

/// The value of `key` in a query string, percent-decoded.
fn query_param(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(k) == key).then(|| percent_decode(v))
    })
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

struct NamingPolicy;

impl Extension for NamingPolicy {
    fn init(config: &str) -> Result<(), String> {
        let config: Config = if config.trim().is_empty() {
            Config::default()
        } else {
            serde_json::from_str(config).map_err(|e| format!("configuration: {e}"))?
        };
        let policy = Policy::from_config(config).map_err(|e| format!("configuration: {e}"))?;
        let bytes = serde_json::to_vec(&policy.config).map_err(|e| e.to_string())?;
        host::kv::set("config", &bytes)
    }

    fn health_check() -> HealthReport {
        HealthReport {
            status: HealthStatus::Healthy,
            message: format!("enforcing: {}", Policy::load().summary()),
        }
    }

    fn handle_hook(hook: Hook) -> Result<HookOutcome, String> {
        match hook.name.as_str() {
            "before_db_create" => {
                let name = hook
                    .field("database")
                    .ok_or("the before_db_create payload has no `database` name")?;
                Ok(refuse_broken("database", name, hook.field("project_id")))
            }
            "before_project_create" => {
                let name = hook
                    .field("name")
                    .ok_or("the before_project_create payload has no `name`")?;
                Ok(refuse_broken("project", name, None))
            }
            "after_schema_change" => {
                record_change(&hook)?;
                Ok(HookOutcome::Allow)
            }
            _ => Ok(HookOutcome::Allow),
        }
    }

    fn render_widget(widget_id: &str, props: Value) -> Result<View, String> {
        if widget_id != SCHEMA_EXPLORER {
            return Err(format!("unknown widget '{widget_id}'"));
        }
        Ok(explorer_tab(&Policy::load(), &props, &load_changes()))
    }

    fn handle_request(request: HttpRequest) -> Result<HttpResponse, String> {
        let (path, query) = request
            .path
            .split_once('?')
            .unwrap_or((request.path.as_str(), ""));
        if path.trim_matches('/') != "check" {
            return Ok(HttpResponse::json(
                404,
                json!({"error": "not found: use GET check?name=<name> or POST check with {\"name\": \"...\"}"}),
            ));
        }
        let name = match request.method.to_ascii_uppercase().as_str() {
            "GET" => query_param(query, "name"),
            "POST" => serde_json::from_slice::<Value>(&request.body)
                .ok()
                .and_then(|body| body.get("name")?.as_str().map(String::from)),
            _ => {
                let mut response = HttpResponse::json(405, json!({"error": "use GET or POST"}));
                response.headers.push(host::Header {
                    name: "allow".into(),
                    value: "GET, POST".into(),
                });
                return Ok(response);
            }
        };
        Ok(match name {
            Some(name) => HttpResponse::json(200, Policy::load().verdict(&name)),
            None => HttpResponse::json(
                400,
                json!({"error": "give the name: GET check?name=<name> or POST {\"name\": \"...\"}"}),
            ),
        })
    }

    fn run_command(command: &str, args: Vec<String>) -> Result<String, String> {
        if command != "check" {
            return Err(format!("unknown command '{command}' (check)"));
        }
        if args.is_empty() {
            return Err("usage: check <name> [<name> ...]".into());
        }
        let policy = Policy::load();
        let lines: Vec<String> = args
            .iter()
            .map(|name| match policy.check(name) {
                Ok(()) => format!("'{name}' is allowed"),
                Err((rule, reason)) => {
                    format!("'{name}' is NOT allowed: breaks rule '{rule}': {reason}")
                }
            })
            .collect();
        Ok(format!("{}\n({})", lines.join("\n"), policy.summary()))
    }
}

/// Allows `name`, or denies it naming the broken rule.
fn refuse_broken(what: &str, name: &str, project_id: Option<&str>) -> HookOutcome {
    match Policy::load().check(name) {
        Ok(()) => HookOutcome::Allow,
        Err((rule, reason)) => {
            log_info(&format!(
                "refused {what} '{name}' (project {}): rule '{rule}'",
                project_id.unwrap_or("new")
            ));
            HookOutcome::Deny(format!(
                "{what} name '{name}' breaks the naming rule '{rule}': {reason}"
            ))
        }
    }
}

fn load_changes() -> Vec<CheckedChange> {
    host::kv::get("changes")
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

/// Checks the changed table's name and keeps the verdict (newest first).
fn record_change(hook: &Hook) -> Result<(), String> {
    let table = hook.field("table").map(str::to_string);
    let change = CheckedChange {
        project_id: hook.field("project_id").unwrap_or_default().to_string(),
        broken_rule: table
            .as_deref()
            .and_then(|t| Policy::load().check(t).err().map(|(rule, _)| rule)),
        change: hook.field("change").unwrap_or("changed").to_string(),
        table,
    };
    if let Some(rule) = &change.broken_rule {
        log_warn(&format!(
            "table '{}' breaks the naming rule '{rule}'",
            change.table.as_deref().unwrap_or_default()
        ));
    }
    let mut changes = load_changes();
    changes.insert(0, change);
    changes.truncate(KEEP_CHANGES);
    let bytes = serde_json::to_vec(&changes).map_err(|e| e.to_string())?;
    host::kv::set("changes", &bytes)
}

fn verdict_text(policy: &Policy, name: &str) -> String {
    match policy.check(name) {
        Ok(()) => "follows the rule".to_string(),
        Err((rule, reason)) => format!("breaks '{rule}': {reason}"),
    }
}

/// The schema explorer's Naming tab for the table in `props`
/// (`project_id`, `schema`, `table`, and `columns`: the column names).
fn explorer_tab(policy: &Policy, props: &Value, changes: &[CheckedChange]) -> View {
    let text = |field: &str| props.get(field).and_then(Value::as_str).unwrap_or_default();
    let (project_id, table) = (text("project_id"), text("table"));
    let mut children = vec![
        View::Heading {
            text: format!("Naming: {table}"),
        },
        View::Text {
            text: format!("Table '{table}' {}.", verdict_text(policy, table)),
        },
    ];
    let columns: Vec<&str> = props
        .get("columns")
        .and_then(Value::as_array)
        .map(|c| c.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if !columns.is_empty() {
        children.push(View::Table {
            columns: vec!["Column".into(), "Naming".into()],
            rows: columns
                .iter()
                .map(|c| vec![c.to_string(), verdict_text(policy, c)])
                .collect(),
        });
    }
    let recent: Vec<Vec<String>> = changes
        .iter()
        .filter(|c| c.project_id == project_id)
        .map(|c| {
            vec![
                c.table.clone().unwrap_or_else(|| "(no table)".into()),
                c.change.clone(),
                match &c.broken_rule {
                    Some(rule) => format!("breaks '{rule}'"),
                    None => "follows the rule".into(),
                },
            ]
        })
        .collect();
    children.push(View::Heading {
        text: "Recent schema changes checked".into(),
    });
    children.push(if recent.is_empty() {
        View::Text {
            text: "No schema change was made in this project since the policy was installed."
                .into(),
        }
    } else {
        View::Table {
            columns: vec!["Table".into(), "Change".into(), "Naming".into()],
            rows: recent,
        }
    });
    children.push(View::Text {
        text: format!("Policy: {}.", policy.summary()),
    });
    View::Stack { children }
}

magflock_sdk::extension!(NamingPolicy);

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(pattern: &str) -> Policy {
        Policy::from_config(Config {
            pattern: pattern.into(),
            ..Config::default()
        })
        .unwrap()
    }

    #[test]
    fn styles_match_without_regex() {
        let cases = [
            ("snake_case", "sales_eu_2024", true),
            ("snake_case", "Sales", false),
            ("snake_case", "sales__eu", false),
            ("snake_case", "sales_", false),
            ("snake_case", "1sales", false),
            ("kebab-case", "sales-eu", true),
            ("kebab-case", "sales_eu", false),
            ("camelCase", "salesEu2", true),
            ("camelCase", "SalesEu", false),
            ("PascalCase", "SalesEu", true),
            ("lowercase", "sales2024", true),
            ("lowercase", "sales_2024", false),
            ("any", "Whatever-You_Like", true),
        ];
        for (pattern, name, ok) in cases {
            assert_eq!(policy(pattern).check(name).is_ok(), ok, "{pattern} {name}");
        }
    }

    #[test]
    fn each_refusal_names_its_rule() {
        let p = policy("snake_case");
        let rule = |name: &str| p.check(name).unwrap_err().0;
        assert_eq!(rule(&"a".repeat(64)), "max_length");
        assert_eq!(rule("PG_stats"), "forbidden_prefixes");
        assert_eq!(rule("magflock_x"), "forbidden_prefixes");
        assert_eq!(rule("Sales"), "snake_case");
        assert_eq!(rule(""), "not_empty");
        assert!(p.check(&"a".repeat(63)).is_ok());
        assert!(
            Policy::from_config(Config {
                pattern: "SCREAMING".into(),
                ..Config::default()
            })
            .is_err()
        );
        assert_eq!(p.verdict("Sales")["allowed"], json!(false));
    }

    #[test]
    fn the_explorer_tab_shows_table_column_and_change_verdicts() {
        let p = policy("snake_case");
        let changes = vec![
            CheckedChange {
                project_id: "p1".into(),
                table: Some("Orders".into()),
                change: "created".into(),
                broken_rule: Some("snake_case".into()),
            },
            CheckedChange {
                project_id: "other".into(),
                table: Some("elsewhere".into()),
                change: "created".into(),
                broken_rule: None,
            },
        ];
        let props = json!({"project_id": "p1", "schema": "public", "table": "orders",
                           "columns": ["id", "CustomerName"]});
        let text = explorer_tab(&p, &props, &changes).to_json();
        assert!(text.contains("Table 'orders' follows the rule."), "{text}");
        assert!(text.contains("CustomerName"), "{text}");
        assert!(text.contains("breaks 'snake_case'"), "{text}");
        assert!(text.contains("Orders"), "{text}");
        assert!(
            !text.contains("elsewhere"),
            "other projects' changes stay out: {text}"
        );
        let empty = explorer_tab(&p, &json!({"project_id": "p2", "table": "t"}), &changes);
        assert!(empty.to_json().contains("No schema change"));
    }

    #[test]
    fn query_strings_are_decoded() {
        assert_eq!(
            query_param("x=1&name=a%5Fb+c", "name").as_deref(),
            Some("a_b c")
        );
        assert_eq!(query_param("x=1", "name"), None);
    }
}
