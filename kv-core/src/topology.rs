//! Mirrors and aggregates (ADR-8 topologies): buckets fed from other buckets.
//!
//! A **mirror** is a read-only copy of exactly one bucket (optionally of some of its keys), used
//! to scale reads. An **aggregate** collects keys from one or more buckets into a bucket of its
//! own, rewriting `$KV.<origin>.<key>` to `$KV.<aggregate>.<key>`; it is read-only unless
//! declared writable. Either can reach an origin in another JetStream domain or account through
//! an API prefix.

use std::fmt::Write as _;

use async_nats::jetstream::stream::{External, Source, SubjectTransform};

use crate::names::{validate_bucket_name, validate_filter};

/// Where a mirror or aggregate takes its keys from: a bucket, optionally some of its keys,
/// optionally in another domain or account.
///
/// ```
/// use natskv::Origin;
/// let origin = Origin::bucket("orders").keys(["new.>"]).api_prefix("$JS.hub.API");
/// assert_eq!(origin.bucket_name(), "orders");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    bucket: String,
    stream: Option<String>,
    keys: Vec<String>,
    api_prefix: Option<String>,
    deliver_prefix: Option<String>,
}

impl Origin {
    /// Keys of the bucket `bucket` (all of them unless [`keys`](Self::keys) narrows it).
    pub fn bucket(bucket: impl Into<String>) -> Self {
        Origin {
            bucket: bucket.into(),
            stream: None,
            keys: Vec::new(),
            api_prefix: None,
            deliver_prefix: None,
        }
    }

    /// Only these keys (filters: `*` stands for one token, a final `>` for the rest).
    #[must_use]
    pub fn keys<I, S>(mut self, filters: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.keys = filters.into_iter().map(Into::into).collect();
        self
    }

    /// Read from this stream rather than `KV_<bucket>`: for an origin that is itself a mirror.
    #[must_use]
    pub fn stream(mut self, stream: impl Into<String>) -> Self {
        self.stream = Some(stream.into());
        self
    }

    /// The JetStream API prefix that reaches the origin's domain or account
    /// (`$JS.<domain>.API`).
    #[must_use]
    pub fn api_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.api_prefix = Some(prefix.into());
        self
    }

    /// The delivery prefix for the origin's consumer, when crossing accounts.
    #[must_use]
    pub fn deliver_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.deliver_prefix = Some(prefix.into());
        self
    }

    /// The origin bucket's name.
    pub fn bucket_name(&self) -> &str {
        &self.bucket
    }

    /// The key filters (empty: every key).
    pub fn key_filters(&self) -> &[String] {
        &self.keys
    }

    /// The origin's JetStream API prefix, when it is in another domain or account.
    pub fn api_prefix_value(&self) -> Option<&str> {
        self.api_prefix.as_deref()
    }

    /// The prefix the origin's messages are delivered under, when one was given with the API
    /// prefix.
    pub fn deliver_prefix_value(&self) -> Option<&str> {
        self.deliver_prefix.as_deref()
    }

    /// The origin a stream source reads, as the server states it: its bucket (`KV_` left out
    /// of the stream's name), key filters, API and deliver prefixes. An aggregate's catch-all
    /// `>` is no filter.
    pub(crate) fn from_source(source: &Source, aggregate: bool) -> Origin {
        let (bucket, stream) = match source.name.strip_prefix("KV_") {
            Some(bucket) => (bucket.to_owned(), None),
            None => (source.name.clone(), Some(source.name.clone())),
        };
        let key_of = |subject: &str| {
            let rest = subject.strip_prefix("$KV.")?;
            rest.split_once('.').map(|(_, key)| key.to_owned())
        };
        let keys = source
            .subject_transforms
            .iter()
            .filter_map(|t| key_of(&t.source))
            .chain(source.filter_subject.as_deref().and_then(key_of))
            .filter(|k| !aggregate || k != ">")
            .collect();
        Origin {
            bucket,
            stream,
            keys,
            api_prefix: source.external.as_ref().map(|e| e.api_prefix.clone()),
            deliver_prefix: source
                .external
                .as_ref()
                .and_then(|e| e.delivery_prefix.clone()),
        }
    }

    /// What is wrong with this origin, if anything.
    pub(crate) fn problem(&self) -> Option<String> {
        if let Err(e) = validate_bucket_name(&self.bucket) {
            return Some(format!("origin bucket: {e}"));
        }
        self.keys.iter().find_map(|k| {
            validate_filter(k)
                .err()
                .map(|e| format!("origin key filter: {e}"))
        })
    }

    fn stream_name(&self) -> String {
        self.stream
            .clone()
            .unwrap_or_else(|| format!("KV_{}", self.bucket))
    }

    /// The stream source reading `filters` of the origin, each written to the subject
    /// `destination` gives it.
    fn source<'f>(
        &self,
        filters: impl Iterator<Item = &'f str>,
        destination: impl Fn(&str) -> String,
    ) -> Source {
        let subject_transforms = filters
            .map(|filter| SubjectTransform {
                source: format!("$KV.{}.{filter}", self.bucket),
                destination: destination(filter),
            })
            .collect();
        Source {
            name: self.stream_name(),
            external: self.api_prefix.as_ref().map(|api| External {
                api_prefix: api.clone(),
                delivery_prefix: self.deliver_prefix.clone(),
            }),
            subject_transforms,
            ..Source::default()
        }
    }

    /// The stream source of a mirror: the origin's subjects are kept as they are.
    pub(crate) fn mirror_source(&self) -> Source {
        self.source(self.keys.iter().map(String::as_str), |k| {
            format!("$KV.{}.{k}", self.bucket)
        })
    }

    /// The stream source of an aggregate: `$KV.<origin>.<key>` becomes `$KV.<into>.<key>`.
    pub(crate) fn aggregate_source(&self, into: &str) -> Source {
        let filters: Vec<&str> = if self.keys.is_empty() {
            vec![">"]
        } else {
            self.keys.iter().map(String::as_str).collect()
        };
        self.source(filters.into_iter(), |filter| {
            format!("$KV.{into}.{}", keep_wildcards(filter))
        })
    }

    /// A short description for drift reports.
    pub(crate) fn describe(&self) -> String {
        let mut out = self.stream_name();
        if !self.keys.is_empty() {
            let _ = write!(out, " keys {:?}", self.keys);
        }
        if let Some(api) = &self.api_prefix {
            let _ = write!(out, " via {api}");
        }
        out
    }

    /// The same description read back from a stream source.
    pub(crate) fn describe_source(source: &Source, into: Option<&str>) -> String {
        Origin::from_source(source, into.is_some()).describe()
    }
}

