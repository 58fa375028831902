//! Peak memory of a real `lianban serve` on a database of many open cases: seed, start the
//! binary, drive a few inbox and metrics requests, read `VmHWM` from `/proc/PID/status`.

use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, bail};

use super::{Figure, FreshDb, Options, STANDARD_YAML, Target};
use lianban_core::definition::Process;
use lianban_store::{NewApiKey, Synchronous};

/// Runs `serve` on a SQLite database with `options.rss_cases` open cases.
///
/// # Errors
/// When seeding fails, the binary does not start or does not answer.
pub(super) async fn figure(
    process: &Process,
    options: &Options,
    out: &mut (dyn FnMut(&Figure) + Send),
) -> anyhow::Result<()> {
    let target = Target::Sqlite(Synchronous::Full);
    let db = FreshDb::create(&target).await?;
    let result = measure(&db, &target, process, options).await;
    db.remove().await;
    let kb = result?;
    out(&Figure {
        name: format!("serve.open_cases_{}.rss_peak_mb", options.rss_cases),
        value: kb as f64 / 1024.0,
        unit: "MB",
    });
    Ok(())
}

async fn measure(
    db: &FreshDb,
    target: &Target,
    process: &Process,
    options: &Options,
) -> anyhow::Result<u64> {
    let binary = match &options.binary {
        Some(b) => b.clone(),
        None => std::env::current_exe().context("找不到 lianban 可执行文件")?,
    };
    let store = db.store(target).await?;
    store.definitions().register(process).await?;
    eprintln!("  serve rss: seeding {} open cases", options.rss_cases);
    super::inbox::seed(&db.url, process, options.rss_cases, options.rss_cases).await?;
    let key = lianban_core::accounts::new_api_key();
    store
        .accounts()
        .create_api_key(
            &NewApiKey {
                name: "bench".to_owned(),
                key_hash: lianban_core::accounts::api_key_hash(&key),
                department: "shebao".to_owned(),
                county: Some("bench".to_owned()),
                intake: false,
            },
            chrono::Utc::now(),
        )
        .await?;
    store.close().await.ok();

    // The definitions and (empty) templates serve loads, beside the database.
    let dir = std::env::temp_dir().join(format!(
        "lianban-bench-serve-{}",
        uuid::Uuid::new_v4().simple()
    ));
    let processes = dir.join("processes");
    let templates = dir.join("templates");
    std::fs::create_dir_all(&processes)?;
    std::fs::create_dir_all(&templates)?;
    std::fs::write(processes.join("standard.yaml"), STANDARD_YAML)?;
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0")?;
        probe.local_addr()?.port()
    };
    let mut child = tokio::process::Command::new(&binary)
        .arg("serve")
        .arg("--db")
        .arg(&db.url)
        .arg("--bind")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--processes")
        .arg(&processes)
        .arg("--templates")
        .arg(&templates)
        .env("LIANBAN_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("无法启动 {}", binary.display()))?;
    let result = drive(port, &key, child.id()).await;
    child.kill().await.ok();
    std::fs::remove_dir_all(&dir).ok();
    result
}

async fn drive(port: u16, key: &str, pid: Option<u32>) -> anyhow::Result<u64> {
    let pid = pid.context("serve 进程已退出")?;
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let mut up = false;
    for _ in 0..300 {
        if let Ok(r) = client.get(format!("{base}/healthz")).send().await
            && r.status().is_success()
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if !up {
        bail!("serve 在 30 秒内没有就绪");
    }
    for page in 0..20u64 {
        let r = client
            .get(format!("{base}/api/v1/inbox?offset={}", page * 50))
            .bearer_auth(key)
            .send()
            .await?;
        if !r.status().is_success() {
            bail!("GET /api/v1/inbox 返回 {}", r.status());
        }
        r.bytes().await?;
    }
    client
        .get(format!("{base}/metrics"))
        .send()
        .await?
        .bytes()
        .await?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .context("无法读取 /proc（只在 Linux 上可测内存）")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("/proc 中没有 VmHWM")
}
