//! The Key/Value protocol on the wire (ADR-8), spoken by natskv itself over async-nats's client
//! and JetStream context: writes with their headers and acknowledgements, reads by direct get
//! and batch direct get, ordered consumers for listings and watches, the bucket's backing
//! stream (its configuration, sources and administration), and async-nats's errors turned into
//! facts about the bucket. This is the one layer that names async-nats's JetStream types;
//! outside it, kv-core speaks natskv's own (the connection a user hands in aside).
//!
//! # Why natskv does not wrap `async_nats::jetstream::kv::Store`
//!
//! The store is a fine client for untyped buckets, but several of natskv's guarantees need the
//! protocol underneath it. Keep this layer when you are tempted to replace it by the store:
//! - **Meta-only and filtered listings.** `keys()` over a partial key (`site.paris.device.*`),
//!   several filters at once, without the values: the store lists every key of the bucket.
//! - **No consumer left behind.** Histories and batch reads use ADR-31 batch direct gets with no
//!   consumer at all; listings, watches and caches delete theirs when they end or are dropped
//!   (`janitor`). The store leaves a consumer per listing until the server times it out, and a
//!   loop of listings reaches the server's consumer limit.
//! - **Gap-free resume.** A watch whose consumer stops is restarted after the last revision it
//!   delivered, so nothing is skipped or repeated; it notices a bucket deleted and created again.
//! - **Exactly-once writes.** Every write carries its own message id and is resent with that id
//!   when nobody answered, inside the bucket's duplicate window (`raw`, `bulk`).
//! - **Errors decided from facts.** No responders, timeouts and the server's error codes become
//!   `BucketNotFound`, `Unavailable`, `WrongRevision`, ... only from what the server said
//!   (`classify`).
//! - **Transactions.** Atomic batches (ADR-50, `batch`) and `multi_last` reads pinned to one
//!   revision (`direct`): the store has neither.
//! - **Speed.** One pass from a message to an entry (`delivery`), pipelined writes (`bulk`), and
//!   `multi_last` batch reads for `get_many` (`direct`).
//!
//! # What lives where
//! - `admin`: the backing stream administered (create, update, read, list, purge, delete) and
//!   its info as a [`BucketStatus`](crate::BucketStatus).
//! - `stream`: a [`BucketSpec`](crate::BucketSpec) as the stream's configuration, and drift.
//! - `source`: an [`Origin`](crate::Origin) as a mirror's or aggregate's stream source.
//! - `probe`: the stream and consumer facts a watch checks so it never goes silent.
//! - `raw`, `bulk`, `direct`, `scan`, `delivery`: writes, reads, consumers and their messages.
//! - `batch`: atomic batches (ADR-50), the commits of transactions.
//! - `classify`: errors decided from facts; `janitor`: consumers of dropped readers deleted.

pub(crate) mod admin;
pub(crate) mod batch;
pub(crate) mod bulk;
pub(crate) mod classify;
pub(crate) mod delivery;
pub(crate) mod direct;
pub(crate) mod janitor;
pub(crate) mod probe;
pub(crate) mod raw;
pub(crate) mod scan;
pub(crate) mod source;
pub(crate) mod stream;
