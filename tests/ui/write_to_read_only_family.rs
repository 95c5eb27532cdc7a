use natskv::{Family, MsgPack, ReadOnly};

// A family bound to a mirror is read-only: reading compiles, writing does not.
async fn copy(mirror: &Family<String, u32, MsgPack, ReadOnly>) -> natskv::Result<()> {
    let value = mirror.value(&"a".to_owned()).await?;
    mirror.put(&"b".to_owned(), &value.unwrap_or_default()).await?;
    Ok(())
}

fn main() {}
