//! Query Insights: learns from `database.query.executed` events which queries
//! are slow, grouping executions by their normalised SQL (literals, comments
//! and spacing removed, so `WHERE id = 7` and `WHERE id = 9` are one query).
//!
//! Event data read: `sql` (or `query`), `duration_ms` (a number), `rows` (or
//! `rows_returned`, optional) and `project_id` (or the event context's).
//!
//! Everything lives in the extension's own key-value store:
//! * `config`: the settings `init` was given (`keep`, `slow_ms`);
//! * `summary`: totals and the ids of recent events (redeliveries are skipped);
//! * `q/<hash>`: calls, total, maximum time of one normalised query;
//! * `slowest`: the `keep` slowest distinct queries of at least `slow_ms`.
//!
//! Shown by the `slowest-queries` widget and the `top` command; `reset`
//! forgets it all.

use magflock_sdk::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Distinct queries with statistics; past this, new ones are only counted.
const MAX_TRACKED: u64 = 500;
/// Normalised SQL is cut to this many characters.
const MAX_SQL_CHARS: usize = 1000;
/// Event ids remembered for de-duplication.
const RECENT_IDS: usize = 128;

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
struct Config {
    keep: usize,
    slow_ms: f64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            keep: 20,
            slow_ms: 100.0,
        }
    }
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
struct Summary {
    events: u64,
    slow: u64,
    tracked: u64,
    untracked: u64,
    skipped: u64,
    recent: Vec<String>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
struct Stats {
    sql: String,
    calls: u64,
    total_ms: f64,
    max_ms: f64,
    last_seen: String,
}

/// One entry of the slowest list: a normalised query at its slowest run.
#[derive(Clone, Debug, Deserialize, Serialize)]
struct Slow {
    hash: String,
    sql: String,
    duration_ms: f64,
    rows: Option<u64>,
    project_id: Option<String>,
    at: String,
}

fn load<T: for<'de> Deserialize<'de> + Default>(key: &str) -> T {
    host::kv::get(key)
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

fn save<T: Serialize>(key: &str, value: &T) -> Result<(), String> {
    let bytes = serde_json::to_vec(value).map_err(|e| e.to_string())?;
    host::kv::set(key, &bytes)
}

fn config() -> Config {
    load("config")
}

struct QueryInsights;

impl Extension for QueryInsights {
    fn init(config: &str) -> Result<(), String> {
        let config: Config = if config.trim().is_empty() {
            Config::default()
        } else {
            serde_json::from_str(config).map_err(|e| format!("configuration: {e}"))?
        };
        if config.keep == 0 || config.keep > 200 {
            return Err("configuration: `keep` must be 1 to 200".into());
        }
        if !config.slow_ms.is_finite() || config.slow_ms < 0.0 {
            return Err("configuration: `slow_ms` must be a number of at least 0".into());
        }
        save("config", &config)
    }

    fn health_check() -> HealthReport {
        let summary: Summary = load("summary");
        let config = config();
        let message = format!(
            "{} queries seen, {} slow (at least {} ms), {} distinct tracked",
            summary.events, summary.slow, config.slow_ms, summary.tracked
        );
        if summary.untracked > 0 {
            return HealthReport {
                status: HealthStatus::Degraded,
                message: format!(
                    "{message}; statistics are full ({MAX_TRACKED} distinct queries) and {} runs of new queries were not tracked: run `reset`",
                    summary.untracked
                ),
            };
        }
        HealthReport {
            status: HealthStatus::Healthy,
            message,
        }
    }

    fn handle_event(event: Event) -> Result<(), String> {
        let mut summary: Summary = load("summary");
        if summary.recent.contains(&event.event_id) {
            return Ok(());
        }
        summary.recent.push(event.event_id.clone());
        if summary.recent.len() > RECENT_IDS {
            summary.recent.remove(0);
        }
        let data = &event.data;
        let sql = text(data, &["sql", "query"]);
        let duration = data.get("duration_ms").and_then(Value::as_f64);
        let (Some(sql), Some(duration)) = (sql, duration.filter(|d| d.is_finite() && *d >= 0.0))
        else {
            log_warn(&format!(
                "event {} has no `sql` and `duration_ms`; skipped",
                event.event_id
            ));
            summary.skipped += 1;
            return save("summary", &summary);
        };
        let rows = ["rows", "rows_returned"]
            .iter()
            .find_map(|k| data.get(*k).and_then(Value::as_u64));
        let project_id = text(data, &["project_id"]).or(event.context.project_id.clone());

        summary.events += 1;
        let normalised = normalise(&sql);
        let hash = fnv1a(&normalised);
        let key = format!("q/{hash}");
        let existing = host::kv::get(&key).and_then(|b| serde_json::from_slice::<Stats>(&b).ok());
        let tracked = existing.is_some() || summary.tracked < MAX_TRACKED;
        if tracked {
            if existing.is_none() {
                summary.tracked += 1;
            }
            let mut stats = existing.unwrap_or_else(|| Stats {
                sql: normalised.clone(),
                ..Stats::default()
            });
            stats.calls += 1;
            stats.total_ms += duration;
            stats.max_ms = stats.max_ms.max(duration);
            stats.last_seen = event.timestamp.clone();
            save(&key, &stats)?;
        } else {
            summary.untracked += 1;
        }

        let config = config();
        if duration >= config.slow_ms {
            summary.slow += 1;
            let entry = Slow {
                hash,
                sql: normalised,
                duration_ms: duration,
                rows,
                project_id,
                at: event.timestamp,
            };
            let mut slowest: Vec<Slow> = load("slowest");
            if remember_slow(&mut slowest, entry, config.keep) {
                save("slowest", &slowest)?;
            }
        }
        save("summary", &summary)
    }

    fn render_widget(widget_id: &str, props: Value) -> Result<View, String> {
        if widget_id != "slowest-queries" {
            return Err(format!("unknown widget '{widget_id}'"));
        }
        let config = config();
        let limit = props
            .get("limit")
            .and_then(Value::as_u64)
            .map_or(config.keep, |n| n as usize);
        let summary: Summary = load("summary");
        let slowest: Vec<Slow> = load("slowest");
        let rows = slowest
            .iter()
            .take(limit)
            .map(|s| {
                let stats: Stats = load(&format!("q/{}", s.hash));
                vec![
                    s.sql.clone(),
                    ms(s.duration_ms),
                    stats.calls.to_string(),
                    ms(average(&stats)),
                    ms(stats.total_ms),
                    s.rows.map(|r| r.to_string()).unwrap_or_default(),
                    s.project_id.clone().unwrap_or_default(),
                    s.at.clone(),
                ]
            })
            .collect();
        let table = View::Table {
            columns: [
                "Query",
                "Slowest (ms)",
                "Calls",
                "Average (ms)",
                "Total (ms)",
                "Rows",
                "Project",
                "Slowest at",
            ]
            .map(String::from)
            .to_vec(),
            rows,
        };
        let body = if slowest.is_empty() {
            View::Text {
                text: format!("No query has taken {} ms or more yet.", config.slow_ms),
            }
        } else {
            table
        };
        Ok(View::Stack {
            children: vec![
                View::Stat {
                    label: "Queries seen".into(),
                    value: summary.events.to_string(),
                },
                View::Stat {
                    label: format!("Slow (at least {} ms)", config.slow_ms),
                    value: summary.slow.to_string(),
                },
                body,
            ],
        })
    }

    fn run_command(command: &str, args: Vec<String>) -> Result<String, String> {
        match command {
            "top" => top(&args),
            "reset" => {
                let mut removed = 0;
                for key in host::kv::keys("q/") {
                    host::kv::delete(&key)?;
                    removed += 1;
                }
                host::kv::delete("slowest")?;
                host::kv::delete("summary")?;
                Ok(format!(
                    "forgot the statistics of {removed} queries and the slowest list"
                ))
            }
            other => Err(format!("unknown command '{other}' (top, reset)")),
        }
    }
}

magflock_sdk::extension!(QueryInsights);

/// The first of `keys` that is a non-empty string in `data`.
fn text(data: &Value, keys: &[&str]) -> Option<String> {
    keys.iter()
        .find_map(|k| data.get(*k).and_then(Value::as_str))
        .filter(|s| !s.trim().is_empty())
        .map(str::to_string)
}

/// Adds `entry` to the list (one entry per query, at its slowest run, slowest
/// first, at most `keep`). Returns whether the list changed.
fn remember_slow(list: &mut Vec<Slow>, entry: Slow, keep: usize) -> bool {
    if let Some(old) = list.iter_mut().find(|s| s.hash == entry.hash) {
        if entry.duration_ms <= old.duration_ms {
            return false;
        }
        *old = entry;
    } else if list.len() < keep
        || list
            .last()
            .is_some_and(|l| entry.duration_ms > l.duration_ms)
    {
        list.push(entry);
    } else {
        return false;
    }
    list.sort_by(|a, b| b.duration_ms.total_cmp(&a.duration_ms));
    list.truncate(keep);
    true
}

fn average(stats: &Stats) -> f64 {
    if stats.calls == 0 {
        0.0
    } else {
        stats.total_ms / stats.calls as f64
    }
}

fn ms(value: f64) -> String {
    if value >= 100.0 || value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

/// `top [N] [slowest|total|calls|avg|max]`.
fn top(args: &[String]) -> Result<String, String> {
    let mut limit = 10;
    let mut by = "slowest";
    for arg in args {
        match arg.as_str() {
            "slowest" | "total" | "calls" | "avg" | "max" => by = arg,
            n => {
                limit = n.parse().map_err(|_| {
                    format!("usage: top [N] [slowest|total|calls|avg|max]; '{n}' is neither")
                })?
            }
        }
    }
    let mut rows: Vec<(String, Stats)> = if by == "slowest" {
        let slowest: Vec<Slow> = load("slowest");
        slowest
            .into_iter()
            .map(|s| {
                let stats = load(&format!("q/{}", s.hash));
                (s.sql, stats)
            })
            .collect()
    } else {
        host::kv::keys("q/")
            .iter()
            .filter_map(|k| {
                let stats: Stats = serde_json::from_slice(&host::kv::get(k)?).ok()?;
                Some((stats.sql.clone(), stats))
            })
            .collect()
    };
    let metric = |s: &Stats| match by {
        "total" => s.total_ms,
        "calls" => s.calls as f64,
        "avg" => average(s),
        _ => s.max_ms,
    };
    if by != "slowest" {
        rows.sort_by(|a, b| metric(&b.1).total_cmp(&metric(&a.1)));
    }
    if rows.is_empty() {
        return Ok("no queries recorded yet".into());
    }
    let mut out = format!(
        "{:>10} {:>7} {:>10} {:>12}  query\n",
        "max ms", "calls", "avg ms", "total ms"
    );
    for (sql, s) in rows.iter().take(limit) {
        out.push_str(&format!(
            "{:>10} {:>7} {:>10} {:>12}  {}\n",
            ms(s.max_ms),
            s.calls,
            ms(average(s)),
            ms(s.total_ms),
            sql
        ));
    }
    Ok(out.trim_end().to_string())
}

/// 64-bit FNV-1a, as 16 hex digits: a stable key for a normalised query.
fn fnv1a(text: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$'
}

/// SQL with string, number and dollar-quoted literals replaced by `?`,
/// comments dropped, whitespace collapsed and `(?, ?, ...)` lists folded to
/// `(?)`. Quoted identifiers and `$1` parameters are kept.
fn normalise(sql: &str) -> String {
    let chars: Vec<char> = sql.chars().collect();
    let mut out = String::with_capacity(sql.len().min(MAX_SQL_CHARS * 4));
    let mut space = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c.is_whitespace() {
            space = true;
            i += 1;
            continue;
        }
        if c == '-' && next == Some('-') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            space = true;
            continue;
        }
        if c == '/' && next == Some('*') {
            i += 2;
            while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                i += 1;
            }
            i += 2;
            space = true;
            continue;
        }
        if space && !out.is_empty() {
            out.push(' ');
        }
        space = false;
        let mut before = out.chars().rev();
        let prev = before.next();
        let ident_before = prev.is_some_and(is_ident);
        match c {
            '\'' => {
                // E'...' strings take backslash escapes.
                let escapes =
                    matches!(prev, Some('E' | 'e')) && !before.next().is_some_and(is_ident);
                if escapes {
                    out.pop();
                }
                i = skip_string(&chars, i, escapes);
                out.push('?');
            }
            '$' if !ident_before => match dollar_quote_end(&chars, i) {
                Some(end) => {
                    i = end;
                    out.push('?');
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            },
            '0'..='9' if !ident_before => {
                i = skip_number(&chars, i);
                out.push('?');
            }
            '.' if !ident_before && next.is_some_and(|n| n.is_ascii_digit()) => {
                i = skip_number(&chars, i);
                out.push('?');
            }
            '"' => {
                out.push(c);
                i += 1;
                while i < chars.len() {
                    out.push(chars[i]);
                    i += 1;
                    if chars[i - 1] == '"' {
                        break;
                    }
                }
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    for list in ["(?, ?", "(?,?"] {
        while let Some(at) = out.find(list) {
            out.replace_range(at..at + list.len(), "(?");
        }
    }
    if out.chars().count() > MAX_SQL_CHARS {
        out = out.chars().take(MAX_SQL_CHARS).collect::<String>() + "…";
    }
    out
}

/// The index after the string literal opening at `start`.
fn skip_string(chars: &[char], start: usize, escapes: bool) -> usize {
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i] {
            '\\' if escapes => i += 2,
            '\'' if chars.get(i + 1) == Some(&'\'') => i += 2,
            '\'' => return i + 1,
            _ => i += 1,
        }
    }
    chars.len()
}

/// The index after the number starting at `start` (digits, a point, an exponent).
fn skip_number(chars: &[char], start: usize) -> usize {
    let mut i = start;
    while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
        i += 1;
    }
    if i < chars.len() && matches!(chars[i], 'e' | 'E') {
        let mut j = i + 1;
        if j < chars.len() && matches!(chars[j], '+' | '-') {
            j += 1;
        }
        if j < chars.len() && chars[j].is_ascii_digit() {
            i = j;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
        }
    }
    i
}

/// For a `$tag$ ... $tag$` literal opening at `start`, the index after it
/// (the end of the text if it is never closed); `None` if `$` opens no tag.
fn dollar_quote_end(chars: &[char], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
        if i == start + 1 && chars[i].is_ascii_digit() {
            return None;
        }
        i += 1;
    }
    if chars.get(i) != Some(&'$') {
        return None;
    }
    let tag = &chars[start..=i];
    let mut j = i + 1;
    while j + tag.len() <= chars.len() {
        if &chars[j..j + tag.len()] == tag {
            return Some(j + tag.len());
        }
        j += 1;
    }
    Some(chars.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_comments_and_lists_are_normalised() {
        assert_eq!(
            normalise("SELECT *  FROM users\n WHERE id = 42 AND name = 'O''Brien' -- who\n"),
            "SELECT * FROM users WHERE id = ? AND name = ?"
        );
        assert_eq!(
            normalise("select a1, t.x2 from t where v in (1, 2.5e3, -3) /* c */ and s = E'a\\'b'"),
            "select a1, t.x2 from t where v in (?, -?) and s = ?"
        );
        assert_eq!(
            normalise("INSERT INTO \"T 1\" VALUES ($1, $$x'y$$, $f$z$f$)"),
            "INSERT INTO \"T 1\" VALUES ($1, ?, ?)"
        );
        assert_eq!(
            normalise("SELECT .5, x FROM t LIMIT 10"),
            "SELECT ?, x FROM t LIMIT ?"
        );
        assert_eq!(
            normalise("WHERE id IN (1,2,3)"),
            normalise("WHERE id IN (7)")
        );
    }

    #[test]
    fn slowest_list_keeps_one_entry_per_query() {
        let slow = |hash: &str, d: f64| Slow {
            hash: hash.into(),
            sql: hash.into(),
            duration_ms: d,
            rows: None,
            project_id: None,
            at: String::new(),
        };
        let mut list = Vec::new();
        assert!(remember_slow(&mut list, slow("a", 150.0), 2));
        assert!(remember_slow(&mut list, slow("b", 300.0), 2));
        assert!(!remember_slow(&mut list, slow("a", 120.0), 2));
        assert!(!remember_slow(&mut list, slow("c", 100.0), 2));
        assert!(remember_slow(&mut list, slow("c", 200.0), 2));
        let order: Vec<_> = list
            .iter()
            .map(|s| (s.hash.as_str(), s.duration_ms))
            .collect();
        assert_eq!(order, [("b", 300.0), ("c", 200.0)]);
    }
}
