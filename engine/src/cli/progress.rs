//! Progress of long commands (`backup`, `restore`, `export`, `cases migrate`): a bar on standard error when it is a terminal, nothing at all on a pipe or in a
//! file, so scripts and logs read only the commands' own lines.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// How often a bar that follows a file's size looks at it.
const POLL: Duration = Duration::from_millis(100);

/// A bar of `len` steps labelled `message` (`导出办件`), counting `unit` (`个`); hidden
/// unless standard error is a terminal.
pub(crate) fn bar(len: u64, message: &str, unit: &str) -> ProgressBar {
    let template = format!("{{msg}} [{{bar:32}}] {{pos}}/{{len}} {unit}（约剩 {{eta}}）");
    styled(len, message, &template)
}

/// A bar of `len` bytes labelled `message`; hidden unless standard error is a terminal.
pub(crate) fn bytes(len: u64, message: &str) -> ProgressBar {
    styled(
        len,
        message,
        "{msg} [{bar:32}] {bytes}/{total_bytes}（{bytes_per_sec}）",
    )
}

/// A spinner for a step of unknown length; hidden unless standard error is a terminal.
pub(crate) fn spinner(message: &str) -> ProgressBar {
    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::new_spinner()
    } else {
        ProgressBar::hidden()
    };
    bar.set_message(message.to_owned());
    bar.enable_steady_tick(POLL);
    bar
}

fn styled(len: u64, message: &str, template: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(message.to_owned());
    bar
}

/// Moves `bar` to the size of the file at `path` while it is written by someone else (a
/// database's `VACUUM INTO`), until the returned task is aborted.
pub(crate) fn follow_file(bar: &ProgressBar, path: PathBuf) -> tokio::task::JoinHandle<()> {
    let bar = bar.clone();
    tokio::spawn(async move {
        loop {
            if let Ok(meta) = tokio::fs::metadata(&path).await {
                bar.set_position(meta.len().min(bar.length().unwrap_or(u64::MAX)));
            }
            tokio::time::sleep(POLL).await;
        }
    })
}
