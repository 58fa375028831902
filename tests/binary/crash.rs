//! The crash test: the real `lianban serve` on a real database (a SQLite file, then a fresh
//! PostgreSQL database) takes concurrent task completions over HTTP while the test kills it
//! with SIGKILL at (seeded) random moments and starts it again on the same database. At the
//! end every completion that was answered 2xx is persisted with its outcome, none was
//! applied twice (one `complete` in the history per closed task), every case has exactly
//! the tasks its flow implies (none lost, none doubled), and the outbox holds one message
//! per task of the department with a system, which the restarted server delivers to a
//! loopback receiver.
//!
//! Timers are not exercised here: the binary runs on the system clock, and the durable
//! timers' lease and resume are tested on a manual clock in tests/acceptance/deadlines.rs.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::{Value, json};

const CASES: usize = 60;
const KILLS: usize = 3;
const SECRET: &str = "crash-test-secret-0123456789abcdef0123456789";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lianban"))
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// A department system on loopback: answers 200 to every POST and keeps the
/// `Idempotency-Key` (the outbox message id) of each.
fn receiver() -> (String, Arc<Mutex<BTreeSet<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the receiver");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let seen = Arc::new(Mutex::new(BTreeSet::new()));
    let keep = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut length = 0usize;
            let mut key = None;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                let line = line.trim_end();
                if line.is_empty() {
                    break;
                }
                if let Some((name, value)) = line.split_once(':') {
                    let name = name.trim().to_ascii_lowercase();
                    if name == "content-length" {
                        length = value.trim().parse().unwrap_or(0);
                    } else if name == "idempotency-key" {
                        key = Some(value.trim().to_owned());
                    }
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            if let (Some(key), Ok(mut seen)) = (key, keep.lock()) {
                seen.insert(key);
            }
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}");
        }
    });
    (url, seen)
}

/// The 联办 test flow with 医保's system at the receiver.
fn processes(dir: &Path, url: &str) {
    let text =
        std::fs::read_to_string(repo().join("tests/fixtures/web/joint.yaml")).expect("fixture");
    let old = "yibao: {name: 医保局}";
    assert!(text.contains(old), "the fixture's yibao line changed");
    let new = format!(
        "yibao: {{name: 医保局, system: {{url: \"{url}\", secret_env: LIANBAN_SECRET_YIBAO}}}}"
    );
    std::fs::create_dir_all(dir.join("crash")).expect("mkdir");
    std::fs::write(dir.join("crash/joint.yaml"), text.replacen(old, &new, 1)).expect("write");
}

struct Server {
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(db: &str, port: u16, processes: &Path) -> Server {
    let mut child = bin()
        .arg("serve")
        .args(["--db", db])
        .args(["--bind", &format!("127.0.0.1:{port}")])
        .arg("--processes")
        .arg(processes)
        .arg("--templates")
        .arg(repo().join("templates"))
        .env("LIANBAN_SECRET_YIBAO", SECRET)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn serve");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < deadline, "serve did not start");
        match lines.next() {
            Some(Ok(line)) if line.contains("listening") => break,
            Some(Ok(_)) => continue,
            _ => panic!("serve exited before listening: {:?}", child.try_wait()),
        }
    }
    std::thread::spawn(move || for _ in lines {});
    Server { child }
}

