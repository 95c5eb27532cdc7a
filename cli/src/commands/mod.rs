//! The subcommands, one file per group: bucket status, reads, watch, dump and load, writes.

mod buckets;
mod read;
mod transfer;
mod watch;
mod write;

use crate::args::{Cli, Command};
use crate::error::Result;
use crate::nats::Nats;
use crate::output::Out;

/// Runs the command `cli` names.
pub(crate) async fn run(cli: Cli) -> Result<()> {
    let nats = Nats::connect(&cli.connect).await?;
    let mut out = Out::stdout();
    let result = dispatch(&nats, cli.json, cli.command, &mut out).await;
    result.map_err(|e| nats.explain(e))?;
    out.flush()
}

async fn dispatch(nats: &Nats, json: bool, command: Command, out: &mut Out) -> Result<()> {
    match command {
        Command::Buckets => buckets::list(nats, json, out).await?,
        Command::Status { bucket } => buckets::status(nats, &bucket, json, out).await?,
        Command::Get {
            bucket,
            key,
            revision,
            raw,
        } => {
            let options = read::GetOptions {
                revision,
                raw,
                json,
            };
            read::get(nats, &bucket, &key, options, out).await?;
        }
        Command::History { bucket, key } => {
            read::history(nats, &bucket, &key, json, out).await?;
        }
        Command::Keys { bucket, filters } => {
            read::keys(nats, &bucket, &filters, json, out).await?;
        }
        Command::Watch {
            bucket,
            filters,
            history,
            updates_only,
            from,
        } => {
            let start = watch::start(history, updates_only, from);
            watch::watch(nats, &bucket, &filters, start, json, out).await?;
        }
        Command::Dump {
            bucket,
            filters,
            output,
            history,
            deleted,
        } => {
            let options = transfer::DumpOptions {
                output,
                history,
                deleted,
                json,
            };
            transfer::dump(nats, &bucket, &filters, options, out).await?;
        }
        Command::Load {
            bucket,
            input,
            create,
            history,
        } => {
            let create = create.then_some(history);
            transfer::load(nats, &bucket, input.as_deref(), create, json, out).await?;
        }
        Command::Put {
            bucket,
            key,
            value,
            raw,
        } => write::put(nats, &bucket, &key, &value, raw, json, out).await?,
        Command::Del { bucket, key } => write::delete(nats, &bucket, &key, json, out).await?,
        Command::Purge { bucket, key } => write::purge(nats, &bucket, &key, json, out).await?,
    }
    Ok(())
}
