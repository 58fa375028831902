//! Store tests, each run on SQLite and on PostgreSQL (see `lianban_tests::db_test!`).
//! States and transitions are built by hand: the store must persist whatever the runtime
//! decides, and these tests must not depend on how it decides.

use std::sync::Arc;

use lianban::definition::Catalog;
use lianban::documents::Templates;
use lianban::runtime::{CaseId, CaseStatus, Event, TaskId, TaskStatus};
use lianban::scheduler::SystemClock;
use lianban::service::{Engine, EngineError};
use lianban::store::{
    Basis, CaseQuery, Change, Missing, Registration, Store, StoreError, StoreOptions, Synchronous,
    TaskQuery,
};
use lianban_tests::fixtures::{at, clerk, edit_task, object, open_task, process, start};
use lianban_tests::{Backend, db_test};
use serde_json::json;
use uuid::Uuid;

/// One transition per unit of work, committed at once, as the service writes a command.
trait OneWrite {
    async fn insert_case(
        &self,
        change: &Change<'_>,
        title: Option<&str>,
    ) -> Result<i64, StoreError>;
    async fn save_transition(&self, expected: i64, change: &Change<'_>) -> Result<i64, StoreError>;
}

impl OneWrite for Store {
    async fn insert_case(
        &self,
        change: &Change<'_>,
        title: Option<&str>,
    ) -> Result<i64, StoreError> {
        let mut unit = self.unit().await?;
        let revision = unit.insert_case(change, title).await?;
        unit.commit().await?;
        Ok(revision)
    }

