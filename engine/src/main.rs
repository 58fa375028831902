//! The `lianban` command line: clap reads every flag and environment variable
//! (`cli/args.rs`), then each command is one call into `cli/`, a thin layer over the
//! library. Exit status 0 on success, 1 when a command fails, 2 for arguments clap refuses.

use std::process::ExitCode;

use clap::Parser as _;

mod cli;

use cli::args::{AuditCommand, CasesCommand, Cli, Command};
use cli::{definitions, evidence, report, run_async, serve};

/// glibc's allocator, with a tokio pool and sqlx's connection threads allocating and
/// freeing across threads, spent a sixth of a benchmark's CPU in `malloc`, `free` and
/// `malloc_consolidate`; mimalloc keeps per-thread pages (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    cli::init_tracing(&cli.log);
    match cli.command {
        Command::Check {
            paths,
            templates,
            db,
            store,
        } => definitions::check(paths, &templates, db.as_deref(), &store),
        Command::Test { paths, templates } => definitions::test(paths, &templates),
        Command::Evaluate {
            process,
            input,
            at,
            processes,
            templates,
        } => report(definitions::evaluate(
            &process, &input, at, &processes, &templates,
        )),
        Command::Render {
            process,
            document,
            input,
            department,
            processes,
            templates,
        } => report(definitions::render(
            &process,
            &document,
            &input,
            department.as_deref(),
            &processes,
            &templates,
        )),
        Command::Show {
            process,
            version,
            resolved,
            processes,
            templates,
        } => report(definitions::show(
            &process, version, resolved, &processes, &templates,
        )),
        Command::Workdays {
            calendar,
            from,
            add,
            between,
            processes,
        } => report(definitions::workdays(
            &calendar,
            from.zip(add),
            between,
            &processes,
        )),
        Command::Diagram(args) => report(run_async(definitions::diagram(args))),
        Command::Serve(args) => report(run_async(serve::serve(args))),
        Command::Cases {
            command: CasesCommand::Migrate(args),
        } => report(run_async(cli::cases::migrate(args))),
        Command::Migrate { db } => report(run_async(serve::migrate(db))),
        Command::Bench(args) => report(run_async(serve::bench(args.options()))),
        Command::User { command } => report(run_async(cli::users::run(command))),
        Command::Apikey { command } => report(run_async(cli::apikeys::run(command))),
        Command::Audit {
            command: AuditCommand::Verify { db, case },
        } => match run_async(evidence::verify(&db, case.as_deref())) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(e) => report(Err(e)),
        },
        Command::Backup { db, to } => report(run_async(evidence::backup(&db, &to))),
        Command::Restore { from, db, force } => {
            report(run_async(evidence::restore(&from, &db, force)))
        }
        Command::Export {
            db,
            case,
            closed_before,
            to,
        } => report(run_async(evidence::export(&db, case, closed_before, &to))),
    }
}
