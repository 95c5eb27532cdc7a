use natskv::{KeyPath, KvKey};

#[derive(KvKey)]
struct Route {
    from: KeyPath,
    to: KeyPath,
}

fn main() {}