    async fn save_transition(&self, expected: i64, change: &Change<'_>) -> Result<i64, StoreError> {
        let mut unit = self.unit().await?;
        let revision = unit
            .save_transition(Basis::Revision(expected), change, None)
            .await?;
        unit.commit().await?;
        Ok(revision)
    }
}

db_test!(migrations_apply_twice, |db| {
    let store = db.store().await?;
    // A second run finds nothing pending (replicas all migrate at startup).
    store.migrate().await?;
    assert_eq!(store.definitions().count_cases_on("demo", 1).await?, 0);
    assert!(store.reads().inbox(&TaskQuery::default()).await?.is_empty());
    assert!(store.reads().cases(&CaseQuery::default()).await?.is_empty());
    Ok(())
});

db_test!(definition_registration_rules, |db| {
    let store = db.store().await?;
    let v1 = process("demo", 1, "aaa");
    assert_eq!(
        store.definitions().register(&v1).await?,
        Registration::Inserted
    );
    assert_eq!(
        store.definitions().register(&v1).await?,
        Registration::Unchanged
    );

    // No case yet: the policy officer may still fix version 1 in place.
    let fixed = process("demo", 1, "bbb");
    assert_eq!(
        store.definitions().register(&fixed).await?,
        Registration::Updated
    );
    let (hash, sources) = store
        .definitions()
        .sources("demo", 1)
        .await?
        .expect("stored");
    assert_eq!(hash, "bbb");
    assert_eq!(sources, fixed.sources);

    // Once a case runs on it, version 1 is frozen.
    let transition = start(&fixed, object([]), at(9, 0));
    let actor = clerk("wang", "shebao");
    let change = Change {
        process: &fixed,
        transition: &transition,
        actor: &actor,
        action: "start",
        at: at(9, 0),
    };
    store.insert_case(&change, Some("张三")).await?;
    assert_eq!(store.definitions().count_cases_on("demo", 1).await?, 1);
    let edited = process("demo", 1, "ccc");
    let error = store
        .definitions()
        .register(&edited)
        .await
        .expect_err("frozen");
    assert!(
        matches!(&error, StoreError::VersionChanged { process, version: 1 } if process == "demo")
    );
    assert!(error.to_string().contains("version 改为 2"), "{error}");
    assert_eq!(
        store
            .definitions()
            .sources("demo", 1)
            .await?
            .map(|(h, _)| h)
            .as_deref(),
        Some("bbb")
    );

    // The same content again is still fine, and a new version is a new row.
    assert_eq!(
        store.definitions().register(&fixed).await?,
        Registration::Unchanged
    );
    assert_eq!(
        store
            .definitions()
            .register(&process("demo", 2, "ccc"))
            .await?,
        Registration::Inserted
    );
    assert!(store.definitions().sources("demo", 3).await?.is_none());
    Ok(())
});

db_test!(transitions_are_persisted_with_history, |db| {
    let store = db.store().await?;
    let demo = process("demo", 1, "aaa");
    store.definitions().register(&demo).await?;
    let wang = clerk("wang", "shebao");
    let started = start(&demo, object([("name", json!("张三"))]), at(9, 0));
    let case = started.state.id;
    let first = Change {
        process: &demo,
        transition: &started,
        actor: &wang,
        action: "start",
        at: at(10, 0),
    };
    assert_eq!(
        store
            .insert_case(&first, Some("张三 1401**********1234"))
            .await?,
        1
    );

    let record = store.cases().get(case).await?.expect("stored");
    assert_eq!(record.state, started.state);
    assert_eq!((record.revision, record.content_hash.as_str()), (1, "aaa"));
    assert_eq!(record.title.as_deref(), Some("张三 1401**********1234"));
    let task_id = started.state.tasks[0].id;
    let task = store.tasks().get(task_id).await?.expect("task row");
    assert_eq!(
        (task.case_id, task.step_name.as_str(), task.status),
        (case, "受理", TaskStatus::Open)
    );

    // Claim.
    let claimed = edit_task(
        &started.state,
        "accept",
        Event::TaskClaimed {
            task: task_id,
            user: "wang".into(),
        },
        |t| {
            t.status = TaskStatus::Claimed;
            t.claimed_by = Some("wang".into());
        },
    );
    assert_eq!(
        store
            .save_transition(
                1,
                &Change {
                    transition: &claimed,
                    action: "claim",
                    at: at(10, 5),
                    ..first
                }
            )
            .await?,
        2
    );

    // Complete: data written, form corrected, a material received, a new task at review.
    let mut completed = edit_task(
        &claimed.state,
        "accept",
        Event::TaskCompleted {
            task: task_id,
            outcome: "done".into(),
        },
        |t| {
            t.status = TaskStatus::Completed;
            t.closed_at = Some(at(10, 9));
            t.outcome = Some("done".into());
            t.completed_by = Some("wang".into());
        },
    );
    let review = open_task("review", "yibao_clerk", "yibao", at(10, 9));
    let state = &mut completed.state;
    state.data.insert("eligible".into(), json!(true));
    state.form.insert("name".into(), json!("张叁"));
    state.materials.push("roster".into());
    state.tokens[0].step = "review".into();
    state.tasks.push(review.clone());
    // No CreateTask effect for `review` on purpose: the state diff alone must project it.
    assert_eq!(
        store
            .save_transition(
                2,
                &Change {
                    transition: &completed,
                    action: "complete",
                    at: at(10, 9),
                    ..first
                }
            )
            .await?,
        3
    );

    let record = store.cases().get(case).await?.expect("stored");
    assert_eq!((record.revision, &record.state), (3, &completed.state));
    let rows = store
        .reads()
        .inbox(&TaskQuery {
            roles: vec!["yibao_clerk".into()],
            ..Default::default()
        })
        .await?;
    assert_eq!(
        rows.iter()
            .map(|t| (t.id, t.step_name.as_str()))
            .collect::<Vec<_>>(),
        [(review.id, "医保审核")]
    );
    let done = store.tasks().get(task_id).await?.expect("task row");
    assert_eq!(
        (
            done.status,
            done.outcome.as_deref(),
            done.completed_by.as_deref()
        ),
        (TaskStatus::Completed, Some("done"), Some("wang"))
    );
    assert_eq!(done.closed_at, Some(at(10, 9)));

    let history = store.cases().history(case).await?;
    let summary: Vec<_> = history
        .iter()
        .map(|h| {
            (
                h.seq,
                h.action.as_str(),
                h.from_status.as_deref(),
                h.to_status.as_str(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (1, "start", None, "active"),
            (2, "claim", Some("active"), "active"),
            (3, "complete", Some("active"), "active")
        ]
    );
    assert_eq!(history[0].events, started.events);
    assert_eq!(history[0].actor, wang);
    assert_eq!(history[0].at, at(10, 0));
    assert_eq!(
        history[0].data_changed.get("form.name"),
        Some(&json!({"old": null, "new": "张三"}))
    );
    assert!(
        history[1].data_changed.is_empty(),
        "a claim changes no data"
    );
    assert_eq!(history[2].from_steps, ["accept".into()]);
    assert_eq!(history[2].to_steps, ["review".into()]);
    assert_eq!(
        serde_json::Value::Object(history[2].data_changed.clone()),
        json!({
            "form.name": {"old": "张三", "new": "张叁"},
            "data.eligible": {"old": null, "new": true},
            "materials": {"old": ["id_card"], "new": ["id_card", "roster"]},
        })
    );

    // The end: the case leaves the active list.
    let mut ended = completed.clone();
    ended.state.status = CaseStatus::Completed {
        result: "办结".into(),
        step: "done".into(),
    };
    ended.state.tokens.clear();
    ended.state.ended_at = Some(at(11, 0));
    ended.events = vec![Event::CaseCompleted {
        result: "办结".into(),
    }];
    store
        .save_transition(
            3,
            &Change {
                transition: &ended,
                action: "complete",
                at: at(10, 30),
                ..first
            },
        )
        .await?;
    let active = store
        .reads()
        .cases(&CaseQuery {
            statuses: vec!["active".into()],
            ..Default::default()
        })
        .await?;
    assert!(active.is_empty());
    let all = store
        .reads()
        .cases(&CaseQuery {
            process: Some("demo".into()),
            ..Default::default()
        })
        .await?;
    assert_eq!(all.len(), 1);
    assert_eq!(
        (all[0].status.as_str(), all[0].result.as_deref()),
        ("completed", Some("办结"))
    );
    assert!(all[0].current_steps.is_empty());
    Ok(())
});

db_test!(compare_and_set_lets_exactly_one_win, |db| {
    let store = db.store().await?;
    let demo = process("demo", 1, "aaa");
    store.definitions().register(&demo).await?;
    let started = start(&demo, object([]), at(9, 0));
    let task = started.state.tasks[0].id;
    let (wang, li) = (clerk("wang", "shebao"), clerk("li", "shebao"));
    let first = Change {
        process: &demo,
        transition: &started,
        actor: &wang,
        action: "start",
        at: at(9, 0),
    };
    store.insert_case(&first, None).await?;

    // Two clerks claim the same task from the same revision at the same moment.
    let claim = |user: &str| {
        edit_task(
            &started.state,
            "accept",
            Event::TaskClaimed {
                task,
                user: user.into(),
            },
            |t| {
                t.status = TaskStatus::Claimed;
                t.claimed_by = Some(user.into());
            },
        )
    };
    let (by_wang, by_li) = (claim("wang"), claim("li"));
    let for_wang = Change {
        process: &demo,
        transition: &by_wang,
        actor: &wang,
        action: "claim",
        at: at(9, 1),
    };
    let for_li = Change {
        transition: &by_li,
        actor: &li,
        ..for_wang
    };
    let (a, b) = tokio::join!(
        store.save_transition(1, &for_wang),
        store.save_transition(1, &for_li)
    );
    let case = started.state.id;
    let wins = [&a, &b].iter().filter(|r| r.is_ok()).count();
    assert_eq!(wins, 1, "exactly one wins: {a:?} / {b:?}");
    let loser = if a.is_ok() { b } else { a };
    assert!(
        matches!(loser, Err(StoreError::Conflict { case: c }) if c == case),
        "{loser:?}"
    );

    // The winner's claim is what is stored, in the case, the task row and the history.
    let record = store.cases().get(case).await?.expect("stored");
    let holder = record.state.tasks[0].claimed_by.clone().expect("claimed");
    assert_eq!(record.revision, 2);
    assert_eq!(
        store.tasks().get(task).await?.and_then(|t| t.claimed_by),
        Some(holder.clone())
    );
    let history = store.cases().history(case).await?;
    assert_eq!(history.len(), 2);
    assert_eq!(history[1].actor.user, holder);

    // A stale revision stays a conflict; an unknown case is not found.
    let stale = Change {
        process: &demo,
        transition: &by_li,
        actor: &li,
        action: "claim",
        at: at(9, 2),
    };
    assert!(matches!(
        store.save_transition(1, &stale).await,
        Err(StoreError::Conflict { .. })
    ));
    let mut ghost = by_li.clone();
    ghost.state.id = CaseId(Uuid::new_v4());
    let ghost = Change {
        transition: &ghost,
        ..stale
    };
    assert!(matches!(
        store.save_transition(1, &ghost).await,
        Err(StoreError::NotFound(Missing::Case(_)))
    ));
    Ok(())
});

db_test!(a_failed_save_writes_nothing, |db| {
    let store = db.store().await?;
    let demo = process("demo", 1, "aaa");
    store.definitions().register(&demo).await?;
    let started = start(&demo, object([]), at(9, 0));
    let wang = clerk("wang", "shebao");
    store
        .insert_case(
            &Change {
                process: &demo,
                transition: &started,
                actor: &wang,
                action: "start",
                at: at(9, 0),
            },
            None,
        )
        .await?;

    // The case row is written first; the bad effect fails later in the same transaction.
    let mut broken = started.clone();
    broken.state.data.insert("x".into(), json!(1));
    let ghost = TaskId(Uuid::new_v4());
    broken.effects = vec![lianban::runtime::Effect::UpdateTask { task: ghost }];
    let change = Change {
        process: &demo,
        transition: &broken,
        actor: &wang,
        action: "complete",
        at: at(9, 5),
    };
    let error = store
        .save_transition(1, &change)
        .await
        .expect_err("missing task");
    assert!(matches!(error, StoreError::MissingTask { task, .. } if task == ghost));

    let record = store.cases().get(started.state.id).await?.expect("stored");
    assert_eq!((record.revision, &record.state), (1, &started.state));
    assert_eq!(store.cases().history(started.state.id).await?.len(), 1);

    // Without the definition version, a case cannot be inserted (foreign key).
    let unknown = process("other", 1, "zzz");
    let orphan = start(&unknown, object([]), at(9, 0));
    let change = Change {
        process: &unknown,
        transition: &orphan,
        actor: &wang,
        action: "start",
        at: at(9, 0),
    };
    assert!(matches!(
        store.insert_case(&change, None).await,
        Err(StoreError::Database(_))
    ));
    assert!(store.cases().get(orphan.state.id).await?.is_none());
    assert!(store.tasks().get(orphan.state.tasks[0].id).await?.is_none());
    Ok(())
});

db_test!(task_listing_filters_and_order, |db| {
    let store = db.store().await?;
    let demo = process("demo", 1, "aaa");
    store.definitions().register(&demo).await?;
    let wang = clerk("wang", "shebao");
    // Four cases whose single task differs in department, status and due time.
    let mut ids = Vec::new();
    for (n, (step, role, department, due, claimed)) in [
        ("accept", "shebao_clerk", "shebao", Some(at(17, 0)), None),
        ("accept", "shebao_clerk", "shebao", None, Some("wang")),
        ("accept", "shebao_clerk", "shebao", Some(at(12, 0)), None),
        (
            "review",
            "yibao_clerk",
            "yibao",
            Some(at(8, 0)),
            Some("zhao"),
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let mut transition = start(&demo, object([]), at(9, 0));
        let task = &mut transition.state.tasks[0];
        *task = open_task(step, role, department, at(9, u32::try_from(n)?));
        task.due_at = due;
        if let Some(user) = claimed {
            task.status = TaskStatus::Claimed;
            task.claimed_by = Some(user.into());
        }
        ids.push(task.id);
        transition.effects.clear();
        let change = Change {
            process: &demo,
            transition: &transition,
            actor: &wang,
            action: "start",
            at: at(9, 0),
        };
        store.insert_case(&change, None).await?;
    }
    let list = |query: TaskQuery| {
        let store = store.clone();
        async move {
            let rows = store.reads().inbox(&query).await?;
            anyhow::Ok(rows.into_iter().map(|t| t.id).collect::<Vec<_>>())
        }
    };
    // Soonest due first; no due time last.
    assert_eq!(
        list(TaskQuery::default()).await?,
        [ids[3], ids[2], ids[0], ids[1]]
    );
    let shebao = TaskQuery {
        departments: vec!["shebao".into()],
        ..Default::default()
    };
    assert_eq!(list(shebao.clone()).await?, [ids[2], ids[0], ids[1]]);
    let open = TaskQuery {
        statuses: vec![TaskStatus::Open],
        ..shebao.clone()
    };
    assert_eq!(list(open).await?, [ids[2], ids[0]]);
    let mine = TaskQuery {
        claimed_by: Some("wang".into()),
        ..Default::default()
    };
    assert_eq!(list(mine).await?, [ids[1]]);
    let roles = TaskQuery {
        roles: vec!["yibao_clerk".into(), "shebao_clerk".into()],
        ..Default::default()
    };
    assert_eq!(list(roles).await?.len(), 4);
    let nobody = TaskQuery {
        roles: vec!["yibao_clerk".into()],
        departments: vec!["shebao".into()],
        ..Default::default()
    };
    assert!(list(nobody).await?.is_empty(), "filters combine with AND");
    let page = TaskQuery {
        limit: Some(2),
        offset: 1,
        ..Default::default()
    };
    assert_eq!(list(page).await?, [ids[2], ids[0]]);
    Ok(())
});

db_test!(sqlite_connections_run_with_the_pragmas, |db| {
    let store = db.store().await?;
    if db.backend == Backend::Postgres {
        assert!(!store.is_sqlite());
        assert!(store.sqlite_settings().await?.is_none());
        return Ok(());
    }
    // Several at once, so the pool hands out more than its first connection.
    let (a, b, c, d) = tokio::join!(
        store.sqlite_settings(),
        store.sqlite_settings(),
        store.sqlite_settings(),
        store.sqlite_settings(),
    );
    for settings in [a?, b?, c?, d?] {
        let settings = settings.expect("sqlite");
        assert_eq!(settings.journal_mode, "wal");
        assert_eq!(settings.synchronous, 2, "FULL by default");
        assert_eq!(settings.busy_timeout_ms, 5000);
        assert_eq!(settings.foreign_keys, 1);
    }
    let options = StoreOptions {
        sqlite_synchronous: Synchronous::Normal,
        ..Default::default()
    };
    let normal = db.store_with(options).await?;
    assert_eq!(
        normal.sqlite_settings().await?.map(|s| s.synchronous),
        Some(1)
    );
    Ok(())
});

#[tokio::test]
async fn sqlite_connect_creates_the_missing_directory() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("data/nested/lianban.db");
    let store =
        lianban::store::Store::connect(&format!("sqlite://{}?mode=rwc", path.display())).await?;
    store.migrate().await?;
    assert!(path.exists());
    Ok(())
}

db_test!(engine_reports_what_it_cannot_find, |db| {
    let store = db.store().await?;
    let engine = Engine::new(
        store.clone(),
        Catalog::default(),
        std::sync::Arc::new(Templates::empty()),
        Arc::new(SystemClock),
    );
    let wang = clerk("wang", "shebao");
    let error = engine
        .start_case("nope", object([]), Vec::new(), &wang)
        .await
        .expect_err("unknown");
    assert!(
        matches!(error, EngineError::UnknownProcess { ref process, version: None } if process == "nope")
    );
    let task = TaskId(Uuid::new_v4());
    assert!(
        matches!(engine.claim(task, &wang).await, Err(EngineError::Store(StoreError::NotFound(Missing::Task(t)))) if t == task)
    );
    let case = CaseId(Uuid::new_v4());
    assert!(
        matches!(engine.cancel(case, "撤件", &wang).await, Err(EngineError::Store(StoreError::NotFound(Missing::Case(c)))) if c == case)
    );

    // A case on a version the catalog no longer has runs on the stored sources; these test
    // sources are not a definition, so the reload fails, and says which version.
    let demo = process("demo", 1, "aaa");
    store.definitions().register(&demo).await?;
    let started = start(&demo, object([]), at(9, 0));
    let change = Change {
        process: &demo,
        transition: &started,
        actor: &wang,
        action: "start",
        at: at(9, 0),
    };
    store.insert_case(&change, None).await?;
    let error = engine
        .cancel(started.state.id, "撤件", &wang)
        .await
        .expect_err("not loadable");
    assert!(
        matches!(error, EngineError::Reload { ref process, version: 1, .. } if process == "demo"),
        "{error:?}"
    );
    Ok(())
});

/// The web layer runs commands on a multi-threaded runtime: their futures must be `Send`.
#[allow(dead_code, clippy::let_underscore_future)]
fn engine_futures_are_send(engine: Engine, actor: lianban::runtime::Actor) {
    fn send<T: Send>(_: T) {}
    let task = TaskId(Uuid::nil());
    send(engine.complete(task, &actor, "done", Default::default(), None));
    send(engine.start_case("demo", Default::default(), Vec::new(), &actor));
    send(engine.cancel(CaseId(Uuid::nil()), "撤件", &actor));
}

db_test!(
    a_savepoint_rolls_back_one_command_of_a_unit_and_returns_its_number,
    |db| {
        // A group commit's unit: each command in a savepoint of its own; the one that fails is
        // rolled back alone, the number it drew goes back, the others commit together.
        let store = db.store().await?;
        let mut unit = store.unit().await?;
        unit.savepoint().await?;
        assert_eq!(unit.next_number("组测", 2026).await?, 1);
        unit.savepoint().await?;
        assert_eq!(unit.next_number("组测", 2026).await?, 2);
        unit.rollback_to_savepoint().await?;
        unit.savepoint().await?;
        assert_eq!(
            unit.next_number("组测", 2026).await?,
            2,
            "the rolled-back number is reused"
        );
        unit.commit().await?;
        let mut next = store.unit().await?;
        assert_eq!(
            next.next_number("组测", 2026).await?,
            3,
            "both kept numbers committed"
        );
        Ok(())
    }
);

db_test!(
    a_moved_chain_head_in_a_group_is_retried_inside_its_savepoint,
    |db| {
        // Two claims in one unit, each in its own savepoint, as the service's writer groups them.
        // The second was decided on a record whose chain head a recorded view has since moved:
        // its first attempt fails and is retried inside its savepoint, reading the head under
        // the case's lock, and the first claim, written before it in the same unit, stays.
        let store = db.store().await?;
        let demo = process("demo", 1, "aaa");
        store.definitions().register(&demo).await?;
        let wang = clerk("wang", "shebao");
        let mut cases = Vec::new();
        for name in ["张三", "李四"] {
            let started = start(&demo, object([("name", json!(name))]), at(9, 0));
            let change = Change {
                process: &demo,
                transition: &started,
                actor: &wang,
                action: "start",
                at: at(9, 0),
            };
            store.insert_case(&change, Some(name)).await?;
            cases.push(started);
        }
        let claim = |started: &lianban::runtime::Transition| {
            let task = started.state.tasks[0].id;
            edit_task(
                &started.state,
                "accept",
                Event::TaskClaimed {
                    task,
                    user: "wang".into(),
                },
                |t| {
                    t.status = TaskStatus::Claimed;
                    t.claimed_by = Some("wang".into());
                },
            )
        };
        let (first, second) = (claim(&cases[0]), claim(&cases[1]));
        let held = store.cases().get(cases[1].state.id).await?.expect("stored");
        assert!(
            store
                .cases()
                .record_view(cases[1].state.id, &wang, at(9, 30))
                .await?
        );

        let mut unit = store.unit().await?;
        unit.savepoint().await?;
        let change = |transition| Change {
            process: &demo,
            transition,
            actor: &wang,
            action: "claim",
            at: at(10, 0),
        };
        let first_record = store.cases().get(cases[0].state.id).await?.expect("stored");
        unit.save_transition(Basis::Held(&first_record), &change(&first), None)
            .await?;
        unit.savepoint().await?;
        assert_eq!(
            unit.save_transition(Basis::Held(&held), &change(&second), None)
                .await?,
            2
        );
        unit.commit().await?;

        for started in &cases {
            let record = store.cases().get(started.state.id).await?.expect("stored");
            assert_eq!(record.revision, 2, "both claims were committed");
            assert_eq!(record.state.tasks[0].status, TaskStatus::Claimed);
        }
        let history = store.cases().history(cases[1].state.id).await?;
        let actions: Vec<&str> = history.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["start", "view", "claim"]);
        assert!(store.admin().verify_history(None).await?.intact());
        Ok(())
    }
);

db_test!(
    writes_prepared_before_the_writer_check_the_case_and_its_head_when_run,
    |db| {
        // The service builds a command's writes before the writer takes it. Between the two a
        // recorded view can move the chain head (the save starts over, reading it under the
        // case's lock) or another command can change the case (a conflict, nothing written).
        let store = db.store().await?;
        let demo = process("demo", 1, "aaa");
        store.definitions().register(&demo).await?;
        let wang = clerk("wang", "shebao");
        let started = start(&demo, object([("name", json!("张三"))]), at(9, 0));
        let case = started.state.id;
        let start_change = Change {
            process: &demo,
            transition: &started,
            actor: &wang,
            action: "start",
            at: at(9, 0),
        };
        store.insert_case(&start_change, Some("张三")).await?;
        let task = started.state.tasks[0].id;
        let claim = edit_task(
            &started.state,
            "accept",
            Event::TaskClaimed {
                task,
                user: "wang".into(),
            },
            |t| {
                t.status = TaskStatus::Claimed;
                t.claimed_by = Some("wang".into());
            },
        );
        let change = |transition| Change {
            process: &demo,
            transition,
            actor: &wang,
            action: "claim",
            at: at(10, 0),
        };

        // Prepared, then the head moves: saved all the same, after the view.
        let held = store.cases().get(case).await?.expect("stored");
        let prepared = store.cases().prepare(&held, &change(&claim))?;
        assert!(prepared.is_built(), "the record holds its chain head");
        assert!(store.cases().record_view(case, &wang, at(9, 30)).await?);
        let mut unit = store.unit().await?;
        unit.savepoint().await?;
        assert_eq!(
            unit.save_prepared(&held, &change(&claim), None, prepared)
                .await?,
            2
        );
        unit.commit().await?;
        let actions: Vec<String> = store
            .cases()
            .history(case)
            .await?
            .into_iter()
            .map(|e| e.action)
            .collect();
        assert_eq!(actions, ["start", "view", "claim"]);

        // Prepared on revision 2, then another command moves the case to 3: a conflict, and
        // the case, its tasks and its history are as the other command left them.
        let held = store.cases().get(case).await?.expect("stored");
        let release = edit_task(&held.state, "accept", Event::TaskUnclaimed { task }, |t| {
            t.status = TaskStatus::Open;
            t.claimed_by = None;
        });
        let prepared = store.cases().prepare(&held, &change(&release))?;
        assert!(prepared.is_built(), "the record holds its chain head");
        let mut other = store.unit().await?;
        other
            .save_transition(Basis::Held(&held), &change(&release), None)
            .await?;
        other.commit().await?;
        let mut unit = store.unit().await?;
        unit.savepoint().await?;
        let lost = unit
            .save_prepared(&held, &change(&release), None, prepared)
            .await;
        assert!(
            matches!(lost, Err(StoreError::Conflict { case: c }) if c == case),
            "{lost:?}"
        );
        drop(unit);
        let record = store.cases().get(case).await?.expect("stored");
        assert_eq!(record.revision, 3);
        assert_eq!(record.state.tasks[0].status, TaskStatus::Open);
        assert_eq!(store.cases().history(case).await?.len(), 4);
        assert!(store.admin().verify_history(None).await?.intact());
        Ok(())
    }
);

/// A deadlock PostgreSQL breaks (two transactions taking two rows in opposite orders, as
/// two writer lanes can with the counters of case and document numbers) reads as a
/// transient error: the engine runs the failed command again instead of answering 500.
#[tokio::test]
async fn a_deadlock_postgresql_breaks_is_a_transient_error() -> anyhow::Result<()> {
    use sea_orm::{ConnectionTrait, Database, TransactionTrait};
    let url = std::env::var(lianban_tests::POSTGRES_ENV)
        .map_err(|_| anyhow::anyhow!("{} is not set", lianban_tests::POSTGRES_ENV))?;
    let db = Database::connect(&url).await?;
    let table = format!("deadlock_{}", Uuid::new_v4().simple());
    db.execute_unprepared(&format!(
        "CREATE TABLE {table} (id int PRIMARY KEY, n int); INSERT INTO {table} VALUES (1, 0), (2, 0)"
    ))
    .await?;
    let (a, b) = (db.begin().await?, db.begin().await?);
    a.execute_unprepared(&format!("UPDATE {table} SET n = n + 1 WHERE id = 1"))
        .await?;
    b.execute_unprepared(&format!("UPDATE {table} SET n = n + 1 WHERE id = 2"))
        .await?;
    let (cross_a, cross_b) = (
        format!("UPDATE {table} SET n = n + 1 WHERE id = 2"),
        format!("UPDATE {table} SET n = n + 1 WHERE id = 1"),
    );
    let (first, second) = tokio::join!(
        a.execute_unprepared(&cross_a),
        b.execute_unprepared(&cross_b),
    );
    let broken: Vec<_> = [first, second]
        .into_iter()
        .filter_map(Result::err)
        .collect();
    assert_eq!(broken.len(), 1, "PostgreSQL breaks exactly one: {broken:?}");
    let error = lianban::store::StoreError::from(broken.into_iter().next().expect("one"));
    assert!(error.is_transient(), "{error:?}");
    assert!(!error.is_unavailable(), "{error:?}");
    drop((a, b));
    db.execute_unprepared(&format!("DROP TABLE {table}"))
        .await?;
    // Other failures are not transient.
    let other = db
        .execute_unprepared("SELECT * FROM no_such_table_here")
        .await
        .expect_err("no such table");
    assert!(!lianban::store::StoreError::from(other).is_transient());
    Ok(())
}

db_test!(
    cases_know_who_started_them_and_older_ones_learn_it_from_history,
    |db| {
        use lianban::store::CaseQuery;
        use lianban_migrations::{Migrator, MigratorTrait};
        use sea_orm::Database;

        let store = db.store().await?;
        let demo = process("demo", 1, "aaa");
        store.definitions().register(&demo).await?;
        let portal = clerk("apikey:一网通办", "");
        let window = clerk("wang", "shebao");
        let mut ids = Vec::new();
        for who in [&portal, &window, &portal] {
            let started = start(&demo, object([("name", json!("张三"))]), at(9, 0));
            ids.push(started.state.id);
            let change = Change {
                process: &demo,
                transition: &started,
                actor: who,
                action: "start",
                at: at(9, 0),
            };
            store.insert_case(&change, None).await?;
        }
        let theirs = |store: lianban::store::Store| async move {
            let query = CaseQuery {
                started_by: Some("apikey:一网通办".into()),
                ..CaseQuery::default()
            };
            let mut found: Vec<CaseId> = store
                .reads()
                .cases(&query)
                .await?
                .into_iter()
                .map(|c| c.id)
                .collect();
            found.sort_by_key(|id| id.0);
            anyhow::Ok(found)
        };
        let mut expected = vec![ids[0], ids[2]];
        expected.sort_by_key(|id| id.0);
        assert_eq!(theirs(store.clone()).await?, expected);

        // A database from before the column: its cases learn their starter from the history.
        let conn = Database::connect(db.url.as_str()).await?;
        Migrator::down(&conn, Some(1)).await?;
        Migrator::up(&conn, None).await?;
        conn.close().await?;
        assert_eq!(theirs(db.store().await?).await?, expected);
        Ok(())
    }
);

/// The writer's native SQLite connection stores exactly what sqlx's pool would: the same
/// transitions written through a store with it and one without leave the same rows, cell
/// by cell and storage class by storage class (generated ids aside), and each store reads
/// its own rows back alike.
#[tokio::test]
async fn the_native_sqlite_writer_stores_what_sqlx_stores() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let demo = process("demo", 1, "aaa");
    let wang = clerk("wang", "shebao");
    let (started, claimed) = started_and_claimed(&demo);
    let mut files = Vec::new();
    let mut records = Vec::new();
    for native in [true, false] {
        let path = dir.path().join(format!("native-{native}.db"));
        let options = StoreOptions {
            sqlite_native: native,
            ..StoreOptions::default()
        };
        let store = Store::connect_with(&format!("sqlite://{}", path.display()), options).await?;
        assert_eq!(store.writes_natively(), native);
        store.migrate().await?;
        write_sample(&store, &demo, &wang, &started, &claimed).await?;
        let record = store.cases().get(started.state.id).await?.expect("stored");
        let history = store.cases().history(started.state.id).await?;
        records.push((record.revision, record.state, history.len()));
        assert!(store.admin().verify_history(None).await?.intact());
        store.close().await?;
        files.push(path);
    }
    assert_eq!(records[0], records[1]);
    let dump = |path: &std::path::Path| -> anyhow::Result<Vec<String>> {
        let conn = rusqlite::Connection::open(path)?;
        let mut out = Vec::new();
        for table in [
            "cases",
            "tasks",
            "timers",
            "notices",
            "history",
            "history_heads",
            "document_sequences",
        ] {
            let mut stmt = conn.prepare(&format!("SELECT * FROM {table} ORDER BY rowid"))?;
            let names: Vec<String> = stmt
                .column_names()
                .iter()
                .map(|n| (*n).to_owned())
                .collect();
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                for (i, name) in names.iter().enumerate() {
                    let cell = match row.get_ref(i)? {
                        // Ids the store draws itself differ from file to file.
                        _ if name == "id" && matches!(table, "timers" | "notices") => {
                            "<id>".to_owned()
                        }
                        rusqlite::types::ValueRef::Null => "NULL".to_owned(),
                        rusqlite::types::ValueRef::Integer(v) => format!("integer {v}"),
                        rusqlite::types::ValueRef::Real(v) => format!("real {v}"),
                        rusqlite::types::ValueRef::Text(v) => {
                            format!("text {}", String::from_utf8_lossy(v))
                        }
                        rusqlite::types::ValueRef::Blob(v) => format!("blob {v:?}"),
                    };
                    out.push(format!("{table}.{name}: {cell}"));
                }
            }
        }
        Ok(out)
    };
    let (native, sqlx) = (dump(&files[0])?, dump(&files[1])?);
    assert!(
        native
            .iter()
            .any(|c| c.starts_with("timers.fire_at: text "))
    );
    assert_eq!(native, sqlx);
    Ok(())
}

