//! The `lianban` command line: a thin layer over the library.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use lianban::app::{self, App, Settings};

#[path = "cli/users.rs"]
mod users;

#[path = "cli/apikeys.rs"]
mod apikeys;

#[path = "cli/evidence.rs"]
mod evidence;

/// lianban（联办）：由 YAML 流程定义驱动的联办工作流引擎。
#[derive(Debug, Parser)]
#[command(name = "lianban", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Args)]
struct DbArg {
    /// Database: a SQLite file path or sqlite:// URL (created when missing), or
    /// postgres://user@host/db.
    #[arg(long = "db", env = "LIANBAN_DATABASE_URL", default_value = app::DEFAULT_DATABASE_URL)]
    url: String,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate definitions with their rules and templates (default: processes/).
    Check {
        /// Definition files or directories.
        paths: Vec<PathBuf>,
        /// Templates directory.
        #[arg(long, default_value = "templates")]
        templates: PathBuf,
    },
    /// Run the web service.
    Serve {
        #[command(flatten)]
        db: DbArg,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        bind: String,
        /// Directory of process definitions.
        #[arg(long, default_value = "processes")]
        processes: PathBuf,
        /// Directory of templates.
        #[arg(long, default_value = "templates")]
        templates: PathBuf,
        /// Token that authorizes admin calls such as POST /api/v1/admin/reload.
        #[arg(long, env = "LIANBAN_ADMIN_TOKEN", hide_env_values = true)]
        admin_token: Option<String>,
        /// Mark cookies Secure: set this when users reach the service over https.
        #[arg(long)]
        secure_cookies: bool,
        /// Create demo accounts (one clerk per department, a supervisor and an admin) when
        /// missing, and print their passwords once.
        #[arg(long)]
        demo: bool,
    },
    /// Manage the accounts of clerks, supervisors and admins.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage the API keys of departments' own systems (`Authorization: Bearer KEY`).
    Apikey {
        #[command(subcommand)]
        command: ApikeyCommand,
    },
    /// Evaluate an application against a process's rules, without starting a case.
    ///
    /// Prints JSON: {"errors": [{field, message}], "materials": [{key, name, copies, why}],
    /// ...the map of the definition's `evaluate:`}. Partial input is fine: field errors
    /// are reported and the rules still run. Exit status 0 whenever the JSON is printed,
    /// also when a rule failed (then `evaluate_error` / `materials_error` say why); 1 when
    /// the input is not a JSON object, the process is unknown or a definition is broken.
    Evaluate {
        /// Process id (the latest version is used).
        #[arg(long)]
        process: String,
        /// JSON file with the application form: {"field": value, ...}.
        #[arg(long)]
        input: PathBuf,
        /// The date the rules see as `today` (YYYY-MM-DD); default: today in Beijing time.
        #[arg(long)]
        at: Option<chrono::NaiveDate>,
        /// Directory of process definitions.
        #[arg(long, default_value = "processes")]
        processes: PathBuf,
        /// Directory of templates.
        #[arg(long, default_value = "templates")]
        templates: PathBuf,
    },
    /// Apply database migrations.
    Migrate {
        #[command(flatten)]
        db: DbArg,
    },
    /// Run the example cases written next to each definition (default: processes/).
    Test {
        /// Definition files or directories.
        paths: Vec<PathBuf>,
        /// Templates directory.
        #[arg(long, default_value = "templates")]
        templates: PathBuf,
    },
    /// Working days in a calendar: `--from DATE --add N` prints the date N working days
    /// later; `--between A B` the working days after A up to and including B.
    #[command(group(clap::ArgGroup::new("query").required(true).args(["from", "between"])))]
    Workdays {
        /// Calendar name, e.g. cn-mainland (the file processes/calendars/NAME.yaml).
        #[arg(long)]
        calendar: String,
        /// Start date (YYYY-MM-DD), not counted.
        #[arg(long, requires = "add")]
        from: Option<chrono::NaiveDate>,
        /// Working days to add (negative: go back).
        #[arg(long, requires = "from", allow_negative_numbers = true)]
        add: Option<i64>,
        /// Two dates A B.
        #[arg(long, num_args = 2, value_names = ["A", "B"], conflicts_with_all = ["from", "add"])]
        between: Option<Vec<chrono::NaiveDate>>,
        /// Directory of process definitions (calendars are in its calendars/).
        #[arg(long, default_value = "processes")]
        processes: PathBuf,
    },
    /// Preview a document for an application form given as JSON; prints the HTML.
    Render {
        /// Process id, e.g. yangcheng.retirement.
        #[arg(long)]
        process: String,
        /// Document key in the definition, e.g. supplement_notice.
        #[arg(long)]
        document: String,
        /// JSON file: an application form (an object), or the rows of a table document such
        /// as 附件4 推送信息表 (an array of forms or of {form, data}).
        #[arg(long)]
        input: PathBuf,
        /// For a table document: the receiving department's key, e.g. yibao.
        #[arg(long)]
        department: Option<String>,
        /// Directory of process definitions.
        #[arg(long, default_value = "processes")]
        processes: PathBuf,
        /// Directory of templates.
        #[arg(long, default_value = "templates")]
        templates: PathBuf,
    },
    /// Check the hash chain of case histories.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Copy a SQLite database consistently, also while `serve` runs on it.
    Backup {
        #[command(flatten)]
        db: DbArg,
        /// The backup file to write (must not exist).
        #[arg(long)]
        to: PathBuf,
    },
    /// Restore a backup file into a SQLite database (stop the service first).
    Restore {
        /// The backup file.
        #[arg(long)]
        from: PathBuf,
        #[command(flatten)]
        db: DbArg,
        /// Replace a database that is not empty.
        #[arg(long)]
        force: bool,
    },
    /// Export closed cases for the archive: JSON, documents and a manifest of hashes.
    #[command(group(clap::ArgGroup::new("which").required(true).args(["case", "closed_before"])))]
    Export {
        #[command(flatten)]
        db: DbArg,
        /// One case id.
        #[arg(long)]
        case: Option<String>,
        /// Every closed case that ended before this day (YYYY-MM-DD, Beijing time).
        #[arg(long)]
        closed_before: Option<chrono::NaiveDate>,
        /// Directory to write into.
        #[arg(long)]
        to: PathBuf,
    },
    /// Draw a process map (附件3 流程图) as SVG on standard output.
    ///
    /// The latest version under `--processes` by default; `--version N` takes that version
    /// from there, else (with `--db`) the version as the service stored it. Exit status 1
    /// when the process or version is unknown.
    Diagram {
        /// Process id, e.g. yangcheng.retirement.
        #[arg(long)]
        process: String,
        /// Version number (default: the latest under `--processes`).
        #[arg(long)]
        version: Option<u32>,
        /// Directory of process definitions.
        #[arg(long, default_value = "processes")]
        processes: PathBuf,
        /// Directory of templates.
        #[arg(long, default_value = "templates")]
        templates: PathBuf,
        /// Database to read a stored version from when it is not under `--processes`.
        #[arg(long)]
        db: Option<String>,
    },
    /// Measure the engine: the standard workload on fresh databases, one `name: value unit`
    /// line per figure (progress on standard error). SQLite with synchronous FULL and NORMAL
    /// always; PostgreSQL too when --db or LIANBAN_BENCH_POSTGRES names a server.
    Bench {
        /// PostgreSQL server URL; a fresh database is created on it and dropped afterwards.
        #[arg(long = "db", env = "LIANBAN_BENCH_POSTGRES", hide_env_values = true)]
        db: Option<String>,
        /// Cases per workload run.
        #[arg(long, default_value_t = 1000)]
        cases: usize,
        /// Concurrency levels (comma separated).
        #[arg(long, value_delimiter = ',', default_values_t = [1, 16])]
        concurrency: Vec<usize>,
        /// Cases seeded for the inbox figures (0 skips them).
        #[arg(long, default_value_t = 1_000_000)]
        inbox_cases: u64,
        /// Of those, cases with an open task.
        #[arg(long, default_value_t = 100_000)]
        inbox_open: u64,
        /// Inbox queries timed per database.
        #[arg(long, default_value_t = 1000)]
        inbox_queries: usize,
        /// Open cases for the serve memory figure (0 skips it).
        #[arg(long, default_value_t = 100_000)]
        rss_cases: u64,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Walk every case's history chain; exit 1 when an entry was changed or removed.
    Verify {
        #[command(flatten)]
        db: DbArg,
        /// Only this case.
        #[arg(long)]
        case: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create an account; the password is read from standard input (one line).
    Add {
        #[command(flatten)]
        db: DbArg,
        /// Login name.
        #[arg(long)]
        username: String,
        /// Department key as in the definitions, e.g. shebao.
        #[arg(long)]
        department: String,
        /// Roles: clerk, supervisor, admin (comma separated or repeated).
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// Display name (default: the user name).
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        scope: ScopeArgs,
    },
    /// List the accounts.
    List {
        #[command(flatten)]
        db: DbArg,
    },
    /// Disable an account and end its sessions.
    Disable {
        #[command(flatten)]
        db: DbArg,
        /// Login name.
        username: String,
    },
    /// Set a new password, read from standard input; ends the account's sessions.
    Passwd {
        #[command(flatten)]
        db: DbArg,
        /// Login name.
        username: String,
    },
}

/// Where an account or key works, checked against the definitions.
#[derive(Debug, clap::Args)]
struct ScopeArgs {
    /// County (the first part of the process ids, e.g. yangcheng): the account works only
    /// on that county's processes. Needed when several counties declare the department.
    #[arg(long)]
    county: Option<String>,
    /// Directory of process definitions to check the department against (default:
    /// processes, skipped with a warning when it does not exist).
    #[arg(long)]
    processes: Option<PathBuf>,
    /// Directory of templates (needed to load the definitions).
    #[arg(long, default_value = "templates")]
    templates: PathBuf,
}

#[derive(Debug, Subcommand)]
enum ApikeyCommand {
    /// Create a key with the rights of the department's clerks; prints only the key (once).
    Create {
        #[command(flatten)]
        db: DbArg,
        /// Department key as in the definitions, e.g. yibao.
        #[arg(long)]
        department: String,
        /// Name of the key (letters, digits, - _ .); default: department and a random suffix.
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        scope: ScopeArgs,
    },
    /// List the keys (never the keys themselves).
    List {
        #[command(flatten)]
        db: DbArg,
    },
    /// Revoke a key: requests with it are refused from now on.
    #[command(group(clap::ArgGroup::new("which").required(true).args(["name", "id"])))]
    Revoke {
        #[command(flatten)]
        db: DbArg,
        /// Name of the key.
        #[arg(long)]
        name: Option<String>,
        /// Id of the key.
        #[arg(long)]
        id: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    match cli.command {
        Command::Check { paths, templates } => check(paths, &templates),
        Command::Serve {
            db,
            bind,
            processes,
            templates,
            admin_token,
            secure_cookies,
            demo,
        } => {
            let settings = Settings {
                database_url: db.url,
                processes_dir: processes,
                templates_dir: templates,
                admin_token,
                secure_cookies,
                login_slowdown: 1.0,
                store: Default::default(),
                workers: app::Workers::Run,
            };
            report(run_async(serve(settings, bind, demo)))
        }
        Command::User { command } => report(run_async(users::run(command))),
        Command::Apikey { command } => report(run_async(apikeys::run(command))),
        Command::Migrate { db } => report(run_async(migrate(db.url))),
        Command::Evaluate {
            process,
            input,
            at,
            processes,
            templates,
        } => report(evaluate(&process, &input, at, &processes, &templates)),
        Command::Test { paths, templates } => test(paths, &templates),
        Command::Workdays {
            calendar,
            from,
            add,
            between,
            processes,
        } => report(workdays(&calendar, from.zip(add), between, &processes)),
        Command::Bench {
            db,
            cases,
            concurrency,
            inbox_cases,
            inbox_open,
            inbox_queries,
            rss_cases,
        } => {
            let options = lianban::bench::Options {
                postgres: db,
                cases,
                concurrency,
                inbox_cases,
                inbox_open: inbox_open.min(inbox_cases),
                inbox_queries,
                rss_cases,
                binary: None,
            };
            report(run_async(bench(options)))
        }
        Command::Render {
            process,
            document,
            input,
            department,
            processes,
            templates,
        } => report(render(
            &process,
            &document,
            &input,
            department.as_deref(),
            &processes,
            &templates,
        )),
        Command::Audit {
            command: AuditCommand::Verify { db, case },
        } => match run_async_value(evidence::verify(&db.url, case.as_deref())) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(e) => report(Err(e)),
        },
        Command::Backup { db, to } => report(run_async(evidence::backup(&db.url, &to))),
        Command::Restore { from, db, force } => {
            report(run_async(evidence::restore(&from, &db.url, force)))
        }
        Command::Export {
            db,
            case,
            closed_before,
            to,
        } => {
            let selection = match (case, closed_before) {
                (Some(case), _) => evidence::Selection::Case(case),
                (None, Some(day)) => evidence::Selection::ClosedBefore(day),
                (None, None) => {
                    return report(Err(anyhow::anyhow!("请写 --case 或 --closed-before")));
                }
            };
            report(run_async(evidence::export(&db.url, selection, &to)))
        }
        Command::Diagram {
            process,
            version,
            processes,
            templates,
            db,
        } => report(run_async(diagram(
            process, version, processes, templates, db,
        ))),
    }
}

fn run_async_value<T, F: std::future::Future<Output = anyhow::Result<T>>>(
    f: F,
) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(f)
}

/// `lianban diagram`: the process map of one definition version, as SVG on stdout.
async fn diagram(
    process: String,
    version: Option<u32>,
    processes: PathBuf,
    templates: PathBuf,
    db: Option<String>,
) -> anyhow::Result<()> {
    let templates = lianban::documents::Templates::load(&templates)?;
    let catalog = lianban::definition::load_paths(std::slice::from_ref(&processes), &templates)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let on_disk = catalog
        .iter()
        .filter(|p| p.id == process && version.is_none_or(|v| p.version == v))
        .max_by_key(|p| p.version);
    let found = match (on_disk, version, db) {
        (Some(p), _, _) => p.clone(),
        (None, Some(v), Some(url)) => {
            let store = lianban::store::Store::connect(&url)
                .await
                .with_context(|| "无法连接数据库".to_owned())?;
            let Some((_, sources)) = store.definition_sources(&process, v).await? else {
                anyhow::bail!("数据库中没有流程 {process} 的第 {v} 版");
            };
            lianban::definition::load_sources(&sources, &templates)
                .map_err(|e| anyhow::anyhow!("{e}"))?
        }
        (None, Some(v), None) => anyhow::bail!(
            "{} 中没有流程 {process} 的第 {v} 版（已存入数据库的版本请加 --db 读取）",
            processes.display()
        ),
        (None, None, _) => anyhow::bail!("没有流程 {process}（在 {} 中）", processes.display()),
    };
    print!("{}", lianban::diagram::svg(&found));
    Ok(())
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LIANBAN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    use std::io::IsTerminal as _;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
}

fn run_async<F: std::future::Future<Output = anyhow::Result<()>>>(f: F) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(f)
}

