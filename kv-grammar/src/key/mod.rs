//! Typed keys: how a Rust value becomes the parameters of a [`KeyPattern`], and back.
//!
//! A key type ([`KvKey`]) names its parameters; each parameter's value ([`KeyPart`]) is written as
//! exactly one key token, validated before it is used, so a value can never change the shape of
//! a key. The one exception is declared in the pattern: a tail parameter `{name..}` takes a
//! [`KeyPath`] of one or more tokens. Parsing is the exact inverse of rendering.
//!
//! [`KeyPattern`]: crate::pattern::KeyPattern

/// The parameter name of a key type that has one unnamed parameter (`String`, integers, `bool`,
/// [`Encoded`]): a key type whose [`KvKey::PARAMS`] is exactly `[ANY_PARAM]` binds to the single
/// parameter of a pattern, whatever its name.
pub const ANY_PARAM: &str = "*";

mod bind;
mod encoded;
mod error;
mod filter;
mod part;
mod path;
mod traits;

pub use bind::{
    ParamCheck, bind_params, check_params, parse_key, render_key, tail_count, tail_index,
};
pub use encoded::Encoded;
pub use error::{BindError, KeyError, KeyErrorReason};
pub use filter::KeyFilter;
pub use path::KeyPath;
pub use traits::{KeyPart, KvKey};

#[cfg(test)]
mod tests;
