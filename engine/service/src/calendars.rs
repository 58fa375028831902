//! The working-day calendars in force, seen from the service: deadlines counted in
//! provisional working days (a year whose State Council notice was not out yet) counted
//! again after a reload brought a changed calendar, and the warning that next year's
//! notice is missing, for `/readyz`, the dashboard and `/metrics`. Which days are working
//! days, which are provisional and which notice is missing is the calendar's
//! ([`lianban_core::definition::Calendar`]); this module only carries it out.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono_tz::Asia::Shanghai;

use super::{Engine, EngineError};
use lianban_core::definition::Calendar;
use lianban_core::runtime::{self, Actor};
use lianban_store::{Basis, CaseQuery, Change, StoreError};

/// How often a recount is retried when a clerk changed the case at the same moment.
const CONFLICT_RETRIES: usize = 5;

/// A calendar in force whose holiday notice for `year` is missing (from 1 November for next
/// year; at once for the current year).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarWarning {
    /// The calendar's name (`cn-mainland`).
    pub calendar: String,
    /// The year whose notice is missing.
    pub year: i32,
    /// Whether that year is counted provisionally meanwhile (the calendar has the rule).
    pub provisional: bool,
    /// The warning in Chinese, for pages and the log.
    pub message: String,
}

impl Engine {
    /// The calendars the definitions in force count in, by name.
    pub fn calendars(&self) -> Vec<Arc<Calendar>> {
        let mut by_name: BTreeMap<String, Arc<Calendar>> = BTreeMap::new();
        for process in self.catalog().iter() {
            if let Some(calendar) = &process.calendar_data {
                by_name
                    .entry(calendar.name.clone())
                    .or_insert_with(|| Arc::clone(calendar));
            }
        }
        by_name.into_values().collect()
    }

    /// Every calendar in force that misses a notice at the engine clock's date (Beijing).
    pub fn calendar_warnings(&self) -> Vec<CalendarWarning> {
        let today = self.now().with_timezone(&Shanghai).date_naive();
        self.calendars()
            .iter()
            .filter_map(|calendar| {
                let year = calendar.missing_notice(today)?;
                let provisional = calendar
                    .is_provisional(chrono::NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or(today));
                let meanwhile = if provisional {
                    "期间按《全国年节及纪念日放假办法》暂定计算工作日，相关期限标“暂定”"
                } else {
                    "期间不能计算落在该年的工作日期限"
                };
                let message = format!(
                    "工作日历 `{}`（{}）还没有 {year} 年的节假日安排；{meanwhile}。\
                     国务院公布后，请在工作日历文件中补充 {year} 年并重新加载",
                    calendar.name, calendar.file
                );
                Some(CalendarWarning {
                    calendar: calendar.name.clone(),
                    year,
                    provisional,
                    message,
                })
            })
            .collect()
    }

    /// Counts again, in the calendars now in force, the provisional deadlines (暂定) of every
    /// active case, and saves each case whose deadlines moved or stopped being provisional
    /// (its timers follow in the same transaction). Returns how many cases changed. Called
    /// after every reload: a case none of whose deadlines is provisional costs one read.
    ///
    /// # Errors
    /// [`EngineError::Store`] when the database fails; a case that cannot be loaded or
    /// saved is logged and skipped, so one bad case does not keep the others provisional.
    pub async fn recount_provisional(&self) -> Result<usize, EngineError> {
        let store = self.store();
        let active = store
            .reads()
            .cases(&CaseQuery {
                statuses: vec!["active".into()],
                ..CaseQuery::default()
            })
            .await?;
        let mut changed = 0;
        for case in active {
            match self.recount_case(case.id).await {
                Ok(true) => changed += 1,
                Ok(false) => {}
                Err(EngineError::Store(e)) if !matches!(e, StoreError::Conflict { .. }) => {
                    return Err(EngineError::Store(e));
                }
                Err(e) => {
                    tracing::error!(case_id = %case.id, error = %e, "deadlines not recounted");
                }
            }
        }
        if changed > 0 {
            tracing::info!(cases = changed, "provisional deadlines recounted");
        }
        Ok(changed)
    }

    async fn recount_case(&self, id: runtime::CaseId) -> Result<bool, EngineError> {
        let store = self.store();
        let actor = Actor::system();
        for _ in 0..CONFLICT_RETRIES {
            let Some(record) = store.cases().get(id).await? else {
                return Ok(false);
            };
            let process = self.process_for(&record).await?;
            let now = self.now();
            let transition = runtime::recount(&process, &record.state, now);
            if transition.events.is_empty() {
                return Ok(false);
            }
            let actor = actor.clone();
            // Through the writer, like every command: grouped with the others.
            let saved = self.write(move |unit| {
                Box::pin(async move {
                    let change = Change {
                        process: &process,
                        transition: &transition,
                        actor: &actor,
                        action: "recount",
                        at: now,
                    };
                    unit.save_transition(Basis::Held(&record), &change, None)
                        .await?;
                    Ok(())
                })
            });
            match saved.await {
                Ok(()) => return Ok(true),
                Err(EngineError::Store(StoreError::Conflict { .. })) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Conflict { case: id }.into())
    }
}
