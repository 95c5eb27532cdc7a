//! Subject filters: how a union of filters becomes what the consumer can take, and matching.

/// Splits the requested subject filters into what the consumer filters on and what is checked
/// here. JetStream refuses overlapping filters on one consumer: filters covered by another are
/// dropped, and when some still overlap the consumer gets one filter covering them all and the
/// exact union is checked on each entry.
pub(crate) fn plan(filters: Vec<String>) -> (Vec<String>, Option<Vec<String>>) {
    let mut kept: Vec<String> = Vec::with_capacity(filters.len());
    for filter in filters {
        if kept.iter().any(|k| covers(k, &filter)) {
            continue;
        }
        kept.retain(|k| !covers(&filter, k));
        kept.push(filter);
    }
    let overlapping = kept
        .iter()
        .enumerate()
        .any(|(i, a)| kept.iter().skip(i + 1).any(|b| overlaps(a, b)));
    if !overlapping {
        return (kept, None);
    }
    let wide = kept
        .iter()
        .skip(1)
        .fold(kept[0].clone(), |wide, f| widen(&wide, f));
    (vec![wide], Some(kept))
}

/// Whether every subject `b` matches is matched by `a`.
fn covers(a: &str, b: &str) -> bool {
    let (mut a, mut b) = (a.split('.'), b.split('.'));
    loop {
        match (a.next(), b.next()) {
            (None, None) | (Some(">"), Some(_)) => return true,
            (Some(x), Some(y)) if y != ">" && (x == "*" || x == y) => {}
            _ => return false,
        }
    }
}

/// Whether some subject matches both `a` and `b`.
fn overlaps(a: &str, b: &str) -> bool {
    let (mut a, mut b) = (a.split('.'), b.split('.'));
    loop {
        match (a.next(), b.next()) {
            (None, None) | (Some(">"), Some(_)) | (Some(_), Some(">")) => return true,
            (Some(x), Some(y)) if x == "*" || y == "*" || x == y => {}
            _ => return false,
        }
    }
}

/// The narrowest single filter (of this simple kind) that covers both `a` and `b`.
fn widen(a: &str, b: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (a.split('.').collect(), b.split('.').collect());
    let mut out: Vec<&str> = Vec::with_capacity(a.len().max(b.len()));
    for (x, y) in a.iter().zip(&b) {
        if *x == ">" || *y == ">" {
            out.push(">");
            return out.join(".");
        }
        out.push(if x == y { x } else { "*" });
    }
    if a.len() != b.len() {
        // `>` stands for one token or more, so it replaces the last common one.
        out.pop();
        out.push(">");
    }
    out.join(".")
}

/// Whether the key `subject` matches the filter `filter` (`*` one token, `>` the rest).
pub(crate) fn subject_matches(filter: &str, subject: &str) -> bool {
    covers(filter, subject)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn covering_and_overlapping() {
        assert!(covers("a.*", "a.b"));
        assert!(covers("a.>", "a.b.c"));
        assert!(!covers("a.>", "a"));
        assert!(!covers("a.b", "a.*"));
        assert!(!covers("a.*", "a.b.c"));
        assert!(overlaps("a.*", "*.b"));
        assert!(overlaps("a.>", "*.b"));
        assert!(!overlaps("a.*", "b.*"));
        assert!(!overlaps("a.*", "a.b.c"));
    }

    #[test]
    fn plans() {
        assert_eq!(
            plan(strings(&["a.*", "a.b", "a.*"])),
            (strings(&["a.*"]), None)
        );
        assert_eq!(
            plan(strings(&["a.b", "a.c"])),
            (strings(&["a.b", "a.c"]), None)
        );
        let (server, local) = plan(strings(&["s.paris.d.*", "s.*.d.7"]));
        assert_eq!(server, strings(&["s.*.d.*"]));
        assert_eq!(local, Some(strings(&["s.paris.d.*", "s.*.d.7"])));
        let (server, _) = plan(strings(&["a.>", "*.b.c"]));
        assert_eq!(server, strings(&["*.>"]));
    }

    #[test]
    fn widening() {
        assert_eq!(widen("a.b.c", "a.x.c"), "a.*.c");
        assert_eq!(widen("a.b", "a.b.c"), "a.>");
        assert!(covers(&widen("a.b", "a.b.c"), "a.b"));
        assert_eq!(widen("a.>", "a.b"), "a.>");
    }
}
