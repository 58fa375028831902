//! The standard workload through the engine, and the same rows written raw.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use chrono::Utc;
use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};
use serde_json::{Map, json};

use super::databases::RawDb;
use super::{STANDARD_PROCESS, progress};
use lianban_core::definition::Process;
use lianban_core::runtime::{Actor, CaseId, CaseStatus, TaskStatus};
use lianban_service::Engine;
use lianban_service::records::{TaskQuery, TaskRecord};

/// Tasks a standard case completes: 受理, 医保, 公积金.
pub(super) const TASKS_PER_CASE: usize = 3;

/// Where one case's time went, by engine call (summed over the case's calls).
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Breakdown {
    /// `start_case`.
    pub(super) start: Duration,
    /// The three inbox lists that find the case's tasks.
    pub(super) lists: Duration,
    /// The three claims.
    pub(super) claims: Duration,
    /// The three completions.
    pub(super) completions: Duration,
}

impl Breakdown {
    fn add(&mut self, other: &Breakdown) {
        self.start += other.start;
        self.lists += other.lists;
        self.claims += other.claims;
        self.completions += other.completions;
    }
}

/// What an engine run measured.
pub(super) struct EngineRun {
    /// Summed over all cases: where the time went.
    pub(super) breakdown: Breakdown,
    /// Wall time of the whole run.
    pub(super) elapsed: Duration,
    /// Per case: complete 受理 → 医保's inbox shows the new task.
    pub(super) handoff: Vec<Duration>,
    /// The final state of one case as stored, so the raw run writes rows of the same size.
    pub(super) state: serde_json::Value,
}

fn clerk(user: String, department: &str) -> Actor {
    Actor {
        user,
        department: Some(department.to_owned()),
        on_behalf_of: None,
    }
}

/// Runs `cases` standard cases with `concurrency` workers, each case start → 受理 (claim,
/// complete) → 医保 and 公积金 (claim, complete each) → end, then checks every case ended.
///
/// # Errors
/// Any engine error (none is expected: each worker owns its cases).
pub(super) async fn engine_run(
    engine: &Engine,
    cases: usize,
    concurrency: usize,
    label: &str,
) -> anyhow::Result<EngineRun> {
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let label = format!("{label} engine");
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|w| {
            let engine = engine.clone();
            let next = Arc::clone(&next);
            let done = Arc::clone(&done);
            let label = label.clone();
            tokio::spawn(async move {
                let mut handoff = Vec::new();
                let mut ids = Vec::new();
                let mut breakdown = Breakdown::default();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= cases {
                        break;
                    }
                    let (case, latency, spent) = one_case(&engine, w, i).await?;
                    handoff.push(latency);
                    breakdown.add(&spent);
                    ids.push(case);
                    progress(&label, done.fetch_add(1, Ordering::Relaxed) + 1, cases);
                }
                anyhow::Ok((handoff, ids, breakdown))
            })
        })
        .collect();
    let mut handoff = Vec::with_capacity(cases);
    let mut ids = Vec::with_capacity(cases);
    let mut breakdown = Breakdown::default();
    for worker in workers {
        let (h, i, b) = worker.await.context("基准测试工作线程异常退出")??;
        handoff.extend(h);
        ids.extend(i);
        breakdown.add(&b);
    }
    let elapsed = started.elapsed();
    // Outside the timing: every case must have reached its end, or the figure is void.
    let mut state = serde_json::Value::Null;
    for id in &ids {
        let record = engine
            .get_case(*id)
            .await?
            .with_context(|| format!("办件 {id} 未保存"))?;
        if !matches!(record.state.status, CaseStatus::Completed { .. }) {
            bail!("办件 {id} 未办结：{:?}", record.state.status);
        }
        if state.is_null() {
            state = serde_json::to_value(&record.state)?;
        }
    }
    Ok(EngineRun {
        breakdown,
        elapsed,
        handoff,
        state,
    })
}

