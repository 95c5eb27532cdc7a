//! Stubs emitted beside `compile_error!` when a declaration has errors, so the user's code that
//! calls the generated functions does not add follow-up errors to the real ones (thiserror and
//! clap do the same).

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::ast::{BucketDecl, KeyDecl, KeyKind, local};

/// The bucket's inherent functions, with bodies that are never run.
pub(crate) fn bucket(decl: &BucketDecl, p: &TokenStream) -> TokenStream {
    let ident = decl.ident;
    let vis = decl.vis;
    let (impl_generics, ty_generics, where_clause) = decl.generics.split_for_impl();
    let conn = local("_conn");
    let name = local("_name");
    let bucket = local("_bucket");
    quote! {
        #[allow(dead_code, unused_variables, clippy::all)]
        impl #impl_generics #ident #ty_generics #where_clause {
            #vis fn spec() -> #p::BucketSpec { ::core::unimplemented!() }
            #vis async fn create(#conn: impl #p::Connection) -> #p::Result<Self> { ::core::unimplemented!() }
            #vis async fn open(#conn: impl #p::Connection) -> #p::Result<Self> { ::core::unimplemented!() }
            #vis async fn ensure(#conn: impl #p::Connection) -> #p::Result<Self> { ::core::unimplemented!() }
            #vis async fn create_named(#conn: impl #p::Connection, #name: &str) -> #p::Result<Self> { ::core::unimplemented!() }
            #vis async fn open_named(#conn: impl #p::Connection, #name: &str) -> #p::Result<Self> { ::core::unimplemented!() }
            #vis async fn ensure_named(#conn: impl #p::Connection, #name: &str) -> #p::Result<Self> { ::core::unimplemented!() }
            #vis async fn delete(#conn: impl #p::Connection) -> #p::Result<()> { ::core::unimplemented!() }
            #vis fn from_bucket(#bucket: &#p::Bucket) -> #p::Result<Self> { ::core::unimplemented!() }
            #vis fn bucket(&self) -> &#p::Bucket { ::core::unimplemented!() }
            #vis async fn status(&self) -> #p::Result<#p::BucketStatus> { ::core::unimplemented!() }
        }
    }
}

/// The `KvKey` impl, the filter type and `filter()`, with bodies that are never run.
pub(crate) fn key(decl: &KeyDecl, p: &TokenStream) -> TokenStream {
    let ident = decl.ident;
    let vis = decl.vis;
    let (impl_generics, ty_generics, where_clause) = decl.generics.split_for_impl();
    let key_impl = quote! {
        #[allow(unused_variables, clippy::all)]
        impl #impl_generics #p::KvKey for #ident #ty_generics #where_clause {
            const PARAMS: &'static [&'static str] = &[];
            fn write_param(&self, index: usize, out: &mut #p::String) -> #p::StdResult<(), #p::KeyError> {
                ::core::unimplemented!()
            }
            fn from_tokens(tokens: &[&str]) -> #p::StdResult<Self, #p::KeyError> {
                ::core::unimplemented!()
            }
        }
    };
    if !decl.generics.params.is_empty() {
        return quote!(const _: () = { #key_impl };);
    }
    let filter = decl.filter_ident();
    let setters = match &decl.kind {
        KeyKind::Named(fields) => fields.iter().map(|f| (f.ident.clone(), f.ty)).collect(),
        KeyKind::Newtype(ty) => vec![(format_ident!("value"), *ty)],
        KeyKind::Invalid => Vec::new(),
    };
    let setters = setters.iter().map(|(setter, ty)| {
        quote!(#vis fn #setter(self, _: impl #p::Into<#ty>) -> Self { ::core::unimplemented!() })
    });
    quote! {
        #[allow(missing_docs, missing_debug_implementations, dead_code)]
        #vis struct #filter {}
        const _: () = {
            #key_impl
            #[allow(dead_code)]
            impl #ident {
                #vis fn filter() -> #filter { ::core::unimplemented!() }
            }
            #[allow(dead_code, missing_docs)]
            impl #filter {
                #(#setters)*
            }
            impl #p::From<#filter> for #p::KeyFilter<#ident> {
                fn from(_: #filter) -> Self { ::core::unimplemented!() }
            }
        };
    }
}
