//! `GET /dashboard` (督办看板, supervisors and admins): per department, open, claimed, due
//! soon and overdue tasks; cases by current step; cases finished this week and month
//! (Beijing time); median and 90th-percentile handling time per step in working days;
//! the share of cases that needed a second supplement request (一次性告知); refusals and
//! their reasons. `GET /dashboard.csv` and `/dashboard.xlsx` export the same figures for
//! monthly reports, `GET /api/v1/dashboard` returns them as JSON.
//!
//! Scope: a supervisor sees their own department, an admin every department (or the one
//! chosen with `department=`); both only in their county when they have one. Every figure
//! is computed per (county, department) from indexed aggregates in
//! [`lianban_service::Engine::dashboard_task_counts`] and its siblings; see `docs/dashboard.md`.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Asia::Shanghai;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::charts::{Row, bar_chart, number};
use super::{PageUser, render};
use crate::input::QueryParams;
use crate::{ApiError, Ctx, Identity};
use lianban_core::accounts::{Role, county_of};
use lianban_core::definition::{Calendar, Outcome, Process, StepId, StepKind};
use lianban_service::records::{ClosedTask, SupplementCounts, TaskCounts};

/// How many refusals are listed with their reasons, newest first, per department.
const REASONS: usize = 20;

/// The window the handling-time, supplement and refusal figures cover.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub(crate) enum Period {
    /// From the first of this month (Beijing) until now.
    #[serde(rename = "this_month")]
    ThisMonth,
    /// The whole of last month (Beijing).
    #[serde(rename = "last_month")]
    LastMonth,
    /// The last 90 days until now.
    #[default]
    #[serde(rename = "90d")]
    Days90,
}

impl Period {
    fn key(self) -> &'static str {
        match self {
            Period::ThisMonth => "this_month",
            Period::LastMonth => "last_month",
            Period::Days90 => "90d",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Period::ThisMonth => "本月",
            Period::LastMonth => "上月",
            Period::Days90 => "近 90 天",
        }
    }

    /// `[from, to)` at `now`.
    fn window(self, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        let this_month = month_start(now);
        match self {
            Period::ThisMonth => (this_month, now),
            Period::LastMonth => {
                let before = this_month - Duration::seconds(1);
                (month_start(before), this_month)
            }
            Period::Days90 => (now - Duration::days(90), now),
        }
    }
}

/// The dashboard's query string.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Params {
    /// The window of the handling-time, supplement and refusal figures.
    #[serde(default)]
    period: Period,
    /// Admins: one department instead of all.
    #[serde(default)]
    department: String,
}

/// Midnight (Beijing) starting the local day of `date`, in UTC.
fn beijing_midnight(date: NaiveDate) -> DateTime<Utc> {
    Shanghai
        .from_local_datetime(&date.and_hms_opt(0, 0, 0).unwrap_or_default())
        .earliest()
        .map_or_else(
            || date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc(),
            |t| t.with_timezone(&Utc),
        )
}

/// The first moment of the Beijing month containing `at`.
pub(super) fn month_start(at: DateTime<Utc>) -> DateTime<Utc> {
    let day = at.with_timezone(&Shanghai).date_naive();
    beijing_midnight(day.with_day(1).unwrap_or(day))
}

/// The first moment of the Beijing week (Monday) containing `at`.
pub(super) fn week_start(at: DateTime<Utc>) -> DateTime<Utc> {
    let day = at.with_timezone(&Shanghai).date_naive();
    let monday = day - Duration::days(i64::from(day.weekday().num_days_from_monday()));
    beijing_midnight(monday)
}

fn beijing_date(at: DateTime<Utc>) -> String {
    at.with_timezone(&Shanghai).format("%Y-%m-%d").to_string()
}

/// Every figure of the dashboard, as the JSON API returns it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Figures {
    /// The window of the windowed figures.
    period: PeriodInfo,
    /// When the figures were computed (Beijing time).
    now: String,
    /// First day of this week (Monday, Beijing).
    week_from: String,
    /// First day of this month (Beijing).
    month_from: String,
    /// One entry per department in scope.
    departments: Vec<DepartmentFigures>,
    /// Admins only (empty for supervisors): per county, active cases by the step they are
    /// at, wait steps (等待补正 …) included.
    counties: Vec<CountySteps>,
    /// Working-day calendars in force that lack a holiday notice: next year's from
    /// 1 November, this year's at any time. Deadlines reaching such a year are 暂定.
    calendar_warnings: Vec<CalendarNote>,
}

