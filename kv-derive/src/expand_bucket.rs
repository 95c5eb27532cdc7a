//! `#[derive(KvBucket)]`: turns a checked bucket declaration into its inherent functions.
//!
//! Everything is generated inside `const _: () = { ... };`, reaches natskv through
//! `<crate>::__private` and calls every function by its full path, so it depends on nothing
//! the user imported. The checks the macro cannot do itself are generated as const items the
//! compiler evaluates, spanned at the user's tokens:
//! - the key type's parameters against the pattern's (`check_params`, at the pattern);
//! - a per-key TTL family in a bucket without limit markers (a trait bound, at the mode);
//! - a family whose codec is not the bucket's declared codec (a trait bound, at the codec);
//! - a family that can write in a read-only bucket, a mirror or an aggregate without
//!   `writable` (a trait bound, at the mode);

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::DeriveInput;

use crate::ast::{BucketDecl, BucketFieldDecl, crate_path, local};
use crate::attr::{BucketAttrs, OriginAttr, StorageOpt};
use crate::check;
use crate::ctxt::Ctxt;
use crate::fallback;
use crate::respan::{around, first_last, respan};
use crate::types::{Shape, type_name};

/// The derive's entry point: the expansion, or the errors and a stub.
pub(crate) fn derive(input: &DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let decl = BucketDecl::from_ast(&cx, input);
    check::bucket(&cx, &decl);
    let p = private_path(&decl);
    match cx.check() {
        Ok(()) => {
            let body = expand(&decl, &p);
            quote! {
                const _: () = {
                    #body
                };
            }
        }
        Err(error) => {
            let errors = error.to_compile_error();
            let stub = fallback::bucket(&decl, &p);
            quote! {
                #errors
                const _: () = {
                    #stub
                };
            }
        }
    }
}

