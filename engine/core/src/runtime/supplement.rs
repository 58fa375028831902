//! The 一次性告知 promise: a supplement request (补正) names every material still missing at
//! once. The case keeps the keys of its first request; a later request that asks for
//! anything beyond them is a second request (二次补正), allowed only with a written reason
//! and recorded as [`Event::SecondSupplementRequested`].

use chrono_tz::Asia::Shanghai;

use super::run::Run;
use super::{Event, RuntimeError};
use crate::definition::Outcome;
use crate::documents::{CaseView, is_supplement_request, missing_materials};

/// Holds the outcome just taken to the promise, on the state after the command (values the
/// clerk just entered and materials just received count). Returns the keys the request
/// asks for when the outcome is a supplement request, `None` otherwise.
///
/// # Errors
/// [`RuntimeError::SecondSupplementReasonRequired`] for a second request without a written
/// reason; [`RuntimeError::Rule`] when a material's condition fails.
pub(super) fn hold_promise(
    run: &mut Run<'_>,
    outcome: &Outcome,
    reason: Option<&str>,
) -> Result<Option<Vec<String>>, RuntimeError> {
    let process = run.process;
    if !is_supplement_request(process, outcome) {
        return Ok(None);
    }
    let state = &run.state;
    let id = state.id.to_string();
    let case = CaseView {
        id: &id,
        form: &state.form,
        data: &state.data,
        materials: &state.materials,
        started_at: state.started_at,
        number: state.number.as_ref().map(|n| n.as_str()),
    };
    let today = run.now.with_timezone(&Shanghai).date_naive();
    let missing = missing_materials(process, &case, today)?;
    let keys: Vec<String> = missing.iter().map(|m| m.key.clone()).collect();
    let Some(first) = &run.state.first_supplement else {
        run.state.first_supplement = Some(keys.clone());
        return Ok(Some(keys));
    };
    let beyond: Vec<_> = missing.iter().filter(|m| !first.contains(&m.key)).collect();
    if beyond.is_empty() {
        return Ok(Some(keys));
    }
    let Some(reason) = reason.filter(|r| !r.trim().is_empty()) else {
        let names: Vec<&str> = beyond.iter().map(|m| m.name.as_str()).collect();
        return Err(RuntimeError::SecondSupplementReasonRequired {
            items: names.join("、"),
        });
    };
    let items = beyond.iter().map(|m| m.key.clone()).collect();
    run.events.push(Event::SecondSupplementRequested {
        items,
        reason: reason.to_owned(),
    });
    Ok(Some(keys))
}
