//! What a bucket's declaration puts on the wire, stored in the bucket's metadata, and the
//! compatibility policy between two declarations of one bucket.
//!
//! A [`Schema`] describes each family by what the server sees, not by what the Rust code calls
//! it: its key pattern (literal tokens, and the position, name and kind of each parameter), its
//! codec, and the shape of its values as serde writes them (field names and types, found by
//! tracing the value type's `Deserialize` impl). Renaming a Rust type or a key field changes
//! nothing stored; changing what a reader must decode does.
//!
//! # Compatibility
//!
//! `open` and `ensure` compare the declaration with the bucket's stored schema, family by
//! family (a family is the same when its literal tokens and parameter kinds are):
//!
//! | change | outcome |
//! | --- | --- |
//! | rename a Rust type, a value type, a key field and its pattern parameter | compatible |
//! | add a family | compatible: `ensure` stores it, older declarations still open |
//! | leave a family out (an older or a partial declaration) | compatible: it stays stored |
//! | add or remove an `Option` field of a value | compatible: `ensure` stores the union |
//! | remove a family | opt-in `removed`: `ensure` drops it; declarations that still have it are refused |
//! | add or remove a required field, change a field's type, add or remove an enum variant | opt-in `breaking`: `ensure` stores the new shape; declarations with the old one are refused |
//! | change a family's parameter order, parameter kinds or literal tokens (a pattern that overlaps a stored family's keys) | refused: copy the data into a new bucket ([`Migration`](crate::Migration)) |
//! | change a family's codec | refused: as above |
//!
//! `ensure` by a compatible declaration stores the union of what both describe, so the older one
//! still opens; an older declaration never takes anything away. Two `ensure`s racing on one
//! bucket each write their union: the last one wins, and the next `ensure` restores the other.
//!
//! # Limits
//! The value shape comes from serde: `#[serde(default)]` on a field is not visible (a new
//! non-`Option` field with a default is reported as breaking: use `Option`, or opt in), neither
//! is `#[serde(deny_unknown_fields)]` (an old reader that denies unknown fields breaks on any new
//! field). Types whose `Deserialize` inspects the input (untagged enums, `flatten`,
//! `serde_json::Value`) cannot be traced: their shape is stored as unknown and any change to it
//! passes unchecked. A recursive type is described down to its first repetition, by name.

use std::collections::BTreeSet;
use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use serde_reflection::{ContainerFormat, Format, Registry, Tracer, TracerConfig, VariantFormat};

use crate::codec::Codec;
use crate::error::SchemaDifference;
use crate::key::{KvKey, bind_params};
use crate::pattern::{KeyPattern, Segment};

/// The version of the stored schema's format.
const VERSION: u32 = 3;

/// The parameter kind of a removed family the bucket never stored.
const UNKNOWN_KIND: &str = "?";

/// The shape of a family's values as serde writes them, in a small JSON language: a primitive
/// is its name (`"u32"`, `"str"`, `"bytes"`, `"unit"`, ...), and containers are
/// `{"option": s}`, `{"seq": s}`, `{"map": [k, v]}`, `{"tuple": [s, ...]}`,
/// `{"array": [s, n]}`, `{"struct": {"field": s, ...}}`, `{"enum": {"Variant": s, ...}}` and
/// `{"recursive": "Name"}`. Newtype structs are their content, as on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueShape(Value);

impl ValueShape {
    /// The shape of `V` as serde writes it, traced through its `Deserialize` impl;
    /// `human_readable` as the format says (JSON is, MessagePack is not). `None` when the type
    /// cannot be traced (its `Deserialize` inspects the input).
    pub fn of_serde<V: DeserializeOwned>(human_readable: bool) -> Option<Self> {
        let mut tracer = Tracer::new(TracerConfig::default().is_human_readable(human_readable));
        let (format, _) = tracer.trace_simple_type::<V>().ok()?;
        let registry = tracer.registry().ok()?;
        let mut describe = Describe {
            registry: &registry,
            open: BTreeSet::new(),
        };
        Some(Self(describe.format(&format)))
    }

    /// A shape given as a primitive name, such as `"bytes"` or `"str"`.
    pub fn primitive(name: &str) -> Self {
        Self(Value::String(name.to_owned()))
    }

    /// The shape in its JSON language.
    pub fn as_json(&self) -> &Value {
        &self.0
    }
}