fn private_path(decl: &BucketDecl) -> TokenStream {
    let krate = crate_path(decl.attrs.krate.as_ref());
    quote!(#krate::__private)
}

fn expand(decl: &BucketDecl, p: &TokenStream) -> TokenStream {
    let ident = decl.ident;
    let vis = decl.vis;
    let bucket_name = decl
        .attrs
        .bucket
        .as_ref()
        .map(syn::LitStr::value)
        .unwrap_or_default();
    let fields = decl.fields();

    let field_checks = fields
        .iter()
        .enumerate()
        .map(|(i, field)| field_checks(decl, i, field, p));
    let spec_body = spec_body(decl, &bucket_name, p);

    let conn = local("conn");
    let name = local("name");
    let bucket = local("bucket");
    let this = local("__kv_this");
    let binds = fields.iter().map(|field| {
        let name = field.ident;
        let pattern = field.key.as_ref().map(|k| &k.lit);
        let bind = around(field.ty, quote!(<), quote!(as #p::BucketField>::bind));
        quote!(#name: #bind(#bucket, #pattern)?)
    });
    let bucket_of_first = fields.first().map(|field| {
        let name = field.ident;
        let bucket_fn = around(field.ty, quote!(<), quote!(as #p::BucketField>::bucket));
        quote!(#bucket_fn(&#this.#name))
    });

    let Docs {
        spec: doc_spec,
        create: doc_create,
        open: doc_open,
        ensure: doc_ensure,
        named: doc_named,
        delete: doc_delete,
        from_bucket: doc_from_bucket,
        bucket: doc_bucket,
        status: doc_status,
    } = docs(&bucket_name, &decl.attrs, fields);
    let transactions = transactions(decl, &bucket_name, p);

    quote! {
        #(#field_checks)*

        #[automatically_derived]
        #[allow(dead_code, clippy::all, clippy::pedantic)]
        impl #ident {
            #[doc = #doc_spec]
            #[must_use]
            #vis fn spec() -> #p::BucketSpec {
                #spec_body
            }

            #[doc = #doc_create]
            #vis async fn create(#conn: impl #p::Connection) -> #p::Result<Self> {
                <Self>::from_bucket(&#p::Bucket::create(#conn, &<Self>::spec()).await?)
            }

            #[doc = #doc_open]
            #vis async fn open(#conn: impl #p::Connection) -> #p::Result<Self> {
                <Self>::from_bucket(&#p::Bucket::open(#conn, &<Self>::spec()).await?)
            }

            #[doc = #doc_ensure]
            #vis async fn ensure(#conn: impl #p::Connection) -> #p::Result<Self> {
                <Self>::from_bucket(&#p::Bucket::ensure(#conn, &<Self>::spec()).await?)
            }

            #[doc = #doc_named]
            #vis async fn create_named(#conn: impl #p::Connection, #name: &str) -> #p::Result<Self> {
                <Self>::from_bucket(&#p::Bucket::create(#conn, &<Self>::spec().named(#name)).await?)
            }

            #[doc = #doc_named]
            #vis async fn open_named(#conn: impl #p::Connection, #name: &str) -> #p::Result<Self> {
                <Self>::from_bucket(&#p::Bucket::open(#conn, &<Self>::spec().named(#name)).await?)
            }

            #[doc = #doc_named]
            #vis async fn ensure_named(#conn: impl #p::Connection, #name: &str) -> #p::Result<Self> {
                <Self>::from_bucket(&#p::Bucket::ensure(#conn, &<Self>::spec().named(#name)).await?)
            }

            #[doc = #doc_delete]
            #vis async fn delete(#conn: impl #p::Connection) -> #p::Result<()> {
                #p::Bucket::delete(#conn, #bucket_name).await
            }

            #[doc = #doc_from_bucket]
            #vis fn from_bucket(#bucket: &#p::Bucket) -> #p::Result<Self> {
                #p::StdResult::Ok(Self { #(#binds,)* })
            }

            #[doc = #doc_bucket]
            #vis fn bucket(&self) -> &#p::Bucket {
                let #this = self;
                #bucket_of_first
            }

            #[doc = #doc_status]
            #vis async fn status(&self) -> #p::Result<#p::BucketStatus> {
                #p::Bucket::status(<Self>::bucket(self)).await
            }
        }

        #transactions
    }
}

/// The transaction and snapshot functions of a bucket, and its `Atomic` impl when declared
/// `atomic`: without it, a transaction's writes do not compile.
fn transactions(decl: &BucketDecl, bucket_name: &str, p: &TokenStream) -> TokenStream {
    let ident = decl.ident;
    let vis = decl.vis;
    let transaction_doc = if decl.attrs.is_atomic() {
        format!(
            "A transaction on bucket `{bucket_name}`: writes to any of its families, stored all or \
             nothing (`natskv::Transaction`)."
        )
    } else {
        format!(
            "A transaction on bucket `{bucket_name}`, which is not declared `atomic`: its writes \
             and commit do not compile. Add `atomic` to the bucket's `#[kv(...)]` to use one."
        )
    };
    let snapshot_doc = format!(
        "Reads many keys of bucket `{bucket_name}`, of any of its families, as of one revision \
         (`natskv::Reads`)."
    );
    let atomic_impl = decl.attrs.is_atomic().then(|| {
        quote! {
            #[automatically_derived]
            impl #p::Atomic for #ident {}
        }
    });
    quote! {
        #[automatically_derived]
        #[allow(dead_code, clippy::all, clippy::pedantic)]
        impl #ident {
            #[doc = #transaction_doc]
            #vis fn transaction(&self) -> #p::Transaction<'_, Self> {
                #p::Transaction::new(<Self>::bucket(self))
            }

            #[doc = #snapshot_doc]
            #vis fn snapshot(&self) -> #p::Reads<'_> {
                #p::Bucket::snapshot(<Self>::bucket(self))
            }
        }

        #atomic_impl
    }
}

/// The documentation of the generated functions.
struct Docs {
    spec: String,
    create: String,
    open: String,
    ensure: String,
    named: String,
    delete: String,
    from_bucket: String,
    bucket: String,
    status: String,
}

