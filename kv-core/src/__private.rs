//! Support for the code `#[derive(KvBucket)]` and `#[derive(KvKey)]` generate. Not a public API:
//! anything here may change in any release.
//!
//! Generated code reaches everything through this module with absolute paths and UFCS only, so
//! it works whatever the user imported, under `#![no_implicit_prelude]`, beside a local
//! `type Result` or `mod natskv`, and through a renamed dependency (`#[kv(crate = "...")]`).
//!
//! The compile-time checks are const fns and marker traits: a const fn returns what is wrong and
//! the generated code panics with the message (so the error points at the user's tokens), and a
//! marker trait carries a `#[diagnostic::on_unimplemented]` message saying what to write.

pub use core::clone::Clone;
pub use core::convert::{From, Into};
pub use core::default::Default;
pub use core::fmt::{Debug, Formatter, Result as FmtResult};
pub use core::option::Option;
pub use core::result::Result as StdResult;
pub use std::string::String;
pub use std::time::Duration;

pub use crate::bucket::{Bucket, BucketStatus, Connection};
pub use crate::codec::Codec;
pub use crate::error::{Error, Result};
pub use crate::family::Family;
pub use crate::key::{
    ANY_PARAM, KeyError, KeyFilter, KeyPart, KeyPath, KvKey, ParamCheck, check_params, tail_count,
    tail_index,
};
pub use crate::mode::{Mode, PerKeyTtl, ReadOnly, ReadWrite};
pub use crate::schema::Schema;
pub use crate::single::Single;
pub use crate::spec::{BucketSpec, Storage};
pub use crate::stream_options::{Placement, Republish};
pub use crate::topology::Origin;
pub use crate::transaction::{Atomic, Reads, Transaction};

// ---------------------------------------------------------------------------------------------
// Bucket fields
// ---------------------------------------------------------------------------------------------

/// What a field of a `#[derive(KvBucket)]` struct is: a [`Family`] or a [`Single`].
///
/// The impls carry the bounds (`K: KvKey`, `C: Codec<V>`), so a key type that is not a key type
/// or a value the codec cannot store is reported as that, at the field's type.
#[diagnostic::on_unimplemented(
    message = "a bucket field must be natskv::Family<K, V> or natskv::Single<V>",
    label = "`{Self}` is not a key family",
    note = "use `Family<KeyType, ValueType>` for the keys of a pattern with parameters, \
            or `Single<ValueType>` for one key"
)]
pub trait BucketField: Sized {
    /// The key type (`()` for a [`Single`]).
    type Key: KvKey;
    /// The value type.
    type Value;
    /// The codec.
    type ValueCodec: Codec<Self::Value>;
    /// The access mode.
    type Mode: Mode;
    /// Whether the family may set per-key TTLs (it then needs a bucket with limit markers).
    const PER_KEY_TTL: bool;

    /// Binds the field's key pattern in `bucket`.
    ///
    /// # Errors
    /// [`Error::InvalidPattern`] when the pattern does not fit the key type (the derive checks it
    /// at compile time, so this does not happen in derived code).
    fn bind(bucket: &Bucket, pattern: &str) -> Result<Self>;

    /// The bucket the field was bound in.
    fn bucket(&self) -> &Bucket;

    /// Adds the field's family to a derived schema, opting into a breaking change of its
    /// values when the field says `breaking`.
    fn add_to_schema(schema: Schema, pattern: &str, breaking: bool) -> Schema {
        let schema = schema.family::<Self::Key, Self::Value, Self::ValueCodec>(pattern);
        if breaking {
            schema.allow_breaking(pattern)
        } else {
            schema
        }
    }
}

impl<K: KvKey, V, C: Codec<V>, M: Mode> BucketField for Family<K, V, C, M> {
    type Key = K;
    type Value = V;
    type ValueCodec = C;
    type Mode = M;
    const PER_KEY_TTL: bool = M::PER_KEY_TTL;

    fn bind(bucket: &Bucket, pattern: &str) -> Result<Self> {
        Family::bind(bucket, pattern)
    }