impl fmt::Display for ValueShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// Turns serde-reflection formats into the shape language.
struct Describe<'a> {
    registry: &'a Registry,
    /// The containers being described, to stop at a recursive one.
    open: BTreeSet<String>,
}

fn tagged(tag: &str, value: Value) -> Value {
    let mut map = Map::new();
    map.insert(tag.to_owned(), value);
    Value::Object(map)
}

impl Describe<'_> {
    fn format(&mut self, format: &Format) -> Value {
        let primitive = |name: &str| Value::String(name.to_owned());
        match format {
            Format::Variable(variable) => match &*variable.borrow() {
                Some(inner) => self.format(inner),
                None => Value::Null,
            },
            Format::TypeName(name) => self.container(name),
            Format::Unit => primitive("unit"),
            Format::Bool => primitive("bool"),
            Format::I8 => primitive("i8"),
            Format::I16 => primitive("i16"),
            Format::I32 => primitive("i32"),
            Format::I64 => primitive("i64"),
            Format::I128 => primitive("i128"),
            Format::U8 => primitive("u8"),
            Format::U16 => primitive("u16"),
            Format::U32 => primitive("u32"),
            Format::U64 => primitive("u64"),
            Format::U128 => primitive("u128"),
            Format::F32 => primitive("f32"),
            Format::F64 => primitive("f64"),
            Format::Char => primitive("char"),
            Format::Str => primitive("str"),
            Format::Bytes => primitive("bytes"),
            Format::Option(inner) => tagged("option", self.format(inner)),
            Format::Seq(inner) => tagged("seq", self.format(inner)),
            Format::Map { key, value } => tagged(
                "map",
                Value::Array(vec![self.format(key), self.format(value)]),
            ),
            Format::Tuple(items) => tagged("tuple", self.formats(items)),
            Format::TupleArray { content, size } => tagged(
                "array",
                Value::Array(vec![self.format(content), Value::from(*size)]),
            ),
        }
    }

    fn formats(&mut self, formats: &[Format]) -> Value {
        Value::Array(formats.iter().map(|f| self.format(f)).collect())
    }

    fn fields(&mut self, fields: &[serde_reflection::Named<Format>]) -> Value {
        let map = fields
            .iter()
            .map(|field| (field.name.clone(), self.format(&field.value)))
            .collect();
        tagged("struct", Value::Object(map))
    }

    fn container(&mut self, name: &str) -> Value {
        let Some(container) = self.registry.get(name) else {
            return Value::Null;
        };
        if !self.open.insert(name.to_owned()) {
            return tagged("recursive", Value::String(name.to_owned()));
        }
        let shape = match container {
            ContainerFormat::UnitStruct => Value::String("unit".to_owned()),
            ContainerFormat::NewTypeStruct(inner) => self.format(inner),
            ContainerFormat::TupleStruct(items) => tagged("tuple", self.formats(items)),
            ContainerFormat::Struct(fields) => self.fields(fields),
            ContainerFormat::Enum(variants) => {
                let map = variants
                    .values()
                    .map(|variant| (variant.name.clone(), self.variant(&variant.value)))
                    .collect();
                tagged("enum", Value::Object(map))
            }
        };
        self.open.remove(name);
        shape
    }

    fn variant(&mut self, variant: &VariantFormat) -> Value {
        match variant {
            VariantFormat::Variable(variable) => match &*variable.borrow() {
                Some(inner) => self.variant(inner),
                None => Value::Null,
            },
            VariantFormat::Unit => Value::String("unit".to_owned()),
            VariantFormat::NewType(inner) => self.format(inner),
            VariantFormat::Tuple(items) => tagged("tuple", self.formats(items)),
            VariantFormat::Struct(fields) => self.fields(fields),
        }
    }
}