fn report(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("错误：{e:#}");
            ExitCode::FAILURE
        }
    }
}

fn check(paths: Vec<PathBuf>, templates_dir: &std::path::Path) -> ExitCode {
    let paths = if paths.is_empty() {
        vec![PathBuf::from("processes")]
    } else {
        paths
    };
    let templates = match lianban::documents::Templates::load(templates_dir) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    match lianban::definition::load_paths(&paths, &templates) {
        Ok(processes) => {
            for p in &processes {
                println!("{}", summary(p));
            }
            if processes.is_empty() {
                eprintln!("没有找到流程定义（*.yaml）：{}", display_paths(&paths));
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            eprintln!("共 {} 处错误，定义未通过检查。", e.diagnostics.len());
            ExitCode::FAILURE
        }
    }
}

/// One line per valid definition, so a policy officer sees what was checked.
fn summary(p: &lianban::definition::Process) -> String {
    format!(
        "通过  {} v{}「{}」 {}：{} 个步骤，{} 个角色，{} 个部门，{} 项材料，{} 个示例，内容摘要 {}",
        p.id,
        p.version,
        p.name,
        p.file,
        p.steps.len(),
        p.roles.len(),
        p.departments.len(),
        p.materials.len(),
        p.tests.len(),
        &p.content_hash[..p.content_hash.len().min(12)],
    )
}

fn display_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

async fn serve(settings: Settings, bind: String, demo: bool) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(&bind)
        .await
        .with_context(|| format!("无法监听 {bind}"))?;
    let app = App::build(settings).await?;
    if demo {
        users::print_demo(&app.seed_demo_accounts().await?);
    }
    app.serve(listener).await
}

