//! The values of options: strings, numbers in range, durations, sizes, types, paths, flags,
//! string lists and key patterns, each reported at the user's token when it is wrong.

use natskv_grammar::limits::out_of_range;
use natskv_grammar::pattern::KeyPattern;
use natskv_grammar::units::{parse_duration, parse_size};
use syn::meta::ParseNestedMeta;
use syn::{Expr, ExprLit, Lit, LitInt, LitStr, Path, Token, Type};

use crate::ctxt::Ctxt;
use crate::spans;

use super::{DurationOpt, Flag, Number};

/// The expression after `name =`, or an error saying how to write the option.
pub(super) fn value_expr(meta: &ParseNestedMeta, name: &str, example: &str) -> syn::Result<Expr> {
    if !meta.input.peek(Token![=]) {
        return Err(meta.error(format!("`{name}` needs a value: `{name} = {example}`")));
    }
    let mut expr: Expr = meta.value()?.parse()?;
    // A value passed through a `macro_rules!` arrives wrapped in an invisible group.
    while let Expr::Group(group) = expr {
        expr = *group.expr;
    }
    Ok(expr)
}

/// A string option's literal, or an error saying it takes a string.
pub(super) fn string_value(
    cx: &Ctxt,
    meta: &ParseNestedMeta,
    name: &str,
    example: &str,
) -> syn::Result<Option<LitStr>> {
    let expr = value_expr(meta, name, example)?;
    if let Expr::Lit(ExprLit {
        lit: Lit::Str(lit), ..
    }) = expr
    {
        return Ok(Some(lit));
    }
    cx.error_spanned_by(
        expr,
        format!("`{name}` takes a string, such as `{name} = {example}`"),
    );
    Ok(None)
}

/// An integer literal as a `u64`.
pub(super) fn int_number(cx: &Ctxt, lit: &LitInt, name: &str) -> Option<Number> {
    if let Ok(value) = lit.base10_parse::<u64>() {
        return Some(Number {
            value,
            span: lit.span(),
        });
    }
    cx.error_spanned_by(lit, format!("`{name}` is too large"));
    None
}

/// A whole-number option, or an error saying it takes one.
pub(super) fn number_value(
    cx: &Ctxt,
    meta: &ParseNestedMeta,
    name: &str,
    example: &str,
) -> syn::Result<Option<Number>> {
    match value_expr(meta, name, example)? {
        Expr::Lit(ExprLit {
            lit: Lit::Int(lit), ..
        }) => Ok(int_number(cx, &lit, name)),
        other => {
            cx.error_spanned_by(
                other,
                format!("`{name}` takes a whole number, such as `{name} = {example}`"),
            );
            Ok(None)
        }
    }
}

/// A flag with the path it was written with, for errors about it.
pub(super) fn flag(cx: &Ctxt, meta: &ParseNestedMeta, name: &str) -> syn::Result<Option<Flag>> {
    let value = flag_value(cx, meta, name)?;
    Ok(value.map(|value| Flag {
        path: meta.path.clone(),
        value,
    }))
}

/// A whole number within `1..=max` (the runtime's limits), or `None` with an error at it.
pub(super) fn limited(
    cx: &Ctxt,
    meta: &ParseNestedMeta,
    name: &str,
    example: &str,
    max: u8,
) -> syn::Result<Option<Number>> {
    let Some(number) = number_value(cx, meta, name, example)? else {
        return Ok(None);
    };
    match out_of_range(name, number.value, 1, u64::from(max)) {
        None => Ok(Some(number)),
        Some(message) => {
            cx.syn_error(syn::Error::new(number.span, message));
            Ok(None)
        }
    }
}

/// A duration option (`"7d"`), parsed by `natskv_grammar::units`.
pub(super) fn duration_value(
    cx: &Ctxt,
    meta: &ParseNestedMeta,
    name: &str,
    example: &str,
) -> syn::Result<Option<DurationOpt>> {
    let Some(lit) = string_value(cx, meta, name, example)? else {
        return Ok(None);
    };
    match parse_duration(&lit.value()) {
        Ok(value) => Ok(Some(DurationOpt { value })),
        Err(error) => {
            cx.error_spanned_by(&lit, format!("`{name}`: {error}"));
            Ok(None)
        }
    }
}