/// A case started by the window and claimed by 王 (its deadline moved), for the tests that
/// compare a store with a native connection against one without.
fn started_and_claimed(
    demo: &lianban::definition::Process,
) -> (lianban::runtime::Transition, lianban::runtime::Transition) {
    let mut started = start(demo, object([("name", json!("张三"))]), at(9, 0));
    started.state.tasks[0].due_at = Some(at(17, 0));
    started.state.tasks[0].warn_at = Some(at(15, 30));
    let mut claimed = started.clone();
    claimed.state.tasks[0].status = TaskStatus::Claimed;
    claimed.state.tasks[0].claimed_by = Some("wang".into());
    claimed.state.tasks[0].due_at = Some(at(18, 0));
    (started, claimed)
}

/// Registers `demo`, writes `started` (at 9:00) and `claimed` (at 9:05), one unit each, then
/// in a third unit 王's view of the case and two numbers of 阳城 2026: the writes the
/// comparisons of a store with and without a native connection share. `Basis::Revision`
/// reads the case inside the write; the moved deadline rewrites the timers, which are read
/// there too.
async fn write_sample(
    store: &Store,
    demo: &lianban::definition::Process,
    wang: &lianban::runtime::Actor,
    started: &lianban::runtime::Transition,
    claimed: &lianban::runtime::Transition,
) -> anyhow::Result<()> {
    store.definitions().register(demo).await?;
    let change = |transition, action, minute| Change {
        process: demo,
        transition,
        actor: wang,
        action,
        at: at(9, minute),
    };
    store
        .insert_case(&change(started, "start", 0), Some("张三"))
        .await?;
    store
        .save_transition(1, &change(claimed, "claim", 5))
        .await?;
    let mut unit = store.unit().await?;
    assert!(unit.record_view(started.state.id, wang, at(9, 7)).await?);
    assert_eq!(unit.next_number("阳城", 2026).await?, 1);
    assert_eq!(unit.next_number("阳城", 2026).await?, 2);
    unit.commit().await?;
    Ok(())
}