async fn one_case(
    engine: &Engine,
    worker: usize,
    i: usize,
) -> anyhow::Result<(CaseId, Duration, Breakdown)> {
    let window = clerk(format!("window{worker}"), "shebao");
    let shebao = clerk(format!("shebao{worker}"), "shebao");
    let yibao = clerk(format!("yibao{worker}"), "yibao");
    let gjj = clerk(format!("gjj{worker}"), "gjj");
    let mut form = Map::new();
    form.insert("name".into(), json!(format!("职工{i}")));
    form.insert("years".into(), json!(20));
    let mut spent = Breakdown::default();
    let mut clock = Instant::now();
    // Adds the time since the last mark to one bucket.
    let mut mark = |bucket: &mut Duration| {
        let now = Instant::now();
        *bucket += now - clock;
        clock = now;
    };
    let case = engine
        .start_case(STANDARD_PROCESS, form, vec![], &window)
        .await?;
    mark(&mut spent.start);
    let accept = inbox_task(engine, case, "shebao").await?;
    mark(&mut spent.lists);
    engine.claim(accept.id, &shebao).await?;
    mark(&mut spent.claims);
    let before = Instant::now();
    engine
        .complete(accept.id, &shebao, "accept", Map::new(), None)
        .await?;
    mark(&mut spent.completions);
    let medical = inbox_task(engine, case, "yibao").await?;
    let latency = before.elapsed();
    let fund = inbox_task(engine, case, "gjj").await?;
    mark(&mut spent.lists);
    engine.claim(medical.id, &yibao).await?;
    mark(&mut spent.claims);
    engine
        .complete(medical.id, &yibao, "done", Map::new(), None)
        .await?;
    mark(&mut spent.completions);
    engine.claim(fund.id, &gjj).await?;
    mark(&mut spent.claims);
    engine
        .complete(fund.id, &gjj, "done", Map::new(), None)
        .await?;
    mark(&mut spent.completions);
    Ok((case, latency, spent))
}

/// The case's open task in a department's inbox (the inbox query, narrowed to the case).
async fn inbox_task(engine: &Engine, case: CaseId, department: &str) -> anyhow::Result<TaskRecord> {
    let query = TaskQuery {
        case: Some(case),
        departments: vec![department.to_owned()],
        county: Some("bench".to_owned()),
        statuses: vec![TaskStatus::Open, TaskStatus::Claimed],
        limit: Some(51),
        ..TaskQuery::default()
    };
    engine
        .list_tasks(&query)
        .await?
        .into_iter()
        .next()
        .with_context(|| format!("办件 {case} 在 {department} 的待办中没有任务"))
}

/// Writes the rows of `cases` standard cases with plain statements, in the same seven
/// transactions per case the engine uses, through a pool set up as the store's and queued
/// as the store queues its writers ([`RawDb`]). Returns the wall time.
///
/// # Errors
/// Any database error.
pub(super) async fn raw_run(
    raw: &Arc<RawDb>,
    process: &Process,
    state: &serde_json::Value,
    cases: usize,
    concurrency: usize,
    label: &str,
) -> anyhow::Result<Duration> {
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let label = format!("{label} raw");
    let hash = process.content_hash.clone();
    let state = Arc::new(state.clone());
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let raw = Arc::clone(raw);
            let next = Arc::clone(&next);
            let done = Arc::clone(&done);
            let label = label.clone();
            let hash = hash.clone();
            let state = Arc::clone(&state);
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= cases {
                        break;
                    }
                    raw_case(&raw, &hash, &state).await?;
                    progress(&label, done.fetch_add(1, Ordering::Relaxed) + 1, cases);
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for worker in workers {
        worker.await.context("基准测试工作线程异常退出")??;
    }
    Ok(started.elapsed())
}

const INSERT_CASE: &str = "INSERT INTO cases (id, process_id, version, content_hash, status, \
    result, current_steps, title, state, revision, started_at, updated_at, ended_at, \
    applicant_name, id_key, county) VALUES (?, ?, 1, ?, 'running', NULL, ?, ?, ?, 1, ?, ?, \
    NULL, ?, NULL, 'bench')";
const UPDATE_CASE: &str = "UPDATE cases SET status = ?, current_steps = ?, state = ?, \
    revision = ?, updated_at = ?, ended_at = ? WHERE id = ? AND revision = ?";
