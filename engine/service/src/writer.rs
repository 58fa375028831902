//! Group commit: one writer per database (per process, so per replica on PostgreSQL) takes
//! every command waiting for it, runs each command's writes in a savepoint of its own,
//! commits once, and only then answers each caller. On PostgreSQL the writer has a few
//! lanes ([`WriteQueue::postgres_lanes`]) that write groups side by side.
//!
//! A command is answered after the commit that contains it, exactly as when it had a
//! transaction of its own, so a transition promises what it promised before: an answered
//! command is on disk (with SQLite's `synchronous=FULL`), an unanswered one may or may not
//! be. What changes is the cost: the commit (on SQLite the WAL's fsync, on PostgreSQL the WAL
//! flush) is paid once per group instead of once per command.
//!
//! A command whose writes fail (a lost compare-and-set, a moved chain head that the store
//! cannot recover from, a template that fails, a number it drew) is rolled back to its
//! savepoint alone: the commands before it in the group stay, the ones after run, and its
//! caller gets the error it would have got alone. The first command of a transaction has
//! the transaction's start for its savepoint: when it fails the transaction is rolled back
//! and the rest of the group goes in a new one. Only a failure of the group's own
//! transaction (it cannot begin, a rollback to a savepoint or the commit fails) reaches every
//! caller in it, each with a copy of that error; nothing of the group was written then.
//!
//! Reads do not come here: they run on the pool beside the writer and never wait for it.
//!
//! Callers wait for a place in a bounded queue, in the order they came ([`WriteQueue`]);
//! one that finds no place within the wait gets [`EngineError::Overloaded`] (503 with
//! Retry-After), so a slow disk makes callers wait and then refuses them, instead of
//! letting memory grow.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures::FutureExt as _;
use futures::future::BoxFuture;
use tokio::sync::{mpsc, oneshot};

use super::EngineError;
use lianban_store::{Store, StoreError, Unit};

/// How many commands wait for the writer, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteQueue {
    /// Commands that may wait for the writer at once (beyond them, callers wait for a
    /// place, in order).
    pub capacity: usize,
    /// How long a caller waits for a place before it is refused with
    /// [`EngineError::Overloaded`].
    pub wait: Duration,
    /// The most commands one commit carries. PostgreSQL keeps the subtransactions of a
    /// transaction in a cache of 64 per session; past it every later check of those rows
    /// reads them from disk, so groups stay at or below it.
    pub max_group: usize,
    /// PostgreSQL only: how many groups are written at once, each on a connection of its
    /// own. PostgreSQL runs transactions in parallel and flushes the WAL for concurrent
    /// commits together, so one writer would leave it idle while the writer waits for each
    /// answer (`docs/performance.md` measures it). SQLite has one writer whatever this says.
    pub postgres_lanes: usize,
}

impl Default for WriteQueue {
    fn default() -> Self {
        WriteQueue {
            capacity: 1024,
            wait: Duration::from_secs(5),
            max_group: 64,
            postgres_lanes: 4,
        }
    }
}

/// A command's writes, run by the writer in the group's unit. Its value goes back to the
/// caller after the commit.
type Work = Box<
    dyn for<'u, 's> FnOnce(
            &'u mut Unit<'s>,
        ) -> BoxFuture<'u, Result<Box<dyn Any + Send>, EngineError>>
        + Send,
>;

struct Job {
    work: Work,
    answer: oneshot::Sender<Result<Box<dyn Any + Send>, EngineError>>,
}

/// The writer of one store: a queue and the task that empties it, started with the first
/// command.
pub(crate) struct Writer {
    store: Store,
    queue: WriteQueue,
    sender: OnceLock<mpsc::Sender<Job>>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("queue", &self.queue)
            .finish_non_exhaustive()
    }
}

impl Writer {
    /// A writer over `store` (nothing runs until the first command).
    pub(crate) fn new(store: Store, queue: WriteQueue) -> Writer {
        Writer {
            store,
            queue,
            sender: OnceLock::new(),
        }
    }

