//! Every flag and environment variable of `lianban`, declared once with clap (an
//! environment variable is the `env` of its flag, so `--help` names it and a bad value is
//! refused the same way from either), and turned here into the library's [`Settings`]
//! and [`StoreOptions`]. Nothing else in the binary or the library reads the environment,
//! except the department systems' signing secrets, whose names the definitions choose
//! (`scheduler::Secrets`).

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use lianban::app::{self, Settings, Workers};
use lianban::service::WriteQueue;
use lianban::store::{StoreOptions, Synchronous};

/// The log filter when neither `--log` nor `LIANBAN_LOG` sets one.
const DEFAULT_LOG: &str = "info,sqlx=warn,sea_orm=warn";

/// lianban（联办）：由 YAML 流程定义驱动的联办工作流引擎。
#[derive(Debug, Parser)]
#[command(name = "lianban", version, about)]
pub(crate) struct Cli {
    /// Log filter in tracing's env-filter syntax, e.g. `info,sqlx=warn` or `debug`.
    #[arg(long, env = "LIANBAN_LOG", default_value = DEFAULT_LOG, value_name = "FILTER", value_parser = log_filter)]
    pub(crate) log: String,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The database a command opens, and how.
#[derive(Debug, clap::Args)]
pub(crate) struct DbArg {
    /// Database: a SQLite file path or sqlite:// URL (created when missing), or
    /// postgres://user@host/db.
    #[arg(long = "db", env = "LIANBAN_DATABASE_URL", default_value = app::DEFAULT_DATABASE_URL)]
    pub(crate) url: String,
    #[command(flatten)]
    pub(crate) store: StoreArgs,
}

/// How the connections to the database behave; every command that opens one takes these.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct StoreArgs {
    /// Connection pool size per process (1 to 1000).
    #[arg(
        long = "db-max-connections",
        env = "LIANBAN_DB_MAX_CONNECTIONS",
        default_value_t = StoreOptions::default().max_connections,
        value_name = "N",
        value_parser = pool_size,
    )]
    max_connections: u32,
    /// SQLite only: `full` (a committed change survives a power cut) or `normal` (faster
    /// commits; a power cut may lose the last ones, never corrupts).
    #[arg(
        long = "sqlite-synchronous",
        env = "LIANBAN_SQLITE_SYNCHRONOUS",
        default_value = "full",
        value_name = "MODE",
        value_parser = synchronous,
    )]
    sqlite_synchronous: Synchronous,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Validate definitions with their rules and templates (default: processes/).
    Check {
        /// Definition files or directories.
        paths: Vec<PathBuf>,
        /// Templates directory.
        #[arg(long, default_value = "templates")]
        templates: PathBuf,
        /// Database whose stored versions to compare with (a SQLite file or URL, or
        /// postgres://…): a content change under a version that cases already run on is
        /// refused, as `serve` would refuse it. Nothing is written.
        #[arg(long = "db")]
        db: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Run the web service.
    Serve(ServeArgs),
    /// Work on running cases: `cases migrate` moves them to another definition version.
    Cases {
        #[command(subcommand)]
        command: CasesCommand,
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
    /// Prints JSON: {"errors": [{field, message}], "materials": [{key, name, copies, unit, why, note}],
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
    /// Print a definition: its own file, or with `--resolved` the merged definition (base
    /// and overlays together), each value with the `file:line` it comes from.
    Show {
        /// Process id, e.g. yangcheng.retirement.
        #[arg(long)]
        process: String,
        /// Version number (default: the latest under `--processes`).
        #[arg(long)]
        version: Option<u32>,
        /// Print the merged definition with where each value is written.
        #[arg(long)]
        resolved: bool,
        /// Directory of process definitions.
        #[arg(long, default_value = "processes")]
        processes: PathBuf,
        /// Directory of templates.
        #[arg(long, default_value = "templates")]
        templates: PathBuf,
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
    Diagram(DiagramArgs),
    /// Measure the engine: the standard workload on fresh databases, one `name: value unit`
    /// line per figure (progress on standard error). SQLite with synchronous FULL and NORMAL
    /// always; PostgreSQL too when --db or LIANBAN_BENCH_POSTGRES names a server.
    Bench(BenchArgs),
}

/// `lianban cases …`.
#[derive(Debug, Subcommand)]
pub(crate) enum CasesCommand {
    /// Move running cases of a process from one version to another. Each case moves in
    /// one transaction with a history entry; a case whose position the new version lacks
    /// (and `--map` does not place) is refused and left as it was. Running it again moves
    /// nothing twice. Exit status 1 when the request or any case is refused.
    Migrate(MigrateArgs),
}

/// `lianban cases migrate`.
#[derive(Debug, clap::Args)]
pub(crate) struct MigrateArgs {
    #[command(flatten)]
    pub(crate) db: DbArg,
    /// Process id, e.g. yangcheng.retirement.
    #[arg(long)]
    pub(crate) process: String,
    /// The version the cases run on now.
    #[arg(long = "from-version")]
    pub(crate) from_version: u32,
    /// The version to move them to (in force under --processes, or stored).
    #[arg(long = "to-version")]
    pub(crate) to_version: u32,
    /// Where a step of the old version goes in the new one, `old=new` (repeatable); a step
    /// not named keeps its id.
    #[arg(long = "map", value_name = "OLD=NEW", value_parser = super::cases::step_pair)]
    pub(crate) map: Vec<(lianban::definition::StepId, lianban::definition::StepId)>,
    /// Only this case (repeatable); default: every open case on --from-version.
    #[arg(long = "case", value_name = "ID")]
    pub(crate) cases: Vec<String>,
    /// Print the plan and change nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Who moves the cases, as the case histories record it.
    #[arg(long, default_value = "cli")]
    pub(crate) operator: String,
    /// Directory of process definitions.
    #[arg(long, default_value = "processes")]
    pub(crate) processes: PathBuf,
    /// Directory of templates.
    #[arg(long, default_value = "templates")]
    pub(crate) templates: PathBuf,
}

/// `lianban audit …`.
#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Walk every case's history chain; exit 1 when an entry was changed or removed.
    Verify {
        #[command(flatten)]
        db: DbArg,
        /// Only this case.
        #[arg(long)]
        case: Option<String>,
    },
}

/// `lianban user …`.
#[derive(Debug, Subcommand)]
pub(crate) enum UserCommand {
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
    /// Change an account's display name (the person's real name, printed as 经办人 on
    /// documents and shown on pages and in case histories).
    Rename {
        #[command(flatten)]
        db: DbArg,
        /// Login name.
        username: String,
        /// The new display name, e.g. 李娜.
        #[arg(long)]
        name: String,
    },
    /// Set a new password, read from standard input; ends the account's sessions.
    Passwd {
        #[command(flatten)]
        db: DbArg,
        /// Login name.
        username: String,
    },
    /// Record an absence (请假): from --from to --to (Beijing dates, both included) the
    /// substitute, of the same department and county, works the person's claimed tasks on
    /// their behalf, and no task is handed to them.
    Away {
        #[command(flatten)]
        db: DbArg,
        /// Login of the person away.
        username: String,
        /// First day away, YYYY-MM-DD.
        #[arg(long)]
        from: String,
        /// Last day away, YYYY-MM-DD (included).
        #[arg(long)]
        to: String,
        /// Login of the substitute (代办人).
        #[arg(long)]
        substitute: String,
    },
    /// End a person's absences now (销假): everything is theirs again.
    Back {
        #[command(flatten)]
        db: DbArg,
        /// Login of the person back.
        username: String,
    },
    /// List the absences in force or to come.
    Absences {
        #[command(flatten)]
        db: DbArg,
    },
}

/// Where an account or key works, checked against the definitions.
#[derive(Debug, clap::Args)]
pub(crate) struct ScopeArgs {
    /// County (the first part of the process ids, e.g. yangcheng): the account works only
    /// on that county's processes. Needed when several counties declare the department.
    #[arg(long)]
    pub(crate) county: Option<String>,
    /// Directory of process definitions to check the department against (default:
    /// processes, skipped with a warning when it does not exist).
    #[arg(long)]
    pub(crate) processes: Option<PathBuf>,
    /// Directory of templates (needed to load the definitions).
    #[arg(long, default_value = "templates")]
    pub(crate) templates: PathBuf,
}

/// `lianban apikey …`.
#[derive(Debug, Subcommand)]
pub(crate) enum ApikeyCommand {
    /// Create a key with the rights of the department's clerks, or with `--intake` a key
    /// that starts cases (一网通办); prints only the key (once).
    Create {
        #[command(flatten)]
        db: DbArg,
        /// Department key as in the definitions, e.g. yibao.
        #[arg(long, required_unless_present = "intake", conflicts_with = "intake")]
        department: Option<String>,
        /// An intake key for a system that receives applications (一网通办): it may start a
        /// case of any process of its county (`--county`, required) and read only the cases
        /// it started, never an inbox.
        #[arg(long)]
        intake: bool,
        /// Name of the key (letters, digits, Chinese characters, - _ .); default: department
        /// (or `intake`) and a random suffix.
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

/// `lianban serve`.
#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    pub(crate) db: DbArg,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub(crate) bind: String,
    /// Directory of process definitions.
    #[arg(long, default_value = "processes")]
    pub(crate) processes: PathBuf,
    /// Directory of templates.
    #[arg(long, default_value = "templates")]
    pub(crate) templates: PathBuf,
    /// Token that authorizes admin calls such as POST /api/v1/admin/reload.
    #[arg(long, env = "LIANBAN_ADMIN_TOKEN", hide_env_values = true)]
    pub(crate) admin_token: Option<String>,
    /// Mark cookies Secure: set this when users reach the service over https.
    #[arg(long)]
    pub(crate) secure_cookies: bool,
    /// Create demo accounts (one clerk per department, a supervisor and an admin) when
    /// missing, and print their passwords once.
    #[arg(long)]
    pub(crate) demo: bool,
    /// Commands that may wait for the database's writer at once; beyond them callers wait
    /// in order for a place.
    #[arg(
        long = "write-queue",
        env = "LIANBAN_WRITE_QUEUE",
        default_value_t = WriteQueue::default().capacity as u32,
        value_name = "N",
        value_parser = clap::value_parser!(u32).range(1..=1_000_000),
    )]
    pub(crate) write_queue: u32,
    /// How long, in milliseconds, a command waits for a place in the writer's queue before
    /// it is answered 503 `overloaded` with Retry-After.
    #[arg(
        long = "write-wait-ms",
        env = "LIANBAN_WRITE_WAIT_MS",
        default_value_t = WriteQueue::default().wait.as_millis() as u64,
        value_name = "MS",
        value_parser = clap::value_parser!(u64).range(0..=600_000),
    )]
    pub(crate) write_wait_ms: u64,
}

