//! The wire: the only module that speaks async-nats. It connects, finds and lists buckets, and
//! turns what the server sends into [`Entry`](crate::entry::Entry)s and command [`Error`]s.

mod bucket;
mod errors;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::{self, kv, stream};
use async_nats::{Client, ConnectOptions, Event, ServerError};
use futures::TryStreamExt;
use natskv_core::SCHEMA_METADATA_KEY;
use time::OffsetDateTime;

pub(crate) use bucket::{Bucket, Start};

use crate::args::ConnectArgs;
use crate::error::{Error, ErrorKind, Result};

/// A connection to a server, with its JetStream context.
#[derive(Debug)]
pub(crate) struct Nats {
    client: Client,
    jetstream: jetstream::Context,
    /// The last permission violation the server reported: a refused publish or subscribe
    /// shows up only as a request that times out, and this says why.
    refused: Arc<Mutex<Option<String>>>,
}

/// A bucket's configuration and size, read from its stream.
#[derive(Debug, Clone)]
pub(crate) struct BucketInfo {
    /// The bucket's name.
    pub(crate) name: String,
    /// The stream's description.
    pub(crate) description: String,
    /// How many entries (revisions and markers) the bucket holds.
    pub(crate) values: u64,
    /// How many bytes the bucket holds.
    pub(crate) bytes: u64,
    /// Revisions kept per key.
    pub(crate) history: i64,
    /// How long entries are kept; zero for ever.
    pub(crate) ttl: Duration,
    /// `file` or `memory`.
    pub(crate) storage: &'static str,
    /// Replicas of the stream.
    pub(crate) replicas: usize,
    /// When the bucket was created.
    pub(crate) created: OffsetDateTime,
    /// The stored natskv schema (`natskv.schema`), as text.
    pub(crate) schema: Option<String>,
}

impl BucketInfo {
    /// The bucket of the stream `info` describes, or `None` when it is not a Key/Value stream.
    fn of_stream(info: &stream::Info) -> Option<Self> {
        let name = info.config.name.strip_prefix("KV_")?;
        let config = &info.config;
        Some(Self {
            name: name.to_owned(),
            description: config.description.clone().unwrap_or_default(),
            values: info.state.messages,
            bytes: info.state.bytes,
            history: config.max_messages_per_subject,
            ttl: config.max_age,
            storage: match config.storage {
                stream::StorageType::File => "file",
                stream::StorageType::Memory => "memory",
            },
            replicas: config.num_replicas,
            created: info.created,
            schema: config.metadata.get(SCHEMA_METADATA_KEY).cloned(),
        })
    }
}

impl Nats {
    /// Connects as `args` say.
    pub(crate) async fn connect(args: &ConnectArgs) -> Result<Self> {
        let timeout = Duration::try_from_secs_f64(args.timeout)
            .ok()
            .filter(|t| !t.is_zero())
            .ok_or_else(|| Error::usage(format!("invalid --timeout {}", args.timeout)))?;
        let mut options = match &args.creds {
            Some(path) => ConnectOptions::with_credentials_file(path)
                .await
                .map_err(|e| Error::io(format!("cannot read credentials {}", path.display()), e))?,
            None => ConnectOptions::new(),
        };
        if let (Some(user), Some(password)) = (&args.user, &args.password) {
            options = options.user_and_password(user.clone(), password.clone());
        }
        if let Some(token) = &args.token {
            options = options.token(token.clone());
        }
        if let Some(path) = &args.nkey {
            let seed = std::fs::read_to_string(path)
                .map_err(|e| Error::io(format!("cannot read nkey {}", path.display()), e))?;
            let seed = seed.trim();
            // Checked here: async-nats would only fail at the server's challenge, as a refusal.
            if let Err(error) = nkeys::KeyPair::from_seed(seed) {
                let message = format!(
                    "cannot read nkey {}: not an NKey seed ({error})",
                    path.display()
                );
                return Err(Error::new(ErrorKind::Io, message));
            }
            options = options.nkey(seed.to_owned());
        }
        if let Some(ca) = &args.tlsca {
            options = options.add_root_certificates(ca.clone()).require_tls(true);
        }
        if let (Some(cert), Some(key)) = (&args.tlscert, &args.tlskey) {
            options = options
                .add_client_certificate(cert.clone(), key.clone())
                .require_tls(true);
        }
        if args.tls {
            options = options.require_tls(true);
        }
        if args.tlsfirst {
            options = options.tls_first();
        }
        let refused = Arc::new(Mutex::new(None));
        let seen = Arc::clone(&refused);
        let client = options
            .event_callback(move |event| {
                if let Event::ServerError(ServerError::Other(text)) = event
                    && text.to_ascii_lowercase().contains("permissions violation")
                    && let Ok(mut last) = seen.lock()
                {
                    *last = Some(text);
                }
                async {}
            })
            .name("natskv-cli")
            .connection_timeout(timeout)
            .request_timeout(Some(timeout))
            .connect(args.server.as_str())
            .await
            .map_err(|e| errors::wire(format!("cannot connect to {}", args.server), e))?;
        let jetstream = jetstream::new(client.clone());
        Ok(Self {
            client,
            jetstream,
            refused,
        })
    }

    /// `error` as a refusal when it is a timeout and the server reported a permission
    /// violation: the operation was not allowed, not lost.
    pub(crate) fn explain(&self, error: Error) -> Error {
        if error.kind() != ErrorKind::Connection {
            return error;
        }
        match self.refused.lock().ok().and_then(|last| last.clone()) {
            Some(text) => Error::with_source(ErrorKind::Permission, "permission denied", error)
                .with_note(text),
            None => error,
        }
    }

    /// The bucket `name`.
    pub(crate) async fn bucket(&self, name: &str) -> Result<Bucket> {
        check_bucket_name(name)?;
        let store = self.jetstream.get_key_value(name).await.map_err(|e| {
            let error = errors::wire(format!("cannot open bucket `{name}`"), e);
            if error.kind() == ErrorKind::NotFound {
                Error::new(ErrorKind::NotFound, format!("bucket `{name}` not found"))
            } else {
                error
            }
        })?;
        Bucket::new(self.client.clone(), self.jetstream.clone(), store)
    }

    /// Creates the bucket `name` keeping `history` revisions per key, with defaults otherwise.
    pub(crate) async fn create_bucket(&self, name: &str, history: i64) -> Result<Bucket> {
        check_bucket_name(name)?;
        if !(1..=64).contains(&history) {
            return Err(Error::usage(format!(
                "invalid --history {history}: a bucket keeps 1 to 64 revisions per key"
            )));
        }
        let store = self
            .jetstream
            .create_key_value(kv::Config {
                bucket: name.to_owned(),
                history,
                ..kv::Config::default()
            })
            .await
            .map_err(|e| errors::wire(format!("cannot create bucket `{name}`"), e))?;
        Bucket::new(self.client.clone(), self.jetstream.clone(), store)
    }

    /// Every bucket on the server, by name.
    pub(crate) async fn buckets(&self) -> Result<Vec<BucketInfo>> {
        let streams: Vec<stream::Info> = self
            .jetstream
            .streams()
            .try_collect()
            .await
            .map_err(|e| errors::wire("cannot list buckets", e))?;
        let mut buckets: Vec<BucketInfo> =
            streams.iter().filter_map(BucketInfo::of_stream).collect();
        buckets.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(buckets)
    }
}

fn check_bucket_name(name: &str) -> Result<()> {
    natskv_core::names::validate_bucket_name(name).map_err(|e| Error::usage(e.to_string()))
}