    fn bucket(&self) -> &Bucket {
        Family::bucket(self)
    }
}

impl<V, C: Codec<V>, M: Mode> BucketField for Single<V, C, M> {
    type Key = ();
    type Value = V;
    type ValueCodec = C;
    type Mode = M;
    const PER_KEY_TTL: bool = M::PER_KEY_TTL;

    fn bind(bucket: &Bucket, pattern: &str) -> Result<Self> {
        Single::bind(bucket, pattern)
    }

    fn bucket(&self) -> &Bucket {
        Family::bucket(Single::as_family(self))
    }
}

/// The modes a family may have in a bucket declared without limit markers: every mode but
/// [`PerKeyTtl`].
#[diagnostic::on_unimplemented(
    message = "per-key TTL needs a bucket declared with limit markers",
    label = "this family sets per-key TTLs (mode `{Self}`)",
    note = "add `limit_markers = \"1s\"` (how long the marker of an expired or removed key stays) \
            to the bucket's #[kv(...)], or use the default mode"
)]
pub trait WithoutLimitMarkers: Mode {}

impl WithoutLimitMarkers for ReadWrite {}
impl WithoutLimitMarkers for ReadOnly {}

/// Compiles only when mode `M` needs no limit markers.
pub const fn assert_without_limit_markers<M: WithoutLimitMarkers>() {}

/// The modes a family may have in a mirror: [`ReadOnly`] only. `C` is the family's codec, for
/// the message.
#[diagnostic::on_unimplemented(
    message = "this bucket is a mirror (read-only): give the family the mode natskv::ReadOnly, \
               `Family<K, V, {C}, ReadOnly>`",
    label = "this family writes (mode `{Self}`)",
    note = "a mirror copies its origin's keys and takes no writes of its own; write to the origin \
            bucket, through its own declaration. A `Single` is `Single<V, {C}, ReadOnly>`"
)]
pub trait InMirror<C>: Mode {}

impl<C> InMirror<C> for ReadOnly {}

/// Compiles only when mode `M` fits in a mirror.
pub const fn assert_read_only_in_mirror<M: InMirror<C>, C>() {}

/// The modes a family may have in an aggregate declared without `writable`: [`ReadOnly`] only.
#[diagnostic::on_unimplemented(
    message = "this bucket is an aggregate (read-only): give the family the mode natskv::ReadOnly, \
               `Family<K, V, {C}, ReadOnly>`",
    label = "this family writes (mode `{Self}`)",
    note = "an aggregate takes no writes of its own unless declared `writable` in the bucket's \
            #[kv(...)]. A `Single` is `Single<V, {C}, ReadOnly>`"
)]
pub trait InReadOnlyAggregate<C>: Mode {}

impl<C> InReadOnlyAggregate<C> for ReadOnly {}

/// Compiles only when mode `M` fits in an aggregate that is not writable.
pub const fn assert_read_only_in_aggregate<M: InReadOnlyAggregate<C>, C>() {}

/// A family codec `Self` that is the bucket's declared codec `D`.
#[diagnostic::on_unimplemented(
    message = "this family's codec `{Self}` is not the bucket's codec `{D}`",
    label = "this family is encoded with `{Self}`",
    note = "give the family the bucket's codec as its codec type parameter, \
            `Family<K, V, {D}>` or `Single<V, {D}>`, or remove `codec` from the bucket's #[kv(...)]"
)]
pub trait SameCodec<D> {}

impl<C> SameCodec<C> for C {}

/// Compiles only when the family codec `C` is the bucket codec `D`.
pub const fn assert_same_codec<C: SameCodec<D>, D>() {}

// ---------------------------------------------------------------------------------------------
// Key types
// ---------------------------------------------------------------------------------------------

