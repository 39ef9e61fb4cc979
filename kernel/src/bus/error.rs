//! [`BusError`]: everything that can go wrong publishing, delivering or
//! administering events. Each variant says what the caller can do about it and
//! names the event, subscriber or sequence number concerned.

/// The event bus's error type (backends map their own failures onto it).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BusError {
    /// The event breaks the schema; nothing of its batch was published.
    #[error("event '{event_id}' is invalid: {problem}")]
    InvalidEvent { event_id: String, problem: String },
    /// An event with this id is already in the log (or twice in one batch);
    /// nothing of its batch was published.
    #[error("event '{0}' was already published: event ids are unique in the log")]
    DuplicateEvent(String),
    /// A subscription's id or patterns are unacceptable.
    #[error("subscription '{id}' is invalid: {problem}")]
    InvalidSubscription { id: String, problem: String },
    #[error("no subscriber '{0}' is registered on the event bus")]
    UnknownSubscriber(String),
    /// An acknowledgement would skip an earlier delivery that failed and is
    /// waiting to be retried (deliveries must be handled in order).
    #[error(
        "subscriber '{subscriber}' cannot acknowledge event {seq}: event {pending} failed earlier and is waiting for a retry; handle deliveries in order and poll again after a failure"
    )]
    OutOfOrderAck {
        subscriber: String,
        seq: u64,
        pending: u64,
    },
    /// The backend cannot be reached right now; retry later. Nothing changed.
    #[error("the event log is unreachable: {0}")]
    Unavailable(String),
    /// The backend holds a record it cannot decode.
    #[error("the event log holds an unreadable record: {0}")]
    Corrupt(String),
    /// Any other failure the backend reported.
    #[error("event log error: {0}")]
    Backend(String),
}
