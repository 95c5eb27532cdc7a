use natskv::KvKey;

#[derive(KvKey)]
struct DeviceKey {
    site: String,
    position: (f32, f32),
}

fn main() {}
