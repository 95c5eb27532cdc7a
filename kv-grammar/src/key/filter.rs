//! [`KeyFilter`]: a partial key, each parameter fixed or open, as a subject filter.

use std::fmt;
use std::marker::PhantomData;

use super::bind::{check_map, in_param, is_path, write_part};
use super::{KeyError, KeyErrorReason, KeyPart, KeyPath, KvKey};
use crate::names::validate_filter;
use crate::pattern::KeyPattern;

/// A partial key of type `K`, for filtering: each parameter is fixed to a value or left open.
///
/// Setting a value that cannot be a key token does not panic: the first such error is kept and
/// returned by [`to_subject_filter`](KeyFilter::to_subject_filter).
pub struct KeyFilter<K> {
    fixed: Vec<Option<String>>,
    error: Option<KeyError>,
    key: PhantomData<fn() -> K>,
}

impl<K: KvKey> KeyFilter<K> {
    /// A filter matching every key of the pattern.
    #[must_use]
    pub fn any() -> Self {
        Self {
            fixed: vec![None; K::PARAMS.len()],
            error: None,
            key: PhantomData,
        }
    }

    /// Fixes parameter `param_index` (an index into [`KvKey::PARAMS`]) to `value`.
    #[must_use]
    pub fn with<P: KeyPart>(mut self, param_index: usize, value: &P) -> Self {
        let mut token = String::new();
        let written = match self.fixed.get_mut(param_index) {
            Some(slot) => write_part(&mut token, is_path::<K>(param_index), |out| {
                value.write_token(out)
            })
            .map(|()| *slot = Some(token)),
            None => Err(KeyError::no_such_param(param_index, K::PARAMS.len())),
        };
        if let Err(error) = written {
            self.error
                .get_or_insert_with(|| in_param::<K>(error, param_index));
        }
        self
    }

    /// Keeps only the keys whose path (the key type's [`KeyPath`](super::KeyPath), the pattern's tail
    /// `{name..}`) lies under `prefix`: `prefix` and one or more tokens more. For
    /// `config.{path..}` and the prefix `eu.paris` that is the filter `config.eu.paris.>`,
    /// which holds `config.eu.paris.limits` but not `config.eu.paris` itself (fix the path with
    /// [`with`](Self::with) for that key).
    ///
    /// Only a key type with a `KeyPath` has it: on another, it does not compile (when the
    /// program is built).
    #[must_use]
    pub fn under(mut self, prefix: &KeyPath) -> Self {
        const {
            assert!(
                K::TAIL.is_some(),
                "KeyFilter::under needs a key type with a natskv::KeyPath parameter"
            );
        }
        if let Some(slot) = K::TAIL.and_then(|index| self.fixed.get_mut(index)) {
            *slot = Some(format!("{prefix}.>"));
        }
        self
    }

    /// Whether no parameter is fixed.
    pub fn is_any(&self) -> bool {
        self.error.is_none() && self.fixed.iter().all(Option::is_none)
    }

    /// The subject filter for `pattern`: fixed parameters as their tokens, open ones as `*`.
    /// `map` comes from [`bind_params`](super::bind_params) for this pattern and `K`.
    pub fn to_subject_filter(
        &self,
        pattern: &KeyPattern,
        map: &[usize],
    ) -> Result<String, KeyError> {
        if let Some(error) = &self.error {
            return Err(error.clone());
        }
        check_map::<K>(pattern, map)?;
        let fixed = map
            .iter()
            .map(|&index| self.fixed.get(index).map(Option::as_deref))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(KeyError::binding_mismatch)?;
        let filter = pattern.filter(&fixed);
        match validate_filter(&filter) {
            Ok(()) => Ok(filter),
            Err(cause) => Err(KeyError::new(KeyErrorReason::InvalidKey {
                key: filter,
                cause,
            })),
        }
    }
}

impl<K: KvKey> Default for KeyFilter<K> {
    fn default() -> Self {
        Self::any()
    }
}

impl<K> Clone for KeyFilter<K> {
    fn clone(&self) -> Self {
        Self {
            fixed: self.fixed.clone(),
            error: self.error.clone(),
            key: PhantomData,
        }
    }
}

impl<K> fmt::Debug for KeyFilter<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyFilter")
            .field("fixed", &self.fixed)
            .field("error", &self.error)
            .finish()
    }
}

impl<K: KvKey> From<&K> for KeyFilter<K> {
    fn from(key: &K) -> Self {
        let mut filter = Self::any();
        for (index, slot) in filter.fixed.iter_mut().enumerate() {
            let mut token = String::new();
            match write_part(&mut token, is_path::<K>(index), |out| {
                key.write_param(index, out)
            }) {
                Ok(()) => *slot = Some(token),
                Err(error) => {
                    filter
                        .error
                        .get_or_insert_with(|| in_param::<K>(error, index));
                }
            }
        }
        filter
    }
}