/// A calendar that lacks a year's holiday notice.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct CalendarNote {
    calendar: String,
    year: i32,
    message: String,
}

/// A county's active cases by current step.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct CountySteps {
    county: String,
    steps: Vec<StepFigure>,
}

/// The window as shown and exported.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct PeriodInfo {
    key: &'static str,
    label: &'static str,
    /// First day (Beijing).
    from: String,
    /// Last day, inclusive (Beijing).
    to: String,
}

/// One department's figures.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct DepartmentFigures {
    county: String,
    department: String,
    name: String,
    /// Open tasks by state now.
    #[schema(value_type = TaskCountsSchema)]
    tasks: TaskCounts,
    steps: Vec<StepFigure>,
    finished_week: u64,
    finished_month: u64,
    handling: Vec<Handling>,
    supplements: Supplements,
    refusals: Vec<Refusal>,
    refusal_reasons: Vec<RefusalReason>,
}

/// Active cases at one step.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct StepFigure {
    step: String,
    name: String,
    cases: u64,
}

/// Handling time of one step's tasks completed in the window, in working days.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Handling {
    step: String,
    name: String,
    /// Tasks measured.
    tasks: u64,
    /// Nearest-rank median.
    median: i64,
    /// Nearest-rank 90th percentile.
    p90: i64,
}

/// Supplement requests (补正) in the window.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Supplements {
    requested: u64,
    second: u64,
    /// `second / requested` in percent, one decimal; `None` without requests.
    share: Option<f64>,
}

/// Refusals of one outcome at one step in the window.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Refusal {
    step: String,
    step_name: String,
    outcome: String,
    label: String,
    count: u64,
}

/// One written refusal reason in the window.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct RefusalReason {
    case_id: String,
    step_name: String,
    label: String,
    /// The written reason, personal numbers masked.
    reason: String,
    /// When (Beijing time).
    at: String,
}

/// How the API document describes [`TaskCounts`] (a store type, which knows no OpenAPI).
#[derive(utoipa::ToSchema)]
#[schema(as = TaskCounts)]
#[allow(dead_code)] // only its schema is used
struct TaskCountsSchema {
    /// Open and claimed by nobody.
    open: u64,
    /// Claimed by a clerk, not yet completed.
    claimed: u64,
    /// Open or claimed and in their warning period, overdue included (the inbox's `due=soon`).
    due_soon: u64,
    /// Open or claimed and past their due time (the inbox's `due=overdue`).
    overdue: u64,
}

/// A department of a county the viewer may see.
#[derive(Debug, Clone)]
struct Unit {
    county: String,
    department: String,
    name: String,
}

/// The departments in scope: a supervisor's own, an admin's all (or `chosen`), each in the
/// viewer's county when they have one, as the loaded definitions name them.
fn units(ctx: &Ctx, me: &Identity, chosen: &str) -> Result<Vec<Unit>, ApiError> {
    let admin = me.roles.contains(&Role::Admin);
    if !admin && !me.roles.contains(&Role::Supervisor) {
        return Err(ApiError::Forbidden("只有负责人和管理员可以查看督办看板"));
    }
    let mut out: Vec<Unit> = Vec::new();
    for process in ctx.app.engine().catalog().iter() {
        let county = county_of(&process.id);
        if me.county.as_deref().is_some_and(|c| c != county) {
            continue;
        }
        for (key, department) in &process.departments {
            let wanted = if admin {
                chosen.is_empty() || chosen == key
            } else {
                *key == me.department
            };
            let known = out
                .iter()
                .any(|u| u.county == county && u.department == *key);
            if wanted && !known {
                out.push(Unit {
                    county: county.to_owned(),
                    department: key.clone(),
                    name: department.name.clone(),
                });
            }
        }
    }
    if admin && !chosen.is_empty() && out.is_empty() {
        return Err(ApiError::BadRequest {
            title: format!("没有名为 {chosen} 的部门"),
            extra: json!({"errors": [{"field": "department", "message": "未知部门"}]}),
        });
    }
    Ok(out)
}