/// Why two value shapes cannot read each other's values, with the path to the difference; `Ok`
/// when they can (or when either is unknown, `null`). Both directions count, as during a
/// rolling deploy each version reads what the other writes.
fn compatible(a: &Value, b: &Value, path: &str) -> Result<(), String> {
    let here = || {
        if path.is_empty() {
            "the value".to_owned()
        } else {
            format!("`{path}`")
        }
    };
    let is_option = |v: &Value| v.get("option").is_some();
    match (a, b) {
        (Value::Null, _) | (_, Value::Null) => Ok(()),
        (Value::Object(x), Value::Object(y)) => {
            let (Some((tag, inner_a)), Some((other, inner_b))) = (single(x), single(y)) else {
                return Err(format!("{} has another shape", here()));
            };
            if tag != other {
                return Err(format!("{} was {}, is now {}", here(), b, a));
            }
            match (tag, inner_a, inner_b) {
                ("struct", Value::Object(fa), Value::Object(fb)) => {
                    for (name, field) in fa.iter().chain(fb.iter()) {
                        let nested = join(path, name);
                        match (fa.get(name), fb.get(name)) {
                            (Some(x), Some(y)) => compatible(x, y, &nested)?,
                            (Some(_), None) if !is_option(field) => {
                                return Err(format!(
                                    "field `{nested}` is new and required: values written \
                                     without it cannot be read (make it an Option)"
                                ));
                            }
                            (None, Some(_)) if !is_option(field) => {
                                return Err(format!(
                                    "required field `{nested}` is gone: readers that need it \
                                     cannot read values written without it"
                                ));
                            }
                            _ => {}
                        }
                    }
                    Ok(())
                }
                ("enum", Value::Object(va), Value::Object(vb)) => {
                    for name in va.keys().chain(vb.keys()) {
                        let nested = join(path, name);
                        match (va.get(name), vb.get(name)) {
                            (Some(x), Some(y)) => compatible(x, y, &nested)?,
                            (Some(_), None) => {
                                return Err(format!(
                                    "variant `{nested}` is new: older readers cannot read it"
                                ));
                            }
                            _ => {
                                return Err(format!(
                                    "variant `{nested}` is gone: stored values may hold it"
                                ));
                            }
                        }
                    }
                    Ok(())
                }
                (_, Value::Array(xs), Value::Array(ys)) if xs.len() == ys.len() => xs
                    .iter()
                    .zip(ys)
                    .enumerate()
                    .try_for_each(|(i, (x, y))| compatible(x, y, &join(path, &i.to_string()))),
                (_, x, y) => compatible(x, y, path),
            }
        }
        _ if a == b => Ok(()),
        _ => Err(format!("{} was {}, is now {}", here(), b, a)),
    }
}

/// The one entry of a tagged shape (`{"tag": inner}`).
fn single(map: &Map<String, Value>) -> Option<(&str, &Value)> {
    let mut entries = map.iter();
    match (entries.next(), entries.next()) {
        (Some((tag, inner)), None) => Some((tag, inner)),
        _ => None,
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

/// The union of two compatible shapes: every struct field either has (an unknown side gives
/// way to a known one).
fn union(a: &Value, b: &Value) -> Value {
    match (a, b) {
        (Value::Null, other) | (other, Value::Null) => other.clone(),
        (Value::Object(x), Value::Object(y)) => match (single(x), single(y)) {
            (Some(("struct", Value::Object(fa))), Some(("struct", Value::Object(fb)))) => {
                let mut fields = fb.clone();
                for (name, field) in fa {
                    let merged = match fb.get(name) {
                        Some(other) => union(field, other),
                        None => field.clone(),
                    };
                    fields.insert(name.clone(), merged);
                }
                tagged("struct", Value::Object(fields))
            }
            (Some((tag, x)), Some((other, y))) if tag == other => match (x, y) {
                (Value::Array(xs), Value::Array(ys)) if xs.len() == ys.len() => tagged(
                    tag,
                    Value::Array(xs.iter().zip(ys).map(|(x, y)| union(x, y)).collect()),
                ),
                (Value::Object(xs), Value::Object(ys)) if tag == "enum" => {
                    let variants = xs
                        .iter()
                        .map(|(name, v)| {
                            let merged = ys.get(name).map_or_else(|| v.clone(), |w| union(v, w));
                            (name.clone(), merged)
                        })
                        .collect();
                    tagged(tag, Value::Object(variants))
                }
                _ => tagged(tag, union(x, y)),
            },
            _ => a.clone(),
        },
        _ => a.clone(),
    }
}

// ---------------------------------------------------------------------------------------------
// Families
// ---------------------------------------------------------------------------------------------

/// One family of a [`Schema`]: its key pattern, the kind of each parameter, its codec and the
/// shape of its values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilySchema {
    pattern: KeyPattern,
    /// The kind of each parameter, in pattern order ([`KeyPart::KIND`](crate::KeyPart::KIND)).
    kinds: Vec<String>,
    codec: String,
    value: Option<ValueShape>,
}

/// How a family is stored in the metadata.
#[derive(Serialize, Deserialize)]
struct StoredFamily {
    pattern: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    params: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    codec: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    value: Option<Value>,
}

impl FamilySchema {
    /// The key pattern, as declared.
    pub fn pattern(&self) -> &str {
        self.pattern.as_str()
    }

    /// The kind of each parameter, in pattern order (`"str"`, `"u32"`, `"path"`, ...).
    pub fn param_kinds(&self) -> impl Iterator<Item = &str> {
        self.kinds.iter().map(String::as_str)
    }

    /// The codec's name.
    pub fn codec(&self) -> &str {
        &self.codec
    }

    /// The values' shape, when it could be traced.
    pub fn value(&self) -> Option<&ValueShape> {
        self.value.as_ref()
    }

    /// What makes two families the same: literal tokens, parameter kinds and a tail, not the
    /// parameter names (`site.{str}.device.{u32}`).
    fn identity(&self) -> String {
        let mut kinds = self.kinds.iter();
        let tokens: Vec<String> = self
            .pattern
            .segments()
            .iter()
            .map(|segment| match segment {
                Segment::Literal(literal) => literal.clone(),
                Segment::Param(_) => format!("{{{}}}", next_kind(&mut kinds)),
                Segment::Tail(_) => format!("{{{}..}}", next_kind(&mut kinds)),
            })
            .collect();
        tokens.join(".")
    }

    fn to_stored(&self) -> StoredFamily {
        StoredFamily {
            pattern: self.pattern.as_str().to_owned(),
            params: self.kinds.clone(),
            codec: self.codec.clone(),
            value: self.value.as_ref().map(|v| v.0.clone()),
        }
    }

    fn from_stored(stored: StoredFamily) -> Result<Self, String> {
        let pattern = KeyPattern::parse(&stored.pattern).map_err(|e| e.to_string())?;
        if stored.params.len() != pattern.param_count() {
            return Err(format!(
                "family `{}` lists {} parameter kinds for {} parameters",
                stored.pattern,
                stored.params.len(),
                pattern.param_count()
            ));
        }
        Ok(Self {
            pattern,
            kinds: stored.params,
            codec: stored.codec,
            value: stored.value.map(ValueShape),
        })
    }
}

fn next_kind<'a>(kinds: &mut impl Iterator<Item = &'a String>) -> &'a str {
    kinds.next().map_or("?", String::as_str)
}