/// PostgreSQL's hottest reads run pipelined on connections of their own (tokio-postgres,
/// application name `lianban-reader`) and read exactly what sqlx's pool reads: a case, a
/// task, an inbox page, with times, JSON state and NULLs. A reading connection the server
/// ended is replaced on the next read, which succeeds; after `close` reads fail as
/// "unavailable" (503), as on a closed pool.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_reads_on_their_own_connections_read_what_the_pool_reads() -> anyhow::Result<()>
{
    use sea_orm::ConnectionTrait as _;
    lianban_tests::run(Backend::Postgres, |db| async move {
        let demo = process("demo", 1, "aaa");
        let wang = clerk("wang", "shebao");
        let (started, claimed) = started_and_claimed(&demo);
        let case = started.state.id;
        let task = started.state.tasks[0].id;
        let mut seen = Vec::new();
        for native in [true, false] {
            let options = StoreOptions {
                postgres_native: native,
                ..StoreOptions::default()
            };
            let store = db.store_with(options).await?;
            if native {
                write_sample(&store, &demo, &wang, &started, &claimed).await?;
            }
            let record = store.cases().get(case).await?.expect("stored");
            let one = store.tasks().get(task).await?.expect("stored");
            let inbox = store.reads().inbox(&TaskQuery::default()).await?;
            // Connections of a closed store may take a moment to leave the server.
            let mut readers = reader_connections(&db.url).await?;
            for _ in 0..50 {
                if (readers > 0) == native {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                readers = reader_connections(&db.url).await?;
            }
            assert_eq!(readers > 0, native, "{readers} reading connections");
            seen.push((record, one, inbox));
            store.close().await?;
        }
        assert_eq!(seen[0], seen[1]);
        assert_eq!(seen[0].0.revision, 2);
        assert_eq!(seen[0].1.claimed_by.as_deref(), Some("wang"));
        assert_eq!(seen[0].1.due_at, Some(at(18, 0)));

        // The server ends the reading connection; the next read opens another.
        let store = db.store().await?;
        assert!(store.cases().get(case).await?.is_some());
        let admin = sea_orm::Database::connect(db.url.as_str()).await?;
        let ended = admin
            .query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                 WHERE application_name = 'lianban-reader' AND datname = current_database()",
            ))
            .await?
            .and_then(|row| row.try_get_by_index::<i64>(0).ok());
        assert!(ended.is_some_and(|n| n >= 1), "{ended:?}");
        assert_eq!(store.cases().get(case).await?.map(|r| r.revision), Some(2));
        assert!(reader_connections(&db.url).await? >= 1);
        admin.close().await?;

        // Closed with the store: a read on a clone of it fails as unavailable.
        let clone = store.clone();
        store.close().await?;
        let after = clone.cases().get(case).await;
        assert!(
            after.as_ref().is_err_and(StoreError::is_unavailable),
            "{after:?}"
        );
        Ok(())
    })
    .await
}