    /// Runs `work` in the next group and returns its value once the group committed.
    ///
    /// # Errors
    /// What `work` returned (its writes were rolled back alone), a copy of the group's
    /// failure to begin or commit, or [`EngineError::Overloaded`] when no place in the
    /// queue freed up within the wait.
    pub(crate) async fn write<T, F>(&self, work: F) -> Result<T, EngineError>
    where
        T: Send + 'static,
        F: for<'u, 's> FnOnce(&'u mut Unit<'s>) -> BoxFuture<'u, Result<T, EngineError>>
            + Send
            + 'static,
    {
        let work: Work = Box::new(move |unit| {
            let run = work(unit);
            Box::pin(async move {
                run.await
                    .map(|value| Box::new(value) as Box<dyn Any + Send>)
            })
        });
        let (answer, answered) = oneshot::channel();
        let sender = self.sender.get_or_init(|| {
            let (sender, receiver) = mpsc::channel(self.queue.capacity.max(1));
            let receiver = Arc::new(tokio::sync::Mutex::new(receiver));
            let lanes = if self.store.is_sqlite() {
                1
            } else {
                self.queue.postgres_lanes.max(1)
            };
            for _ in 0..lanes {
                let lane = run(
                    self.store.clone(),
                    Arc::clone(&receiver),
                    self.queue.max_group.max(1),
                    lanes == 1,
                );
                if self.store.writes_natively() {
                    own_thread(lane);
                } else {
                    tokio::spawn(lane);
                }
            }
            sender
        });
        // `reserve` waits in line (tokio's semaphore is fair), so callers get places in the
        // order they asked.
        let permit = match tokio::time::timeout(self.queue.wait, sender.reserve()).await {
            Ok(Ok(permit)) => permit,
            Ok(Err(_)) => return Err(EngineError::WriterStopped),
            Err(_) => return Err(EngineError::Overloaded),
        };
        permit.send(Job { work, answer });
        let value = answered.await.map_err(|_| EngineError::WriterStopped)??;
        match value.downcast::<T>() {
            Ok(value) => Ok(*value),
            // Each job is answered with the value its own work returned.
            Err(_) => unreachable!("a write is answered with its own value"),
        }
    }
}

/// Runs a lane on a thread of its own: on a native SQLite connection every statement runs
/// in the polling thread and the commit waits for the disk, which must not hold up one of
/// the runtime's workers (two on a two-core machine). The thread ends with the lane, when
/// the engine is dropped. Should the thread not start, the lane runs on the runtime.
fn own_thread(lane: impl std::future::Future<Output = ()> + Send + 'static) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::warn!(%error, "the writer's runtime did not start; it runs on the server's");
            tokio::spawn(lane);
            return;
        }
    };
    // Held here too, so that a thread that cannot start leaves the lane to the runtime.
    let lane = Arc::new(std::sync::Mutex::new(Some(Box::pin(lane))));
    let ours = Arc::clone(&lane);
    let started = std::thread::Builder::new()
        .name("lianban-writer".to_owned())
        .spawn(move || {
            let taken = ours.lock().ok().and_then(|mut l| l.take());
            if let Some(lane) = taken {
                runtime.block_on(lane);
            }
        });
    if let Err(error) = started {
        tracing::warn!(%error, "the writer's thread did not start; it runs on the server's runtime");
        if let Some(lane) = lane.lock().ok().and_then(|mut l| l.take()) {
            tokio::spawn(lane);
        }
    }
}

/// A writer lane's loop: takes every command waiting (up to `max_group`), writes them as
/// one group, answers, and again, until the engine is dropped. Lanes share the queue: one
/// takes a group while the others write theirs. A lane that is alone (SQLite) also takes
/// the commands that arrive while its group is being written, up to the commit: they would
/// otherwise wait for this commit and then pay one of their own.
async fn run(
    store: Store,
    receiver: Arc<tokio::sync::Mutex<mpsc::Receiver<Job>>>,
    max_group: usize,
    sole_lane: bool,
) {
    let mut jobs = Vec::with_capacity(max_group);
    loop {
        let mut queue = receiver.lock().await;
        if queue.recv_many(&mut jobs, max_group).await == 0 {
            return;
        }
        let taken = std::mem::take(&mut jobs);
        if sole_lane {
            write_group(&store, taken, max_group, || queue.try_recv().ok()).await;
        } else {
            drop(queue);
            write_group(&store, taken, max_group, || None).await;
        }
    }
}

type Answer = Result<Box<dyn Any + Send>, EngineError>;