fn api_key(db: &str, department: &str, processes: &Path) -> String {
    let out = bin()
        .args(["apikey", "create", "--db", db, "--department", department])
        .arg("--processes")
        .arg(processes)
        .arg("--templates")
        .arg(repo().join("templates"))
        .output()
        .expect("apikey create");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// What the drivers learned: completions answered 2xx, by task id → outcome.
#[derive(Debug, Default)]
struct Ledger {
    acknowledged: BTreeMap<String, String>,
    /// Requests that got no answer because the server died under them.
    interrupted: usize,
}

/// Takes each case one step further: completes every open task it sees with its
/// department's key. Transport errors (the server is down) are simply tried again later.
fn drive(
    base: &str,
    keys: &HashMap<&'static str, String>,
    case: &str,
    ledger: &Mutex<Ledger>,
    client: &reqwest::blocking::Client,
) -> Option<bool> {
    let shebao = &keys["shebao"];
    let reply = client
        .get(format!("{base}/api/v1/cases/{case}"))
        .bearer_auth(shebao)
        .send()
        .ok()?;
    if !reply.status().is_success() {
        return None;
    }
    let body: Value = reply.json().ok()?;
    if body["status"] != "active" {
        return Some(true);
    }
    for task in body["tasks"].as_array().into_iter().flatten() {
        if !matches!(task["status"].as_str(), Some("open" | "claimed")) {
            continue;
        }
        let id = task["id"].as_str().unwrap_or_default();
        let department = task["department"].as_str().unwrap_or_default();
        let Some(key) = keys.get(department) else {
            continue;
        };
        let outcome = if task["step"] == "accept" {
            "accept"
        } else {
            "done"
        };
        let Ok(answer) = client
            .post(format!("{base}/api/v1/tasks/{id}/complete"))
            .bearer_auth(key)
            .json(&json!({"outcome": outcome}))
            .send()
        else {
            if let Ok(mut ledger) = ledger.lock() {
                ledger.interrupted += 1;
            }
            return None;
        };
        if answer.status().is_success()
            && let Ok(mut ledger) = ledger.lock()
        {
            let before = ledger
                .acknowledged
                .insert(id.to_owned(), outcome.to_owned());
            assert!(before.is_none(), "task {id} was completed twice with 2xx");
        }
    }
    Some(false)
}

/// A stored task: id, step, status, outcome.
#[derive(Debug, Clone)]
struct TaskRow(String, String, String, Option<String>);

async fn rows(db: &DatabaseConnection, sql: &str) -> Vec<sea_orm::QueryResult> {
    db.query_all_raw(Statement::from_string(
        db.get_database_backend(),
        sql.to_owned(),
    ))
    .await
    .expect(sql)
}

fn run(db_url: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let processes_dir = dir.path().join("processes");
    let (hook, delivered_to_receiver) = receiver();
    processes(&processes_dir, &hook);
    let migrated = bin()
        .args(["migrate", "--db", db_url])
        .output()
        .expect("migrate");
    assert!(
        migrated.status.success(),
        "{}",
        String::from_utf8_lossy(&migrated.stderr)
    );
    let keys: HashMap<&'static str, String> = ["shebao", "yibao", "gongjijin"]
        .into_iter()
        .map(|d| (d, api_key(db_url, d, &processes_dir)))
        .collect();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = serve(db_url, port, &processes_dir);
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client");

    // Cases of three shapes: neither joint item, 医保 only, both (1, 2 and 3 tasks).
    let mut cases = Vec::new();
    let mut shape = HashMap::new();
    for i in 0..CASES {
        let (medical, fund) = (i % 3 >= 1, i % 3 == 2);
        let answer = client
            .post(format!("{base}/api/v1/cases"))
            .bearer_auth(&keys["shebao"])
            .json(&json!({"process": "web.joint", "form": {
                "name": format!("申请人{i}"), "id_number": "11010519491231002X",
                "phone": "13812345678", "joint_medical": medical, "joint_fund": fund}}))
            .send()
            .expect("start a case");
        assert_eq!(answer.status().as_u16(), 201);
        let body: Value = answer.json().expect("json");
        let id = body["id"].as_str().unwrap_or_default().to_owned();
        shape.insert(id.clone(), 1 + usize::from(medical) + usize::from(fund));
        cases.push(id);
    }

    // Drivers complete tasks concurrently while the server is killed and restarted.
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let done = Arc::new(AtomicBool::new(false));
    let keys = Arc::new(keys);
    let drivers: Vec<_> = (0..4)
        .map(|n| {
            let (base, keys, ledger, done) = (
                base.clone(),
                Arc::clone(&keys),
                Arc::clone(&ledger),
                Arc::clone(&done),
            );
            let mine: Vec<String> = cases.iter().skip(n).step_by(4).cloned().collect();
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::builder()
                    .timeout(Duration::from_secs(20))
                    .pool_max_idle_per_host(0)
                    .build()
                    .expect("client");
                let deadline = Instant::now() + Duration::from_secs(120);
                let mut open: Vec<String> = mine;
                while !open.is_empty() && Instant::now() < deadline && !done.load(Ordering::SeqCst)
                {
                    open.retain(|case| drive(&base, &keys, case, &ledger, &client) != Some(true));
                    if !open.is_empty() {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
                open
            })
        })
        .collect();
    let mut rng = StdRng::seed_from_u64(20261129);
    let interrupted = |ledger: &Mutex<Ledger>| ledger.lock().map(|l| l.interrupted).unwrap_or(0);
    // At least KILLS kills; more (up to a bound) while none has yet caught a completion in
    // flight, since on a quiet machine a kill can fall between two requests.
    let mut kills = 0;
    while (kills < KILLS || interrupted(&ledger) == 0)
        && kills < 10 * KILLS
        && !drivers.iter().all(std::thread::JoinHandle::is_finished)
    {
        std::thread::sleep(Duration::from_millis(rng.random_range(50..250)));
        server.child.kill().expect("SIGKILL");
        let _ = server.child.wait();
        drop(server);
        server = serve(db_url, port, &processes_dir);
        kills += 1;
    }
    let mut unfinished = Vec::new();
    for driver in drivers {
        unfinished.extend(driver.join().expect("driver"));
    }
    done.store(true, Ordering::SeqCst);
    assert!(
        unfinished.is_empty(),
        "cases never finished: {unfinished:?}"
    );
    assert!(
        interrupted(&ledger) > 0,
        "none of {kills} kills hit a completion in flight"
    );

    // One last kill, so that delivery of what is pending is the restarted server's job.
    server.child.kill().expect("SIGKILL");
    let _ = server.child.wait();
    drop(server);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let db = runtime
        .block_on(Database::connect(db_url))
        .expect("connect");
    let now = chrono::Utc::now();
    let outbox = runtime.block_on(rows(
        &db,
        "SELECT id, task_id, status, lease_until FROM outbox",
    ));
    let _server = serve(db_url, port, &processes_dir);

    // Every acknowledged completion is there, with its outcome.
    let ledger = ledger
        .lock()
        .map(|l| l.acknowledged.clone())
        .unwrap_or_default();
    assert!(
        ledger.len() >= CASES,
        "only {} completions acknowledged",
        ledger.len()
    );
    let tasks = runtime.block_on(rows(
        &db,
        "SELECT id, case_id, step, status, outcome FROM tasks",
    ));
    let mut per_case: HashMap<String, Vec<TaskRow>> = HashMap::new();
    for row in &tasks {
        let get = |c: &str| row.try_get::<String>("", c).unwrap_or_default();
        let outcome = row.try_get::<Option<String>>("", "outcome").ok().flatten();
        per_case.entry(get("case_id")).or_default().push(TaskRow(
            get("id"),
            get("step"),
            get("status"),
            outcome,
        ));
    }
    let by_id: HashMap<&str, &Option<String>> = per_case
        .values()
        .flatten()
        .map(|TaskRow(id, _, _, outcome)| (id.as_str(), outcome))
        .collect();
    for (task, outcome) in &ledger {
        assert_eq!(
            by_id.get(task.as_str()).and_then(|o| o.as_deref()),
            Some(outcome.as_str()),
            "acknowledged completion of {task} lost"
        );
    }
    // Each case has the tasks its flow implies, all completed, each completed once.
    let history = runtime.block_on(rows(
        &db,
        "SELECT case_id, action FROM history WHERE action = 'complete'",
    ));
    let mut completes: HashMap<String, usize> = HashMap::new();
    for row in &history {
        *completes
            .entry(row.try_get::<String>("", "case_id").unwrap_or_default())
            .or_default() += 1;
    }
    for case in &cases {
        let tasks = per_case.get(case).cloned().unwrap_or_default();
        assert_eq!(tasks.len(), shape[case], "case {case} has tasks {tasks:?}");
        let steps: BTreeSet<&str> = tasks.iter().map(|t| t.1.as_str()).collect();
        assert_eq!(
            steps.len(),
            tasks.len(),
            "a step doubled in {case}: {tasks:?}"
        );
        assert!(
            tasks.iter().all(|t| t.2 == "completed"),
            "{case}: {tasks:?}"
        );
        assert_eq!(
            completes.get(case).copied().unwrap_or(0),
            tasks.len(),
            "{case}: completions in the history"
        );
    }
    // One outbox message per 医保 task; the restarted server delivers what was pending.
    let medical: BTreeSet<String> = per_case
        .values()
        .flatten()
        .filter(|t| t.1 == "medical")
        .map(|t| t.0.clone())
        .collect();
    let message_tasks: Vec<String> = outbox
        .iter()
        .filter_map(|r| r.try_get::<Option<String>>("", "task_id").ok().flatten())
        .collect();
    assert_eq!(
        message_tasks.len(),
        medical.len(),
        "outbox messages: {message_tasks:?}"
    );
    assert_eq!(
        message_tasks.iter().cloned().collect::<BTreeSet<_>>(),
        medical
    );
    // Messages a killed server held a lease on wait for it to run out (minutes); the others
    // must arrive now.
    let due: BTreeSet<String> = outbox
        .iter()
        .filter(|r| {
            let leased = r
                .try_get::<Option<chrono::DateTime<chrono::Utc>>>("", "lease_until")
                .ok()
                .flatten()
                .is_some_and(|until| until > now);
            !leased
        })
        .filter_map(|r| r.try_get::<String>("", "id").ok())
        .collect();
    assert!(!due.is_empty(), "no message to deliver after the restart");
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        let seen = delivered_to_receiver
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default();
        if due.is_subset(&seen) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not delivered after the restart: {:?}",
            due.difference(&seen).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Transitions queued together while the test holds the database's write lock, so the
/// writer takes them as one group once it is let go. On PostgreSQL each of the writer's four
/// lanes first takes what has arrived and waits on the lock, the rest stay queued for the
/// next group: with 40, five groups share them, so one has at least 8 however the arrivals
/// fall (16 left it to chance: four lanes could take 1, 3, 5 and 7).
const GROUP: usize = 40;

/// The smallest group the kill must land on.
const MIN_GROUP: usize = 8;

/// Starts `serve` with the writer's log on, and returns it with its standard error lines.
fn serve_logging(
    db: &str,
    port: u16,
    processes: &Path,
) -> (Server, std::sync::mpsc::Receiver<String>) {
    let mut child = bin()
        .arg("serve")
        .args(["--db", db])
        .args(["--bind", &format!("127.0.0.1:{port}")])
        .arg("--processes")
        .arg(processes)
        .arg("--templates")
        .arg(repo().join("templates"))
        .env("LIANBAN_SECRET_YIBAO", SECRET)
        .env(
            "LIANBAN_LOG",
            "info,sqlx=warn,sea_orm=warn,lianban_service::writer=debug",
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn serve");
    let stderr = child.stderr.take().expect("stderr");
    let (send, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if send.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.contains("listening") => break,
            Ok(_) => continue,
            Err(_) => panic!("serve did not start: {:?}", child.try_wait()),
        }
    }
    (Server { child }, lines)
}

/// The number of commands in a "committing a group" log line.
fn group_size(line: &str) -> Option<usize> {
    if !line.contains("committing a group") {
        return None;
    }
    let rest = &line[line.find("commands=")? + "commands=".len()..];
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// Holds the write lock another writer needs: on SQLite the database's (`BEGIN
/// IMMEDIATE`), on PostgreSQL the cases table's (`EXCLUSIVE`: reads pass, writes wait).
async fn hold_writes(db: &DatabaseConnection) -> sea_orm::DatabaseTransaction {
    use sea_orm::TransactionTrait;
    let sqlite = db.get_database_backend() == sea_orm::DbBackend::Sqlite;
    let options = sea_orm::TransactionOptions {
        sqlite_transaction_mode: sqlite.then_some(sea_orm::SqliteTransactionMode::Immediate),
        ..Default::default()
    };
    let txn = db.begin_with_options(options).await.expect("begin");
    if !sqlite {
        txn.execute_unprepared("LOCK TABLE cases IN EXCLUSIVE MODE")
            .await
            .expect("lock cases");
    }
    txn
}

/// The group case: `GROUP` completions wait for the writer while the test holds the write
/// lock; once it lets go, the writer takes them as one group, and the server is killed with
/// SIGKILL as soon as it logs that it commits a group of at least `MIN_GROUP`. After a
/// restart every completion that was answered is stored once, none is stored twice, and
/// `lianban audit verify` finds every history chain whole.
fn group_killed_while_committing(db_url: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let processes_dir = dir.path().join("processes");
    let (hook, _delivered) = receiver();
    processes(&processes_dir, &hook);
    let migrated = bin()
        .args(["migrate", "--db", db_url])
        .output()
        .expect("migrate");
    assert!(
        migrated.status.success(),
        "{}",
        String::from_utf8_lossy(&migrated.stderr)
    );
    let key = api_key(db_url, "shebao", &processes_dir);
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let (server, lines) = serve_logging(db_url, port, &processes_dir);
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    // Cases with one open task each (受理), found through the case.
    let mut tasks = Vec::new();
    for i in 0..GROUP {
        let answer = client
            .post(format!("{base}/api/v1/cases"))
            .bearer_auth(&key)
            .json(&json!({"process": "web.joint", "form": {
                "name": format!("申请人{i}"), "id_number": "11010519491231002X",
                "phone": "13812345678", "joint_medical": false, "joint_fund": false}}))
            .send()
            .expect("start a case");
        assert_eq!(answer.status().as_u16(), 201);
        let case: Value = answer.json().expect("json");
        let case = case["id"].as_str().unwrap_or_default().to_owned();
        let body: Value = client
            .get(format!("{base}/api/v1/cases/{case}"))
            .bearer_auth(&key)
            .send()
            .and_then(reqwest::blocking::Response::json)
            .expect("the case");
        let task = body["tasks"][0]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        tasks.push((case, task));
    }

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let db = runtime
        .block_on(Database::connect(db_url))
        .expect("connect");
    let lock = runtime.block_on(hold_writes(&db));
    // The completions queue behind the lock; each thread reports the task when it is
    // answered 2xx.
    let (answered, acknowledgements) = std::sync::mpsc::channel();
    let senders: Vec<_> = tasks
        .iter()
        .map(|(_, task)| {
            let (base, key, task, answered) =
                (base.clone(), key.clone(), task.clone(), answered.clone());
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::builder()
                    .timeout(Duration::from_secs(30))
                    .build()
                    .expect("client");
                let reply = client
                    .post(format!("{base}/api/v1/tasks/{task}/complete"))
                    .bearer_auth(&key)
                    .json(&json!({"outcome": "accept"}))
                    .send();
                if reply.is_ok_and(|r| r.status().is_success()) {
                    let _ = answered.send(task);
                }
            })
        })
        .collect();
    drop(answered);
    // Long enough for every request to reach the writer's queue on loopback (also on a
    // loaded machine), below SQLite's busy timeout (5 s) after which the writer would give
    // up on the lock.
    std::thread::sleep(Duration::from_millis(3000));
    runtime.block_on(lock.rollback()).expect("let go");
    let mut server = server;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut largest = 0;
    let mut seen = Vec::new();
    while largest < MIN_GROUP {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => {
                largest = largest.max(group_size(&line).unwrap_or(0));
                seen.push(line);
            }
            Err(_) => panic!(
                "no group of {MIN_GROUP} or more was committed (largest {largest}): {seen:#?}"
            ),
        }
    }
    server.child.kill().expect("SIGKILL");
    let _ = server.child.wait();
    drop(server);
    for sender in senders {
        sender.join().expect("sender");
    }
    let acknowledged: BTreeSet<String> = acknowledgements.into_iter().collect();

    // Restarted on the same database: what was answered is there, once.
    let (_server, _lines) = serve_logging(db_url, port, &processes_dir);
    let completed: BTreeSet<String> = runtime
        .block_on(rows(
            &db,
            "SELECT id FROM tasks WHERE step = 'accept' AND status = 'completed'",
        ))
        .iter()
        .filter_map(|r| r.try_get::<String>("", "id").ok())
        .collect();
    for task in &acknowledged {
        assert!(
            completed.contains(task),
            "acknowledged completion of {task} lost"
        );
    }
    let history = runtime.block_on(rows(
        &db,
        "SELECT case_id, COUNT(*) AS n FROM history WHERE action = 'complete' GROUP BY case_id",
    ));
    for row in &history {
        let n: i64 = row.try_get("", "n").unwrap_or_default();
        assert_eq!(n, 1, "a completion stored twice: {row:?}");
    }
    // A completion is stored exactly when its history says so, whether or not it was
    // answered before the kill (the group committed or not, as a whole).
    assert_eq!(history.len(), completed.len(), "tasks and history disagree");
    let verify = bin()
        .args(["audit", "verify", "--db", db_url])
        .output()
        .expect("audit verify");
    assert!(
        verify.status.success(),
        "audit verify: {}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
}

#[test]
fn a_group_killed_while_committing_on_sqlite_keeps_what_it_answered() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("group.db").display()
    );
    group_killed_while_committing(&url);
}