/// `lianban bench`: figures on standard output as they come.
async fn bench(options: lianban::bench::Options) -> anyhow::Result<()> {
    if let Some(url) = &options.postgres
        && !url.starts_with("postgres")
    {
        anyhow::bail!("--db 应是 PostgreSQL 服务器地址（postgres://…）；SQLite 总在临时文件上测");
    }
    lianban::bench::run(&options, &mut |figure| println!("{figure}")).await
}

async fn migrate(url: String) -> anyhow::Result<()> {
    let store = lianban::store::Store::connect(&url)
        .await
        .with_context(|| format!("打开数据库 {} 失败", app::redact_url(&url)))?;
    store.migrate().await.context("数据库迁移失败")?;
    println!("数据库迁移完成：{}", app::redact_url(&url));
    Ok(())
}

fn evaluate(
    process: &str,
    input: &std::path::Path,
    at: Option<chrono::NaiveDate>,
    processes: &std::path::Path,
    templates: &std::path::Path,
) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(input)
        .with_context(|| format!("无法读取输入文件 {}", input.display()))?;
    let today = at.unwrap_or_else(|| {
        chrono::Utc::now()
            .with_timezone(&chrono_tz::Asia::Shanghai)
            .date_naive()
    });
    let evaluation = lianban::evaluate::command(processes, templates, process, &text, today)
        .with_context(|| format!("评估 {} 失败", input.display()))?;
    println!("{}", serde_json::to_string_pretty(&evaluation)?);
    Ok(())
}

