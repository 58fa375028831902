//! Graceful shutdown of the real binary: SIGTERM while a request is in flight lets that
//! request finish (the case is created and answered), the workers stop, no lease is left
//! held, and the process exits 0.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lianban"))
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// Reads one HTTP/1.1 answer head (through the blank line) and, if it has one, its body.
fn read_answer(stream: &mut BufReader<TcpStream>) -> (u16, String) {
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        let n = stream.read_line(&mut line).expect("read head");
        assert!(n > 0, "connection closed before an answer");
        if line == "\r\n" {
            break;
        }
        head.push(line);
    }
    let status: u16 = head[0]
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let length = head
        .iter()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0; length];
    stream.read_exact(&mut body).expect("read body");
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[test]
fn sigterm_finishes_the_request_in_flight_and_exits_cleanly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display());
    let processes = repo().join("tests/fixtures/web");
    let templates = repo().join("templates");
    let key = bin()
        .args(["apikey", "create", "--db", &db, "--department", "shebao"])
        .args(["--name", "shebao-system", "--processes"])
        .arg(&processes)
        .arg("--templates")
        .arg(&templates)
        .output()
        .expect("run apikey create");
    assert!(
        key.status.success(),
        "{}",
        String::from_utf8_lossy(&key.stderr)
    );
    let key = String::from_utf8_lossy(&key.stdout).trim().to_owned();

    let port = free_port();
    let mut child = bin()
        .args(["serve", "--db", &db, "--bind", &format!("127.0.0.1:{port}")])
        .arg("--processes")
        .arg(&processes)
        .arg("--templates")
        .arg(&templates)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn serve");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    for line in lines.by_ref() {
        if line.expect("stderr line").contains("listening") {
            break;
        }
    }
    let log = std::thread::spawn(move || lines.map_while(Result::ok).collect::<Vec<_>>());

    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let mut writer = stream.try_clone().expect("clone");
    let mut reader = BufReader::new(stream);
    // One full exchange first, so the server certainly holds this connection.
    write!(writer, "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n").expect("write");
    assert_eq!(read_answer(&mut reader).0, 200);

    // A case start whose body the server waits for: `100 Continue` proves the handler
    // is reading it, so the request is in flight when SIGTERM arrives.
    let body = r#"{"process":"web.joint","form":{"name":"张三","id_number":"11010519491231002X","phone":"13812345678","joint_medical":false,"joint_fund":false}}"#;
    write!(
        writer,
        "POST /api/v1/cases HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        body.len()
    )
    .expect("write head");
    let (status, _) = read_answer(&mut reader);
    assert_eq!(status, 100, "expected 100 Continue");
    let pid = child.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    writer.write_all(body.as_bytes()).expect("write body");
    let (status, answer) = read_answer(&mut reader);
    assert_eq!(status, 201, "{answer}");

    drop(writer);
    drop(reader);
    let exit = child.wait().expect("wait");
    let log = log.join().unwrap_or_default().join("\n");
    assert!(exit.success(), "exit {exit:?}\n{log}");
    assert!(log.contains("stopped"), "{log}");

    // The case is there, its history intact, and nothing is left leased.
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let store = lianban::store::Store::connect(&db).await.expect("open");
        let cases = store
            .reads()
            .cases(&lianban::store::CaseQuery::default())
            .await
            .expect("cases");
        assert_eq!(cases.len(), 1);
        assert!(
            store
                .admin()
                .verify_history(None)
                .await
                .expect("verify")
                .intact()
        );
        assert_eq!(store.jobs().held_leases().await.expect("leases"), 0);
    });
}
