//! The last warnings and errors, kept in memory for the admin dashboard: a
//! tracing layer beside the log writer, so every WARN and ERROR anywhere in
//! the process is caught without each call site knowing about it.

use std::collections::VecDeque;
use std::fmt::Write as _;

use parking_lot::Mutex;
use serde::Serialize;
use switchboard_protocols::time::now_ms;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::Layer;

/// Entries kept; older ones fall off.
pub const CAPACITY: usize = 50;
/// A longer line is cut: one event must not pin much memory.
const LINE_BYTES: usize = 400;

#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub at_ms: i64,
    pub level: &'static str,
    pub target: String,
    pub message: String,
}

// Logging is process-wide, so its memory is too.
static RECENT: Mutex<VecDeque<Entry>> = parking_lot::const_mutex(VecDeque::new());

/// The kept entries, newest first.
pub fn entries() -> Vec<Entry> {
    RECENT.lock().iter().rev().cloned().collect()
}

fn push(entry: Entry) {
    let mut recent = RECENT.lock();
    if recent.len() >= CAPACITY {
        recent.pop_front();
    }
    recent.push_back(entry);
}

pub struct RecentErrors;

/// `message` first, then the other fields as `key=value`.
#[derive(Default)]
struct Line {
    message: String,
    fields: String,
}

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={value}", field.name());
        }
    }
}

impl<S: Subscriber> Layer<S> for RecentErrors {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let level = *event.metadata().level();
        // Levels order by verbosity: WARN and ERROR are the ones <= WARN.
        if level > Level::WARN {
            return;
        }
        let mut line = Line::default();
        event.record(&mut line);
        let mut message = line.message + &line.fields;
        if message.len() > LINE_BYTES {
            let mut cut = LINE_BYTES;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        push(Entry {
            at_ms: now_ms(),
            level: if level == Level::ERROR {
                "error"
            } else {
                "warn"
            },
            target: event.metadata().target().to_string(),
            message,
        });
    }
}
