//! Channels: per project and name, each with its subscribers, its sequence
//! numbers and the messages it retains.
//!
//! Guarantees:
//! * **Order.** Each channel instance numbers its messages 1, 2, 3… with no
//!   gaps, under its own lock; a message is put in every subscriber's
//!   outbox under that lock, so every subscriber receives a channel's
//!   messages in sequence order, and a joiner's `subscribed`, history or
//!   replay frames come before any live message after its join.
//! * **Retention.** A channel keeps its last `retained` messages, none older
//!   than `retention`; a channel with no subscribers is forgotten once its
//!   newest message is past retention ([`Channels::sweep`]). Retention is in
//!   memory: after a restart every channel starts a new *epoch* (its
//!   creation time in ms), so a client resuming with the old epoch is told
//!   its position is gone rather than handed the wrong messages.
//! * **Replay.** A joiner with `since = n` gets every retained message
//!   after `n`; if messages after `n` are no longer retained (or the epoch
//!   changed) it is told so first ([`Joined::gap`]) and then gets what is.
//! * **Scope.** A channel belongs to one project; the key `(project, name)`
//!   keeps projects apart.
//! * **Presence.** Joins and leaves are announced to the channel's other
//!   subscribers in the same order as messages.

use axum::extract::ws::Utf8Bytes;
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::outbox::Outbox;
use crate::protocol::{ChannelName, frame};

/// How many clients a `subscribed` frame names (the count is always exact).
pub const PRESENT_LISTED: usize = 100;
/// The largest `history` frame, in bytes (older messages are left out).
pub const MAX_HISTORY_FRAME: usize = 1 << 20;

#[derive(Clone, Copy, Debug)]
pub struct Retention {
    /// Messages kept per channel.
    pub messages: usize,
    /// How long a message is kept.
    pub age: Duration,
    /// Messages in the `history` frame on join.
    pub on_join: usize,
}

#[derive(Debug)]
struct Stored {
    seq: u64,
    at: Instant,
    frame: Utf8Bytes,
}

#[derive(Debug)]
pub struct Subscriber {
    pub client: Arc<str>,
    pub outbox: Arc<Outbox>,
}

/// What a join produced (the frames are already queued for the joiner).
#[derive(Debug, PartialEq, Eq)]
pub struct Joined {
    pub seq: u64,
    pub epoch: u64,
    /// Messages replayed (with `since`) or in the history frame (without).
    pub sent: usize,
    /// With `since`: the first message the client can no longer get
    /// (`(missed_from, missed_to)`, inclusive), or the epoch it asked for
    /// being gone (`missed_to` = 0).
    pub gap: Option<(u64, u64)>,
}

#[derive(Debug)]
pub struct Channel {
    pub project: String,
    pub name: ChannelName,
    full: String,
    epoch: u64,
    seq: u64,
    history: VecDeque<Stored>,
    subscribers: HashMap<u64, Subscriber>,
    last_active: Instant,
}

fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

impl Channel {
    fn new(project: &str, name: &ChannelName) -> Channel {
        Channel {
            project: project.to_string(),
            full: name.to_string(),
            name: name.clone(),
            epoch: now_millis(),
            seq: 0,
            history: VecDeque::new(),
            subscribers: HashMap::new(),
            last_active: Instant::now(),
        }
    }

    pub fn full_name(&self) -> &str {
        &self.full
    }