impl ServeArgs {
    /// The settings of the app to build.
    pub(crate) fn settings(&self) -> Settings {
        let mut settings = Settings::new(self.db.url.clone());
        settings.processes_dir = self.processes.clone();
        settings.templates_dir = self.templates.clone();
        settings.admin_token = self.admin_token.clone();
        settings.secure_cookies = self.secure_cookies;
        settings.store = self.db.store.options();
        settings.write_queue = WriteQueue {
            capacity: self.write_queue as usize,
            wait: std::time::Duration::from_millis(self.write_wait_ms),
            ..WriteQueue::default()
        };
        settings.workers = Workers::Run;
        settings
    }
}

impl StoreArgs {
    /// The store options these flags (or their variables) ask for.
    pub(crate) fn options(&self) -> StoreOptions {
        StoreOptions {
            max_connections: self.max_connections,
            sqlite_synchronous: self.sqlite_synchronous,
            ..StoreOptions::default()
        }
    }
}

// The parsers below name the variable in their message: clap reports a bad value from
// the environment as if it had been typed after the flag, which an operator who set only
// the variable would not recognise.

fn pool_size(text: &str) -> Result<u32, String> {
    let range = StoreOptions::MAX_CONNECTIONS;
    text.trim()
        .parse()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| {
            format!(
                "连接池大小应为 {} 到 {} 的整数（环境变量 LIANBAN_DB_MAX_CONNECTIONS 或 --db-max-connections）",
                range.start(),
                range.end()
            )
        })
}