/// The definition of `county` whose task step `step` is worked by `role`.
fn owner<'a>(
    processes: &'a [std::sync::Arc<Process>],
    county: &str,
    step: &StepId,
    role: &str,
) -> Option<&'a Process> {
    processes
        .iter()
        .filter(|p| county_of(&p.id) == county)
        .find(|p| {
            p.step(step)
                .is_some_and(|s| matches!(&s.kind, StepKind::Task(_)))
                && p.roles.contains_key(role)
        })
        .map(AsRef::as_ref)
}

fn outcome<'a>(process: &'a Process, step: &StepId, key: &str) -> Option<&'a Outcome> {
    match &process.step(step)?.kind {
        StepKind::Task(spec) => spec.outcomes.get(key),
        _ => None,
    }
}

/// The calendar a task's working days are counted on: its definition's, else any of the
/// county's definitions'.
fn calendar<'a>(
    processes: &'a [std::sync::Arc<Process>],
    county: &str,
    task: &ClosedTask,
) -> Option<&'a Calendar> {
    owner(processes, county, &task.step, &task.role)
        .and_then(|p| p.calendar_data.as_deref())
        .or_else(|| {
            processes
                .iter()
                .filter(|p| county_of(&p.id) == county)
                .find_map(|p| p.calendar_data.as_deref())
        })
}

/// Working days a task took: those after its creation day up to and including its closing
/// day (Beijing dates), on the calendar; calendar days without one. `None` when the
/// calendar has no data for a year in between (the task is then not measured).
fn working_days(calendar: Option<&Calendar>, task: &ClosedTask) -> Option<i64> {
    let from = task.created_at.with_timezone(&Shanghai).date_naive();
    let to = task.closed_at.with_timezone(&Shanghai).date_naive();
    match calendar {
        Some(calendar) => calendar.workdays_between(from, to).ok(),
        None => Some((to - from).num_days()),
    }
}

/// The nearest-rank `p`-th percentile of sorted values: the value at rank ⌈p·n/100⌉
/// (1-based). So the median of 1, 2, 3, 4 is 2 and its 90th percentile is 4.
fn percentile(sorted: &[i64], p: u64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let n = sorted.len() as u64;
    let rank = (p * n).div_ceil(100).clamp(1, n);
    sorted[usize::try_from(rank - 1).unwrap_or_default()]
}

