//! `natskv`: inspect, watch, dump and restore any NATS JetStream Key/Value bucket.
//!
//! See the README for the commands, the exit codes and the JSON shapes.

mod args;
mod commands;
mod entry;
mod error;
mod nats;
mod output;
mod record;
mod value;

use std::process::ExitCode;

use clap::Parser;

use crate::args::Cli;

fn main() -> ExitCode {
    // Before any thread starts: the local offset cannot be read safely afterwards.
    output::init_local_offset();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // Help and version go to standard output with success; usage errors exit 1.
            let _ = error.print();
            return if error.use_stderr() {
                ExitCode::from(error::ErrorKind::Usage.exit_code())
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("natskv: error: cannot start the runtime: {e}");
            return ExitCode::from(error::ErrorKind::Io.exit_code());
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if error.is_broken_pipe() => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("natskv: error: {}", error.one_line());
            ExitCode::from(error.kind().exit_code())
        }
    }
}