fn synchronous(text: &str) -> Result<Synchronous, String> {
    Synchronous::parse(text).ok_or_else(|| {
        "应为 full 或 normal（环境变量 LIANBAN_SQLITE_SYNCHRONOUS 或 --sqlite-synchronous）"
            .to_owned()
    })
}

fn log_filter(text: &str) -> Result<String, String> {
    match tracing_subscriber::EnvFilter::try_new(text) {
        Ok(_) => Ok(text.to_owned()),
        Err(e) => Err(format!(
            "不是有效的日志过滤设置（环境变量 LIANBAN_LOG 或 --log，例如 info,sqlx=warn）：{e}"
        )),
    }
}

/// `lianban diagram`.
#[derive(Debug, clap::Args)]
pub(crate) struct DiagramArgs {
    /// Process id, e.g. yangcheng.retirement.
    #[arg(long)]
    pub(crate) process: String,
    /// Version number (default: the latest under `--processes`).
    #[arg(long)]
    pub(crate) version: Option<u32>,
    /// Directory of process definitions.
    #[arg(long, default_value = "processes")]
    pub(crate) processes: PathBuf,
    /// Directory of templates.
    #[arg(long, default_value = "templates")]
    pub(crate) templates: PathBuf,
    /// Database to read a stored version from when it is not under `--processes`.
    #[arg(long)]
    pub(crate) db: Option<String>,
    #[command(flatten)]
    pub(crate) store: StoreArgs,
}

