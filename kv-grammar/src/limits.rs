//! The ranges of bucket options that the server or ADR-8 fix: checked by the derive macro when the
//! program is compiled (an error at the option) and by the runtime before any wire call.

/// The most revisions a bucket keeps per key (ADR-8).
pub const MAX_HISTORY: u8 = 64;

/// The most replicas a stream may have.
pub const MAX_REPLICAS: u8 = 5;

/// Why `value` is not a valid `option` in `min..=max`, as a sentence that says what to write;
/// `None` when it is.
pub fn out_of_range(option: &str, value: u64, min: u64, max: u64) -> Option<String> {
    (!(min..=max).contains(&value))
        .then(|| format!("`{option}` is {value}; it must be between {min} and {max}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_say_what_to_write() {
        assert_eq!(out_of_range("history", 64, 1, 64), None);
        assert_eq!(
            out_of_range("history", 65, 1, u64::from(MAX_HISTORY)).as_deref(),
            Some("`history` is 65; it must be between 1 and 64")
        );
        assert!(out_of_range("replicas", 0, 1, u64::from(MAX_REPLICAS)).is_some());
    }
}
