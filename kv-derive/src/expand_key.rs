//! `#[derive(KvKey)]`: the `KvKey` impl of a key struct and its typed partial filter.
//!
//! Each field is written and parsed through `<FieldType as KeyPart>`, so a field type that cannot
//! be a key token is reported at that type with `KeyPart`'s own message. The filter type
//! (`<Key>Filter`) is generated beside the struct so the user can name it; everything else is
//! inside `const _: () = { ... };`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::DeriveInput;

use crate::ast::{KeyDecl, KeyKind, crate_path, local};
use crate::ctxt::Ctxt;
use crate::fallback;
use crate::respan::around;

/// The derive's entry point: the expansion, or the errors and a stub.
pub(crate) fn derive(input: &DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let decl = KeyDecl::from_ast(&cx, input);
    let krate = crate_path(decl.krate.as_ref());
    let p = quote!(#krate::__private);
    match cx.check() {
        Ok(()) => expand(&decl, &p),
        Err(error) => {
            let errors = error.to_compile_error();
            let stub = fallback::key(&decl, &p);
            quote!(#errors #stub)
        }
    }
}

/// One key parameter: how to reach the field, its parameter name and type.
struct Param<'a> {
    /// `site`, or `0` for a tuple struct's field.
    member: syn::Member,
    /// The setter's name: the field's identifier (`r#type` stays raw), or `value`.
    setter: syn::Ident,
    /// The parameter name as written in patterns (`type`), for docs and errors.
    name: String,
    ty: &'a syn::Type,
}

fn params<'a>(decl: &KeyDecl<'a>) -> Vec<Param<'a>> {
    match &decl.kind {
        KeyKind::Named(fields) => fields
            .iter()
            .map(|f| Param {
                member: syn::Member::Named(f.ident.clone()),
                setter: f.ident.clone(),
                name: f.name.clone(),
                ty: f.ty,
            })
            .collect(),
        KeyKind::Newtype(ty) => vec![Param {
            member: syn::Member::Unnamed(syn::Index::from(0)),
            setter: format_ident!("value"),
            name: String::new(),
            ty,
        }],
        KeyKind::Invalid => Vec::new(),
    }
}

fn expand(decl: &KeyDecl, p: &TokenStream) -> TokenStream {
    let params = params(decl);
    let key_impl = key_impl(decl, &params, p);
    let (filter_struct, filter_impls) = filter_items(decl, &params, p);
    quote! {
        #filter_struct

        const _: () = {
            #key_impl
            #filter_impls
        };
    }
}

