//! Derive macros of natskv: `#[derive(KvBucket)]` and `#[derive(KvKey)]`. Use them through the
//! `natskv` facade, whose documentation opens with the full example.
//!
//! The macros parse a declaration into a typed model (`attr`, `ast`), check it (`check`, and the
//! key grammar and naming rules of `natskv_grammar::pattern`, the one definition the runtime uses too),
//! then expand it (`expand_bucket`, `expand_key`). Every problem is a spanned error collected in
//! one context (`ctxt`); with errors, a stub (`fallback`) is emitted beside them.

mod ast;
mod attr;
mod check;
mod ctxt;
mod expand_bucket;
mod expand_key;
mod fallback;
mod respan;
mod spans;
mod symbol;
mod types;

#[cfg(test)]
mod tests;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

/// Declares a NATS Key/Value bucket as a struct of typed key families.
///
/// ```ignore
/// use natskv::{Family, KvBucket, KvKey, Single};
///
/// #[derive(KvKey, Clone, Debug, PartialEq, Eq, Hash)]
/// pub struct DeviceKey { pub site: String, pub id: u32 }
///
/// #[derive(KvBucket)]
/// #[kv(bucket = "fleet", history = 5, ttl = "7d", storage = "file", replicas = 1)]
/// pub struct Fleet {
///     /// Latest reported state of each device.
///     #[kv(key = "site.{site}.device.{id}")]
///     pub devices: Family<DeviceKey, DeviceState>,
///     /// Global maintenance switch.
///     #[kv(key = "maintenance")]
///     pub maintenance: Single<bool>,
/// }
///
/// let fleet = Fleet::ensure(&nats).await?;
/// ```
///
/// # Bucket options: `#[kv(...)]` on the struct
///
/// | option | value | default |
/// |---|---|---|
/// | `bucket` | the bucket name (required): 1 to 255 of `A-Z a-z 0-9 - _` | |
/// | `description` | a string | none |
/// | `history` | revisions kept per key, `1..=64` | 1 |
/// | `ttl` | how long a value lives: `"500ms"`, `"30s"`, `"5m"`, `"2h"`, `"7d"`, `"1h30m"` | forever |
/// | `max_value_size` | the largest value: bytes, or `"64KiB"`, `"1MiB"`, `"1MB"` ... | unlimited |
/// | `max_bytes` | the largest bucket, same forms | unlimited |
/// | `storage` | `"file"` or `"memory"` | `"file"` |
/// | `replicas` | `1..=5` (more than one needs a cluster) | 1 |
/// | `compression` | `true` / `false` (bare `compression` means `true`) | `false` |
/// | `metadata(key = "value", ...)` | metadata entries | none |
/// | `limit_markers` | enables per-key TTLs; how long markers stay, such as `"1s"` | off |
/// | `codec` | the codec every family must use, such as `natskv::Json` | any |
/// | `crate` | the path natskv is reachable at, for a renamed dependency | `::natskv` |
/// | `mirror(...)` | makes the bucket a read-only mirror of one origin (see below); at most once | none |
/// | `source(...)` | makes the bucket an aggregate taking the keys of this origin; once per origin | none |
/// | `atomic` | allows transactions: writes to several keys stored all or nothing (nats-server 2.12+; bare means `true`) | `false` |
/// | `writable` | lets an aggregate take writes of its own (bare means `true`; only with `source`) | `false` |
/// | `removed = ["pattern", ...]` | families of earlier declarations this one removes from the stored schema (see `natskv::schema`) | none |
///
/// # Mirrors and aggregates (ADR-8)
///
/// `mirror(...)` and `source(...)` name an origin: `bucket` (required), then optionally `keys`
/// (key filters, where `*` stands for one token and a final `>` for the rest; every key when
/// left out), `api_prefix` (the JetStream API prefix of the origin's domain or account, such as
/// `"$JS.hub.API"`), `deliver_prefix` and `stream` (the origin's stream when it is not
/// `KV_<bucket>`). They become `natskv::Origin`s in `spec()`.
///
/// ```ignore
/// use natskv::{Family, KvBucket, MsgPack, ReadOnly};
///
/// /// A read-only copy of the Paris keys of `fleet`.
/// #[derive(KvBucket)]
/// #[kv(bucket = "fleet_paris", mirror(bucket = "fleet", keys = ["site.paris.>"]))]
/// pub struct FleetParis {
///     #[kv(key = "site.{site}.device.{id}")]
///     pub devices: Family<DeviceKey, DeviceState, MsgPack, ReadOnly>,
/// }
///
/// /// The devices of two fleets in one bucket, which also takes writes of its own.
/// #[derive(KvBucket)]
/// #[kv(bucket = "all_devices", source(bucket = "fleet"), source(bucket = "depot"), writable)]
/// pub struct AllDevices {
///     #[kv(key = "site.{site}.device.{id}")]
///     pub devices: Family<DeviceKey, DeviceState>,
/// }
/// ```
///
/// A mirror, and an aggregate without `writable`, take no writes: each of their families must
/// have the mode `natskv::ReadOnly` (`Family<K, V, MsgPack, ReadOnly>`), which has no write
/// methods. The origins are configuration (`open` reports drift, `ensure` updates them), not part of the schema.
///
/// # Fields: `#[kv(key = "pattern")]`
///
/// Each field is a `natskv::Family<K, V>` (every key of a pattern with parameters, keys of type
/// `K`, values of type `V`) or a `natskv::Single<V>` (one key), with the key pattern in
/// `#[kv(key = "...")]` (and `breaking` to opt into a value change older readers cannot decode;
/// see `natskv::schema`). A pattern is `.`-separated tokens of `A-Z a-z 0-9 - _ / =`, where a token
/// may be a whole parameter `{name}` naming a field of the key type, and the last token may be a
/// tail parameter `{name..}`: a `natskv::KeyPath` of one or more tokens, for keys of any depth
/// (`config.{path..}` holds `config.a` and `config.a.b.c`). Doc comments on the fields stay on
/// the fields.
///
/// # What is generated
///
/// Inherent functions on the struct: `spec() -> BucketSpec` (the options and the schema
/// of what it puts on the wire), `create`, `open`, `ensure(conn) -> Result<Self>`, `delete(conn)`,
/// `from_bucket(&Bucket)`, `bucket(&self)` and `status(&self)`.
///
/// # Checked at compile time
///
/// Unknown or repeated options, the bucket name, `history` and `replicas` ranges, durations and
/// sizes, the storage name, every pattern (empty tokens, characters keys do not allow, wildcards,
/// the reserved `_kv` prefix, braces, repeated parameters, a tail `{name..}` that is not last),
/// parameters the key type does not have and key-type fields the pattern does not use, a tail
/// whose field is not a `KeyPath` and a `KeyPath` that is not the tail, two families whose
/// patterns can match the same key (a tail matching any depth), field types that are not families, key and value types, per-key TTL without limit
/// markers, and a family whose codec is not the declared `codec`. For mirrors and aggregates:
/// origin bucket names and key filters (the runtime's rules), unknown or repeated origin
/// options, `mirror` together with `source`, a bucket that mirrors or aggregates itself,
/// `writable` on a mirror or without a `source`, and a family that can write in a read-only
/// bucket.
#[proc_macro_derive(KvBucket, attributes(kv))]
pub fn derive_kv_bucket(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand_bucket::derive(&input).into()
}

