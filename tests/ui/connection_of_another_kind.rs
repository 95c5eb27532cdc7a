// A bucket is opened through an async-nats client (of the version natskv re-exports), a
// JetStream context, or natskv's `Guarded` client; a URL is none of those.
use natskv::{Bucket, BucketSpec};

async fn open() -> natskv::Result<Bucket> {
    Bucket::open("nats://127.0.0.1:4222", &BucketSpec::new("fleet")).await
}

fn main() {
    drop(open());
}