    /// The last sequence number given out.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    pub fn subscriber_count(&self) -> usize {
        self.subscribers.len()
    }

    pub fn is_subscribed(&self, conn: u64) -> bool {
        self.subscribers.contains_key(&conn)
    }

    /// Numbers, retains and fans out one message; returns its sequence
    /// number and how many subscribers it was queued for.
    pub fn publish(
        &mut self,
        data: &Value,
        from: &str,
        retention: &Retention,
    ) -> (u64, usize, usize) {
        self.seq += 1;
        let text = frame::message(&self.project, &self.full, self.seq, data, from);
        let bytes = text.len();
        let frame = Utf8Bytes::from(text);
        let now = Instant::now();
        self.last_active = now;
        self.history.push_back(Stored {
            seq: self.seq,
            at: now,
            frame: frame.clone(),
        });
        self.trim(now, retention);
        let recipients = self
            .subscribers
            .values()
            .filter(|s| s.outbox.offer(frame.clone()))
            .count();
        (self.seq, recipients, bytes)
    }

    /// Adds `conn` and queues, for it, `subscribed`, then the history frame
    /// (without `since`) or the replayed messages (with it, after a
    /// `replay_gap` error if some are gone); tells the others it joined.
    pub fn join(
        &mut self,
        conn: u64,
        subscriber: Subscriber,
        since: Option<u64>,
        epoch: Option<u64>,
        retention: &Retention,
    ) -> Joined {
        let now = Instant::now();
        self.trim(now, retention);
        self.last_active = now;
        let others: Vec<String> = self
            .subscribers
            .values()
            .take(PRESENT_LISTED)
            .map(|s| s.client.to_string())
            .collect();
        let mut subscribed =
            frame::subscribed(&self.project, &self.full, self.seq, self.epoch, &others);
        subscribed["present_count"] = serde_json::json!(self.subscribers.len());
        let outbox = &subscriber.outbox;
        outbox.offer_json(&subscribed);
        let mut joined = Joined {
            seq: self.seq,
            epoch: self.epoch,
            sent: 0,
            gap: None,
        };
        match since {
            None => {
                let mut budget = MAX_HISTORY_FRAME;
                let recent: Vec<&str> = self
                    .history
                    .iter()
                    .rev()
                    .take(retention.on_join)
                    .take_while(|s| {
                        let fits = s.frame.len() < budget;
                        budget = budget.saturating_sub(s.frame.len() + 1);
                        fits
                    })
                    .map(|s| s.frame.as_str())
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                joined.sent = recent.len();
                let history = frame::history(&self.project, &self.full, &recent);
                outbox.offer_batch(vec![Utf8Bytes::from(history)]);
            }
            Some(since) => {
                let oldest = self.history.front().map_or(self.seq + 1, |s| s.seq);
                let reset = epoch.is_some_and(|e| e != self.epoch) || since > self.seq;
                let from = if reset {
                    joined.gap = Some((since + 1, 0));
                    0
                } else {
                    if since + 1 < oldest {
                        joined.gap = Some((since + 1, oldest - 1));
                    }
                    since
                };
                if let Some(gap) = joined.gap {
                    let message = match gap {
                        (from, 0) => format!(
                            "the channel was reset (epoch {}): messages after {} of the old epoch are gone; here is what it keeps",
                            self.epoch,
                            from - 1
                        ),
                        (from, to) => format!(
                            "messages {from} to {to} are past retention and cannot be replayed; replaying from {}",
                            to + 1
                        ),
                    };
                    let mut error = crate::WsError::ReplayGap(message).frame(Some(&self.full));
                    error["project"] = serde_json::json!(self.project);
                    error["missed_from"] = serde_json::json!(gap.0);
                    error["missed_to"] = serde_json::json!(gap.1);
                    error["epoch"] = serde_json::json!(self.epoch);
                    outbox.offer_json(&error);
                }
                let replay: Vec<Utf8Bytes> = self
                    .history
                    .iter()
                    .filter(|s| s.seq > from)
                    .map(|s| s.frame.clone())
                    .collect();
                joined.sent = replay.len();
                outbox.offer_batch(replay);
            }
        }
        let presence = Utf8Bytes::from(frame::presence(
            &self.project,
            &self.full,
            "join",
            &subscriber.client,
        ));
        for other in self.subscribers.values() {
            other.outbox.offer(presence.clone());
        }
        self.subscribers.insert(conn, subscriber);
        joined
    }

    /// Removes `conn`; tells the others it left. `false` if it was not here.
    pub fn leave(&mut self, conn: u64) -> bool {
        let Some(gone) = self.subscribers.remove(&conn) else {
            return false;
        };
        self.last_active = Instant::now();
        let presence = Utf8Bytes::from(frame::presence(
            &self.project,
            &self.full,
            "leave",
            &gone.client,
        ));
        for other in self.subscribers.values() {
            other.outbox.offer(presence.clone());
        }
        true
    }

    /// Drops messages beyond the retention.
    fn trim(&mut self, now: Instant, retention: &Retention) {
        while self.history.len() > retention.messages
            || self
                .history
                .front()
                .is_some_and(|s| now.saturating_duration_since(s.at) > retention.age)
        {
            self.history.pop_front();
        }
    }

    /// Whether the channel can be forgotten: nobody subscribed and nothing
    /// retained.
    fn idle(&mut self, now: Instant, retention: &Retention) -> bool {
        self.trim(now, retention);
        self.subscribers.is_empty()
            && self.history.is_empty()
            && now.saturating_duration_since(self.last_active)
                > retention.age.min(Duration::from_secs(60))
    }
}

