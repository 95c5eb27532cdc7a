use natskv::KvKey;

#[derive(KvKey)]
struct DeviceKey(String, u32);

fn main() {}