/// PostgreSQL's units run on writing connections of the store's own (tokio-postgres,
/// application name `lianban-writer`, statements sent pipelined) and leave exactly the rows
/// sqlx's transactions leave: the same transitions, views and numbers written through a
/// store with them and one without give the same tables, row by row (generated ids aside).
/// A unit dropped uncommitted leaves nothing, and the connection's next unit is not inside
/// its transaction. A deadlock between two units reads as transient, as through sqlx.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_units_on_their_own_connections_write_what_sqlx_writes() -> anyhow::Result<()> {
    let demo = process("demo", 1, "aaa");
    let wang = clerk("wang", "shebao");
    let (started, claimed) = started_and_claimed(&demo);
    let dumps = Arc::new(std::sync::Mutex::new(Vec::new()));
    for native in [true, false] {
        let dumps = Arc::clone(&dumps);
        let (demo, wang, started, claimed) =
            (demo.clone(), wang.clone(), started.clone(), claimed.clone());
        lianban_tests::run(Backend::Postgres, |db| async move {
            let options = StoreOptions {
                postgres_native: native,
                ..StoreOptions::default()
            };
            let store = db.store_with(options).await?;
            write_sample(&store, &demo, &wang, &started, &claimed).await?;
            assert_eq!(connections(&db.url, "lianban-writer").await? > 0, native);

            // Dropped uncommitted: its number is drawn again by the next unit.
            let mut dropped = store.unit().await?;
            assert_eq!(dropped.next_number("阳城", 2026).await?, 3);
            drop(dropped);
            let mut unit = store.unit().await?;
            assert_eq!(unit.next_number("阳城", 2026).await?, 3);
            assert_eq!(unit.next_number("沁水", 2026).await?, 1);
            unit.commit().await?;

            // Two units taking two counters in opposite orders: PostgreSQL breaks one.
            let (mut a, mut b) = (store.unit().await?, store.unit().await?);
            a.next_number("阳城", 2026).await?;
            b.next_number("沁水", 2026).await?;
            let (crossed_a, crossed_b) =
                tokio::join!(a.next_number("沁水", 2026), b.next_number("阳城", 2026));
            let broken: Vec<StoreError> = [crossed_a, crossed_b]
                .into_iter()
                .filter_map(Result::err)
                .collect();
            assert_eq!(broken.len(), 1, "PostgreSQL breaks exactly one: {broken:?}");
            assert!(broken[0].is_transient(), "{:?}", broken[0]);
            assert!(!broken[0].is_unavailable(), "{:?}", broken[0]);
            drop((a, b));

            let history = store.cases().history(started.state.id).await?;
            assert!(store.admin().verify_history(None).await?.intact());
            store.close().await?;
            let dump = table_rows(&db.url).await?;
            assert!(dump.iter().any(|row| row.starts_with("timers ")));
            let mut dumps = dumps.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
            dumps.push((history.len(), dump));
            Ok(())
        })
        .await?;
    }
    let dumps = dumps.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
    assert_eq!(dumps[0], dumps[1]);
    Ok(())
}

