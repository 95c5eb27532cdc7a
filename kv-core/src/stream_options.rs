//! Bucket options about where writes go besides the bucket and where the bucket lives:
//! [`Republish`] (nats.go's `RePublish`) and [`Placement`]. Their stream forms are the wire
//! layer's (`wire::stream`).

use std::fmt;

use crate::names::{validate_filter, validate_subject};

/// Every write to the bucket (or to the keys a filter selects) also sent, as a core NATS
/// message, to a subject of your choice: cheap fan-out to subscribers that need no history.
///
/// ```
/// use natskv::{BucketSpec, Republish};
/// let spec = BucketSpec::new("config").republish(Republish::to("changes.config.>").keys("eu.>"));
/// assert!(spec.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Republish {
    keys: String,
    destination: String,
    headers_only: bool,
}

impl Republish {
    /// Republishes every write to `destination` (a subject; a final `>` keeps the key's
    /// tokens).
    pub fn to(destination: impl Into<String>) -> Self {
        Republish {
            keys: ">".to_owned(),
            destination: destination.into(),
            headers_only: false,
        }
    }

    /// Only writes to keys matching `filter` (a key filter such as `eu.>`).
    #[must_use]
    pub fn keys(mut self, filter: impl Into<String>) -> Self {
        self.keys = filter.into();
        self
    }

    /// Sends the headers only (key, revision, operation), not the value.
    #[must_use]
    pub fn headers_only(mut self) -> Self {
        self.headers_only = true;
        self
    }

    /// The subject writes are republished to.
    pub fn destination(&self) -> &str {
        &self.destination
    }

    /// The key filter of the writes republished (`>` for all).
    pub fn key_filter(&self) -> &str {
        &self.keys
    }

    /// Whether only headers are republished.
    pub fn is_headers_only(&self) -> bool {
        self.headers_only
    }

    /// What is wrong with this option, if anything.
    pub(crate) fn problem(&self) -> Option<String> {
        if let Err(e) = validate_filter(&self.keys) {
            return Some(format!("republish keys: {e}"));
        }
        if let Err(e) = validate_subject(&self.destination) {
            return Some(format!("republish destination: {e}"));
        }
        if self.destination.starts_with("$KV.") {
            return Some(
                "republish destination: a `$KV.` subject would write into a bucket; choose a \
                 subject outside `$KV.`"
                    .to_owned(),
            );
        }
        None
    }
}

impl fmt::Display for Republish {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "keys {} to {}", self.keys, self.destination)?;
        if self.headers_only {
            f.write_str(" (headers only)")?;
        }
        Ok(())
    }
}

/// Where the bucket's stream is placed in a cluster or super-cluster: a cluster by name,
/// servers by tags, or both.
///
/// ```
/// use natskv::{BucketSpec, Placement};
/// let spec = BucketSpec::new("orders").replicas(3).placement(Placement::cluster("east").tags(["ssd"]));
/// assert!(spec.validate().is_ok());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Placement {
    cluster: Option<String>,
    tags: Vec<String>,
}

impl Placement {
    /// On the cluster named `cluster`.
    pub fn cluster(cluster: impl Into<String>) -> Self {
        Placement {
            cluster: Some(cluster.into()),
            tags: Vec::new(),
        }
    }

    /// On servers that have every one of `tags` (set in their `server_tags`).
    #[must_use]
    pub fn tags<I, S>(mut self, tags: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.tags.extend(tags.into_iter().map(Into::into));
        self
    }

    /// The cluster, if one is named.
    pub fn cluster_name(&self) -> Option<&str> {
        self.cluster.as_deref()
    }

    /// The server tags asked for.
    pub fn tag_list(&self) -> &[String] {
        &self.tags
    }

    /// What is wrong with this option, if anything.
    pub(crate) fn problem(&self) -> Option<String> {
        if self.cluster.as_deref().is_some_and(str::is_empty) {
            return Some("placement cluster: the name is empty".to_owned());
        }
        if self.tags.iter().any(String::is_empty) {
            return Some("placement tags: a tag is empty".to_owned());
        }
        if self.cluster.is_none() && self.tags.is_empty() {
            return Some("placement: name a cluster, tags, or both".to_owned());
        }
        None
    }
}

impl fmt::Display for Placement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.cluster, self.tags.as_slice()) {
            (Some(cluster), []) => write!(f, "cluster {cluster}"),
            (None, tags) => write!(f, "tags {}", tags.join(",")),
            (Some(cluster), tags) => write!(f, "cluster {cluster}, tags {}", tags.join(",")),
        }
    }
}