fn docs(bucket_name: &str, attrs: &BucketAttrs, fields: &[BucketFieldDecl]) -> Docs {
    let family_list: String = fields
        .iter()
        .filter_map(|f| {
            Some(format!(
                "\n- `{}`: `{}`",
                f.ident,
                f.key.as_ref()?.lit.value()
            ))
        })
        .collect();
    let origin_names = |origins: &[&OriginAttr]| {
        origins
            .iter()
            .filter_map(|o| Some(format!("`{}`", o.bucket.as_ref()?.value())))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let topology = match (&attrs.mirror, attrs.sources.as_slice()) {
        (Some(mirror), _) => format!("\n\nA read-only mirror of {}.", origin_names(&[mirror])),
        (None, []) => String::new(),
        (None, sources) => format!(
            "\n\nAn aggregate of {}, {}.",
            origin_names(&sources.iter().collect::<Vec<_>>()),
            if attrs.is_read_only() {
                "read-only"
            } else {
                "also taking writes of its own"
            }
        ),
    };
    let spec = format!(
        "The declared configuration of bucket `{bucket_name}`, with the schema of its \
         families:\n{family_list}{topology}\n\nThe options come from the struct's `#[kv(...)]`; \
         `create`, `open` and `ensure` use this spec."
    );
    let create = format!(
        "Creates bucket `{bucket_name}` as declared and binds its families.\n\n\
         # Errors\n\
         `Error::BucketExists` when it exists with another configuration; \
         `Error::JetStreamNotEnabled`; the errors of `natskv::Bucket::create`."
    );
    let open = format!(
        "Opens bucket `{bucket_name}` and binds its families, after checking that the server's \
         configuration and schema fit the declaration.\n\n\
         # Errors\n\
         `Error::BucketNotFound`; `Error::ConfigDrift` listing each option that differs; \
         `Error::SchemaMismatch` when the bucket was created by another declaration."
    );
    let ensure = format!(
        "Creates bucket `{bucket_name}`, or brings the server's configuration to the declared one, \
         and binds its families.\n\n\
         # Errors\n\
         `Error::SchemaMismatch` when the bucket was created by another declaration; the server \
         refuses some changes (storage, for one) with `Error::Server`."
    );
    let named = format!(
        "As the function without `_named`, for a bucket of another name declared as \
         `{bucket_name}` is (every option and the schema kept): one declaration, a bucket per \
         tenant, region or test.\n\n\
         # Errors\n\
         `Error::InvalidBucketName` before any wire call when `name` is not a valid bucket \
         name; otherwise as the function without `_named`."
    );
    let delete = format!(
        "Deletes bucket `{bucket_name}` and everything in it.\n\n\
         # Errors\n\
         `Error::BucketNotFound` when it does not exist."
    );
    let from_bucket = format!(
        "Binds the families to an already opened `natskv::Bucket`, without checking its \
         configuration (`open` and `ensure` check it).\n\n\
         # Errors\n\
         `Error::InvalidPattern` if a key pattern does not fit its key type (checked at compile \
         time, so it does not happen for bucket `{bucket_name}`)."
    );
    let bucket = format!("The handle of bucket `{bucket_name}` that the families share.");
    let status = format!(
        "The status of bucket `{bucket_name}`, read fresh from the server.\n\n\
         # Errors\n\
         `Error::BucketNotFound` when it was deleted."
    );

    Docs {
        spec,
        create,
        open,
        ensure,
        named,
        delete,
        from_bucket,
        bucket,
        status,
    }
}

/// `BucketSpec::new(name)` and one setter per declared option, then the schema.
fn spec_body(decl: &BucketDecl, bucket_name: &str, p: &TokenStream) -> TokenStream {
    let attrs = &decl.attrs;
    let spec = local("__kv_spec");
    let mut setters = Vec::new();
    let mut set = |method: &str, value: TokenStream| {
        let method = syn::Ident::new(method, Span::call_site());
        setters.push(quote!(let #spec = #p::BucketSpec::#method(#spec, #value);));
    };
    if let Some(description) = &attrs.description {
        set("description", quote!(#description));
    }
    if let Some(n) = attrs.history {
        // Checked to be in range when parsed.
        let value = u8::try_from(n.value).unwrap_or(u8::MAX);
        set("history", quote!(#value));
    }
    if let Some(ttl) = attrs.ttl {
        set("ttl", duration(ttl.value, p));
    }
    if let Some(n) = attrs.max_value_size {
        // Checked to fit in a u32 when parsed.
        let value = u32::try_from(n.value).unwrap_or(u32::MAX);
        set("max_value_size", quote!(#value));
    }
    if let Some(n) = attrs.max_bytes {
        let value = n.value;
        set("max_bytes", quote!(#value));
    }
    if let Some(storage) = attrs.storage {
        let variant = match storage {
            StorageOpt::File => quote!(File),
            StorageOpt::Memory => quote!(Memory),
        };
        set("storage", quote!(#p::Storage::#variant));
    }
    if let Some(n) = attrs.replicas {
        // Checked to be in range when parsed.
        let value = u8::try_from(n.value).unwrap_or(u8::MAX);
        set("replicas", quote!(#value));
    }
    if let Some(on) = attrs.compression {
        set("compression", quote!(#on));
    }
    for entry in &attrs.metadata {
        let key = &entry.key;
        let value = &entry.value;
        set("metadata", quote!(#key, #value));
    }
    if let Some(markers) = attrs.limit_markers {
        set("limit_markers", duration(markers.value, p));
    }
    if let Some(origin) = attrs.mirror.as_ref().and_then(|o| origin_expr(o, p)) {
        set("mirror", origin);
    }
    for origin in attrs.sources.iter().filter_map(|o| origin_expr(o, p)) {
        set("source", origin);
    }
    if attrs.is_atomic() {
        set("atomic", quote!(true));
    }
    if let Some(writable) = &attrs.writable {
        let value = writable.value;
        set("writable", quote!(#value));
    }
    if let Some(republish) = &attrs.republish {
        let to = &republish.to;
        let mut expr = quote!(#p::Republish::to(#to));
        if let Some(keys) = &republish.keys {
            expr = quote!(#p::Republish::keys(#expr, #keys));
        }
        if republish.headers_only {
            expr = quote!(#p::Republish::headers_only(#expr));
        }
        set("republish", expr);
    }
    if let Some(placement) = &attrs.placement {
        let tags = &placement.tags;
        let base = if let Some(cluster) = &placement.cluster {
            quote!(#p::Placement::cluster(#cluster))
        } else {
            quote!(<#p::Placement as #p::Default>::default())
        };
        set(
            "placement",
            quote!(#p::Placement::tags(#base, [#(#tags),*])),
        );
    }
    let schema = schema(decl, p);
    quote! {
        let #spec = #p::BucketSpec::new(#bucket_name);
        #(#setters)*
        #p::BucketSpec::schema(#spec, { #schema })
    }
}

/// `Origin::bucket(..)` and one setter per declared origin option (`None` without a bucket,
/// which was reported).
fn origin_expr(origin: &OriginAttr, p: &TokenStream) -> Option<TokenStream> {
    let bucket = origin.bucket.as_ref()?;
    let mut expr = quote!(#p::Origin::bucket(#bucket));
    if !origin.keys.is_empty() {
        let keys = &origin.keys;
        expr = quote!(#p::Origin::keys(#expr, [#(#keys),*]));
    }
    let optional = [
        ("api_prefix", &origin.api_prefix),
        ("deliver_prefix", &origin.deliver_prefix),
        ("stream", &origin.stream),
    ];
    for (method, value) in optional {
        if let Some(value) = value {
            let method = syn::Ident::new(method, Span::call_site());
            expr = quote!(#p::Origin::#method(#expr, #value));
        }
    }
    Some(expr)
}

fn duration(value: std::time::Duration, p: &TokenStream) -> TokenStream {
    let secs = value.as_secs();
    let nanos = value.subsec_nanos();
    quote!(#p::Duration::new(#secs, #nanos))
}

/// The schema, built when `spec()` runs: for each field its key pattern, the kinds of its key
/// parameters, its codec and the shape of its values (traced through serde), what decides how
/// the bucket's keys and values are on the wire; then the families this declaration removes.
/// Field names, type names and the path a type is imported by do not change it. A mirror's or
/// an aggregate's origins are configuration, compared by `open` and updated by `ensure`, not
/// part of the schema.
fn schema(decl: &BucketDecl, p: &TokenStream) -> TokenStream {
    let schema = local("__kv_schema");
    let families = decl.fields().iter().filter_map(|field| {
        let key = field.key.as_ref()?;
        let (pattern, breaking) = (&key.lit, key.breaking);
        // Spanned over the field's type like its other obligations, so that a type that is not
        // a family is reported once.
        let add = around(
            field.ty,
            quote!(<),
            quote!(as #p::BucketField>::add_to_schema),
        );
        Some(quote! {
            let #schema = #add(#schema, #pattern, #breaking);
        })
    });
    let removed = decl
        .attrs
        .removed
        .iter()
        .map(|(lit, _)| quote!(let #schema = #p::Schema::removed(#schema, #lit);));
    quote! {
        let #schema = #p::Schema::new();
        #(#families)*
        #(#removed)*
        #schema
    }
}

/// The compile-time checks of one field that need its types. Each obligation on the field's
/// type is spanned over the whole type (see `respan`), so the compiler reports it once.
fn field_checks(
    decl: &BucketDecl,
    index: usize,
    field: &BucketFieldDecl,
    p: &TokenStream,
) -> TokenStream {
    let ty = field.ty;
    let mut out = TokenStream::new();

    if let Some((key, pattern)) = field
        .key
        .as_ref()
        .and_then(|k| Some((k, k.pattern.as_ref()?)))
    {
        let key_params = local(&format!("__KV_KEY_PARAMS_{index}"));
        let value = around(
            ty,
            quote!(< <),
            quote!(as #p::BucketField>::Key as #p::KvKey>::PARAMS),
        );
        out.extend(quote!(const #key_params: &[&str] = #value;));
        let key_tail = local(&format!("__KV_KEY_TAIL_{index}"));
        let value = around(
            ty,
            quote!(< <),
            quote!(as #p::BucketField>::Key as #p::KvKey>::TAIL),
        );
        out.extend(quote!(const #key_tail: #p::Option<usize> = #value;));
        let consts = (&key_params, &key_tail);
        out.extend(param_check(field, consts, key.lit.span(), pattern, p));
    }

    if decl.attrs.is_read_only() {
        // Only `ReadOnly` fits, so the limit-markers check below would only repeat the error.
        out.extend(read_only_check(decl, field, p));
    } else if decl.attrs.limit_markers.is_none() {
        let check = match field.shape.mode() {
            Some(mode) => around(mode, quote!(#p::assert_without_limit_markers::<), quote!(>)),
            None => around(
                ty,
                quote!(#p::assert_without_limit_markers::< <),
                quote!(as #p::BucketField>::Mode>),
            ),
        };
        out.extend(quote!(const _: () = #check();));
    }

    if let Some(codec) = &decl.attrs.codec {
        let check = match field.shape.codec() {
            Some(written) => around(written, quote!(#p::assert_same_codec::<), quote!(, #codec>)),
            None => around(
                ty,
                quote!(#p::assert_same_codec::< <),
                quote!(as #p::BucketField>::ValueCodec, #codec>),
            ),
        };
        out.extend(quote!(const _: () = #check();));
    }
    out
}

/// In a mirror or a read-only aggregate, a family's mode must be `ReadOnly`: a trait bound on the
/// mode (the written one, else the field type's), with the family's codec for the message.
fn read_only_check(decl: &BucketDecl, field: &BucketFieldDecl, p: &TokenStream) -> TokenStream {
    let assert = if decl.attrs.mirror.is_some() {
        quote!(assert_read_only_in_mirror)
    } else {
        quote!(assert_read_only_in_aggregate)
    };
    let ty = field.ty;
    let check = if let (Some(mode), Some(codec)) = (field.shape.mode(), field.shape.codec()) {
        around(mode, quote!(#p::#assert::<), quote!(, #codec>))
    } else {
        // `<Ty as BucketField>::Mode, <Ty as BucketField>::ValueCodec`, the whole spanned over
        // the field's type.
        let mode = around(ty, quote!(<), quote!(as #p::BucketField>::Mode));
        let codec = around(ty, quote!(<), quote!(as #p::BucketField>::ValueCodec));
        let (first, last) = first_last(ty);
        let head = respan(quote!(#p::#assert::<), first);
        let tail = respan(quote!(>), last);
        quote!(#head #mode, #codec #tail)
    };
    quote!(const _: () = #check();)
}

/// Checks the key type's parameters against the pattern's, when the program is compiled.
fn param_check(
    field: &BucketFieldDecl,
    (key_params_const, key_tail_const): (&syn::Ident, &syn::Ident),
    span: Span,
    pattern: &natskv_grammar::pattern::KeyPattern,
    p: &TokenStream,
) -> TokenStream {
    let text = pattern.as_str();
    let params: Vec<&str> = pattern.params().collect();
    let has_tail = pattern.tail().is_some();
    let key_name = match &field.shape {
        Shape::Family { key, .. } => format!("`{}`", type_name(key)),
        Shape::Single { .. } => "`()`".to_owned(),
        Shape::Unknown => "of this family".to_owned(),
    };
    let missing = params.iter().enumerate().map(|(i, param)| {
        let message = format!(
            "the key pattern \"{text}\" uses parameter `{param}`, but the key type {key_name} has \
             no field `{param}`; add the field to the key type, or rename the parameter"
        );
        quote_spanned!(span=> #p::ParamCheck::Missing(#i) => ::core::panic!("{}", #message),)
    });
    let any_count = format!(
        "the key type {key_name} is a single value, so its pattern needs exactly one parameter \
         (such as \"session.{{id}}\"), and \"{text}\" has {}; for several parameters use a struct \
         with #[derive(KvKey)]",
        params.len()
    );
    let tails = params.iter().enumerate().map(|(i, param)| {
        let not_a_path = format!(
            "the key pattern \"{text}\" ends with the tail parameter `{{{param}..}}` (one or more \
             tokens), but the key type {key_name} does not hold `{param}` as a natskv::KeyPath; \
             make it one, or write `{{{param}}}` for one token"
        );
        let not_a_tail = format!(
            "in the key type {key_name} `{param}` is a natskv::KeyPath (one or more tokens), but \
             the key pattern \"{text}\" writes `{{{param}}}` (one token); make it the last token, \
             written `{{{param}..}}`, or give the field a one-token type"
        );
        quote_spanned! {span=>
            #p::ParamCheck::NotAPath(#i) => ::core::panic!("{}", #not_a_path),
            #p::ParamCheck::NotATail(#i) => ::core::panic!("{}", #not_a_tail),
        }
    });
    let key_params = local("__kv_key_params");
    let index = local("__kv_index");
    quote_spanned! {span=>
        const _: () = {
            let #key_params: &[&str] = #key_params_const;
            match #p::check_params(#key_params, #key_tail_const, &[#(#params),*], #has_tail) {
                #p::ParamCheck::Fits => {}
                #(#missing)*
                #(#tails)*
                #p::ParamCheck::NotAPath(_) | #p::ParamCheck::NotATail(_) => ::core::panic!("a key path does not fit the key pattern's tail"),
                #p::ParamCheck::Missing(_) => ::core::panic!("a key pattern parameter is not a field of the key type"),
                #p::ParamCheck::Unused(#index) => ::core::panic!(
                    "{}",
                    #p::Message::as_str(&#p::unused_param_message(#key_name, #key_params[#index], #text))
                ),
                #p::ParamCheck::AnyParamCount => ::core::panic!("{}", #any_count),
            }
        };
    }
}