/// Computes every figure for the viewer.
async fn figures(ctx: &Ctx, me: &Identity, params: &Params) -> Result<Figures, ApiError> {
    let units = units(ctx, me, params.department.trim())?;
    let engine = ctx.app.engine();
    let now = engine.now();
    let (from, to) = params.period.window(now);
    let week = week_start(now);
    let month = month_start(now);
    let processes: Vec<_> = engine.catalog().iter().cloned().collect();
    let mut departments = Vec::with_capacity(units.len());
    for unit in units {
        let (county, department) = (unit.county.as_str(), unit.department.as_str());
        let tasks = engine
            .dashboard_task_counts(county, department, now)
            .await?;
        let steps = engine
            .dashboard_open_steps(county, department)
            .await?
            .into_iter()
            .map(|s| StepFigure {
                step: s.step,
                name: s.step_name,
                cases: s.cases,
            })
            .collect();
        let finished_week = engine.dashboard_finished(county, department, week).await?;
        let finished_month = engine.dashboard_finished(county, department, month).await?;
        let closed = engine
            .dashboard_closed_tasks(county, department, from, to)
            .await?;
        let mut by_step: BTreeMap<String, (String, Vec<i64>)> = BTreeMap::new();
        let mut refusals: Vec<Refusal> = Vec::new();
        let mut refused: Vec<(&ClosedTask, String)> = Vec::new();
        for task in &closed {
            let entry = by_step
                .entry(task.step.to_string())
                .or_insert_with(|| (task.step_name.clone(), Vec::new()));
            if let Some(days) = working_days(calendar(&processes, county, task), task) {
                entry.1.push(days);
            }
            let spec = owner(&processes, county, &task.step, &task.role).and_then(|p| {
                task.outcome
                    .as_deref()
                    .and_then(|o| outcome(p, &task.step, o))
            });
            let Some(spec) = spec.filter(|o| o.reason_required) else {
                continue;
            };
            refused.push((task, spec.label.clone()));
            match refusals
                .iter_mut()
                .find(|r| r.step == task.step.as_str() && r.outcome == spec.key)
            {
                Some(r) => r.count += 1,
                None => refusals.push(Refusal {
                    step: task.step.to_string(),
                    step_name: task.step_name.clone(),
                    outcome: spec.key.clone(),
                    label: spec.label.clone(),
                    count: 1,
                }),
            }
        }
        let handling = by_step
            .into_iter()
            .filter(|(_, (_, days))| !days.is_empty())
            .map(|(step, (name, mut days))| {
                days.sort_unstable();
                Handling {
                    step,
                    name,
                    tasks: days.len() as u64,
                    median: percentile(&days, 50),
                    p90: percentile(&days, 90),
                }
            })
            .collect();
        let mut refusal_reasons = Vec::new();
        for (task, label) in refused.iter().rev().take(REASONS) {
            let reason = engine
                .task_reason(task.case_id, task.id)
                .await?
                .map(|r| lianban_core::privacy::mask_text(&r))
                .unwrap_or_default();
            refusal_reasons.push(RefusalReason {
                case_id: task.case_id.to_string(),
                step_name: task.step_name.clone(),
                label: label.clone(),
                reason,
                at: super::view::time(task.closed_at),
            });
        }
        let SupplementCounts { requested, second } = engine
            .dashboard_supplements(county, department, from, to)
            .await?;
        #[allow(clippy::cast_precision_loss)] // counts far below 2^52
        let share =
            (requested > 0).then(|| (second as f64 * 1000.0 / requested as f64).round() / 10.0);
        departments.push(DepartmentFigures {
            county: unit.county,
            department: unit.department,
            name: unit.name,
            tasks,
            steps,
            finished_week,
            finished_month,
            handling,
            supplements: Supplements {
                requested,
                second,
                share,
            },
            refusals,
            refusal_reasons,
        });
    }
    let mut counties: Vec<CountySteps> = Vec::new();
    if me.roles.contains(&Role::Admin) {
        let mut names: Vec<String> = departments.iter().map(|d| d.county.clone()).collect();
        names.sort_unstable();
        names.dedup();
        for county in names {
            let steps = engine
                .dashboard_case_steps(&county)
                .await?
                .into_iter()
                .map(|(step, cases)| {
                    let id = StepId(step.clone());
                    let name = processes
                        .iter()
                        .filter(|p| county_of(&p.id) == county)
                        .find_map(|p| p.step(&id).map(|s| s.name.clone()))
                        .unwrap_or_else(|| step.clone());
                    StepFigure { step, name, cases }
                })
                .collect();
            counties.push(CountySteps { county, steps });
        }
    }
    Ok(Figures {
        period: PeriodInfo {
            key: params.period.key(),
            label: params.period.label(),
            from: beijing_date(from),
            to: beijing_date(to - Duration::seconds(1)),
        },
        now: super::view::time(now),
        week_from: beijing_date(week),
        month_from: beijing_date(month),
        departments,
        counties,
        calendar_warnings: ctx
            .app
            .engine()
            .calendar_warnings()
            .into_iter()
            .map(|w| CalendarNote {
                calendar: w.calendar,
                year: w.year,
                message: w.message,
            })
            .collect(),
    })
}