// ---------------------------------------------------------------------------------------------
// Schema
// ---------------------------------------------------------------------------------------------

/// What a bucket's declaration puts on the wire: its families, and the families it removes.
/// `#[derive(KvBucket)]` builds it; see the [module docs](self) for the compatibility policy.
///
/// Stored in the bucket's metadata under [`SCHEMA_METADATA_KEY`](crate::SCHEMA_METADATA_KEY) as
/// readable JSON (`{"natskv":3,"families":[{"pattern":"site.{site}.device.{id}","params":
/// ["str","u32"],"codec":"msgpack","value":{"struct":{...}}}]}`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schema {
    families: Vec<FamilySchema>,
    /// Removed families: declared here by pattern (see [`removed`](Self::removed)); in a stored
    /// schema, the removed families in full.
    removed: Vec<FamilySchema>,
    /// Patterns whose value change this declaration opts into.
    breaking: BTreeSet<String>,
    /// Patterns given to `removed`, not yet matched to a stored family.
    removing: BTreeSet<String>,
    /// Why a family could not be described (a pattern that does not parse or fit its key).
    problems: Vec<String>,
}

/// How a schema is stored in the metadata.
#[derive(Serialize, Deserialize)]
struct Stored {
    natskv: u32,
    families: Vec<StoredFamily>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    removed: Vec<StoredFamily>,
}

impl Schema {
    /// A schema without families.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the family of `pattern`, with key type `K` and values `V` stored by codec `C`. A
    /// pattern that does not parse, or does not fit `K`, is reported by the bucket operation
    /// that uses the schema ([`Error::InvalidPattern`](crate::Error::InvalidPattern)).
    #[must_use]
    pub fn family<K: KvKey, V, C: Codec<V>>(mut self, pattern: &str) -> Self {
        let parsed = match KeyPattern::parse(pattern) {
            Ok(parsed) => parsed,
            Err(error) => {
                self.problems.push(error.to_string());
                return self;
            }
        };
        let map = match bind_params::<K>(&parsed) {
            Ok(map) => map,
            Err(error) => {
                self.problems
                    .push(format!("key pattern {pattern:?}: {error}"));
                return self;
            }
        };
        let kinds = map
            .iter()
            .map(|&index| {
                let kind = K::KINDS.get(index).copied().unwrap_or("custom");
                kind.to_owned()
            })
            .collect();
        let family = FamilySchema {
            pattern: parsed,
            kinds,
            codec: C::NAME.to_owned(),
            value: C::shape(),
        };
        // Kept sorted by pattern: a declaration's field order is not part of its schema.
        let at = self
            .families
            .partition_point(|f| f.pattern() < family.pattern());
        self.families.insert(at, family);
        self
    }