/// `lianban render`: the document as a case with this form would issue it, numbered
/// `…第0000号（预览）` and without drawing from any sequence.
fn render(
    process: &str,
    document: &str,
    input: &std::path::Path,
    department: Option<&str>,
    processes: &std::path::Path,
    templates: &std::path::Path,
) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(input)
        .with_context(|| format!("无法读取输入文件 {}", input.display()))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("输入文件 {} 不是有效的 JSON", input.display()))?;
    let templates = lianban::documents::Templates::load(templates)?;
    let catalog = lianban::definition::load_paths(&[processes.to_path_buf()], &templates)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let Some(found) = catalog
        .iter()
        .filter(|p| p.id == process)
        .max_by_key(|p| p.version)
    else {
        anyhow::bail!("没有流程 {process}（在 {} 中）", processes.display());
    };
    let now = chrono::Utc::now();
    // One object is one applicant's form; an array is the rows of a table document (附件4).
    let rendered = match value {
        serde_json::Value::Object(form) => {
            lianban::documents::preview(found, &templates, document, &form, now)?
        }
        serde_json::Value::Array(rows) => {
            lianban::documents::preview_table(found, &templates, document, rows, department, now)?
        }
        _ => anyhow::bail!(
            "输入文件 {} 应是一个 JSON 对象（申请表各字段）或对象数组（表格的各行）",
            input.display()
        ),
    };
    println!("{}", rendered.html);
    Ok(())
}