/// `lianban bench`.
#[derive(Debug, clap::Args)]
pub(crate) struct BenchArgs {
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
}

impl BenchArgs {
    /// The options of the measurement.
    pub(crate) fn options(self) -> lianban_bench::Options {
        lianban_bench::Options {
            postgres: self.db,
            cases: self.cases,
            concurrency: self.concurrency,
            inbox_cases: self.inbox_cases,
            inbox_open: self.inbox_open.min(self.inbox_cases),
            inbox_queries: self.inbox_queries,
            rss_cases: self.rss_cases,
            binary: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory as _, Parser as _};

    use super::*;

    #[test]
    fn the_arguments_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn serve_settings_carry_the_connection_flags() {
        let cli = Cli::try_parse_from([
            "lianban",
            "serve",
            "--db",
            "/tmp/l.db",
            "--db-max-connections",
            "5",
            "--sqlite-synchronous",
            "NORMAL",
            "--admin-token",
            "t",
        ])
        .expect("parses");
        let Command::Serve(args) = cli.command else {
            panic!("not serve");
        };
        let settings = args.settings();
        assert_eq!(settings.database_url, "/tmp/l.db");
        assert_eq!(settings.store.max_connections, 5);
        assert_eq!(settings.store.sqlite_synchronous, Synchronous::Normal);
        assert_eq!(settings.admin_token.as_deref(), Some("t"));
        assert_eq!(settings.workers, Workers::Run);
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        for (flag, value, variable) in [
            ("--db-max-connections", "1001", "LIANBAN_DB_MAX_CONNECTIONS"),
            (
                "--sqlite-synchronous",
                "extra",
                "LIANBAN_SQLITE_SYNCHRONOUS",
            ),
        ] {
            let error =
                Cli::try_parse_from(["lianban", "migrate", flag, value]).expect_err("refused");
            assert!(error.to_string().contains(variable), "{error}");
        }
    }
}
