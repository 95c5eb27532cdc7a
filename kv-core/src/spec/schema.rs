//! The bucket's stored schema against the declared one: [`BucketSpec::schema`], the check `open`
//! and `ensure` make ([`Error::SchemaMismatch`]), and the size the metadata can take.

use super::BucketSpec;
use crate::error::{Error, Result, SchemaDifference};
use crate::schema::Schema;

/// The metadata key holding the declaration's [`Schema`], as JSON.
pub const SCHEMA_METADATA_KEY: &str = "natskv.schema";

/// The most metadata natskv stores on a bucket (the server keeps 128 KiB per stream, some of it
/// for its own keys).
const MAX_METADATA_LEN: usize = 120 * 1024;

impl BucketSpec {
    /// Records the schema of the declaration that uses this bucket: its families' key
    /// patterns, codecs and value shapes (see [`Schema`] and the compatibility policy in
    /// [`schema`](crate::schema)). `create` stores it in the bucket's metadata under
    /// [`SCHEMA_METADATA_KEY`]; `open` and `ensure` refuse a bucket whose stored schema this
    /// one cannot work with ([`Error::SchemaMismatch`]), and `ensure` stores the union of both.
    /// The derive sets it from the declaration.
    #[must_use]
    pub fn schema(mut self, schema: Schema) -> Self {
        self.schema = Some(schema);
        self
    }

    /// The declared schema.
    pub fn schema_value(&self) -> Option<&Schema> {
        self.schema.as_ref()
    }

    /// Checks the declared schema against `stored` (the schema text the bucket's metadata
    /// holds, if any), and returns the schema text the bucket should hold: the stored
    /// one widened by this declaration (`None` without a declared schema). A bucket without a
    /// stored schema (made by another tool), or with one from a natskv before schema 3, takes
    /// this declaration's.
    ///
    /// # Errors
    /// [`Error::SchemaMismatch`] naming each family the policy refuses, or when the stored
    /// schema cannot be read.
    pub(crate) fn check_schema(&self, stored: Option<&str>) -> Result<Option<String>> {
        let Some(declared) = &self.schema else {
            return Ok(None);
        };
        let found = stored.unwrap_or_default().to_owned();
        let mismatch = |differences| Error::SchemaMismatch {
            bucket: self.name.clone(),
            expected: declared.to_text(),
            found: found.clone(),
            differences,
        };
        let stored = match stored.map(Schema::parse) {
            None | Some(Ok(None)) => Schema::default(),
            Some(Ok(Some(stored))) => stored,
            Some(Err(reason)) => {
                return Err(mismatch(vec![SchemaDifference::Opaque {
                    declared: declared.to_text(),
                    stored: found.clone(),
                    reason,
                }]));
            }
        };
        let differences = declared.differences(&stored);
        if !differences.is_empty() {
            return Err(mismatch(differences));
        }
        let merged = declared.merged_over(&stored).to_text();
        self.check_metadata_len(&merged)?;
        Ok(Some(merged))
    }

    /// [`Error::InvalidConfig`] when the metadata with `schema` would be more than the server
    /// keeps for a stream, which it would refuse as a whole.
    pub(super) fn check_metadata_len(&self, schema: &str) -> Result<()> {
        let user: usize = self.metadata.iter().map(|(k, v)| k.len() + v.len()).sum();
        let len = user + SCHEMA_METADATA_KEY.len() + schema.len();
        if len > MAX_METADATA_LEN {
            return Err(Error::InvalidConfig {
                bucket: self.name.clone(),
                reason: format!(
                    "the metadata with the schema is {len} bytes, more than the {MAX_METADATA_LEN} \
                     a bucket can hold; split the families over several buckets, or shorten \
                     the metadata"
                ),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemas_are_checked_and_widened_against_the_stored_one() {
        #[derive(serde::Serialize, serde::Deserialize)]
        struct State {
            on: bool,
        }
        let declared = Schema::new().family::<u32, State, crate::MsgPack>("d.{id}");
        let spec = BucketSpec::new("s").schema(declared.clone());
        let config = crate::wire::stream::config(&spec);
        let stored = config.metadata.get(SCHEMA_METADATA_KEY).unwrap();
        assert_eq!(stored, &declared.to_text());
        let check = |config: &crate::wire::stream::Config| {
            spec.check_schema(crate::wire::stream::stored_schema(config))
        };
        assert_eq!(check(&config).unwrap().as_ref(), Some(stored));

        let mut other = config.clone();
        let codec = Schema::new().family::<u32, State, crate::Json>("d.{id}");
        other
            .metadata
            .insert(SCHEMA_METADATA_KEY.into(), codec.to_text());
        let error = check(&other).unwrap_err();
        assert!(error.to_string().contains("codec `json`"), "{error}");

        other
            .metadata
            .insert(SCHEMA_METADATA_KEY.into(), "v2;d.{id}=00".into());
        assert_eq!(check(&other).unwrap().as_ref(), Some(stored));
        let huge = (0..1500).fold(Schema::new(), |schema, i| {
            let pattern = format!("family{i}.with.a.long.name.{{id}}");
            schema.family::<u32, State, crate::MsgPack>(&pattern)
        });
        let error = BucketSpec::new("s").schema(huge).validate().unwrap_err();
        assert!(
            error.to_string().contains("more than the 122880"),
            "{error}"
        );

        other
            .metadata
            .insert(SCHEMA_METADATA_KEY.into(), "{not json".into());
        assert!(matches!(
            check(&other),
            Err(Error::SchemaMismatch { differences, .. })
                if matches!(differences[..], [SchemaDifference::Opaque { .. }])
        ));
    }
}