pub type Shared = Arc<Mutex<Channel>>;

/// Every channel instance, by `(project, name)`.
#[derive(Default)]
pub struct Channels {
    map: Mutex<HashMap<(String, String), Shared>>,
}

impl Channels {
    /// The channel, created if new; `None` when creating it would pass
    /// `max_per_project` channels in the project.
    pub fn get_or_create(
        &self,
        project: &str,
        name: &ChannelName,
        max_per_project: usize,
    ) -> Option<Shared> {
        let key = (project.to_string(), name.to_string());
        let mut map = self.map.lock().expect("channels");
        if let Some(found) = map.get(&key) {
            return Some(found.clone());
        }
        let in_project = map.keys().filter(|(p, _)| p == project).count();
        if in_project >= max_per_project {
            return None;
        }
        let channel = Arc::new(Mutex::new(Channel::new(project, name)));
        map.insert(key, channel.clone());
        Some(channel)
    }

    pub fn get(&self, project: &str, name: &ChannelName) -> Option<Shared> {
        let key = (project.to_string(), name.to_string());
        self.map.lock().expect("channels").get(&key).cloned()
    }

    /// Every project's instance of `name`.
    pub fn instances(&self, name: &ChannelName) -> Vec<Shared> {
        let full = name.to_string();
        self.map
            .lock()
            .expect("channels")
            .iter()
            .filter(|((_, n), _)| *n == full)
            .map(|(_, c)| c.clone())
            .collect()
    }

