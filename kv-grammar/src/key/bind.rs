//! Binding a key type to a pattern (which parameter is which, the key path on the tail), and
//! rendering a key into its pattern and parsing it back: the exact inverse.

use super::{ANY_PARAM, BindError, KeyError, KeyErrorReason, KvKey};
use crate::names::{RESERVED_PREFIX, validate_key, validate_path, validate_token};
use crate::pattern::KeyPattern;

/// Whether two strings are equal, in a const context.
const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

const fn contains(list: &[&str], name: &str) -> bool {
    let mut i = 0;
    while i < list.len() {
        if str_eq(list[i], name) {
            return true;
        }
        i += 1;
    }
    false
}

/// The index of the first `true` in `tails` (a key type's [`KeyPart::IS_PATH`](super::KeyPart::IS_PATH) per parameter, in
/// declaration order): its [`KvKey::TAIL`].
pub const fn tail_index(tails: &[bool]) -> Option<usize> {
    let mut i = 0;
    while i < tails.len() {
        if tails[i] {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// How many of a key type's parameters are key paths; more than one cannot fit any pattern,
/// which has at most one tail parameter.
pub const fn tail_count(tails: &[bool]) -> usize {
    let (mut i, mut count) = (0, 0);
    while i < tails.len() {
        if tails[i] {
            count += 1;
        }
        i += 1;
    }
    count
}

/// How a key type's parameters fit a pattern's: see [`check_params`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamCheck {
    /// They fit.
    Fits,
    /// The pattern parameter at this index (pattern order) is not a parameter of the key type.
    Missing(usize),
    /// The key-type parameter at this index is not used by the pattern.
    Unused(usize),
    /// A single-value key type (`[ANY_PARAM]`) and a pattern without exactly one parameter.
    AnyParamCount,
    /// The pattern parameter at this index (pattern order) is a tail `{name..}`, and the
    /// key-type parameter it binds to is not a [`KeyPath`](super::KeyPath).
    NotAPath(usize),
    /// The pattern parameter at this index (pattern order) is one token `{name}`, and the
    /// key-type parameter it binds to is a [`KeyPath`](super::KeyPath).
    NotATail(usize),
}

const fn position(list: &[&str], name: &str) -> Option<usize> {
    let mut i = 0;
    while i < list.len() {
        if str_eq(list[i], name) {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// How a key type's parameters fit a pattern's, as a const fn: every pattern parameter is a
/// key-type parameter and the reverse, a single-value key type ([`ANY_PARAM`]) has a pattern
/// with exactly one parameter, and the key type's [`KeyPath`](super::KeyPath) (`key_tail`, its [`KvKey::TAIL`])
/// is the pattern's tail parameter (`pattern_tail`: whether its last parameter is `{name..}`).
/// [`bind_params`] applies it at run time; the derive at compile time, where it can see both.
pub const fn check_params(
    key_params: &[&str],
    key_tail: Option<usize>,
    pattern_params: &[&str],
    pattern_tail: bool,
) -> ParamCheck {
    let any = key_params.len() == 1 && str_eq(key_params[0], ANY_PARAM);
    if any && pattern_params.len() != 1 {
        return ParamCheck::AnyParamCount;
    }
    let mut i = 0;
    while i < pattern_params.len() {
        let bound = if any {
            Some(0)
        } else {
            position(key_params, pattern_params[i])
        };
        let Some(j) = bound else {
            return ParamCheck::Missing(i);
        };
        let is_path = matches!(key_tail, Some(t) if t == j);
        let is_tail = pattern_tail && i + 1 == pattern_params.len();
        if is_tail && !is_path {
            return ParamCheck::NotAPath(i);
        }
        if is_path && !is_tail {
            return ParamCheck::NotATail(i);
        }
        i += 1;
    }
    let mut j = 0;
    while j < key_params.len() && !any {
        if !contains(pattern_params, key_params[j]) {
            return ParamCheck::Unused(j);
        }
        j += 1;
    }
    ParamCheck::Fits
}

/// Binds a key type's parameters to a pattern's: for each pattern parameter (pattern order), its
/// index in [`K::PARAMS`](KvKey::PARAMS). A key type of exactly `[ANY_PARAM]` binds to a
/// pattern's single parameter whatever its name. The rules are [`check_params`]'s.
pub fn bind_params<K: KvKey>(pattern: &KeyPattern) -> Result<Vec<usize>, BindError> {
    bind_names(pattern, K::PARAMS, K::TAIL)
}

pub(super) fn bind_names(
    pattern: &KeyPattern,
    key_params: &[&str],
    key_tail: Option<usize>,
) -> Result<Vec<usize>, BindError> {
    let pattern_params: Vec<&str> = pattern.params().collect();
    let name = |list: &[&str], index: usize| {
        list.get(index)
            .map_or_else(String::new, |p| (*p).to_owned())
    };
    let pattern_tail = pattern.tail().is_some();
    match check_params(key_params, key_tail, &pattern_params, pattern_tail) {
        ParamCheck::Fits => {}
        ParamCheck::Missing(i) => {
            return Err(BindError::MissingParam {
                param: name(&pattern_params, i),
            });
        }
        ParamCheck::Unused(j) => {
            return Err(BindError::UnusedParam {
                param: name(key_params, j),
            });
        }
        ParamCheck::AnyParamCount => {
            return Err(BindError::AnyParamCount {
                pattern_params: pattern_params.len(),
            });
        }
        ParamCheck::NotAPath(i) => {
            return Err(BindError::NotAPath {
                param: name(&pattern_params, i),
            });
        }
        ParamCheck::NotATail(i) => {
            return Err(BindError::NotATail {
                param: name(&pattern_params, i),
            });
        }
    }
    if key_params == [ANY_PARAM] {
        return Ok(vec![0]);
    }
    Ok(pattern_params
        .iter()
        .map(|name| {
            key_params
                .iter()
                .position(|p| p == name)
                .unwrap_or_default()
        })
        .collect())
}

/// Names an error after parameter `index` of `K`.
pub(super) fn in_param<K: KvKey>(error: KeyError, index: usize) -> KeyError {
    match K::PARAMS.get(index) {
        Some(name) => error.in_param(name),
        None => error,
    }
}

/// Checks that `map` binds `pattern` and `K` one to one, the key type's path to the pattern's
/// tail, as [`bind_params`] does.
pub(super) fn check_map<K: KvKey>(pattern: &KeyPattern, map: &[usize]) -> Result<(), KeyError> {
    let one_to_one = map.len() == pattern.param_count()
        && map.len() == K::PARAMS.len()
        && map
            .iter()
            .enumerate()
            .all(|(i, &index)| index < map.len() && !map.iter().take(i).any(|&m| m == index));
    let tail = pattern.tail().and(map.last().copied());
    if one_to_one && tail == K::TAIL {
        Ok(())
    } else {
        Err(KeyError::binding_mismatch())
    }
}

/// Runs `write`, then checks that it appended exactly one valid token to `out` (a valid key
/// path when `path`).
pub(super) fn write_part(
    out: &mut String,
    path: bool,
    write: impl FnOnce(&mut String) -> Result<(), KeyError>,
) -> Result<(), KeyError> {
    let start = out.len();
    write(out)?;
    let token = out.get(start..).unwrap_or_default();
    let valid = if path {
        validate_path(token)
    } else {
        validate_token(token)
    };
    valid.map_err(|cause| KeyError::invalid_token(token, cause))
}

/// Whether parameter `index` of `K` is its key path.
pub(super) fn is_path<K: KvKey>(index: usize) -> bool {
    K::TAIL == Some(index)
}

/// Renders `key` into `pattern`; `map` comes from [`bind_params`] for this pattern and `K`.
///
/// Each parameter's token is validated; with the pattern's literals (checked when it was
/// parsed) that makes a valid key of the pattern's shape, save for the reserved `_kv` prefix a
/// first parameter could bring, which is checked here. Every key read or written is rendered
/// here, so the whole key is checked again only in debug builds.
pub fn render_key<K: KvKey>(
    pattern: &KeyPattern,
    map: &[usize],
    key: &K,
) -> Result<String, KeyError> {
    check_map::<K>(pattern, map)?;
    let mut out = String::with_capacity(pattern.as_str().len() + 16);
    pattern.render_into(&mut out, |i, out| {
        let index = map.get(i).copied().ok_or_else(KeyError::binding_mismatch)?;
        write_part(out, is_path::<K>(index), |out| key.write_param(index, out))
            .map_err(|e| in_param::<K>(e, index))
    })?;
    // Every parameter token was checked as it was written, and the literal tokens with the
    // pattern, so the key is valid and has the pattern's shape by construction; only the
    // reserved prefix, which a first parameter could carry, is left to check.
    if out.starts_with(RESERVED_PREFIX)
        && let Err(cause) = validate_key(&out)
    {
        return Err(KeyError::new(KeyErrorReason::InvalidKey {
            key: out,
            cause,
        }));
    }
    debug_assert!(validate_key(&out).is_ok() && pattern.match_key(&out).is_some());
    Ok(out)
}

/// Parses `key` into `K`: the key must have the pattern's shape, and each parameter token must be
/// the canonical text of its type. `map` comes from [`bind_params`] for this pattern and `K`.
pub fn parse_key<K: KvKey>(pattern: &KeyPattern, map: &[usize], key: &str) -> Result<K, KeyError> {
    let not_matching = || {
        KeyError::new(KeyErrorReason::NotMatching {
            key: key.to_owned(),
            pattern: pattern.as_str().to_owned(),
        })
    };
    // `match_key` checks every token (literals equal, parameters valid tokens); only the
    // reserved prefix, which a first parameter could carry, is left to check.
    if key.starts_with(RESERVED_PREFIX) {
        return Err(not_matching());
    }
    check_map::<K>(pattern, map)?;
    // The tokens go straight into the key type's order, on the stack for the usual few.
    let mut inline = [""; INLINE_PARAMS];
    let mut spilled = Vec::new();
    let ordered: &mut [&str] = if map.len() <= INLINE_PARAMS {
        &mut inline[..map.len()]
    } else {
        spilled.resize(map.len(), "");
        &mut spilled
    };
    let matched = pattern.match_params(key, |i, token| {
        if let Some(slot) = map.get(i).and_then(|&index| ordered.get_mut(index)) {
            *slot = token;
        }
    });
    if !matched {
        return Err(not_matching());
    }
    K::from_tokens(ordered)
}

/// Key parameters parsed without a heap allocation; keys with more use a `Vec`.
const INLINE_PARAMS: usize = 8;
