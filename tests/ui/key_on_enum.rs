use natskv::KvKey;

#[derive(KvKey)]
enum DeviceKey {
    Site(String),
}

fn main() {}