const INSERT_TASK: &str = "INSERT INTO tasks (id, case_id, step, step_name, role, department, \
    status, claimed_by, created_at, due_at, closed_at, outcome, completed_by, county, warn_at) \
    VALUES (?, ?, ?, ?, ?, ?, 'open', NULL, ?, NULL, NULL, NULL, NULL, 'bench', NULL)";
const CLAIM_TASK: &str = "UPDATE tasks SET status = 'claimed', claimed_by = ? WHERE id = ?";
const COMPLETE_TASK: &str = "UPDATE tasks SET status = 'completed', closed_at = ?, outcome = ?, \
    completed_by = ? WHERE id = ?";
const INSERT_HISTORY: &str = "INSERT INTO history (case_id, seq, at, actor, actor_department, \
    action, from_status, from_steps, to_status, to_steps, events, data_changed, prev_hash, \
    hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
const INSERT_HEAD: &str = "INSERT INTO history_heads (case_id, seq, hash) VALUES (?, 1, ?)";
const UPDATE_HEAD: &str =
    "UPDATE history_heads SET seq = ?, hash = ? WHERE case_id = ? AND seq = ?";
/// A hash of the size the chain stores (SHA-256, hex).
const HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Every statement a standard case's plan uses (prepared once by the native PostgreSQL
/// writer).
pub(super) const STATEMENTS: [&str; 8] = [
    INSERT_CASE,
    UPDATE_CASE,
    INSERT_TASK,
    CLAIM_TASK,
    COMPLETE_TASK,
    INSERT_HISTORY,
    INSERT_HEAD,
    UPDATE_HEAD,
];

/// A parameter of a planned write, bound by each writer its own way.
#[derive(Debug, Clone)]
pub(super) enum Param {
    Text(String),
    Int(i64),
    Time(chrono::DateTime<Utc>),
    Json(serde_json::Value),
    NoText,
    NoTime,
}

impl Param {
    fn value(&self) -> Value {
        match self {
            Param::Text(s) => Value::from(s.clone()),
            Param::Int(i) => Value::from(*i),
            Param::Time(t) => Value::from(*t),
            Param::Json(v) => Value::Json(Some(Box::new(v.clone()))),
            Param::NoText => Value::String(None),
            Param::NoTime => Value::ChronoDateTimeUtc(None),
        }
    }
}