/// `lianban workdays`: prints the answer; a year without calendar data is an error.
fn workdays(
    calendar: &str,
    add: Option<(chrono::NaiveDate, i64)>,
    between: Option<Vec<chrono::NaiveDate>>,
    processes: &std::path::Path,
) -> anyhow::Result<()> {
    use lianban::scheduler::workdays::{Query, answer};
    let query = match (add, between.as_deref()) {
        (Some((from, n)), _) => Query::Add { from, n },
        (None, Some(&[from, to])) => Query::Between { from, to },
        _ => anyhow::bail!("请写 --from 日期 --add 天数，或 --between 日期 日期"),
    };
    println!("{}", answer(processes, calendar, query)?);
    Ok(())
}

/// `lianban test`: every example's failures, then `N passed, M failed`; exit 1 on any
/// failure or when the definitions do not load.
fn test(paths: Vec<PathBuf>, templates_dir: &std::path::Path) -> ExitCode {
    let paths = if paths.is_empty() {
        vec![PathBuf::from("processes")]
    } else {
        paths
    };
    let templates = match lianban::documents::Templates::load(templates_dir) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    match lianban::casebook::run_paths(&paths, &templates) {
        Ok(report) => {
            println!("{report}");
            if report.failed() == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("{e}");
            eprintln!(
                "共 {} 处错误，定义未通过检查，示例未运行。",
                e.diagnostics.len()
            );
            ExitCode::FAILURE
        }
    }
}