/// A filter's tokens with each `*` turned into the transform's reference to it, so a key keeps
/// every token on its way into the aggregate.
fn keep_wildcards(filter: &str) -> String {
    let mut n = 0;
    filter
        .split('.')
        .map(|token| {
            if token == "*" {
                n += 1;
                format!("{{{{wildcard({n})}}}}")
            } else {
                token.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_read_back_from_stream_sources() {
        // As natskv writes them: the same origin comes back.
        let origin = Origin::bucket("orders")
            .keys(["new.>"])
            .api_prefix("$JS.hub.API")
            .deliver_prefix("deliver.hub");
        assert_eq!(Origin::from_source(&origin.mirror_source(), false), origin);
        assert_eq!(
            Origin::from_source(&Origin::bucket("eu").aggregate_source("all"), true),
            Origin::bucket("eu"),
            "an aggregate's catch-all is no key filter"
        );
        // As other clients write them: a filter subject instead of transforms, and a stream
        // that is not a bucket's.
        let source = Source {
            name: "KV_orders".to_owned(),
            filter_subject: Some("$KV.orders.eu.>".to_owned()),
            ..Source::default()
        };
        assert_eq!(
            Origin::from_source(&source, false),
            Origin::bucket("orders").keys(["eu.>"])
        );
        let source = Source {
            name: "ORDERS".to_owned(),
            ..Source::default()
        };
        let origin = Origin::from_source(&source, false);
        assert_eq!(
            (origin.bucket_name(), origin.describe()),
            ("ORDERS", "ORDERS".to_owned())
        );
    }

    #[test]
    fn aggregate_sources_keep_every_key_token() {
        let origin = Origin::bucket("orders").keys(["site.*.device.>", "new.>"]);
        let source = origin.aggregate_source("all");
        assert_eq!(source.name, "KV_orders");
        let pairs: Vec<_> = source
            .subject_transforms
            .iter()
            .map(|t| (t.source.as_str(), t.destination.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                (
                    "$KV.orders.site.*.device.>",
                    "$KV.all.site.{{wildcard(1)}}.device.>"
                ),
                ("$KV.orders.new.>", "$KV.all.new.>"),
            ]
        );
        let all = Origin::bucket("a").aggregate_source("b");
        assert_eq!(all.subject_transforms[0].source, "$KV.a.>");
        assert_eq!(all.subject_transforms[0].destination, "$KV.b.>");
    }

    #[test]
    fn origins_across_domains_carry_the_api_prefix() {
        let source = Origin::bucket("hub")
            .api_prefix("$JS.hub.API")
            .mirror_source();
        assert_eq!(
            source.external.map(|e| e.api_prefix).as_deref(),
            Some("$JS.hub.API")
        );
        assert!(source.subject_transforms.is_empty());
    }

    #[test]
    fn bad_origins_are_reported() {
        assert!(Origin::bucket("a.b").problem().is_some());
        assert!(Origin::bucket("a").keys(["x..y"]).problem().is_some());
        assert!(Origin::bucket("a").keys(["x.*", "y.>"]).problem().is_none());
    }
}