/// The `KvKey` impl: parameter names, and each field written and parsed through its `KeyPart`.
fn key_impl(decl: &KeyDecl, params: &[Param], p: &TokenStream) -> TokenStream {
    let ident = decl.ident;
    let count = params.len();
    let newtype = matches!(decl.kind, KeyKind::Newtype(_));
    let (this, index, out, tokens, parsed, error) = (
        local("__kv_this"),
        local("__kv_index"),
        local("__kv_out"),
        local("__kv_tokens"),
        local("__kv_parsed"),
        local("__kv_error"),
    );

    let names_const = if newtype {
        quote!(&[#p::ANY_PARAM])
    } else {
        let names = params.iter().map(|param| &param.name);
        quote!(&[#(#names),*])
    };

    // Which parameters are key paths (`KeyPart::IS_PATH`): at most one, the pattern's tail.
    let is_path = params
        .iter()
        .map(|param| around(param.ty, quote!(<), quote!(as #p::KeyPart>::IS_PATH)));
    let is_path = quote!(&[#(#is_path),*]);
    let kinds = params
        .iter()
        .map(|param| around(param.ty, quote!(<), quote!(as #p::KeyPart>::KIND)));
    let two_paths = format!(
        "`{ident}` has more than one natskv::KeyPath field, but a key pattern has at most one \
         tail parameter `{{name..}}` (its last token); keep one KeyPath and make the others \
         one-token types"
    );
    let one_path_check = quote_spanned! {ident.span()=>
        const _: () = if #p::tail_count(#is_path) > 1 {
            ::core::panic!("{}", #two_paths);
        };
    };

    let write_arms = params.iter().enumerate().map(|(i, param)| {
        let member = &param.member;
        let write = around(param.ty, quote!(<), quote!(as #p::KeyPart>::write_token));
        quote!(#i => #write(&#this.#member, #out),)
    });

    let token_names: Vec<syn::Ident> = (0..count)
        .map(|i| local(&format!("__kv_token{i}")))
        .collect();
    let fields = params.iter().zip(&token_names).map(|(param, token)| {
        let member = &param.member;
        let name = if newtype {
            quote!(#p::ANY_PARAM)
        } else {
            let name = &param.name;
            quote!(#name)
        };
        let parse = around(param.ty, quote!(<), quote!(as #p::KeyPart>::parse_token));
        quote! {
            #member: match #parse(#token) {
                #p::StdResult::Ok(#parsed) => #parsed,
                #p::StdResult::Err(#error) => {
                    return #p::StdResult::Err(#p::KeyError::in_param(#error, #name));
                }
            }
        }
    });

    quote! {
        #[automatically_derived]
        impl #p::KvKey for #ident {
            const PARAMS: &'static [&'static str] = #names_const;
            const TAIL: #p::Option<usize> = #p::tail_index(#is_path);
            const KINDS: &'static [&'static str] = &[#(#kinds),*];

            fn write_param(
                &self,
                #index: usize,
                #out: &mut #p::String,
            ) -> #p::StdResult<(), #p::KeyError> {
                let #this = self;
                match #index {
                    #(#write_arms)*
                    _ => #p::StdResult::Err(#p::KeyError::no_such_param(#index, #count)),
                }
            }

            fn from_tokens(#tokens: &[&str]) -> #p::StdResult<Self, #p::KeyError> {
                match #tokens {
                    [#(#token_names),*] => #p::StdResult::Ok(Self { #(#fields,)* }),
                    _ => #p::StdResult::Err(#p::KeyError::token_count(#count, <[&str]>::len(#tokens))),
                }
            }
        }

        #one_path_check
    }
}

/// The filter type (public, beside the struct) and its impls (inside the const block):
/// `Key::filter()`, one setter per parameter, `From<KeyFilter>`, `Clone`, `Debug`, `Default`.
fn filter_items(decl: &KeyDecl, params: &[Param], p: &TokenStream) -> (TokenStream, TokenStream) {
    let ident = decl.ident;
    let vis = decl.vis;
    let filter = decl.filter_ident();
    let newtype = matches!(decl.kind, KeyKind::Newtype(_));
    let (value, inner, f) = (local("value"), local("__kv_inner"), local("__kv_f"));

    let setters = params.iter().enumerate().map(|(i, param)| {
        let ty = param.ty;
        let setter = &param.setter;
        let write = around(ty, quote!(<), quote!(as #p::KeyPart>::write_token));
        let doc = if newtype {
            "Keeps only the key whose value is `value`.".to_owned()
        } else {
            format!(
                "Keeps only the keys whose `{}` is `value`; a value that cannot be a key token \
                 makes the filter fail when it is used (`Error::InvalidKey`), before any wire call.",
                param.name
            )
        };
        quote! {
            #[doc = #doc]
            #[must_use]
            #vis fn #setter(self, #value: impl #p::Into<#ty>) -> Self {
                let #value: #ty = #p::Into::into(#value);
                #filter { #inner: #p::filter_with(self.#inner, #i, &#value, #write) }
            }
        }
    });

    let under = under_setter(decl, params, p);

    let ident_text = ident.to_string();
    let filter_doc = format!(
        "A partial [`{ident_text}`], for filtering keys and watches: each parameter left unset \
         matches any value. Start from [`{ident_text}::filter`], set what you know, and pass it \
         where a `natskv::KeyFilter<{ident_text}>` is expected (`Family::keys`, `Family::watch`)."
    );
    let filter_fn_doc = format!(
        "A filter matching every `{ident_text}`; each of its setters fixes one parameter, as in \
         `family.keys({ident_text}::filter(){})`.",
        params
            .first()
            .map(|p| format!(".{}(...)", p.setter))
            .unwrap_or_default()
    );

    let filter_struct = quote! {
        #[doc = #filter_doc]
        #vis struct #filter {
            #inner: #p::KeyFilter<#ident>,
        }
    };
    let impls = quote! {
        #[automatically_derived]
        #[allow(dead_code)]
        impl #ident {
            #[doc = #filter_fn_doc]
            #[must_use]
            #vis fn filter() -> #filter {
                #filter { #inner: #p::KeyFilter::any() }
            }
        }

        #[automatically_derived]
        #[allow(dead_code)]
        impl #filter {
            #(#setters)*
            #under
        }

        #[automatically_derived]
        impl #p::From<#filter> for #p::KeyFilter<#ident> {
            fn from(#f: #filter) -> Self {
                #f.#inner
            }
        }

        #[automatically_derived]
        impl #p::Clone for #filter {
            fn clone(&self) -> Self {
                #filter { #inner: #p::Clone::clone(&self.#inner) }
            }
        }

        #[automatically_derived]
        impl #p::Debug for #filter {
            fn fmt(&self, #f: &mut #p::Formatter<'_>) -> #p::FmtResult {
                #p::Debug::fmt(&self.#inner, #f)
            }
        }

        #[automatically_derived]
        impl #p::Default for #filter {
            fn default() -> Self {
                <#ident>::filter()
            }
        }
    };
    (filter_struct, impls)
}

/// The filter's `under(&prefix)` setter, for a key type with a field spelled `KeyPath` (unless
/// a field is named `under`).
fn under_setter(decl: &KeyDecl, params: &[Param], p: &TokenStream) -> Option<TokenStream> {
    let vis = decl.vis;
    let filter = decl.filter_ident();
    let newtype = matches!(decl.kind, KeyKind::Newtype(_));
    let inner = local("__kv_inner");
    params
        .iter()
        .find(|param| is_key_path(param.ty))
        .filter(|_| !params.iter().any(|param| param.setter == "under"))
        .map(|param| {
            let doc = format!(
                "Keeps only the keys whose `{}` lies under `prefix`: the prefix and one or more \
                 tokens more (the subject filter `...prefix.>`). The key whose path is the prefix \
                 itself is not one of them; fix the path with the setter for that.",
                if newtype { "value" } else { &param.name }
            );
            let prefix = local("prefix");
            quote! {
                #[doc = #doc]
                #[must_use]
                #vis fn under(self, #prefix: &#p::KeyPath) -> Self {
                    #filter { #inner: #p::KeyFilter::under(self.#inner, #prefix) }
                }
            }
        })
}

/// Whether `ty` is spelled as `KeyPath` (any path ending in it): such a field gets the filter's
/// `under` setter. A `KeyPath` behind an alias works as a key path all the same, without the
/// setter (`KeyFilter::under` serves).
fn is_key_path(ty: &syn::Type) -> bool {
    match ty {
        syn::Type::Path(path) => path
            .path
            .segments
            .last()
            .is_some_and(|segment| segment.ident == "KeyPath" && segment.arguments.is_none()),
        syn::Type::Group(group) => is_key_path(&group.elem),
        syn::Type::Paren(paren) => is_key_path(&paren.elem),
        _ => false,
    }
}