/// Fixes parameter `index` of `filter` to the token `write` writes for `value`.
///
/// A generated filter setter passes `<FieldType as KeyPart>::write_token` as `write`, so the
/// `KeyPart` bound is checked (and reported) where the field type is written, once, rather than
/// again through [`KeyFilter::with`]'s own bound.
pub fn filter_with<K: KvKey, T>(
    filter: KeyFilter<K>,
    index: usize,
    value: &T,
    write: fn(&T, &mut String) -> Result<(), KeyError>,
) -> KeyFilter<K> {
    /// A value with the function that writes it as a token.
    struct Written<'a, T> {
        value: &'a T,
        write: fn(&T, &mut String) -> Result<(), KeyError>,
    }

    impl<T> KeyPart for Written<'_, T> {
        fn write_token(&self, out: &mut String) -> Result<(), KeyError> {
            (self.write)(self.value, out)
        }

        fn parse_token(token: &str) -> Result<Self, KeyError> {
            Err(KeyError::unparsable(token, "a filter value"))
        }
    }

    filter.with(index, &Written { value, write })
}

// ---------------------------------------------------------------------------------------------
// Const checks and messages
// ---------------------------------------------------------------------------------------------

/// A message built in a const context, for a `panic!` in generated code. Text beyond the
/// capacity is dropped.
#[derive(Debug, Clone, Copy)]
pub struct Message {
    buf: [u8; Message::CAPACITY],
    len: usize,
}

impl Message {
    const CAPACITY: usize = 512;

    /// An empty message.
    pub const fn new() -> Self {
        Message {
            buf: [0; Message::CAPACITY],
            len: 0,
        }
    }

    /// Appends `text`, whole or not at all.
    #[must_use]
    pub const fn push(mut self, text: &str) -> Self {
        let bytes = text.as_bytes();
        if self.len + bytes.len() > Message::CAPACITY {
            return self;
        }
        let mut i = 0;
        while i < bytes.len() {
            self.buf[self.len + i] = bytes[i];
            i += 1;
        }
        self.len += bytes.len();
        self
    }

    /// The text.
    pub const fn as_str(&self) -> &str {
        match core::str::from_utf8(self.buf.split_at(self.len).0) {
            Ok(text) => text,
            Err(_) => "invalid declaration",
        }
    }
}

impl Default for Message {
    fn default() -> Self {
        Message::new()
    }
}

/// The message for a key-type parameter the pattern does not use; `key_type` describes the key
/// type (`` `DeviceKey` ``).
pub const fn unused_param_message(key_type: &str, param: &str, pattern: &str) -> Message {
    Message::new()
        .push("the key type ")
        .push(key_type)
        .push(" has a field `")
        .push(param)
        .push("` that the key pattern \"")
        .push(pattern)
        .push("\" does not use; add `{")
        .push(param)
        .push("}` to the pattern, or remove the field from the key type")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_fit_or_say_why_not() {
        assert_eq!(
            check_params(&["site", "id"], None, &["id", "site"], false),
            ParamCheck::Fits
        );
        assert_eq!(
            check_params(&["site"], None, &["site", "id"], false),
            ParamCheck::Missing(1)
        );
        assert_eq!(
            check_params(&["site", "id", "x"], None, &["site", "id"], false),
            ParamCheck::Unused(2)
        );
        assert_eq!(
            check_params(&[ANY_PARAM], None, &["name"], false),
            ParamCheck::Fits
        );
        assert_eq!(
            check_params(&[ANY_PARAM], None, &[], false),
            ParamCheck::AnyParamCount
        );
        assert_eq!(
            check_params(&[ANY_PARAM], None, &["a", "b"], false),
            ParamCheck::AnyParamCount
        );
        assert_eq!(check_params(&[], None, &[], false), ParamCheck::Fits);
        assert_eq!(
            check_params(&[], None, &["x"], false),
            ParamCheck::Missing(0)
        );
    }

    #[test]
    fn messages() {
        let long = "x".repeat(600);
        assert_eq!(
            Message::new().push("a").push(&long).push("b").as_str(),
            "ab"
        );
        let text = unused_param_message("`DeviceKey`", "extra", "site.{site}");
        assert!(text.as_str().contains("add `{extra}`"), "{}", text.as_str());
    }
}
