//! Case states already decoded, each kept with the exact JSON text it came from.
//!
//! Every command reads its case's state, and decoding the 2 KB of JSON was a third of the
//! instructions a command cost outside the writer (`docs/performance.md`, session 12). The
//! state a command reads is nearly always the one the previous command on the case just
//! wrote, so the writer leaves each state it writes here, and a read that finds the same
//! text in the row takes a copy of the decoded state instead of decoding it again.
//!
//! An entry is only ever used for the very text it was decoded from: the row's text is
//! compared in full. So nothing here can be stale: a write that was rolled back, a change
//! made by another process or by hand, a migration, all leave other text in the row, which
//! is then decoded as before (and kept in place of the old entry).
//!
//! Only the native SQLite connections use it: they hand over a row's text without copying
//! it. PostgreSQL stores `jsonb` and writes its text in its own key order and spacing, so a
//! read there never returns the text written.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use lianban_core::runtime::CaseState;

use super::StoreError;

/// How many cases' states are kept. A command reads a case right after the previous one on
/// it was written, so what matters is the cases clerks are working on at one moment (16 in
/// the benchmark, a few dozen in a county's hall); beyond them the oldest entries go first.
/// With a state of about 2 KB as text and 6 KB decoded this is about 2 MB.
const KEPT: usize = 256;

/// Decoded case states by case id (see the module).
#[derive(Debug, Default)]
pub(crate) struct States {
    inner: Mutex<Kept>,
}

#[derive(Debug, Default)]
struct Kept {
    by_case: HashMap<String, Entry>,
    /// Case ids in the order they were first kept: the front one goes when full.
    order: VecDeque<String>,
}

#[derive(Debug)]
struct Entry {
    text: Arc<[u8]>,
    state: Arc<CaseState>,
}

impl States {
    /// The state stored as `text` for case `id`: a copy of the kept one when it was
    /// decoded from the same text, otherwise decoded (and kept).
    ///
    /// # Errors
    /// [`StoreError::Serialization`] when the text is not a case state.
    pub(crate) fn decode(&self, id: &str, text: &[u8]) -> Result<CaseState, StoreError> {
        let kept = self
            .lock()
            .by_case
            .get(id)
            .map(|e| (Arc::clone(&e.text), Arc::clone(&e.state)));
        if let Some((kept_text, state)) = kept
            && *kept_text == *text
        {
            return Ok(CaseState::clone(&state));
        }
        let state: CaseState = serde_json::from_slice(text)?;
        self.keep(id, Arc::from(text), Arc::new(state.clone()));
        Ok(state)
    }

    /// Keeps `state` as decoded from `text` for case `id` (the writer, as it writes it).
    pub(crate) fn remember(&self, id: &str, text: &str, state: &CaseState) {
        self.keep(id, Arc::from(text.as_bytes()), Arc::new(state.clone()));
    }

    fn keep(&self, id: &str, text: Arc<[u8]>, state: Arc<CaseState>) {
        let mut kept = self.lock();
        let entry = Entry { text, state };
        if let Some(old) = kept.by_case.get_mut(id) {
            *old = entry;
            return;
        }
        if kept.order.len() >= KEPT
            && let Some(oldest) = kept.order.pop_front()
        {
            kept.by_case.remove(&oldest);
        }
        kept.order.push_back(id.to_owned());
        kept.by_case.insert(id.to_owned(), entry);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Kept> {
        // The map is consistent after every statement: a panic elsewhere leaves it usable.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A case state's text, as the writer stores it, with `name` in its form.
    fn state_text(name: &str) -> String {
        let state = serde_json::json!({
            "id": "0191d7a2-5e3c-7a51-9b1e-2f0c6c1d2e3f",
            "process": "retirement",
            "version": 1,
            "status": {"status": "active"},
            "form": {"name": name},
            "data": {},
            "materials": [],
            "tokens": [],
            "frames": [],
            "tasks": [],
            "trail": [],
            "next_seq": 1,
            "started_at": "2026-12-06T08:00:00Z",
            "ended_at": null
        });
        let state: CaseState = serde_json::from_value(state).expect("a case state");
        serde_json::to_string(&state).expect("serializes")
    }

    #[test]
    fn only_the_same_text_is_taken_from_what_is_kept() {
        let states = States::default();
        let first = state_text("一");
        let decoded = states.decode("c", first.as_bytes()).expect("decodes");
        assert_eq!(
            states.decode("c", first.as_bytes()).ok(),
            Some(decoded.clone())
        );
        // The writer kept a newer state, but the row still holds the first text (the write
        // was rolled back): the row's text is decoded, not the newer state taken.
        let newer_text = state_text("二");
        let newer: CaseState = serde_json::from_str(&newer_text).expect("decodes");
        states.remember("c", &newer_text, &newer);
        assert_eq!(states.decode("c", newer_text.as_bytes()).ok(), Some(newer));
        assert_eq!(
            states.decode("c", first.as_bytes()).ok(),
            Some(decoded.clone())
        );
        // The row's text is what is kept now.
        let kept = states.lock().by_case.get("c").map(|e| e.text.to_vec());
        assert_eq!(kept, Some(first.into_bytes()));
    }

    #[test]
    fn the_oldest_case_goes_first_when_full() {
        let states = States::default();
        let text = state_text("一");
        let state: CaseState = serde_json::from_str(&text).expect("fixture");
        for i in 0..=KEPT {
            states.remember(&format!("case{i}"), &text, &state);
        }
        let kept = states.lock();
        assert_eq!(kept.by_case.len(), KEPT);
        assert_eq!(kept.order.len(), KEPT);
        assert!(!kept.by_case.contains_key("case0"));
        assert!(kept.by_case.contains_key(&format!("case{KEPT}")));
    }

    #[test]
    fn text_that_is_no_state_is_an_error_and_is_not_kept() {
        let states = States::default();
        assert!(states.decode("c", b"{\"not\": \"a state\"}").is_err());
        assert!(states.lock().by_case.is_empty());
    }
}
