//! A live typed cache kept current by a watch.