/// Every row of the tables a transition writes, as JSON text in a stable order, with the ids
/// the store draws itself (timers, notices, history) left out.
async fn table_rows(url: &str) -> anyhow::Result<Vec<String>> {
    use sea_orm::ConnectionTrait as _;
    let db = sea_orm::Database::connect(url).await?;
    let mut out = Vec::new();
    for (table, order) in [
        ("cases", "id"),
        ("tasks", "id"),
        ("timers", "case_id, subject, kind, fire_at"),
        ("notices", "case_id, task_id, kind, created_at"),
        ("history", "case_id, seq"),
        ("history_heads", "case_id"),
        ("document_sequences", "prefix, year"),
    ] {
        let rows = db
            .query_all_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                format!(
                    "SELECT (to_jsonb(t) - 'id' || jsonb_build_object('id', \
                     CASE WHEN '{table}' IN ('timers', 'notices', 'history') THEN NULL \
                     ELSE to_jsonb(t) -> 'id' END))::text FROM {table} t ORDER BY {order}"
                ),
            ))
            .await?;
        for row in rows {
            let text: String = row.try_get_by_index(0)?;
            out.push(format!("{table} {text}"));
        }
    }
    db.close().await?;
    Ok(out)
}

/// The reading connections of the database at `url` (see the test above).
async fn reader_connections(url: &str) -> anyhow::Result<usize> {
    connections(url, "lianban-reader").await
}