    /// Opts into an incompatible change of the values of the family of `pattern`: `open` passes,
    /// and `ensure` stores this declaration's value shape over the stored one, after which
    /// declarations with the old shape are refused. Use it once every reader of the family runs
    /// the new declaration (or is stopped), or copy the data into a new bucket instead.
    #[must_use]
    pub fn allow_breaking(mut self, pattern: &str) -> Self {
        self.breaking.insert(pattern.to_owned());
        self
    }

    /// Declares the family of `pattern` (as it was declared, parameter names aside) removed:
    /// `ensure` drops it from the stored schema and remembers it, after which declarations that
    /// still have it are refused. Its keys stay in the bucket until purged.
    #[must_use]
    pub fn removed(mut self, pattern: &str) -> Self {
        self.removing.insert(pattern.to_owned());
        self
    }

    /// The families.
    pub fn families(&self) -> &[FamilySchema] {
        &self.families
    }

    /// The removed families a stored schema remembers.
    pub fn removed_families(&self) -> &[FamilySchema] {
        &self.removed
    }

    /// The first reason this schema cannot be used, if any: a family that could not be
    /// described, a removed pattern that does not parse or names a declared family.
    pub(crate) fn problem(&self) -> Option<String> {
        if let Some(problem) = self.problems.first() {
            return Some(problem.clone());
        }
        self.removing.iter().find_map(|pattern| {
            if let Err(error) = KeyPattern::parse(pattern) {
                return Some(format!("removed family: {error}"));
            }
            let declared = self.families.iter().find(|f| Self::names(pattern, f))?;
            Some(format!(
                "family `{pattern}` is both declared (as `{}`) and removed",
                declared.pattern()
            ))
        })
    }

    /// The schema as stored: JSON, families sorted by pattern.
    pub fn to_text(&self) -> String {
        let stored =
            |families: &[FamilySchema]| families.iter().map(FamilySchema::to_stored).collect();
        let stored = Stored {
            natskv: VERSION,
            families: stored(&self.families),
            removed: stored(&self.removed),
        };
        serde_json::to_string(&stored).unwrap_or_default()
    }

    /// Reads a stored schema. `Ok(None)` for a schema stored by natskv before version 3 (a
    /// fingerprint of Rust type names, which cannot be compared).
    ///
    /// # Errors
    /// What cannot be read, as text.
    pub fn parse(text: &str) -> Result<Option<Self>, String> {
        if text.starts_with("v1-") || text.starts_with("v2;") {
            return Ok(None);
        }
        let stored: Stored = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if stored.natskv != VERSION {
            return Err(format!(
                "schema format {} is not one this natskv reads ({VERSION}); upgrade natskv",
                stored.natskv
            ));
        }
        let read = |families: Vec<StoredFamily>| {
            let mut read = families
                .into_iter()
                .map(FamilySchema::from_stored)
                .collect::<Result<Vec<_>, _>>()?;
            read.sort_by(|a, b| a.pattern().cmp(b.pattern()));
            Ok::<_, String>(read)
        };
        Ok(Some(Self {
            families: read(stored.families)?,
            removed: read(stored.removed)?,
            ..Self::default()
        }))
    }

    /// Whether `pattern` (a pattern given to `removed`) names `family`.
    fn names(pattern: &str, family: &FamilySchema) -> bool {
        KeyPattern::parse(pattern).is_ok_and(|p| p.same_places(&family.pattern))
    }

    /// What keeps this declaration from using a bucket that stores `stored`: every family
    /// whose change the policy refuses. Empty when they fit.
    pub(crate) fn differences(&self, stored: &Schema) -> Vec<SchemaDifference> {
        let mut out = Vec::new();
        for family in &self.families {
            if let Some(difference) = self.difference(family, stored) {
                out.push(difference);
            }
        }
        out
    }