/// Writes `jobs`, and then what `latecomers` hands over while the group holds fewer than
/// `max_group`, in one transaction.
async fn write_group(
    store: &Store,
    jobs: Vec<Job>,
    max_group: usize,
    mut latecomers: impl FnMut() -> Option<Job>,
) {
    // Begun for the first command, and again after a first command that failed.
    let mut unit = None;
    let mut answers: Vec<(oneshot::Sender<Answer>, Answer)> = Vec::with_capacity(max_group);
    let mut pending = std::collections::VecDeque::from(jobs);
    loop {
        if pending.is_empty()
            && answers.len() < max_group
            && let Some(job) = latecomers()
        {
            pending.push_back(job);
        }
        let Some(job) = pending.pop_front() else {
            break;
        };
        // The first command in the transaction needs no savepoint: should it fail, the
        // whole transaction is its own to roll back. Commands after it take savepoints (on
        // SQLite each copies every page it changes), so the first one's writes are kept.
        let first = unit.is_none();
        let open = match unit {
            Some(ref mut open) => open,
            None => match store.unit().await {
                Ok(opened) => unit.insert(opened),
                Err(error) => {
                    pending.push_front(job);
                    return fail_group(answers, pending.into(), &error);
                }
            },
        };
        let Job { work, answer } = job;
        if !first && let Err(error) = open.savepoint().await {
            answers.push((answer, Err(EngineError::Store(error.shared_copy()))));
            return fail_group(answers, pending.into(), &error);
        }
        let result = match AssertUnwindSafe(work(open)).catch_unwind().await {
            Ok(result) => result,
            Err(_) => Err(EngineError::Panicked),
        };
        if result.is_err() {
            if first {
                // Dropping the transaction rolls the command back; nothing else is in it.
                // The commands after it go in one begun afresh.
                unit = None;
                let _ = answer.send(result);
                continue;
            }
            if let Err(error) = open.rollback_to_savepoint().await {
                answers.push((answer, result));
                return fail_group(answers, pending.into(), &error);
            }
        }
        answers.push((answer, result));
    }
    let Some(unit) = unit else {
        // Nothing was written: every command failed as the first of its transaction.
        return;
    };
    tracing::debug!(commands = answers.len(), "committing a group");
    if let Err(error) = unit.commit().await {
        return fail_group(answers, Vec::new(), &error);
    }
    for (answer, result) in answers {
        // A caller that gave up waiting (its request was dropped) misses only its answer.
        let _ = answer.send(result);
    }
}

/// The group's transaction failed: nothing of it was written. Each command that had
/// succeeded, and each that had not run yet, gets a copy of the failure; one that had
/// failed keeps its own error.
fn fail_group(
    answers: Vec<(oneshot::Sender<Answer>, Answer)>,
    not_run: Vec<Job>,
    error: &StoreError,
) {
    tracing::warn!(
        %error,
        commands = answers.len() + not_run.len(),
        "a group of commands was not written"
    );
    let not_run = not_run
        .into_iter()
        .map(|job| (job.answer, Ok(Box::new(()) as _)));
    for (answer, result) in answers.into_iter().chain(not_run) {
        let result = match result {
            Ok(_) => Err(EngineError::Store(error.shared_copy())),
            failed => failed,
        };
        let _ = answer.send(result);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A write that draws the next number of a sequence and then, when `fail`, fails.
    fn draw(writer: &Arc<Writer>, fail: bool) -> tokio::task::JoinHandle<Result<i64, EngineError>> {
        let writer = Arc::clone(writer);
        tokio::spawn(async move {
            writer
                .write(move |unit| {
                    Box::pin(async move {
                        let number = unit.next_number("组测", 2026).await?;
                        if fail {
                            Err(EngineError::Panicked)
                        } else {
                            Ok(number)
                        }
                    })
                })
                .await
        })
    }

    /// Waits until `count` commands wait in the writer's queue.
    async fn queued(writer: &Writer, count: usize) {
        let sender = writer.sender.get().expect("the writer started");
        while sender.max_capacity() - sender.capacity() < count {
            tokio::task::yield_now().await;
        }
    }

    /// The first command of a group runs without a savepoint; when it fails, its transaction
    /// is rolled back and the rest of the group is written in a new one.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_first_command_leaves_the_rest_of_its_group_written() {
        let dir = tempfile::tempdir().expect("a directory");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("w.db").display());
        let store = Store::connect(&url).await.expect("opens");
        store.migrate().await.expect("migrates");
        let queue = WriteQueue {
            max_group: 3,
            ..WriteQueue::default()
        };
        let writer = Arc::new(Writer::new(store.clone(), queue));
        // The first command holds the writer until four more wait behind it.
        let (release, released) = oneshot::channel::<()>();
        let (start, started) = oneshot::channel::<()>();
        let holder = {
            let writer = Arc::clone(&writer);
            tokio::spawn(async move {
                writer
                    .write(move |unit| {
                        Box::pin(async move {
                            let _ = start.send(());
                            let _ = released.await;
                            Ok(unit.next_number("组测", 2026).await?)
                        })
                    })
                    .await
            })
        };
        started.await.expect("the holder runs");
        let mut behind = Vec::new();
        for (i, fail) in [false, false, true, false].into_iter().enumerate() {
            behind.push(draw(&writer, fail));
            queued(&writer, i + 1).await;
        }
        release.send(()).expect("the holder waits");
        // The holder's group takes two of them (three at most); the other two are the next
        // group, whose first command fails.
        assert_eq!(holder.await.expect("joins").expect("written"), 1);
        let mut answers = Vec::new();
        for handle in behind {
            answers.push(handle.await.expect("joins").ok());
        }
        assert_eq!(answers, [Some(2), Some(3), None, Some(4)]);
        let mut unit = store.unit().await.expect("a unit");
        assert_eq!(
            unit.next_number("组测", 2026).await.expect("draws"),
            5,
            "the failed command's number was given back, the others committed"
        );
    }
}
