//! The names of the `#[kv(...)]` options, in one place.

/// The attribute's own name.
pub(crate) const KV: &str = "kv";

// Bucket (container) options.
pub(crate) const BUCKET: &str = "bucket";
pub(crate) const DESCRIPTION: &str = "description";
pub(crate) const HISTORY: &str = "history";
pub(crate) const TTL: &str = "ttl";
pub(crate) const MAX_VALUE_SIZE: &str = "max_value_size";
pub(crate) const MAX_BYTES: &str = "max_bytes";
pub(crate) const STORAGE: &str = "storage";
pub(crate) const REPLICAS: &str = "replicas";
pub(crate) const COMPRESSION: &str = "compression";
pub(crate) const METADATA: &str = "metadata";
pub(crate) const LIMIT_MARKERS: &str = "limit_markers";
pub(crate) const CODEC: &str = "codec";
pub(crate) const CRATE: &str = "crate";
pub(crate) const MIRROR: &str = "mirror";
pub(crate) const SOURCE: &str = "source";
pub(crate) const WRITABLE: &str = "writable";
pub(crate) const REPUBLISH: &str = "republish";
pub(crate) const PLACEMENT: &str = "placement";
pub(crate) const REMOVED: &str = "removed";
pub(crate) const ATOMIC: &str = "atomic";

/// Every bucket option, for "did you mean" and the list in an unknown-option error.
pub(crate) const BUCKET_OPTIONS: &[&str] = &[
    BUCKET,
    DESCRIPTION,
    HISTORY,
    TTL,
    MAX_VALUE_SIZE,
    MAX_BYTES,
    STORAGE,
    REPLICAS,
    COMPRESSION,
    METADATA,
    LIMIT_MARKERS,
    CODEC,
    CRATE,
    MIRROR,
    SOURCE,
    WRITABLE,
    ATOMIC,
    REPUBLISH,
    PLACEMENT,
    REMOVED,
];

// Options inside `mirror(...)` and `source(...)`: where the keys come from.
pub(crate) const ORIGIN_BUCKET: &str = "bucket";
pub(crate) const KEYS: &str = "keys";
pub(crate) const API_PREFIX: &str = "api_prefix";
pub(crate) const DELIVER_PREFIX: &str = "deliver_prefix";
pub(crate) const STREAM: &str = "stream";

/// Every option of an origin.
pub(crate) const ORIGIN_OPTIONS: &[&str] =
    &[ORIGIN_BUCKET, KEYS, API_PREFIX, DELIVER_PREFIX, STREAM];

// Options inside `republish(...)`.
pub(crate) const REPUBLISH_TO: &str = "to";
pub(crate) const HEADERS_ONLY: &str = "headers_only";

/// Every option of `republish(...)`.
pub(crate) const REPUBLISH_OPTIONS: &[&str] = &[REPUBLISH_TO, KEYS, HEADERS_ONLY];

// Options inside `placement(...)`.
pub(crate) const CLUSTER: &str = "cluster";
pub(crate) const TAGS: &str = "tags";

/// Every option of `placement(...)`.
pub(crate) const PLACEMENT_OPTIONS: &[&str] = &[CLUSTER, TAGS];

// Field options of a bucket.
pub(crate) const KEY: &str = "key";
pub(crate) const BREAKING: &str = "breaking";

/// Every field option of a bucket.
pub(crate) const FIELD_OPTIONS: &[&str] = &[KEY, BREAKING];

/// Every container option of a key type.
pub(crate) const KEY_TYPE_OPTIONS: &[&str] = &[CRATE];

/// The storage names.
pub(crate) const STORAGE_FILE: &str = "file";
pub(crate) const STORAGE_MEMORY: &str = "memory";