    fn difference(&self, family: &FamilySchema, stored: &Schema) -> Option<SchemaDifference> {
        let pattern = family.pattern().to_owned();
        let identity = family.identity();
        let Some(found) = stored.families.iter().find(|s| s.identity() == identity) else {
            // A removed family is matched by its places alone: a declaration may remove a
            // family the bucket never stored, whose parameter kinds it cannot know.
            if stored
                .removed
                .iter()
                .any(|s| s.pattern.same_places(&family.pattern))
            {
                return Some(SchemaDifference::Removed { pattern });
            }
            let overlapping = stored
                .families
                .iter()
                .chain(&stored.removed)
                .find(|s| s.pattern.overlaps(&family.pattern))?;
            return Some(SchemaDifference::Pattern {
                pattern,
                stored: overlapping.pattern().to_owned(),
            });
        };
        let names = |f: &FamilySchema| f.pattern.params().map(str::to_owned).collect::<Vec<_>>();
        let (ours, theirs) = (names(family), names(found));
        let moved = ours.iter().enumerate().any(|(i, name)| {
            theirs
                .iter()
                .position(|n| n == name)
                .is_some_and(|j| j != i)
        });
        if moved {
            return Some(SchemaDifference::ParamOrder {
                pattern,
                stored: found.pattern().to_owned(),
            });
        }
        if family.codec != found.codec {
            return Some(SchemaDifference::Codec {
                pattern,
                declared: family.codec.clone(),
                stored: found.codec.clone(),
            });
        }
        if self.breaking.contains(family.pattern()) {
            return None;
        }
        let (ours, theirs) = (shape(family), shape(found));
        compatible(ours, theirs, "")
            .err()
            .map(|detail| SchemaDifference::Changed { pattern, detail })
    }

    /// The schema `ensure` stores over `stored` (this declaration fits it): every stored family,
    /// each declared one added or widened to the union of both shapes (replaced where this
    /// declaration opts into a breaking change), and the families it removes dropped and
    /// remembered.
    pub(crate) fn merged_over(&self, stored: &Schema) -> Schema {
        let mut families = stored.families.clone();
        let mut removed = stored.removed.clone();
        for family in &self.families {
            let identity = family.identity();
            match families.iter_mut().find(|s| s.identity() == identity) {
                Some(existing) if self.breaking.contains(family.pattern()) => {
                    existing.value.clone_from(&family.value);
                }
                Some(existing) => {
                    existing.value = match (&existing.value, &family.value) {
                        (Some(a), Some(b)) => Some(ValueShape(union(&b.0, &a.0))),
                        (a, b) => a.clone().or_else(|| b.clone()),
                    };
                }
                None => families.push(family.clone()),
            }
        }
        for pattern in &self.removing {
            let (gone, kept): (Vec<_>, Vec<_>) = families
                .into_iter()
                .partition(|family| Self::names(pattern, family));
            families = kept;
            let remembered = removed.iter().any(|family| Self::names(pattern, family));
            match KeyPattern::parse(pattern) {
                // Remembered even when the bucket never stored it, so that an older
                // declaration cannot bring it back; its kinds are unknown.
                Ok(parsed) if gone.is_empty() && !remembered => removed.push(FamilySchema {
                    kinds: vec![UNKNOWN_KIND.to_owned(); parsed.param_count()],
                    pattern: parsed,
                    codec: String::new(),
                    value: None,
                }),
                _ => removed.extend(gone),
            }
        }
        families.sort_by(|a, b| a.pattern().cmp(b.pattern()));
        removed.sort_by(|a, b| a.pattern().cmp(b.pattern()));
        Schema {
            families,
            removed,
            ..Schema::default()
        }
    }
}

fn shape(family: &FamilySchema) -> &Value {
    family.value.as_ref().map_or(&Value::Null, |v| &v.0)
}

