//! The stream sources of mirrors and aggregates (ADR-8): how an [`Origin`] becomes async-nats's
//! `stream::Source`, with the `$KV.<origin>.>` -> `$KV.<aggregate>.>` subject transforms, and
//! how a source the server reports (written by natskv or by another client) reads back as one.

use async_nats::jetstream::stream::{External, Source, SubjectTransform};

use crate::topology::Origin;

/// The origin a stream source reads, as the server states it: its bucket (`KV_` left out of
/// the stream's name), key filters, API and deliver prefixes. An aggregate's catch-all `>` is
/// no filter.
pub(crate) fn from_source(source: &Source, aggregate: bool) -> Origin {
    let origin = match source.name.strip_prefix("KV_") {
        Some(bucket) => Origin::bucket(bucket),
        None => Origin::bucket(source.name.clone()).stream(source.name.clone()),
    };
    let key_of = |subject: &str| {
        let rest = subject.strip_prefix("$KV.")?;
        rest.split_once('.').map(|(_, key)| key.to_owned())
    };
    let keys: Vec<String> = source
        .subject_transforms
        .iter()
        .filter_map(|t| key_of(&t.source))
        .chain(source.filter_subject.as_deref().and_then(key_of))
        .filter(|k| !aggregate || k != ">")
        .collect();
    let origin = origin.keys(keys);
    let Some(external) = &source.external else {
        return origin;
    };
    let origin = origin.api_prefix(external.api_prefix.clone());
    match &external.delivery_prefix {
        Some(prefix) => origin.deliver_prefix(prefix.clone()),
        None => origin,
    }
}

/// The stream source reading `filters` of `origin`, each written to the subject `destination`
/// gives it.
fn source<'f>(
    origin: &Origin,
    filters: impl Iterator<Item = &'f str>,
    destination: impl Fn(&str) -> String,
) -> Source {
    let bucket = origin.bucket_name();
    let subject_transforms = filters
        .map(|filter| SubjectTransform {
            source: format!("$KV.{bucket}.{filter}"),
            destination: destination(filter),
        })
        .collect();
    Source {
        name: origin.stream_name(),
        external: origin.api_prefix_value().map(|api| External {
            api_prefix: api.to_owned(),
            delivery_prefix: origin.deliver_prefix_value().map(str::to_owned),
        }),
        subject_transforms,
        ..Source::default()
    }
}

/// The stream source of a mirror: the origin's subjects are kept as they are.
pub(crate) fn mirror(origin: &Origin) -> Source {
    let bucket = origin.bucket_name();
    source(
        origin,
        origin.key_filters().iter().map(String::as_str),
        |k| format!("$KV.{bucket}.{k}"),
    )
}

/// The stream source of an aggregate: `$KV.<origin>.<key>` becomes `$KV.<into>.<key>`.
pub(crate) fn aggregate(origin: &Origin, into: &str) -> Source {
    let filters: Vec<&str> = if origin.key_filters().is_empty() {
        vec![">"]
    } else {
        origin.key_filters().iter().map(String::as_str).collect()
    };
    source(origin, filters.into_iter(), |filter| {
        format!("$KV.{into}.{}", keep_wildcards(filter))
    })
}

/// The drift description of a stream source read back (`into`: the aggregate it feeds, for
/// an aggregate's source).
pub(crate) fn describe(source: &Source, into: Option<&str>) -> String {
    from_source(source, into.is_some()).describe()
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
        assert_eq!(from_source(&mirror(&origin), false), origin);
        assert_eq!(
            from_source(&aggregate(&Origin::bucket("eu"), "all"), true),
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
            from_source(&source, false),
            Origin::bucket("orders").keys(["eu.>"])
        );
        let source = Source {
            name: "ORDERS".to_owned(),
            ..Source::default()
        };
        let origin = from_source(&source, false);
        assert_eq!(
            (origin.bucket_name(), origin.describe()),
            ("ORDERS", "ORDERS".to_owned())
        );
    }

    #[test]
    fn aggregate_sources_keep_every_key_token() {
        let origin = Origin::bucket("orders").keys(["site.*.device.>", "new.>"]);
        let source = aggregate(&origin, "all");
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
        let all = aggregate(&Origin::bucket("a"), "b");
        assert_eq!(all.subject_transforms[0].source, "$KV.a.>");
        assert_eq!(all.subject_transforms[0].destination, "$KV.b.>");
    }

    #[test]
    fn origins_across_domains_carry_the_api_prefix() {
        let source = mirror(&Origin::bucket("hub").api_prefix("$JS.hub.API"));
        assert_eq!(
            source.external.map(|e| e.api_prefix).as_deref(),
            Some("$JS.hub.API")
        );
        assert!(source.subject_transforms.is_empty());
    }
}