/// The connections to the database at `url` whose application name is `name`.
async fn connections(url: &str, name: &str) -> anyhow::Result<usize> {
    use sea_orm::ConnectionTrait as _;
    let admin = sea_orm::Database::connect(url).await?;
    let count = admin
        .query_one_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "SELECT count(*) FROM pg_stat_activity \
             WHERE application_name = $1 AND datname = current_database()",
            [name.into()],
        ))
        .await?
        .and_then(|row| row.try_get_by_index::<i64>(0).ok())
        .unwrap_or(0);
    admin.close().await?;
    Ok(usize::try_from(count)?)
}

/// The store's checkpointer copies the WAL into the database file beside the writer: a
/// few transitions, far below the size at which the writer would checkpoint itself, reach
/// the file itself while the store stays open. Read with `immutable=1`, which ignores the
/// WAL, the file shows them only once a checkpoint copied them.
#[tokio::test]
async fn the_checkpointer_copies_the_wal_into_the_database_file() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("checkpointed.db");
    let store = Store::connect_with(
        &format!("sqlite://{}", path.display()),
        StoreOptions::default(),
    )
    .await?;
    assert!(store.writes_natively());
    store.migrate().await?;
    let demo = process("demo", 1, "aaa");
    store.definitions().register(&demo).await?;
    let wang = clerk("wang", "shebao");
    let mut ids = Vec::new();
    for minute in 0..5 {
        let started = start(&demo, object([("name", json!("张三"))]), at(9, minute));
        let change = Change {
            process: &demo,
            transition: &started,
            actor: &wang,
            action: "start",
            at: at(9, minute),
        };
        store.insert_case(&change, Some("张三")).await?;
        ids.push(started.state.id.to_string());
    }
    let file_only = format!("file:{}?immutable=1", path.display());
    let in_file = || -> Option<usize> {
        let flags =
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_URI;
        let conn = rusqlite::Connection::open_with_flags(&file_only, flags).ok()?;
        let mut stmt = conn.prepare("SELECT id FROM cases").ok()?;
        let rows = stmt.query_map([], |row| row.get::<_, String>(0)).ok()?;
        let found: Vec<String> = rows.collect::<Result<_, _>>().ok()?;
        Some(ids.iter().filter(|id| found.contains(id)).count())
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut seen = in_file();
    while seen != Some(ids.len()) && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        seen = in_file();
    }
    assert_eq!(
        seen,
        Some(ids.len()),
        "the database file holds every case without the WAL"
    );
    store.close().await?;
    Ok(())
}
