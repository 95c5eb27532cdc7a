//! The typed model of a declaration: the user's struct read into buckets, families and key
//! types, keeping the original syn nodes for spans. Shape errors (an enum, a tuple struct, a
//! generic struct) are reported here; what spans several attributes is in `check`.

use proc_macro2::Span;
use quote::quote;
use syn::ext::IdentExt as _;
use syn::{Data, DeriveInput, Fields, Generics, Ident, Path, Type, Visibility};

use crate::attr::{self, BucketAttrs, KeyAttr};
use crate::ctxt::Ctxt;
use crate::types::Shape;

/// What a bucket declaration looks like, for the shape errors.
const BUCKET_NEEDS: &str = "#[derive(KvBucket)] needs a struct with named fields, one per key \
                            family: `struct Fleet { #[kv(key = \"site.{site}\")] sites: Family<String, Site> }`";

/// What a key type looks like, for the shape errors.
const KEY_NEEDS: &str = "#[derive(KvKey)] needs a struct with named fields, one per key \
                         parameter (`struct DeviceKey { site: String, id: u32 }`), or a tuple \
                         struct with one field (`struct SessionId(String)`)";

/// A `#[derive(KvBucket)]` struct.
pub(crate) struct BucketDecl<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) vis: &'a Visibility,
    pub(crate) generics: &'a Generics,
    pub(crate) attrs: BucketAttrs,
    /// The fields, or `None` when the item is not a struct with named fields.
    pub(crate) fields: Option<Vec<BucketFieldDecl<'a>>>,
}

/// One field of a bucket: a family or a single key.
pub(crate) struct BucketFieldDecl<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) ty: &'a Type,
    pub(crate) key: Option<KeyAttr>,
    pub(crate) shape: Shape<'a>,
}

/// The path generated code reaches natskv through: `::natskv`, or the `crate` option.
pub(crate) fn crate_path(krate: Option<&Path>) -> proc_macro2::TokenStream {
    krate.map_or_else(|| quote!(::natskv), |path| quote!(#path))
}

fn generics_error(cx: &Ctxt, generics: &Generics, what: &str) {
    if !generics.params.is_empty() || generics.where_clause.is_some() {
        cx.error_spanned_by(
            generics,
            format!("a {what} cannot be generic; remove the parameters"),
        );
    }
}

impl<'a> BucketDecl<'a> {
    pub(crate) fn from_ast(cx: &Ctxt, input: &'a DeriveInput) -> Self {
        let attrs = attr::bucket_attrs(cx, &input.attrs);
        generics_error(cx, &input.generics, "bucket struct (#[derive(KvBucket)])");
        let fields = match &input.data {
            Data::Struct(data) => match &data.fields {
                Fields::Named(named) => Some(
                    named
                        .named
                        .iter()
                        .filter_map(|field| {
                            let ident = field.ident.as_ref()?;
                            Some(BucketFieldDecl {
                                ident,
                                ty: &field.ty,
                                key: attr::field_key(cx, &field.attrs),
                                shape: Shape::of(&field.ty),
                            })
                        })
                        .collect(),
                ),
                Fields::Unnamed(unnamed) => {
                    cx.error_spanned_by(
                        unnamed,
                        format!("a tuple struct cannot declare a bucket; {BUCKET_NEEDS}"),
                    );
                    None
                }
                Fields::Unit => {
                    cx.error_spanned_by(
                        &input.ident,
                        format!("a unit struct cannot declare a bucket; {BUCKET_NEEDS}"),
                    );
                    None
                }
            },
            Data::Enum(data) => {
                cx.error_at(
                    data.enum_token.span,
                    format!("an enum cannot declare a bucket; {BUCKET_NEEDS}"),
                );
                None
            }
            Data::Union(data) => {
                cx.error_at(
                    data.union_token.span,
                    format!("a union cannot declare a bucket; {BUCKET_NEEDS}"),
                );
                None
            }
        };
        BucketDecl {
            ident: &input.ident,
            vis: &input.vis,
            generics: &input.generics,
            attrs,
            fields,
        }
    }

    /// The fields (empty when the item was not a struct with named fields).
    pub(crate) fn fields(&self) -> &[BucketFieldDecl<'a>] {
        self.fields.as_deref().unwrap_or_default()
    }
}

/// A `#[derive(KvKey)]` struct.
pub(crate) struct KeyDecl<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) vis: &'a Visibility,
    pub(crate) generics: &'a Generics,
    pub(crate) krate: Option<Path>,
    pub(crate) kind: KeyKind<'a>,
}