/// A size option: a whole number of bytes, or a string with a unit (`"1MiB"`).
pub(super) fn size_value(
    cx: &Ctxt,
    meta: &ParseNestedMeta,
    name: &str,
    example: &str,
) -> syn::Result<Option<Number>> {
    match value_expr(meta, name, example)? {
        Expr::Lit(ExprLit {
            lit: Lit::Int(lit), ..
        }) => Ok(int_number(cx, &lit, name)),
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) => match parse_size(&lit.value()) {
            Ok(value) => Ok(Some(Number {
                value,
                span: lit.span(),
            })),
            Err(error) => {
                cx.error_spanned_by(&lit, format!("`{name}`: {error}"));
                Ok(None)
            }
        },
        other => {
            cx.error_spanned_by(
                other,
                format!("`{name}` takes a size, such as `{name} = {example}` or a number of bytes"),
            );
            Ok(None)
        }
    }
}

/// A type given as `codec = Json` or `codec = "natskv::Json"`.
pub(super) fn type_value(meta: &ParseNestedMeta, name: &str, example: &str) -> syn::Result<Type> {
    if !meta.input.peek(Token![=]) {
        return Err(meta.error(format!("`{name}` needs a value: `{name} = {example}`")));
    }
    let input = meta.value()?;
    if input.peek(LitStr) {
        let lit: LitStr = input.parse()?;
        lit.parse()
    } else {
        input.parse()
    }
}

/// A path given as `crate = "natskv"` or `crate = natskv`.
pub(super) fn path_value(meta: &ParseNestedMeta) -> syn::Result<Path> {
    if !meta.input.peek(Token![=]) {
        return Err(meta.error(
            "`crate` needs a value: `crate = \"natskv\"`, the path natskv is reachable at",
        ));
    }
    let input = meta.value()?;
    if input.peek(LitStr) {
        let lit: LitStr = input.parse()?;
        lit.parse_with(Path::parse_mod_style)
    } else {
        Path::parse_mod_style(input)
    }
}

/// A flag: bare (`compression`) means `true`, or `= true` / `= false`.
pub(super) fn flag_value(
    cx: &Ctxt,
    meta: &ParseNestedMeta,
    name: &str,
) -> syn::Result<Option<bool>> {
    if !meta.input.peek(Token![=]) {
        return Ok(Some(true));
    }
    match value_expr(meta, name, "true")? {
        Expr::Lit(ExprLit {
            lit: Lit::Bool(b), ..
        }) => Ok(Some(b.value)),
        other => {
            cx.error_spanned_by(other, format!("`{name}` takes `true` or `false`"));
            Ok(None)
        }
    }
}

/// Whether `lit` holds some text; reports it if not.
pub(super) fn non_empty(cx: &Ctxt, lit: &LitStr, name: &str) -> bool {
    let empty = lit.value().is_empty();
    if empty {
        cx.error_spanned_by(lit, format!("`{name}` is empty"));
    }
    !empty
}

/// `name = ["a", "b"]`: a list of non-empty strings.
pub(super) fn string_list(
    cx: &Ctxt,
    meta: &ParseNestedMeta,
    name: &str,
    example: &str,
) -> syn::Result<Option<Vec<LitStr>>> {
    let Expr::Array(array) = value_expr(meta, name, example)? else {
        cx.error_spanned_by(
            &meta.path,
            format!("`{name}` takes a list of strings, such as `{name} = {example}`"),
        );
        return Ok(None);
    };
    let mut out = Vec::new();
    for mut elem in array.elems {
        while let Expr::Group(group) = elem {
            elem = *group.expr;
        }
        match elem {
            Expr::Lit(ExprLit {
                lit: Lit::Str(lit), ..
            }) => {
                if non_empty(cx, &lit, name) {
                    out.push(lit);
                }
            }
            other => {
                cx.error_spanned_by(other, format!("`{name}` holds strings, such as {example}"));
            }
        }
    }
    Ok(Some(out))
}

/// The pattern of `lit`, or `None` with the error reported at it.
pub(super) fn parsed_pattern(cx: &Ctxt, lit: &LitStr) -> Option<KeyPattern> {
    match KeyPattern::parse(&lit.value()) {
        Ok(pattern) => Some(pattern),
        Err(error) => {
            cx.syn_error(spans::pattern_error(lit, &error));
            None
        }
    }
}

/// Each literal with its pattern when it parses (errors reported at the literal).
pub(super) fn with_patterns(cx: &Ctxt, lits: Vec<LitStr>) -> Vec<(LitStr, Option<KeyPattern>)> {
    lits.into_iter()
        .map(|lit| {
            let pattern = parsed_pattern(cx, &lit);
            (lit, pattern)
        })
        .collect()
}
