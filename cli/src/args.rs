//! The command line: subcommands, their arguments and the connection options.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Inspect, watch, dump and restore NATS JetStream Key/Value buckets, natskv's or any other.
///
/// Values are shown as JSON: decoded from MessagePack (natskv's default) or JSON, by the codec
/// the bucket's stored natskv schema names when it has one. Bytes that are neither are shown as
/// base64.
#[derive(Debug, Parser)]
#[command(name = "natskv", version, max_term_width = 100)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) connect: ConnectArgs,
    /// Print JSON for scripts (one object, or one object per line for lists) instead of tables.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// How to reach the server.
#[derive(Debug, Args)]
#[command(next_help_heading = "Connection")]
pub(crate) struct ConnectArgs {
    /// Server URL(s), comma-separated.
    #[arg(
        short,
        long,
        global = true,
        env = "NATS_URL",
        default_value = "nats://127.0.0.1:4222"
    )]
    pub(crate) server: String,
    /// A credentials file (JWT and NKey seed).
    #[arg(long, global = true, env = "NATS_CREDS", value_name = "FILE")]
    pub(crate) creds: Option<PathBuf>,
    /// User name (with --password).
    #[arg(long, global = true, env = "NATS_USER", requires = "password")]
    pub(crate) user: Option<String>,
    /// Password (with --user).
    #[arg(
        long,
        global = true,
        env = "NATS_PASSWORD",
        hide_env_values = true,
        requires = "user"
    )]
    pub(crate) password: Option<String>,
    /// An authentication token.
    #[arg(long, global = true, env = "NATS_TOKEN", hide_env_values = true)]
    pub(crate) token: Option<String>,
    /// A file holding an NKey seed.
    #[arg(long, global = true, env = "NATS_NKEY", value_name = "FILE")]
    pub(crate) nkey: Option<PathBuf>,
    /// A CA certificate (PEM) to verify the server with; implies TLS.
    #[arg(long, global = true, env = "NATS_CA", value_name = "FILE")]
    pub(crate) tlsca: Option<PathBuf>,
    /// A client certificate (PEM), with --tlskey.
    #[arg(
        long,
        global = true,
        env = "NATS_CERT",
        value_name = "FILE",
        requires = "tlskey"
    )]
    pub(crate) tlscert: Option<PathBuf>,
    /// The client certificate's private key (PEM), with --tlscert.
    #[arg(
        long,
        global = true,
        env = "NATS_KEY",
        value_name = "FILE",
        requires = "tlscert"
    )]
    pub(crate) tlskey: Option<PathBuf>,
    /// Require TLS.
    #[arg(long, global = true)]
    pub(crate) tls: bool,
    /// Start TLS before the server's greeting (servers with `handshake_first`).
    #[arg(long, global = true)]
    pub(crate) tlsfirst: bool,
    /// Seconds to wait for the connection and for each request.
    #[arg(long, global = true, default_value_t = 5.0, value_name = "SECONDS")]
    pub(crate) timeout: f64,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// List the buckets with their status.
    Buckets,
    /// Show one bucket's configuration, size and stored schema.
    Status {
        /// The bucket.
        bucket: String,
    },
    /// Show a key's current value (or the value at a revision).
    Get {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
        /// The revision to read instead of the current one.
        #[arg(long, value_name = "N")]
        revision: Option<u64>,
        /// Print the value's bytes as they are stored, nothing else.
        #[arg(long, conflicts_with = "json")]
        raw: bool,
    },
    /// Show every revision of a key the bucket keeps.
    History {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
    },
    /// List the keys that have a value.
    Keys {
        /// The bucket.
        bucket: String,
        /// Key filters (`site.*.device.>`); all keys without one.
        filters: Vec<String>,
    },
    /// Print the current entries, then every change, until interrupted.
    Watch {
        /// The bucket.
        bucket: String,
        /// Key filters; all keys without one.
        filters: Vec<String>,
        /// Start with every revision the bucket keeps, not only the current ones.
        #[arg(long, group = "start")]
        history: bool,
        /// Print only changes made from now on.
        #[arg(long, group = "start")]
        updates_only: bool,
        /// Start at this revision.
        #[arg(long, value_name = "N", group = "start")]
        from: Option<u64>,
    },
    /// Write entries as JSON Lines (key, revision, operation, created, value).
    Dump {
        /// The bucket.
        bucket: String,
        /// Key filters; all keys without one.
        filters: Vec<String>,
        /// Write to this file instead of standard output.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Every revision the bucket keeps, oldest first, instead of the current ones.
        #[arg(long)]
        history: bool,
        /// Include the delete and purge markers of deleted keys.
        #[arg(long)]
        deleted: bool,
    },
    /// Write the entries of a dump (JSON Lines) into a bucket.
    Load {
        /// The bucket.
        bucket: String,
        /// Read from this file instead of standard input.
        #[arg(short, long, value_name = "FILE")]
        input: Option<PathBuf>,
        /// Create the bucket when it does not exist.
        #[arg(long)]
        create: bool,
        /// With --create: how many revisions of each key to keep.
        #[arg(long, default_value_t = 1, value_name = "N", requires = "create")]
        history: i64,
    },
    /// Write a value: JSON, encoded as the bucket stores it (MessagePack by default).
    Put {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
        /// The value, as JSON (`'{"on":true}'`, `'"text"'`, `42`).
        value: String,
        /// Store the argument's bytes as they are, not as JSON.
        #[arg(long)]
        raw: bool,
    },
    /// Delete a key (a delete marker; history is kept).
    Del {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
    },
    /// Purge a key: remove its history, leaving a purge marker.
    Purge {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
    },
}