/// One write of a plan: the SQL (`?` placeholders) and its parameters; each changes one row.
pub(super) type Write = (&'static str, Vec<Param>);

/// One standard case's rows: its seven transactions, each the writes of one transition
/// (the chain head's insert or update last), with a state JSON of `state`'s size.
pub(super) fn case_plan(hash: &str, state: &serde_json::Value) -> Vec<Vec<Write>> {
    let case = uuid::Uuid::now_v7().to_string();
    let [accept, medical, fund] = [(); 3].map(|()| uuid::Uuid::now_v7().to_string());
    let s = |v: &str| Param::Text(v.to_owned());
    let now = || Param::Time(Utc::now());
    let history = |seq: i64,
                   action: &str,
                   actor: &str,
                   department: &str,
                   from: &str,
                   to: &str,
                   to_status: &str| {
        (
            INSERT_HISTORY,
            vec![
                s(&case),
                Param::Int(seq),
                now(),
                s(actor),
                s(department),
                s(action),
                s("running"),
                s(from),
                s(to_status),
                s(to),
                Param::Json(json!([{"type": "step"}])),
                Param::Json(json!({})),
                if seq == 1 { Param::NoText } else { s(HASH) },
                s(HASH),
            ],
        )
    };
    // The chain's head moves with every entry; the raw program knows the previous seq.
    let head = |seq: i64| {
        if seq == 1 {
            (INSERT_HEAD, vec![s(&case), s(HASH)])
        } else {
            (
                UPDATE_HEAD,
                vec![Param::Int(seq), s(HASH), s(&case), Param::Int(seq - 1)],
            )
        }
    };
    let update_case = |revision: i64, status: &str, steps: &str, ended: bool| {
        (
            UPDATE_CASE,
            vec![
                s(status),
                s(steps),
                Param::Json(state.clone()),
                Param::Int(revision),
                now(),
                if ended { now() } else { Param::NoTime },
                s(&case),
                Param::Int(revision - 1),
            ],
        )
    };
    let insert_task = |id: &str, step: &str, name: &str, role: &str, department: &str| {
        (
            INSERT_TASK,
            vec![
                s(id),
                s(&case),
                s(step),
                s(name),
                s(role),
                s(department),
                now(),
            ],
        )
    };
    let claim = |id: &str, user: &str| (CLAIM_TASK, vec![s(user), s(id)]);
    let complete = |id: &str, outcome: &str, user: &str| {
        (COMPLETE_TASK, vec![now(), s(outcome), s(user), s(id)])
    };

    // 1. start: the case, 受理, history.
    let start = vec![
        (
            INSERT_CASE,
            vec![
                s(&case),
                s(STANDARD_PROCESS),
                s(hash),
                s("accept"),
                s("职工**"),
                Param::Json(state.clone()),
                now(),
                now(),
                s("职工"),
            ],
        ),
        insert_task(&accept, "accept", "受理", "shebao_clerk", "shebao"),
        history(1, "start", "window", "shebao", "", "accept", "running"),
    ];
    // 2. claim 受理; 3. complete it, opening 医保 and 公积金; 4–7. claim and complete each.
    let mut transactions = vec![
        start,
        vec![
            update_case(2, "running", "accept", false),
            claim(&accept, "shebao"),
            history(
                2, "claim", "shebao", "shebao", "accept", "accept", "running",
            ),
        ],
        vec![
            update_case(3, "running", "medical,fund", false),
            complete(&accept, "accept", "shebao"),
            insert_task(&medical, "medical", "医保", "yibao_clerk", "yibao"),
            insert_task(&fund, "fund", "公积金", "gjj_clerk", "gjj"),
            history(
                3,
                "complete",
                "shebao",
                "shebao",
                "accept",
                "medical,fund",
                "running",
            ),
        ],
        vec![
            update_case(4, "running", "medical,fund", false),
            claim(&medical, "yibao"),
            history(
                4,
                "claim",
                "yibao",
                "yibao",
                "medical,fund",
                "medical,fund",
                "running",
            ),
        ],
        vec![
            update_case(5, "running", "fund", false),
            complete(&medical, "done", "yibao"),
            history(
                5,
                "complete",
                "yibao",
                "yibao",
                "medical,fund",
                "fund",
                "running",
            ),
        ],
        vec![
            update_case(6, "running", "fund", false),
            claim(&fund, "gjj"),
            history(6, "claim", "gjj", "gjj", "fund", "fund", "running"),
        ],
        vec![
            update_case(7, "completed", "", true),
            complete(&fund, "done", "gjj"),
            history(7, "complete", "gjj", "gjj", "fund", "", "completed"),
        ],
    ];
    for (seq, writes) in (1..).zip(transactions.iter_mut()) {
        writes.push(head(seq));
    }
    transactions
}

/// One standard case's rows, raw, through the bench's sqlx pool.
async fn raw_case(raw: &RawDb, hash: &str, state: &serde_json::Value) -> anyhow::Result<()> {
    let backend = raw.backend();
    for writes in case_plan(hash, state) {
        // The engine's own way in: on SQLite a writer queue like the store's, the turn held
        // until the commit returns.
        let _turn = raw.turn().await;
        let txn = raw.begin().await?;
        for (sql, params) in writes {
            let values = params.iter().map(Param::value).collect::<Vec<_>>();
            let statement =
                Statement::from_sql_and_values(backend, placeholders(backend, sql), values);
            txn.execute_raw(statement).await?;
        }
        txn.commit().await?;
    }
    Ok(())
}

/// `?` placeholders as the backend spells them (`$1, $2, …` on PostgreSQL).
pub(super) fn placeholders(backend: DbBackend, sql: &str) -> String {
    if backend != DbBackend::Postgres {
        return sql.to_owned();
    }
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}