/// Makes a struct a key type: its fields are the parameters of a key pattern.
///
/// ```ignore
/// #[derive(KvKey, Clone, Debug, PartialEq, Eq, Hash)]
/// pub struct DeviceKey { pub site: String, pub id: u32 }
///
/// // With `#[kv(key = "site.{site}.device.{id}")] devices: Family<DeviceKey, DeviceState>`:
/// let paris = fleet.devices.keys(DeviceKey::filter().site("paris")).await?; // site.paris.device.*
/// ```
///
/// On a struct with named fields, each field is the parameter of the same name (`r#type` is
/// `{type}`); on a tuple struct with one field (`struct SessionId(String)`), the field binds to
/// the single parameter of a pattern whatever its name. Every field type must be a key token:
/// `String`, an integer, `bool`, `natskv::Encoded`, or a type implementing `natskv::KeyPart`; at
/// most one field may be a `natskv::KeyPath`, which fills the pattern's tail `{name..}`.
///
/// Generated: the `natskv::KvKey` impl, and a filter type named `<Struct>Filter` with
/// `<Struct>::filter()` and one setter per field (`value` for a tuple struct); unset parameters
/// match any value. A field spelled `KeyPath` adds `under(&prefix)`, which keeps the keys whose
/// path lies below `prefix`. The one container option is `#[kv(crate = "...")]` for a renamed dependency.
#[proc_macro_derive(KvKey, attributes(kv))]
pub fn derive_kv_key(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand_key::derive(&input).into()
}