impl fmt::Display for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{Json, MsgPack, Raw};

    #[derive(Serialize, Deserialize)]
    #[allow(dead_code)]
    struct V1 {
        online: bool,
        battery: u8,
    }

    #[derive(Serialize, Deserialize)]
    #[allow(dead_code)]
    struct V2Optional {
        online: bool,
        battery: u8,
        note: Option<String>,
    }

    #[derive(Serialize, Deserialize)]
    #[allow(dead_code)]
    struct V2Required {
        online: bool,
        battery: u8,
        firmware: String,
    }

    #[derive(Serialize, Deserialize)]
    #[allow(dead_code)]
    struct V2Type {
        online: bool,
        battery: u32,
    }

    #[derive(Serialize, Deserialize)]
    #[allow(dead_code)]
    #[serde(rename = "Renamed")]
    struct RenamedV1 {
        online: bool,
        battery: u8,
    }

    #[derive(Serialize, Deserialize)]
    #[allow(dead_code)]
    enum Mode {
        Off,
        On(u8),
        Timed { minutes: u32 },
    }

    #[derive(Serialize, Deserialize)]
    #[allow(dead_code)]
    struct Tree {
        name: String,
        children: Vec<Tree>,
    }

    fn shape_of<V: DeserializeOwned>() -> Value {
        ValueShape::of_serde::<V>(false).unwrap().0
    }

    #[test]
    fn shapes_describe_the_wire() {
        assert_eq!(
            shape_of::<V1>().to_string(),
            r#"{"struct":{"battery":"u8","online":"bool"}}"#
        );
        assert_eq!(shape_of::<V1>(), shape_of::<RenamedV1>());
        assert_eq!(
            shape_of::<Mode>().to_string(),
            r#"{"enum":{"Off":"unit","On":"u8","Timed":{"struct":{"minutes":"u32"}}}}"#
        );
        assert_eq!(
            shape_of::<Tree>().to_string(),
            r#"{"struct":{"children":{"seq":{"recursive":"Tree"}},"name":"str"}}"#
        );
        assert_eq!(
            shape_of::<Option<Vec<u8>>>().to_string(),
            r#"{"option":{"seq":"u8"}}"#
        );
        assert_eq!(
            shape_of::<std::collections::HashMap<String, (u8, bool)>>().to_string(),
            r#"{"map":["str",{"tuple":["u8","bool"]}]}"#
        );
        assert!(ValueShape::of_serde::<serde_json::Value>(true).is_none());
    }

    #[test]
    fn compatibility_follows_the_policy() {
        let v1 = shape_of::<V1>();
        assert_eq!(compatible(&v1, &shape_of::<RenamedV1>(), ""), Ok(()));
        assert_eq!(compatible(&shape_of::<V2Optional>(), &v1, ""), Ok(()));
        assert_eq!(compatible(&v1, &shape_of::<V2Optional>(), ""), Ok(()));
        let new_required = compatible(&shape_of::<V2Required>(), &v1, "").unwrap_err();
        assert!(
            new_required.contains("`firmware` is new and required"),
            "{new_required}"
        );
        let gone = compatible(&v1, &shape_of::<V2Required>(), "").unwrap_err();
        assert!(gone.contains("`firmware` is gone"), "{gone}");
        let retyped = compatible(&shape_of::<V2Type>(), &v1, "").unwrap_err();
        assert!(
            retyped.contains("`battery` was \"u8\", is now \"u32\""),
            "{retyped}"
        );
        assert!(compatible(&v1, &Value::Null, "").is_ok(), "unknown passes");
        assert!(compatible(&shape_of::<u32>(), &shape_of::<String>(), "").is_err());
    }

    #[test]
    fn unions_keep_every_field() {
        let union = union(&shape_of::<V1>(), &shape_of::<V2Optional>());
        assert_eq!(union, shape_of::<V2Optional>());
        assert_eq!(
            super::union(&shape_of::<V2Optional>(), &shape_of::<V1>()),
            union
        );
    }

    #[test]
    fn stored_text_round_trips() {
        let schema = Schema::new()
            .family::<u32, V1, MsgPack>("device.{id}")
            .family::<crate::key::KeyPath, String, Json>("config.{path..}")
            .family::<(), Vec<u8>, Raw>("blob");
        let text = schema.to_text();
        assert!(text.starts_with(r#"{"natskv":3,"families":[{"pattern":"blob","codec":"raw""#));
        assert!(text.contains(r#""pattern":"config.{path..}","params":["path"],"codec":"json""#));
        let read = Schema::parse(&text).unwrap().unwrap();
        assert_eq!(read.to_text(), text);
        assert_eq!(read.families().len(), 3);
        assert_eq!(Schema::parse("v2;a=00"), Ok(None));
        assert!(Schema::parse("{").is_err());
        assert!(Schema::parse(r#"{"natskv":9,"families":[]}"#).is_err());
    }

    #[test]
    fn families_are_matched_by_place_and_kind() {
        let stored = Schema::new()
            .family::<u32, V1, MsgPack>("device.{id}")
            .merged_over(&Schema::default());
        let renamed = Schema::new().family::<u32, RenamedV1, MsgPack>("device.{serial}");
        assert!(renamed.differences(&stored).is_empty());
        let other_kind = Schema::new().family::<String, V1, MsgPack>("device.{id}");
        assert!(matches!(
            other_kind.differences(&stored)[..],
            [SchemaDifference::Pattern { .. }]
        ));
        let codec = Schema::new().family::<u32, V1, Json>("device.{id}");
        assert!(matches!(
            codec.differences(&stored)[..],
            [SchemaDifference::Codec { .. }]
        ));
        let added = Schema::new()
            .family::<u32, V1, MsgPack>("device.{id}")
            .family::<u32, V1, MsgPack>("site.{id}");
        assert!(added.differences(&stored).is_empty());
        let merged = added.merged_over(&stored);
        assert_eq!(merged.families().len(), 2);
        let older = Schema::new().family::<u32, V1, MsgPack>("device.{id}");
        assert!(older.differences(&merged).is_empty());
        assert_eq!(
            older.merged_over(&merged),
            merged,
            "an older one takes nothing away"
        );
    }

    #[test]
    fn removed_families_are_dropped_and_remembered() {
        let stored = Schema::new()
            .family::<u32, V1, MsgPack>("device.{id}")
            .family::<String, V1, MsgPack>("legacy.{name}")
            .merged_over(&Schema::default());
        let v2 = Schema::new()
            .family::<u32, V1, MsgPack>("device.{id}")
            .removed("legacy.{n}");
        assert_eq!(v2.problem(), None);
        assert!(v2.differences(&stored).is_empty());
        let merged = v2.merged_over(&stored);
        assert_eq!(merged.families().len(), 1);
        assert_eq!(merged.removed_families()[0].pattern(), "legacy.{name}");
        let v1 = Schema::new()
            .family::<u32, V1, MsgPack>("device.{id}")
            .family::<String, V1, MsgPack>("legacy.{name}");
        assert!(matches!(
            v1.differences(&merged)[..],
            [SchemaDifference::Removed { .. }]
        ));
        let both = Schema::new()
            .family::<u32, V1, MsgPack>("device.{id}")
            .removed("device.{x}");
        assert!(both.problem().unwrap().contains("both declared"));
        assert!(Schema::new().removed("a..b").problem().is_some());
    }

    #[test]
    fn breaking_changes_need_the_opt_in_and_then_replace() {
        let stored = Schema::new()
            .family::<u32, V1, MsgPack>("device.{id}")
            .merged_over(&Schema::default());
        let v2 = Schema::new().family::<u32, V2Required, MsgPack>("device.{id}");
        assert!(matches!(
            v2.differences(&stored)[..],
            [SchemaDifference::Changed { .. }]
        ));
        let v2 = v2.allow_breaking("device.{id}");
        assert!(v2.differences(&stored).is_empty());
        let merged = v2.merged_over(&stored);
        assert_eq!(
            merged.families()[0].value().unwrap().as_json(),
            &shape_of::<V2Required>()
        );
        let v1 = Schema::new().family::<u32, V1, MsgPack>("device.{id}");
        assert!(!v1.differences(&merged).is_empty());
    }

    #[test]
    fn parameter_order_is_part_of_a_family() {
        let stored = Schema::new()
            .family::<RouteKey, V1, MsgPack>("route.{from}.{to}")
            .merged_over(&Schema::default());
        let swapped = Schema::new().family::<RouteKey, V1, MsgPack>("route.{to}.{from}");
        assert!(matches!(
            swapped.differences(&stored)[..],
            [SchemaDifference::ParamOrder { .. }]
        ));
    }

    #[derive(Debug)]
    struct RouteKey;

    impl KvKey for RouteKey {
        const PARAMS: &'static [&'static str] = &["from", "to"];
        const KINDS: &'static [&'static str] = &["str", "str"];

        fn write_param(&self, index: usize, _: &mut String) -> Result<(), crate::KeyError> {
            Err(crate::KeyError::no_such_param(index, 2))
        }

        fn from_tokens(tokens: &[&str]) -> Result<Self, crate::KeyError> {
            Err(crate::KeyError::token_count(2, tokens.len()))
        }
    }
}
