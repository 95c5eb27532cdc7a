//! What a field's type says syntactically: `Family<K, V, C, M>` or `Single<V, C, M>` with their
//! type arguments, and a normalized name of a type for messages.
//!
//! This is only a reading of the tokens, used to point errors at the right argument and to name
//! types; whether the type really is a family is checked by the compiler through a trait.

use quote::ToTokens;
use syn::{GenericArgument, PathArguments, Type};

/// A bucket field's type, as written.
pub(crate) enum Shape<'a> {
    /// `Family<K, V>`, `Family<K, V, C>` or `Family<K, V, C, M>`.
    Family {
        key: &'a Type,
        codec: Option<&'a Type>,
        mode: Option<&'a Type>,
    },
    /// `Single<V>`, `Single<V, C>` or `Single<V, C, M>`.
    Single {
        codec: Option<&'a Type>,
        mode: Option<&'a Type>,
    },
    /// Anything else: an alias, or not a family at all.
    Unknown,
}

impl<'a> Shape<'a> {
    /// Reads the shape of `ty`.
    pub(crate) fn of(ty: &'a Type) -> Self {
        let Some((name, args)) = last_segment(ty) else {
            return Shape::Unknown;
        };
        match (name.as_str(), args.as_slice()) {
            ("Family", [key, _value, rest @ ..]) if rest.len() <= 2 => Shape::Family {
                key,
                codec: rest.first().copied(),
                mode: rest.get(1).copied(),
            },
            ("Single", [_value, rest @ ..]) if rest.len() <= 2 => Shape::Single {
                codec: rest.first().copied(),
                mode: rest.get(1).copied(),
            },
            _ => Shape::Unknown,
        }
    }

    /// The mode type, when written.
    pub(crate) fn mode(&self) -> Option<&'a Type> {
        match self {
            Shape::Family { mode, .. } | Shape::Single { mode, .. } => *mode,
            Shape::Unknown => None,
        }
    }

    /// The codec type, when written.
    pub(crate) fn codec(&self) -> Option<&'a Type> {
        match self {
            Shape::Family { codec, .. } | Shape::Single { codec, .. } => *codec,
            Shape::Unknown => None,
        }
    }
}

/// The last path segment's name and its type arguments, for a plain path type.
fn last_segment(ty: &Type) -> Option<(String, Vec<&Type>)> {
    let ty = ungroup(ty);
    let Type::Path(path) = ty else {
        return None;
    };
    if path.qself.is_some() {
        return None;
    }
    let segment = path.path.segments.last()?;
    let args = match &segment.arguments {
        PathArguments::None => Vec::new(),
        PathArguments::AngleBracketed(args) => args
            .args
            .iter()
            .map(|arg| match arg {
                GenericArgument::Type(ty) => Some(ty),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()?,
        PathArguments::Parenthesized(_) => return None,
    };
    Some((segment.ident.to_string(), args))
}

fn ungroup(mut ty: &Type) -> &Type {
    loop {
        match ty {
            Type::Group(group) => ty = &group.elem,
            Type::Paren(paren) => ty = &paren.elem,
            _ => return ty,
        }
    }
}

/// A name for `ty` that does not depend on how it was imported: each path is reduced to its
/// last segment (`crate::model::DeviceState` and `DeviceState` give `DeviceState`), generic
/// arguments kept (`Vec<u8>`).
pub(crate) fn type_name(ty: &Type) -> String {
    let ty = ungroup(ty);
    match ty {
        Type::Path(path) if path.qself.is_none() => match path.path.segments.last() {
            Some(segment) => {
                let mut name = segment.ident.to_string();
                if let PathArguments::AngleBracketed(args) = &segment.arguments {
                    let args: Vec<String> = args
                        .args
                        .iter()
                        .map(|arg| match arg {
                            GenericArgument::Type(ty) => type_name(ty),
                            other => compact(other),
                        })
                        .collect();
                    name.push('<');
                    name.push_str(&args.join(", "));
                    name.push('>');
                }
                name
            }
            None => compact(ty),
        },
        Type::Reference(reference) => {
            let mutability = if reference.mutability.is_some() {
                "mut "
            } else {
                ""
            };
            format!("&{mutability}{}", type_name(&reference.elem))
        }
        Type::Tuple(tuple) => {
            let elems: Vec<String> = tuple.elems.iter().map(type_name).collect();
            if elems.len() == 1 {
                format!("({},)", elems.join(""))
            } else {
                format!("({})", elems.join(", "))
            }
        }
        Type::Slice(slice) => format!("[{}]", type_name(&slice.elem)),
        Type::Array(array) => format!("[{}; {}]", type_name(&array.elem), compact(&array.len)),
        other => compact(other),
    }
}

/// The tokens of `node` without the spaces `to_string` puts between them.
fn compact<T: ToTokens>(node: &T) -> String {
    node.to_token_stream()
        .to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join("")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(s: &str) -> Type {
        syn::parse_str(s).unwrap()
    }

    #[test]
    fn shapes() {
        let t = ty("natskv::Family<DeviceKey, State>");
        let shape = Shape::of(&t);
        let Shape::Family {
            key,
            codec: None,
            mode: None,
            ..
        } = shape
        else {
            panic!("not a family");
        };
        assert_eq!(type_name(key), "DeviceKey");
        let t = ty("Single<bool, Json, PerKeyTtl>");
        let shape = Shape::of(&t);
        assert!(matches!(shape, Shape::Single { .. }));
        assert_eq!(shape.codec().map(type_name).as_deref(), Some("Json"));
        assert_eq!(shape.mode().map(type_name).as_deref(), Some("PerKeyTtl"));
        assert!(matches!(Shape::of(&ty("Devices")), Shape::Unknown));
        assert!(matches!(Shape::of(&ty("Family<A>")), Shape::Unknown));
        assert!(matches!(
            Shape::of(&ty("Single<A, B, C, D>")),
            Shape::Unknown
        ));
    }

    #[test]
    fn names_ignore_the_import_path() {
        assert_eq!(type_name(&ty("crate::model::DeviceState")), "DeviceState");
        assert_eq!(type_name(&ty("std::vec::Vec<u8>")), "Vec<u8>");
        assert_eq!(
            type_name(&ty("Option<::std::string::String>")),
            "Option<String>"
        );
        assert_eq!(type_name(&ty("(u8, String)")), "(u8, String)");
        assert_eq!(type_name(&ty("[u8; 4]")), "[u8; 4]");
        assert_eq!(type_name(&ty("&'static str")), "&str");
    }
}
