//! What the server says about a watched bucket, read now and then so a watch never goes silent:
//! which stream it is (a bucket deleted and created again is another one), which revisions it
//! still holds (an emptied bucket holds none of the old ones), and whether the watch's consumer
//! has entries for it that never came. Watches (`crate::watch`) act on these facts.

use async_nats::jetstream::ErrorCode;
use async_nats::jetstream::context::ConsumerInfoErrorKind;
use async_nats::jetstream::stream::Info;

use crate::bucket::Bucket;
use crate::error::Result;
use crate::wire::classify::{Op, classify, settle};

/// The bucket's stream as the server describes it at one moment.
#[derive(Debug, Clone)]
pub(crate) struct Facts {
    /// When the stream was created: a bucket created again is a new stream with a new time.
    created: Created,
    /// The oldest revision the bucket still holds; everything below it is gone.
    pub(crate) first: u64,
    /// The newest revision the bucket has given out.
    pub(crate) last: u64,
}

/// The stream's creation time, compared as the server wrote it.
type Created = async_nats::datetime::DateTime;

impl Facts {
    fn from_info(info: &Info) -> Facts {
        Facts {
            created: info.created,
            first: info.state.first_sequence,
            last: info.state.last_sequence,
        }
    }

    /// Whether these facts describe another stream than `before` did, for a watch that has
    /// reached `revision`: another creation time, or fewer revisions than the watch has seen.
    /// Revisions only go back when the bucket started over.
    pub(crate) fn replaces(&self, before: Option<&Facts>, revision: u64) -> bool {
        self.last < revision || before.is_some_and(|before| before.created != self.created)
    }
}

/// Reads the bucket's facts.
pub(crate) async fn read(bucket: &Bucket) -> Result<Facts> {
    let op = Op::read(bucket.name(), "watch");
    match bucket.stream().get_info().await {
        Ok(info) => Ok(Facts::from_info(&info)),
        Err(e) => Err(settle(bucket.js(), op, classify(op, e)).await),
    }
}

/// What a watch's consumer holds back, when the watch has had nothing for a while.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Held {
    /// Nothing: the watch is idle because nothing new matches it.
    Nothing,
    /// The server has entries for the consumer that it does not send: no pull is waiting, so
    /// the client believes it asked for more than it did.
    Undelivered,
    /// The server sent entries beyond the last one the watch received: the client dropped them
    /// because its subscription buffer was full.
    Dropped,
    /// The consumer is gone, and the client did not notice.
    Gone,
}

/// Asks the server whether `consumer` holds entries back from a watch at `revision`.
pub(crate) async fn held(bucket: &Bucket, consumer: &str, revision: u64) -> Held {
    match bucket.stream().consumer_info(consumer).await {
        Ok(info) if info.delivered.stream_sequence > revision => Held::Dropped,
        Ok(info) if info.num_pending > 0 => Held::Undelivered,
        Ok(_) => Held::Nothing,
        Err(error) => match error.kind() {
            ConsumerInfoErrorKind::JetStream(api)
                if api.error_code() == ErrorCode::CONSUMER_NOT_FOUND =>
            {
                Held::Gone
            }
            _ => {
                tracing::debug!(bucket = bucket.name(), %error, "could not read a watch consumer");
                Held::Nothing
            }
        },
    }
}