/// `GET /api/v1/dashboard?period=&department=`: the figures as JSON.
#[utoipa::path(
    get,
    path = "/api/v1/dashboard",
    operation_id = "getDashboard",
    tag = "dashboard",
    params(
        ("period" = Option<String>, Query, description = "this_month, last_month or 90d (default): the window of the handling-time, supplement and refusal figures"),
        ("department" = Option<String>, Query, description = "admins: one department key instead of all"),
    ),
    responses(
        (status = 200, description = "the figures of the departments in scope (handling times in working days); `calendar_warnings` name calendars in force lacking a holiday notice (next year's from 1 November)", body = Figures),
        (status = 400, description = "an unknown period, or (admins) an unknown department", body = crate::openapi::Problem, content_type = "application/problem+json"),
        (status = 401, description = "no or expired session", body = crate::openapi::Problem, content_type = "application/problem+json"),
        (status = 403, description = "not a supervisor or admin", body = crate::openapi::Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn api(
    State(ctx): State<Ctx>,
    me: Identity,
    QueryParams(params): QueryParams<Params>,
) -> Result<Json<Figures>, ApiError> {
    Ok(Json(figures(&ctx, &me, &params).await?))
}

/// A path on this site with a query string.
fn link(path: &str, pairs: &[(&str, &str)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        query.append_pair(k, v);
    }
    format!("{path}?{}", query.finish())
}

/// `GET /dashboard`.
pub(super) async fn page(
    State(ctx): State<Ctx>,
    user: PageUser,
    QueryParams(params): QueryParams<Params>,
) -> Result<Response, ApiError> {
    let me = &user.0;
    let figures = figures(&ctx, me, &params).await?;
    let counties = {
        let mut c: Vec<&str> = figures
            .departments
            .iter()
            .map(|d| d.county.as_str())
            .collect();
        c.sort_unstable();
        c.dedup();
        c.len()
    };
    let sections: Vec<Value> = figures
        .departments
        .iter()
        .map(|d| section(me, d, counties > 1))
        .collect();
    #[allow(clippy::cast_precision_loss)] // counts far below 2^52
    let county_charts: Vec<Value> = figures
        .counties
        .iter()
        .map(|c| {
            let rows: Vec<Row> = c
                .steps
                .iter()
                .map(|s| Row {
                    label: s.name.clone(),
                    values: vec![s.cases as f64],
                    href: None,
                })
                .collect();
            json!({
                "county": c.county,
                "steps": c.steps,
                "chart": bar_chart("办件当前环节", &["办件数"], &rows, "件"),
            })
        })
        .collect();
    let admin = me.roles.contains(&Role::Admin);
    let choices: Vec<Value> = if admin {
        let mut seen: Vec<(String, String)> = Vec::new();
        for u in units(&ctx, me, "")? {
            if !seen.iter().any(|(k, _)| *k == u.department) {
                seen.push((u.department, u.name));
            }
        }
        seen.into_iter()
            .map(|(key, name)| json!({"key": key, "name": name}))
            .collect()
    } else {
        Vec::new()
    };
    let export = |ext: &str| {
        link(
            &format!("/dashboard.{ext}"),
            &[
                ("period", figures.period.key),
                ("department", params.department.trim()),
            ],
        )
    };
    let page = json!({
        "period": figures.period,
        "now": figures.now,
        "week_from": figures.week_from,
        "month_from": figures.month_from,
        "sections": sections,
        "counties": county_charts,
        "calendar_warnings": figures.calendar_warnings,
        "admin": admin,
        "departments": choices,
        "department": params.department.trim(),
        "periods": [
            {"key": "this_month", "label": "本月"},
            {"key": "last_month", "label": "上月"},
            {"key": "90d", "label": "近 90 天"},
        ],
        "csv": export("csv"),
        "xlsx": export("xlsx"),
    });
    render(
        &ctx,
        &user,
        StatusCode::OK,
        "web/dashboard.html.j2",
        "督办看板",
        page,
    )
}

/// One department's part of the page: the figures, their links (only where the viewer can
/// open the list: the inbox and case list show the viewer's own department) and charts.
fn section(me: &Identity, d: &DepartmentFigures, show_county: bool) -> Value {
    let principal = me.principal();
    let linked =
        principal.works_cases() && me.department == d.department && principal.in_county(&d.county);
    let href = |path: &str, pairs: &[(&str, &str)]| linked.then(|| link(path, pairs));
    let t = &d.tasks;
    #[allow(clippy::cast_precision_loss)] // counts far below 2^52
    let state_rows = vec![
        Row {
            label: "待认领".into(),
            values: vec![t.open as f64],
            href: href("/inbox", &[("status", "open")]),
        },
        Row {
            label: "已认领".into(),
            values: vec![t.claimed as f64],
            href: href("/inbox", &[("status", "claimed")]),
        },
        Row {
            label: "预警期内（含已超期）".into(),
            values: vec![t.due_soon as f64],
            href: href("/inbox", &[("due", "soon")]),
        },
        Row {
            label: "已超期".into(),
            values: vec![t.overdue as f64],
            href: href("/inbox", &[("due", "overdue")]),
        },
    ];
    #[allow(clippy::cast_precision_loss)]
    let step_rows: Vec<Row> = d
        .steps
        .iter()
        .map(|s| Row {
            label: s.name.clone(),
            values: vec![s.cases as f64],
            href: href("/inbox", &[("step", &s.step)]),
        })
        .collect();
    #[allow(clippy::cast_precision_loss)]
    let handling_rows: Vec<Row> = d
        .handling
        .iter()
        .map(|h| Row {
            label: h.name.clone(),
            values: vec![h.median as f64, h.p90 as f64],
            href: None,
        })
        .collect();
    let title = if show_county {
        format!("{}（{}）", d.name, d.county)
    } else {
        d.name.clone()
    };
    json!({
        "title": title,
        "tasks": t,
        "links": {
            "open": href("/inbox", &[("status", "open")]),
            "claimed": href("/inbox", &[("status", "claimed")]),
            "soon": href("/inbox", &[("due", "soon")]),
            "overdue": href("/inbox", &[("due", "overdue")]),
            "finished_week": href("/cases", &[("status", "completed"), ("ended", "week")]),
            "finished_month": href("/cases", &[("status", "completed"), ("ended", "month")]),
        },
        "finished_week": d.finished_week,
        "finished_month": d.finished_month,
        "steps": d.steps,
        "handling": d.handling,
        "supplements": {
            "requested": d.supplements.requested,
            "second": d.supplements.second,
            "share": d.supplements.share.map(number),
        },
        "refusals": d.refusals,
        "reasons": d.refusal_reasons,
        "linked": linked,
        "chart_states": bar_chart("任务状态", &["任务数"], &state_rows, "件"),
        "chart_steps": bar_chart("当前步骤办件数", &["办件数"], &step_rows, "件"),
        "chart_handling": bar_chart(
            "各步骤办理时长（工作日）",
            &["中位数", "90% 分位"],
            &handling_rows,
            "个工作日",
        ),
    })
}

/// The figures as rows: 区县, 部门, 指标, 事项, 数值 (the header first).
fn rows(figures: &Figures) -> Vec<Vec<String>> {
    let mut out = vec![vec![
        "区县".to_owned(),
        "部门".to_owned(),
        "指标".to_owned(),
        "事项".to_owned(),
        "数值".to_owned(),
    ]];
    let window = format!(
        "{}（{} 至 {}）",
        figures.period.label, figures.period.from, figures.period.to
    );
    for c in &figures.counties {
        for s in &c.steps {
            out.push(vec![
                c.county.clone(),
                "全部".to_owned(),
                "在办办件当前环节".to_owned(),
                s.name.clone(),
                s.cases.to_string(),
            ]);
        }
    }
    for d in &figures.departments {
        let mut push = |figure: &str, item: &str, value: String| {
            out.push(vec![
                d.county.clone(),
                d.name.clone(),
                figure.to_owned(),
                item.to_owned(),
                value,
            ]);
        };
        push("任务", "待认领", d.tasks.open.to_string());
        push("任务", "已认领", d.tasks.claimed.to_string());
        push("任务", "预警期内（含已超期）", d.tasks.due_soon.to_string());
        push("任务", "已超期", d.tasks.overdue.to_string());
        for s in &d.steps {
            push("当前步骤办件数", &s.name, s.cases.to_string());
        }
        push(
            "办结办件数",
            &format!("本周（{} 起）", figures.week_from),
            d.finished_week.to_string(),
        );
        push(
            "办结办件数",
            &format!("本月（{} 起）", figures.month_from),
            d.finished_month.to_string(),
        );
        for h in &d.handling {
            let item = format!("{} · {window}", h.name);
            push("已办结任务数", &item, h.tasks.to_string());
            push("办理时长中位数（工作日）", &item, h.median.to_string());
            push("办理时长90%分位（工作日）", &item, h.p90.to_string());
        }
        push("需补正办件数", &window, d.supplements.requested.to_string());
        push("二次补正办件数", &window, d.supplements.second.to_string());
        push(
            "二次补正占比（%）",
            &window,
            d.supplements.share.map(number).unwrap_or_default(),
        );
        for r in &d.refusals {
            push(
                "不予办理件数",
                &format!("{} · {} · {window}", r.step_name, r.label),
                r.count.to_string(),
            );
        }
        for r in &d.refusal_reasons {
            push(
                "不予办理理由",
                &format!("{} · {} · {} · {}", r.at, r.step_name, r.label, r.case_id),
                r.reason.clone(),
            );
        }
    }
    out
}

/// The figures as an XLSX sheet; the value column holds numbers where it can, so the
/// monthly report can sum them.
fn xlsx(rows: &[Vec<String>]) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name("督办看板")?;
    let bold = rust_xlsxwriter::Format::new().set_bold();
    for (r, row) in rows.iter().enumerate() {
        let r = u32::try_from(r).unwrap_or(u32::MAX);
        for (c, cell) in row.iter().enumerate() {
            let c = u16::try_from(c).unwrap_or(u16::MAX);
            // A refusal reason shares the value column: "NaN" or "inf" parse as floats but
            // are no figure, and a reason longer than a cell is cut, not a failed export.
            let cell = lianban_core::documents::xlsx_cell(cell);
            let cell = cell.as_ref();
            match cell.parse::<f64>() {
                Ok(n) if r > 0 && c == 4 && n.is_finite() => {
                    sheet.write_number(r, c, n)?;
                }
                _ if r == 0 => {
                    sheet.write_string_with_format(r, c, cell, &bold)?;
                }
                _ => {
                    sheet.write_string(r, c, cell)?;
                }
            }
        }
    }
    for (c, width) in [(0u16, 12.0), (1, 24.0), (2, 28.0), (3, 48.0), (4, 16.0)] {
        sheet.set_column_width(c, width)?;
    }
    workbook.save_to_buffer()
}

/// `GET /dashboard.csv`.
pub(super) async fn export_csv(
    State(ctx): State<Ctx>,
    user: PageUser,
    QueryParams(params): QueryParams<Params>,
) -> Result<Response, ApiError> {
    export(&ctx, &user, &params, "csv").await
}

/// `GET /dashboard.xlsx`.
pub(super) async fn export_xlsx(
    State(ctx): State<Ctx>,
    user: PageUser,
    QueryParams(params): QueryParams<Params>,
) -> Result<Response, ApiError> {
    export(&ctx, &user, &params, "xlsx").await
}

/// The figures of the page as a download for a monthly report, named after the window
/// (`督办看板-2026-11-01至2026-11-29.csv`).
async fn export(
    ctx: &Ctx,
    user: &PageUser,
    params: &Params,
    kind: &str,
) -> Result<Response, ApiError> {
    let figures = figures(ctx, &user.0, params).await?;
    let rows = rows(&figures);
    let (bytes, mime) = if kind == "xlsx" {
        (
            xlsx(&rows).map_err(|e| ApiError::Internal(e.into()))?,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    } else {
        (
            lianban_core::documents::to_csv(&rows).map_err(|e| ApiError::Internal(e.into()))?,
            "text/csv; charset=utf-8",
        )
    };
    let stem = format!("{}_{}", figures.period.from, figures.period.to);
    let disposition = super::view::attachment(
        &format!("dashboard-{stem}.{kind}"),
        &format!(
            "督办看板-{}至{}.{kind}",
            figures.period.from, figures.period.to
        ),
    );
    tracing::info!(user = %user.0.user, format = kind, period = figures.period.key, "dashboard exported");
    Ok((
        [
            (header::CONTENT_TYPE, mime.to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        bytes,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        assert_eq!(percentile(&[], 50), 0);
        assert_eq!(percentile(&[7], 90), 7);
        assert_eq!(percentile(&[1, 2, 3, 4], 50), 2);
        assert_eq!(percentile(&[1, 2, 3, 4], 90), 4);
        let ten: Vec<i64> = (1..=10).collect();
        assert_eq!(percentile(&ten, 50), 5);
        assert_eq!(percentile(&ten, 90), 9);
    }

    #[test]
    fn windows_are_beijing_months_and_weeks() {
        // 2026-11-30 23:30 UTC is Tuesday 2026-12-01 07:30 in Beijing.
        let now = Utc.with_ymd_and_hms(2026, 11, 30, 23, 30, 0).unwrap();
        assert_eq!(beijing_date(month_start(now)), "2026-12-01");
        assert_eq!(
            month_start(now),
            Utc.with_ymd_and_hms(2026, 11, 30, 16, 0, 0).unwrap()
        );
        assert_eq!(beijing_date(week_start(now)), "2026-11-30");
        let (from, to) = Period::LastMonth.window(now);
        assert_eq!(beijing_date(from), "2026-11-01");
        assert_eq!(to, month_start(now));
    }
}
