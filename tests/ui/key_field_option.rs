use natskv::KvKey;

#[derive(KvKey)]
struct DeviceKey {
    #[kv(rename = "s")]
    site: String,
}

fn main() {}
