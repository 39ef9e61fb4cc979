//! Publish-time validation of events, and the log's encoding of timestamps.
//!
//! Guarantees: an event accepted by [`validate`] has a canonical UUID id
//! (lowercase, hyphenated), a type in one of the five categories, a timestamp in
//! the schema's exact form (`YYYY-MM-DDTHH:MM:SS.mmmZ`, so it converts to
//! milliseconds and back unchanged), a source component fit to key a sequence
//! (`[a-z0-9_.-]`, at most [`MAX_COMPONENT_LEN`] characters), a JSON object as
//! `data`, and `data` of at most the configured size. A refusal names the event
//! and the field.

use super::BusError;
use crate::Event;
use std::io;

/// The longest accepted `source.component`.
pub const MAX_COMPONENT_LEN: usize = 64;

/// Checks `event` against the schema; returns its timestamp in milliseconds
/// since the Unix epoch.
pub fn validate(event: &Event, max_data_bytes: usize) -> Result<i64, BusError> {
    let invalid = |problem: String| BusError::InvalidEvent {
        event_id: event.event_id.clone(),
        problem,
    };
    let canonical = uuid::Uuid::parse_str(&event.event_id)
        .ok()
        .filter(|u| !u.is_nil())
        .is_some_and(|u| {
            let mut buf = uuid::Uuid::encode_buffer();
            *u.hyphenated().encode_lower(&mut buf) == *event.event_id
        });
    if !canonical {
        return Err(invalid(
            "event_id must be a non-nil UUID in lowercase hyphenated form (e.g. a UUID v7)".into(),
        ));
    }
    crate::event::check_type(&event.event_type).map_err(|e| invalid(e.to_string()))?;
    let millis = timestamp_millis(&event.timestamp).ok_or_else(|| {
        invalid(format!(
            "timestamp '{}' must be RFC 3339 in UTC with milliseconds, like 2025-10-05T10:23:45.123Z",
            event.timestamp
        ))
    })?;
    let component = &event.source.component;
    let component_ok = !component.is_empty()
        && component.len() <= MAX_COMPONENT_LEN
        && component
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b));
    if !component_ok {
        return Err(invalid(format!(
            "source.component '{component}' must be 1 to {MAX_COMPONENT_LEN} characters of a-z, 0-9, '_', '.' or '-'"
        )));
    }
    if event.source.extension.as_deref() == Some("") {
        return Err(invalid(
            "source.extension must be an extension id or null, not empty".into(),
        ));
    }
    if !event.data.is_object() {
        return Err(invalid("data must be a JSON object".into()));
    }
    let mut size = ByteCount(0);
    serde_json::to_writer(&mut size, &event.data).map_err(|e| invalid(e.to_string()))?;
    if size.0 > max_data_bytes {
        return Err(invalid(format!(
            "data is {} bytes of JSON; the limit is {max_data_bytes}",
            size.0
        )));
    }
    Ok(millis)
}

/// Counts the bytes written to it, storing none.
struct ByteCount(usize);

impl io::Write for ByteCount {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Milliseconds since the Unix epoch of a timestamp in the schema's exact form
/// (`2025-10-05T10:23:45.123Z`); `None` for anything else.
pub fn timestamp_millis(ts: &str) -> Option<i64> {
    let b = ts.as_bytes();
    let shape_ok = b.len() == 24
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'.'
        && b[23] == b'Z';
    if !shape_ok {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<u32> {
        let digits = &b[from..to];
        digits
            .iter()
            .all(u8::is_ascii_digit)
            .then(|| digits.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
    };
    let month = time::Month::try_from(num(5, 7)? as u8).ok()?;
    let date = time::Date::from_calendar_date(num(0, 4)? as i32, month, num(8, 10)? as u8).ok()?;
    let clock = time::Time::from_hms_milli(
        num(11, 13)? as u8,
        num(14, 16)? as u8,
        num(17, 19)? as u8,
        num(20, 23)? as u16,
    )
    .ok()?;
    let nanos = time::PrimitiveDateTime::new(date, clock)
        .assume_utc()
        .unix_timestamp_nanos();
    i64::try_from(nanos / 1_000_000).ok()
}

/// The schema's timestamp form of `millis` since the Unix epoch; `None` outside
/// years 0000 to 9999.
pub fn format_millis(millis: i64) -> Option<String> {
    let at =
        time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000).ok()?;
    (0..=9999).contains(&at.year()).then(|| {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            at.year(),
            u8::from(at.month()),
            at.day(),
            at.hour(),
            at.minute(),
            at.second(),
            at.millisecond()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Context, Source};
    use serde_json::json;

    fn event() -> Event {
        Event::new(
            "database.query.executed",
            Source {
                component: "magds".into(),
                extension: None,
            },
            json!({"rows": 1}),
            Context::default(),
            vec![],
        )
        .unwrap()
    }

    #[test]
    fn timestamps_round_trip_exactly() {
        let ts = "2025-10-05T10:23:45.123Z";
        let ms = timestamp_millis(ts).unwrap();
        assert_eq!(ms, 1_759_659_825_123);
        assert_eq!(format_millis(ms).unwrap(), ts);
        assert_eq!(timestamp_millis("1970-01-01T00:00:00.000Z"), Some(0));
        for bad in [
            "2025-10-05T10:23:45Z",
            "2025-10-05 10:23:45.123Z",
            "2025-13-05T10:23:45.123Z",
            "2025-02-30T10:23:45.123Z",
            "2025-10-05T10:23:45.123+00:00",
            "2025-10-05T10:23:4x.123Z",
        ] {
            assert_eq!(timestamp_millis(bad), None, "{bad}");
        }
        let now = event();
        assert_eq!(
            format_millis(timestamp_millis(&now.timestamp).unwrap()).unwrap(),
            now.timestamp
        );
    }

    #[test]
    fn a_valid_event_passes_and_each_broken_field_is_named() {
        assert!(validate(&event(), 1024).is_ok());
        type Breakage = Box<dyn Fn(&mut Event)>;
        let cases: Vec<(Breakage, &str)> = vec![
            (Box::new(|e| e.event_id = "not-a-uuid".into()), "event_id"),
            (
                Box::new(|e| e.event_id = e.event_id.to_uppercase()),
                "event_id",
            ),
            (
                Box::new(|e| e.event_type = "billing.paid".into()),
                "billing.paid",
            ),
            (Box::new(|e| e.timestamp = "yesterday".into()), "timestamp"),
            (
                Box::new(|e| e.source.component = String::new()),
                "source.component",
            ),
            (
                Box::new(|e| e.source.component = "Mag DS".into()),
                "source.component",
            ),
            (
                Box::new(|e| e.source.extension = Some(String::new())),
                "source.extension",
            ),
            (
                Box::new(|e| e.data = json!([1, 2])),
                "data must be a JSON object",
            ),
            (
                Box::new(|e| e.data = json!({"blob": "x".repeat(2000)})),
                "the limit is 1024",
            ),
        ];
        for (break_it, named) in cases {
            let mut e = event();
            break_it(&mut e);
            let err = validate(&e, 1024).unwrap_err();
            assert!(
                matches!(&err, BusError::InvalidEvent { event_id, .. } if *event_id == e.event_id),
                "{err:?}"
            );
            assert!(err.to_string().contains(named), "{err} should name {named}");
        }
    }
}