    pub fn len(&self) -> usize {
        self.map.lock().expect("channels").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Trims retention everywhere and forgets idle channels; returns how
    /// many were forgotten.
    pub fn sweep(&self, retention: &Retention) -> usize {
        let now = Instant::now();
        let mut map = self.map.lock().expect("channels");
        let before = map.len();
        // A channel someone holds (a join or publish under way) is kept.
        map.retain(|_, channel| {
            Arc::strong_count(channel) > 1 || !channel.lock().expect("channel").idle(now, retention)
        });
        before - map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::{Inbox, Out};
    use serde_json::json;

    const KEEP: Retention = Retention {
        messages: 3,
        age: Duration::from_secs(600),
        on_join: 2,
    };

    fn subscriber(name: &str) -> (Subscriber, Arc<Outbox>, Inbox) {
        let (outbox, inbox) = Outbox::new(64, 1 << 20);
        let s = Subscriber {
            client: Arc::from(name),
            outbox: outbox.clone(),
        };
        (s, outbox, inbox)
    }

    fn drain(outbox: &Outbox, inbox: &mut Inbox) -> Vec<Value> {
        let mut out = Vec::new();
        while let Some(item) = inbox.try_recv(outbox) {
            let frames = match item {
                Out::Frame(f) => vec![f],
                Out::Batch(b) => b,
            };
            out.extend(frames.iter().map(|f| serde_json::from_str(f).unwrap()));
        }
        out
    }

    fn chat() -> Channel {
        Channel::new("p", &ChannelName::Plain("chat".into()))
    }

    #[test]
    fn messages_are_numbered_retained_and_fanned_out_in_order() {
        let mut channel = chat();
        let (a, a_box, mut a_in) = subscriber("a");
        channel.join(1, a, None, None, &KEEP);
        for i in 1..=5 {
            let (seq, recipients, _) = channel.publish(&json!(i), "x", &KEEP);
            assert_eq!((seq, recipients), (i, 1));
        }
        let frames = drain(&a_box, &mut a_in);
        assert_eq!(frames[0]["type"], "subscribed");
        assert_eq!(frames[1]["type"], "history");
        let seqs: Vec<u64> = frames[2..]
            .iter()
            .map(|f| f["seq"].as_u64().unwrap())
            .collect();
        assert_eq!(seqs, vec![1, 2, 3, 4, 5]);
        assert_eq!(channel.history.len(), 3, "only the last 3 are kept");
    }

    #[test]
    fn history_on_join_and_presence() {
        let mut channel = chat();
        for i in 1..=3 {
            channel.publish(&json!(i), "x", &KEEP);
        }
        let (a, a_box, mut a_in) = subscriber("a");
        let joined = channel.join(1, a, None, None, &KEEP);
        assert_eq!(joined.sent, 2);
        let frames = drain(&a_box, &mut a_in);
        assert_eq!(frames[0]["seq"], 3);
        let history: Vec<_> = frames[1]["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["data"].clone())
            .collect();
        assert_eq!(history, vec![json!(2), json!(3)]);
        let (b, _b_box, _b_in) = subscriber("b");
        channel.join(2, b, None, None, &KEEP);
        assert!(channel.leave(2));
        assert!(!channel.leave(2));
        let frames = drain(&a_box, &mut a_in);
        let events: Vec<_> = frames
            .iter()
            .map(|f| (f["event"].clone(), f["client"].clone()))
            .collect();
        assert_eq!(
            events,
            vec![(json!("join"), json!("b")), (json!("leave"), json!("b"))]
        );
    }

    #[test]
    fn replay_within_retention_misses_nothing() {
        let mut channel = chat();
        for i in 1..=4 {
            channel.publish(&json!(i), "x", &KEEP);
        }
        let (a, a_box, mut a_in) = subscriber("a");
        let joined = channel.join(1, a, Some(2), Some(channel.epoch), &KEEP);
        assert_eq!((joined.sent, joined.gap), (2, None));
        let frames = drain(&a_box, &mut a_in);
        let seqs: Vec<_> = frames[1..].iter().map(|f| f["seq"].clone()).collect();
        assert_eq!(seqs, vec![json!(3), json!(4)]);
    }

    #[test]
    fn replay_beyond_retention_says_so() {
        let mut channel = chat();
        for i in 1..=10 {
            channel.publish(&json!(i), "x", &KEEP);
        }
        let (a, a_box, mut a_in) = subscriber("a");
        let joined = channel.join(1, a, Some(2), None, &KEEP);
        assert_eq!(joined.gap, Some((3, 7)));
        let frames = drain(&a_box, &mut a_in);
        assert_eq!(frames[1]["code"], "replay_gap");
        assert_eq!(frames[1]["missed_to"], 7);
        let seqs: Vec<_> = frames[2..].iter().map(|f| f["seq"].clone()).collect();
        assert_eq!(seqs, vec![json!(8), json!(9), json!(10)]);

        let (b, b_box, mut b_in) = subscriber("b");
        let joined = channel.join(2, b, Some(3), Some(channel.epoch + 1), &KEEP);
        assert_eq!(joined.gap, Some((4, 0)), "another epoch");
        assert_eq!(drain(&b_box, &mut b_in)[1]["code"], "replay_gap");
    }

    #[test]
    fn channels_are_per_project_and_bounded() {
        let channels = Channels::default();
        let chat = ChannelName::Plain("chat".into());
        let a = channels.get_or_create("a", &chat, 1).unwrap();
        let b = channels.get_or_create("b", &chat, 1).unwrap();
        assert!(!Arc::ptr_eq(&a, &b));
        assert!(
            channels
                .get_or_create("a", &ChannelName::Plain("other".into()), 1)
                .is_none()
        );
        assert_eq!(channels.instances(&chat).len(), 2);
    }
}