#[test]
fn a_group_killed_while_committing_on_postgres_keeps_what_it_answered() {
    let server = std::env::var("TEST_POSTGRES_URL")
        .expect("TEST_POSTGRES_URL must name the PostgreSQL server for the crash test");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let name = format!("lianban_group_{}", uuid::Uuid::new_v4().simple());
    let admin = runtime
        .block_on(Database::connect(server.as_str()))
        .expect("connect");
    runtime
        .block_on(admin.execute_unprepared(&format!("CREATE DATABASE \"{name}\"")))
        .expect("create database");
    let base = server.rsplit_once('/').map_or(server.as_str(), |(b, _)| b);
    let url = format!("{base}/{name}");
    let outcome = std::panic::catch_unwind(|| group_killed_while_committing(&url));
    let _ = runtime.block_on(
        admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")),
    );
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

#[test]
fn killed_mid_flight_on_sqlite_loses_and_doubles_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("crash.db").display()
    );
    run(&url);
}

#[test]
fn killed_mid_flight_on_postgres_loses_and_doubles_nothing() {
    let server = std::env::var("TEST_POSTGRES_URL")
        .expect("TEST_POSTGRES_URL must name the PostgreSQL server for the crash test");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let name = format!("lianban_crash_{}", uuid::Uuid::new_v4().simple());
    let admin = runtime
        .block_on(Database::connect(server.as_str()))
        .expect("connect");
    runtime
        .block_on(admin.execute_unprepared(&format!("CREATE DATABASE \"{name}\"")))
        .expect("create database");
    let base = server.rsplit_once('/').map_or(server.as_str(), |(b, _)| b);
    let url = format!("{base}/{name}");
    let outcome = std::panic::catch_unwind(|| run(&url));
    let _ = runtime.block_on(
        admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")),
    );
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
