//! A hand-written `tracing` subscriber that records svipc's events as lines, shared by
//! `tests/tracing.rs` (the in-process events) and `tests/host/same.rs` (the host's, which
//! must be the same).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Every event of target `svipc`, rendered as `LEVEL call id key pid result waited`, in order.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<String>>>);

#[derive(Default)]
struct Fields(BTreeMap<&'static str, String>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name(), value.to_string());
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let meta = event.metadata();
        if meta.target() != "svipc" {
            return;
        }
        let mut f = Fields::default();
        event.record(&mut f);
        let get = |name: &str| f.0.get(name).cloned().unwrap_or_else(|| "-".to_string());
        // `wait_us` is a duration: only its presence is exact, and it goes with `waited`.
        assert_eq!(f.0.contains_key("wait_us"), get("waited") == "true", "{:?}", f.0);
        assert_eq!(
            f.0.len(),
            5 + usize::from(f.0.contains_key("key")) + usize::from(f.0.contains_key("wait_us")),
            "{:?}",
            f.0
        );
        self.0.lock().unwrap().push(format!(
            "{} {} id={} key={} pid={} {} waited={}",
            meta.level(),
            get("call"),
            get("id"),
            get("key"),
            get("pid"),
            get("result"),
            get("waited"),
        ));
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

/// Runs `f` on this thread with the capturing subscriber; the events it emitted.
pub fn capture(f: impl FnOnce()) -> Vec<String> {
    let c = Capture::default();
    tracing::subscriber::with_default(c.clone(), f);
    let events = c.0.lock().unwrap().clone();
    events
}
