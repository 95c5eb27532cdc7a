use natskv::{KeyFilter, KeyPath};

fn main() {
    let prefix = KeyPath::parse("eu").unwrap();
    let _ = KeyFilter::<String>::any().under(&prefix);
}
