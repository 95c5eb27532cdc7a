//! Spans for generated code that should be reported at a user's type.
//!
//! On stable, a proc macro cannot join two spans, so a token can point at one token of a type
//! only. The compiler, though, spans an expression or a type path from its first token to its
//! last: generated tokens before a type that carry the span of the type's first token, and
//! generated tokens after it that carry the span of its last token, make the whole generated node
//! point at exactly the type as the user wrote it. Every obligation on a field type is generated
//! this way, so the compiler reports each unsatisfied bound once, under the whole type (it drops
//! a diagnostic identical to one already emitted).
//!
//! Write `< <` rather than `<<` in a head: a joint `<<` is split by the parser, which moves the
//! second `<` one byte to the right.

use proc_macro2::{Group, Span, TokenStream, TokenTree};
use quote::{ToTokens, quote};

/// `head ty tail`, with `head` spanned at the type's first token and `tail` at its last one.
pub(crate) fn around<T: ToTokens>(node: &T, head: TokenStream, tail: TokenStream) -> TokenStream {
    let (first, last) = first_last(node);
    let head = respan(head, first);
    let tail = respan(tail, last);
    quote!(#head #node #tail)
}

/// The spans of the first and the last token of `node`.
pub(crate) fn first_last<T: ToTokens>(node: &T) -> (Span, Span) {
    let mut tokens = node.to_token_stream().into_iter();
    let first = tokens.next().map_or_else(Span::call_site, |t| t.span());
    let last = tokens.last().map_or(first, |t| t.span());
    (first, last)
}

/// Every token of `tokens`, groups included, spanned at `span`.
pub(crate) fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut token| {
            if let TokenTree::Group(group) = &token {
                let mut inner = Group::new(group.delimiter(), respan(group.stream(), span));
                inner.set_span(span);
                token = TokenTree::Group(inner);
            } else {
                token.set_span(span);
            }
            token
        })
        .collect()
}