/// The parameters of a key type.
pub(crate) enum KeyKind<'a> {
    /// Named fields, one parameter each, named after the field.
    Named(Vec<KeyFieldDecl<'a>>),
    /// A single-field tuple struct: one unnamed parameter.
    Newtype(&'a Type),
    /// Not a usable key type (reported).
    Invalid,
}

/// One named field of a key type.
pub(crate) struct KeyFieldDecl<'a> {
    pub(crate) ident: &'a Ident,
    /// The parameter name: the field name without `r#`.
    pub(crate) name: String,
    pub(crate) ty: &'a Type,
}

impl<'a> KeyDecl<'a> {
    pub(crate) fn from_ast(cx: &Ctxt, input: &'a DeriveInput) -> Self {
        let attrs = attr::key_type_attrs(cx, &input.attrs);
        generics_error(cx, &input.generics, "key type (#[derive(KvKey)])");
        let kind = match &input.data {
            Data::Struct(data) => match &data.fields {
                Fields::Named(named) if named.named.is_empty() => {
                    cx.error_spanned_by(named, format!("a key type needs at least one field (a key with no parameters is `()`); {KEY_NEEDS}"));
                    KeyKind::Invalid
                }
                Fields::Named(named) => KeyKind::Named(
                    named
                        .named
                        .iter()
                        .filter_map(|field| {
                            attr::no_key_field_options(cx, &field.attrs);
                            let ident = field.ident.as_ref()?;
                            Some(KeyFieldDecl {
                                ident,
                                name: ident.unraw().to_string(),
                                ty: &field.ty,
                            })
                        })
                        .collect(),
                ),
                Fields::Unnamed(unnamed) => {
                    let mut fields = unnamed.unnamed.iter();
                    if let (Some(field), None) = (fields.next(), fields.next()) {
                        attr::no_key_field_options(cx, &field.attrs);
                        KeyKind::Newtype(&field.ty)
                    } else {
                        cx.error_spanned_by(
                            unnamed,
                            format!(
                                "a tuple key type has exactly one field, this one has {}; name the \
                                 fields of a key with several parameters: {KEY_NEEDS}",
                                unnamed.unnamed.len()
                            ),
                        );
                        KeyKind::Invalid
                    }
                }
                Fields::Unit => {
                    cx.error_spanned_by(&input.ident, format!("a unit struct cannot be a key type (a key with no parameters is `()`); {KEY_NEEDS}"));
                    KeyKind::Invalid
                }
            },
            Data::Enum(data) => {
                cx.error_at(
                    data.enum_token.span,
                    format!("an enum cannot be a key type; {KEY_NEEDS}"),
                );
                KeyKind::Invalid
            }
            Data::Union(data) => {
                cx.error_at(
                    data.union_token.span,
                    format!("a union cannot be a key type; {KEY_NEEDS}"),
                );
                KeyKind::Invalid
            }
        };
        KeyDecl {
            ident: &input.ident,
            vis: &input.vis,
            generics: &input.generics,
            krate: attrs.krate,
            kind,
        }
    }

    /// The generated filter type's name: `<KeyType>Filter`.
    pub(crate) fn filter_ident(&self) -> Ident {
        Ident::new(&format!("{}Filter", self.ident.unraw()), self.ident.span())
    }
}

/// A name for generated code. Mixed-site hygiene keeps the user's locals apart, but a constant
/// in scope would still turn a binding of the same name into a constant pattern, so the names
/// of generated locals start with `__kv_`; only the parameters shown in rustdoc (`conn`,
/// `value`, `bucket`) have plain names.
pub(crate) fn local(name: &str) -> Ident {
    Ident::new(name, Span::mixed_site())
}
