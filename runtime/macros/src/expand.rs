//! The expansion of `#[kq::main]` and `#[kq::test]`: read the arguments and the function, then
//! write the synchronous function that runs the body on a new runtime.
//!
//! The crate has no dependencies, so this works on `proc_macro` tokens by hand. Attribute macros
//! only ever see items that already parsed as Rust, which keeps the reading simple: an item is
//! attributes, a visibility, qualifiers, a keyword, and so on, in that order.
//!
//! A mistake becomes an [`Error`], emitted as a `compile_error!` that underlines the offending
//! tokens. The output still holds a function (see [`expand`]), so that the user sees our message
//! and not a cascade of errors that follow from it.

use proc_macro::{Delimiter, Group, Ident, Literal, Spacing, Span, TokenStream, TokenTree};

/// Which attribute is expanded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `#[kq::main]`: a multi-thread runtime unless told otherwise.
    Main,
    /// `#[kq::test]`: a current-thread runtime unless told otherwise, and `#[test]`.
    Test,
}

impl Kind {
    /// The attribute as users write it, for messages.
    fn attribute(self) -> &'static str {
        match self {
            Kind::Main => "`#[kq::main]`",
            Kind::Test => "`#[kq::test]`",
        }
    }

    /// The flavor when the arguments name none (tokio's defaults).
    fn default_flavor(self) -> Flavor {
        match self {
            Kind::Main => Flavor::MultiThread,
            Kind::Test => Flavor::CurrentThread,
        }
    }
}

/// The runtime's scheduler: `flavor = "multi_thread"` or `flavor = "current_thread"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flavor {
    MultiThread,
    CurrentThread,
}

/// The arguments that were valid; each invalid one has become an [`Error`] instead.
#[derive(Debug, Default)]
struct Args {
    /// `flavor = "..."`, if given.
    flavor: Option<Flavor>,
    /// `worker_threads = N`, if given.
    worker_threads: Option<WorkerThreads>,
    /// `crate = "path"`: the path used instead of `::kq`, spanned at the string.
    crate_path: Option<TokenStream>,
}

/// `worker_threads = N`.
#[derive(Debug)]
struct WorkerThreads {
    /// `N`, at least 1.
    count: usize,
    /// The spans of `worker_threads` and of `N`, for the generated call and for messages.
    name: Span,
    value: Span,
}

/// An `async fn`, in the pieces that the expansion keeps, drops or wraps.
#[derive(Debug)]
struct Function {
    /// Outer attributes (doc comments included), as `#` and `[...]` pairs.
    attrs: Vec<TokenTree>,
    /// `pub`, `pub(crate)`..., or nothing.
    vis: Vec<TokenTree>,
    /// `const`, `unsafe`, `extern "C"`... but not `async`, which the expansion drops.
    qualifiers: Vec<TokenTree>,
    fn_token: Ident,
    name: Ident,
    params: Group,
    /// The type after `->`; empty for `()`.
    output: Vec<TokenTree>,
    where_clause: Vec<TokenTree>,
    body: Group,
}

/// A compile error to emit, underlining from `start` to `end`.
#[derive(Debug)]
struct Error {
    start: Span,
    end: Span,
    message: String,
}

impl Error {
    fn new(span: Span, message: impl Into<String>) -> Self {
        Error::spanning(span, span, message)
    }

    fn spanning(start: Span, end: Span, message: impl Into<String>) -> Self {
        let message = message.into();
        Error {
            start,
            end,
            message,
        }
    }

    /// An error underlining `tokens`, or the attribute if there are none.
    fn over(tokens: &[TokenTree], message: impl Into<String>) -> Self {
        let start = tokens.first().map_or_else(Span::call_site, TokenTree::span);
        let end = tokens.last().map_or_else(Span::call_site, TokenTree::span);
        Error::spanning(start, end, message)
    }

    /// `::core::compile_error! { "message" }`. rustc reports a macro call at the span from its
    /// first token to its last, so the path takes `start` and the braces take `end`.
    fn to_compile_error(&self) -> TokenStream {
        let mut message = Literal::string(&self.message);
        message.set_span(self.end);
        let mut braces = Group::new(Delimiter::Brace, TokenTree::from(message).into());
        braces.set_span(self.end);
        let path = code("::core::compile_error!").into_iter();
        let path = path.map(|token| with_span(token, self.start));
        path.chain([braces.into()]).collect()
    }
}

/// Expands `#[kq::main]` or `#[kq::test]` (after `kind`) with the arguments `args` on `item`.
///
/// Without errors, the result is the synchronous function. With errors, it is one
/// `compile_error!` per error and then:
/// - `item` unchanged if it is not an `async fn` we can read: that is the user's own code, so
///   no other error comes from us;
/// - otherwise the synchronous function, built with the arguments that were valid and without
///   `#[test]` if the test is malformed. A misspelt argument on `async fn main` thus does not
///   also bring rustc's "`main` function is not allowed to be `async`", and errors in the body
///   are still reported.
pub(crate) fn expand(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Vec::new();
    let args = parse_args(kind, args, &mut errors);
    let function = match parse_function(kind, item.clone()) {
        Ok(function) => {
            let before = errors.len();
            if kind == Kind::Test {
                check_test(&function, &mut errors);
            }
            let test_attribute = kind == Kind::Test && errors.len() == before;
            write_function(kind, &args, function, test_attribute)
        }
        Err(error) => {
            errors.push(error);
            item
        }
    };
    let mut tokens: TokenStream = errors.iter().map(Error::to_compile_error).collect();
    tokens.extend(function);
    tokens
}

/// Reads `name = value, ...`, pushing an error for each invalid argument.
fn parse_args(kind: Kind, args: TokenStream, errors: &mut Vec<Error>) -> Args {
    let mut parsed = Args::default();
    let mut seen = Vec::new();
    for arg in split_at_commas(args) {
        let Some(TokenTree::Ident(name)) = arg.first() else {
            let message = "expected an argument such as `flavor = \"multi_thread\"`";
            errors.push(Error::over(&arg, message));
            continue;
        };
        let key = name.to_string();
        if seen.contains(&key) {
            errors.push(Error::new(
                name.span(),
                format!("duplicate argument `{key}`"),
            ));
            continue;
        }
        seen.push(key.clone());
        // The tokens after `=`, or the whole argument if there are none: what an error underlines.
        let value = match arg.get(1) {
            Some(equals) if is_punct(equals, '=') && arg.len() > 2 => &arg[2..],
            _ => &arg[..],
        };
        let outcome = match key.as_str() {
            "flavor" => parse_flavor(value).map(|flavor| parsed.flavor = Some(flavor)),
            "worker_threads" => parse_worker_threads(value).map(|count| {
                let (name, value) = (name.span(), value[0].span()); // `value` is the literal.
                parsed.worker_threads = Some(WorkerThreads { count, name, value });
            }),
            "crate" => parse_crate_path(value).map(|path| parsed.crate_path = Some(path)),
            "start_paused" => Err(Error::over(
                &arg,
                "`start_paused` is not supported: kq has no paused clock",
            )),
            _ => Err(Error::new(
                name.span(),
                format!("unknown argument `{key}`: expected `flavor`, `worker_threads` or `crate`"),
            )),
        };
        errors.extend(outcome.err());
    }
    if let Some(workers) = &parsed.worker_threads {
        let message = match parsed.flavor.unwrap_or(kind.default_flavor()) {
            Flavor::MultiThread => None,
            Flavor::CurrentThread if parsed.flavor.is_some() => {
                Some("`worker_threads` cannot be used with the `current_thread` flavor".to_owned())
            }
            Flavor::CurrentThread => Some(format!(
                "`worker_threads` needs `flavor = \"multi_thread\"`: {} runs on `current_thread` \
                 by default",
                kind.attribute()
            )),
        };
        if let Some(message) = message {
            errors.push(Error::spanning(workers.name, workers.value, message));
        }
    }
    parsed
}

/// The arguments between commas, dropping empty ones (a trailing comma).
fn split_at_commas(args: TokenStream) -> Vec<Vec<TokenTree>> {
    let mut split = vec![Vec::new()];
    for token in args {
        match &token {
            TokenTree::Punct(p) if p.as_char() == ',' => split.push(Vec::new()),
            _ => split.last_mut().expect("starts with one").push(token),
        }
    }
    split.retain(|arg| !arg.is_empty());
    split
}

/// The literal that `tokens` consist of, looking through the invisible groups that `macro_rules`
/// puts around a substituted `$value:literal`.
fn single_literal(tokens: &[TokenTree]) -> Option<Literal> {
    match tokens {
        [TokenTree::Literal(literal)] => Some(literal.clone()),
        [TokenTree::Group(group)] if group.delimiter() == Delimiter::None => {
            single_literal(&group.stream().into_iter().collect::<Vec<_>>())
        }
        _ => None,
    }
}

fn parse_flavor(value: &[TokenTree]) -> Result<Flavor, Error> {
    match single_literal(value)
        .as_ref()
        .and_then(string_value)
        .as_deref()
    {
        Some("multi_thread") => Ok(Flavor::MultiThread),
        Some("current_thread") => Ok(Flavor::CurrentThread),
        Some(other) => Err(Error::over(
            value,
            format!("unknown flavor \"{other}\": expected \"multi_thread\" or \"current_thread\""),
        )),
        None => Err(Error::over(
            value,
            "expected `flavor = \"multi_thread\"` or `flavor = \"current_thread\"`",
        )),
    }
}

fn parse_worker_threads(value: &[TokenTree]) -> Result<usize, Error> {
    match single_literal(value).as_ref().and_then(integer_value) {
        Some(0) => Err(Error::over(value, "`worker_threads` must be at least 1")),
        Some(count) => Ok(count),
        None => Err(Error::over(
            value,
            "`worker_threads` must be a positive integer literal, such as `4`",
        )),
    }
}

/// `crate = "path"`: the path's tokens, spanned at the string so that a path that does not
/// resolve is reported there.
fn parse_crate_path(value: &[TokenTree]) -> Result<TokenStream, Error> {
    let invalid = || {
        Error::over(
            value,
            "`crate` must be a path in a string, such as `\"kq\"`",
        )
    };
    let literal = single_literal(value).ok_or_else(invalid)?;
    let text = string_value(&literal).ok_or_else(invalid)?;
    let tokens: Vec<TokenTree> = match text.parse::<TokenStream>() {
        Ok(stream) => stream.into_iter().collect(),
        Err(_) => return Err(invalid()),
    };
    // A path is `(::)? ident (:: ident)*`.
    let mut at = if is_path_separator(&tokens, 0) { 2 } else { 0 };
    while matches!(tokens.get(at), Some(TokenTree::Ident(_))) && is_path_separator(&tokens, at + 1)
    {
        at += 3;
    }
    if at + 1 != tokens.len() || !matches!(tokens[at], TokenTree::Ident(_)) {
        return Err(invalid());
    }
    let span = literal.span();
    Ok(tokens
        .into_iter()
        .map(|token| with_span(token, span))
        .collect())
}

/// The contents of a plain or raw string literal without escapes; `None` for anything else.
fn string_value(literal: &Literal) -> Option<String> {
    let text = literal.to_string();
    let unraw = text
        .strip_prefix('r')
        .map_or(text.as_str(), |raw| raw.trim_matches('#'));
    let contents = unraw.strip_prefix('"')?.strip_suffix('"')?;
    (!contents.contains('\\')).then(|| contents.to_owned())
}

/// The value of a decimal integer literal, unsuffixed or `usize`, such as `4` or `1_000usize`.
fn integer_value(literal: &Literal) -> Option<usize> {
    let text = literal.to_string();
    let digits = text.strip_suffix("usize").unwrap_or(&text);
    let decimal = digits.starts_with(|c: char| c.is_ascii_digit())
        && digits.chars().all(|c| c.is_ascii_digit() || c == '_');
    if decimal {
        digits.replace('_', "").parse().ok()
    } else {
        None
    }
}

/// Reads the item as `#[attrs] vis qualifiers async fn name(params) -> output where... { body }`.
fn parse_function(kind: Kind, item: TokenStream) -> Result<Function, Error> {
    let message = format!("{} can only be applied to an `async fn`", kind.attribute());
    let not_a_function = |span: Span| Error::new(span, &message);
    let mut tokens = item.into_iter().peekable();

    let mut attrs = Vec::new();
    while let Some(hash) = tokens.next_if(|token| is_punct(token, '#')) {
        attrs.push(hash);
        attrs.extend(tokens.next()); // `[...]`: rustc has parsed the item.
    }

    let mut vis = Vec::new();
    if let Some(pub_token) = tokens.next_if(|token| is_ident(token, "pub")) {
        vis.push(pub_token);
        vis.extend(tokens.next_if(|token| is_group(token, Delimiter::Parenthesis)));
    }

    let mut qualifiers = Vec::new();
    let mut is_async = false;
    let fn_token = loop {
        match tokens.next() {
            Some(TokenTree::Ident(word)) if word.to_string() == "fn" => break word,
            Some(TokenTree::Ident(word)) if word.to_string() == "async" => is_async = true,
            Some(TokenTree::Ident(word))
                if ["const", "unsafe", "extern"].contains(&word.to_string().as_str()) =>
            {
                qualifiers.push(word.into());
            }
            Some(abi @ TokenTree::Literal(_)) => qualifiers.push(abi), // `extern "C"`
            other => {
                return Err(not_a_function(
                    other.map_or_else(Span::call_site, |t| t.span()),
                ));
            }
        }
    };
    let Some(TokenTree::Ident(name)) = tokens.next() else {
        return Err(not_a_function(fn_token.span()));
    };
    if !is_async {
        let message = "the `async` keyword is missing from the function declaration";
        return Err(Error::spanning(fn_token.span(), name.span(), message));
    }
    if let Some(angle) = tokens.next_if(|token| is_punct(token, '<')) {
        let message = format!("{} does not support generic parameters", kind.attribute());
        return Err(Error::new(angle.span(), message));
    }
    let Some(TokenTree::Group(params)) = tokens.next() else {
        return Err(not_a_function(name.span()));
    };

    let mut output = Vec::new();
    if tokens.next_if(|token| is_punct(token, '-')).is_some() {
        tokens.next(); // `>`
        while let Some(token) =
            tokens.next_if(|token| !is_ident(token, "where") && !is_group(token, Delimiter::Brace))
        {
            output.push(token);
        }
    }
    let mut where_clause = Vec::new();
    while let Some(token) = tokens.next_if(|token| !is_group(token, Delimiter::Brace)) {
        where_clause.push(token);
    }
    let Some(TokenTree::Group(body)) = tokens.next() else {
        return Err(Error::new(name.span(), "expected the function's body"));
    };
    Ok(Function {
        attrs,
        vis,
        qualifiers,
        fn_token,
        name,
        params,
        output,
        where_clause,
        body,
    })
}

/// Pushes the mistakes only a test can make: parameters (the harness passes none) and a
/// `#[test]` of its own (`#[kq::test]` adds one).
fn check_test(function: &Function, errors: &mut Vec<Error>) {
    if !function.params.stream().is_empty() {
        let message = "a `#[kq::test]` function cannot take parameters";
        errors.push(Error::new(function.params.span(), message));
    }
    for attr in function.attrs.chunks(2) {
        if let [hash, TokenTree::Group(brackets)] = attr {
            if brackets.stream().to_string() == "test" {
                let message = "`#[kq::test]` already adds `#[test]`: remove this attribute";
                errors.push(Error::spanning(hash.span(), brackets.span(), message));
            }
        }
    }
}

/// The synchronous function: the same attributes, visibility, name, parameters and return type,
/// without `async`, and a body that runs the original one on a new runtime:
///
/// ```text
/// PATH::runtime::Builder::new_FLAVOR() [.worker_threads(N)]
///     .enable_all().build().expect("Failed building the Runtime")
///     .block_on(FUTURE)
/// ```
///
/// where `FUTURE` is written by [`future`].
fn write_function(
    kind: Kind,
    args: &Args,
    function: Function,
    test_attribute: bool,
) -> TokenStream {
    let mut runtime = args.crate_path.clone().unwrap_or_else(|| code("::kq"));
    runtime.extend(code(match args.flavor.unwrap_or(kind.default_flavor()) {
        Flavor::MultiThread => "::runtime::Builder::new_multi_thread()",
        Flavor::CurrentThread => "::runtime::Builder::new_current_thread()",
    }));
    if let Some(workers) = &args.worker_threads {
        let count = with_span(
            Literal::usize_unsuffixed(workers.count).into(),
            workers.value,
        );
        runtime.extend(code(".worker_threads"));
        runtime.extend([TokenTree::from(Group::new(
            Delimiter::Parenthesis,
            count.into(),
        ))]);
    }
    runtime.extend(code(
        ".enable_all().build().expect(\"Failed building the Runtime\").block_on",
    ));
    let body_span = function.body.span();
    let future = future(&function.output, function.body);
    runtime.extend([TokenTree::from(Group::new(Delimiter::Parenthesis, future))]);

    let mut tokens = if test_attribute {
        code("#[::core::prelude::v1::test]")
    } else {
        code("")
    };
    tokens.extend(function.attrs);
    tokens.extend(function.vis);
    tokens.extend(function.qualifiers);
    tokens.extend([
        function.fn_token.into(),
        function.name.into(),
        TokenTree::from(function.params),
    ]);
    if !function.output.is_empty() {
        tokens.extend(code("->"));
        tokens.extend(function.output);
    }
    tokens.extend(function.where_clause);
    let mut body = Group::new(Delimiter::Brace, runtime);
    body.set_span(body_span);
    tokens.extend([TokenTree::from(body)]);
    tokens
}

/// The future that runs `body` and resolves to the function's return type `output` (`()` if
/// empty):
///
/// ```text
/// async move {
///     if false {
///         return ::core::option::Option::<OUTPUT>::None.unwrap();
///     }
///     BODY
/// }
/// ```
///
/// The `return` never runs; it fixes the block's output type before the body is checked, as the
/// declared return type of an `async fn` does. So `?` knows what to convert errors into, and a tail or a
/// `return` of the wrong type is reported in the body rather than at the attribute. The body
/// stays the block's tail, so a body that diverges (`panic!`, `loop`) warns of nothing, and its
/// inner attributes (`#![allow(...)]`) stay allowed.
///
/// A type that cannot be a generic argument, `impl Trait` or `!`, gets `async move BODY` alone.
fn future(output: &[TokenTree], body: Group) -> TokenStream {
    let mut future = code("async move");
    let is_never = matches!(output, [token] if is_punct(token, '!'));
    if is_never || mentions_impl(output) {
        future.extend([TokenTree::from(body)]);
        return future;
    }
    let mut never_runs = code("return ::core::option::Option::<");
    never_runs.extend(if output.is_empty() {
        code("()")
    } else {
        output.iter().cloned().collect()
    });
    never_runs.extend(code(">::None.unwrap();"));
    let mut block = code("if false");
    block.extend([
        Group::new(Delimiter::Brace, never_runs).into(),
        TokenTree::from(body),
    ]);
    future.extend([TokenTree::from(Group::new(Delimiter::Brace, block))]);
    future
}

/// Whether a type mentions `impl Trait`, at any depth.
fn mentions_impl(tokens: &[TokenTree]) -> bool {
    tokens.iter().any(|token| match token {
        TokenTree::Ident(word) => word.to_string() == "impl",
        TokenTree::Group(group) => mentions_impl(&group.stream().into_iter().collect::<Vec<_>>()),
        _ => false,
    })
}

/// The tokens of a fixed piece of code, spanned at the attribute.
fn code(source: &str) -> TokenStream {
    source.parse().expect("fixed code is valid Rust")
}

fn is_path_separator(tokens: &[TokenTree], at: usize) -> bool {
    matches!(
        (tokens.get(at), tokens.get(at + 1)),
        (Some(TokenTree::Punct(first)), Some(TokenTree::Punct(second)))
            if first.as_char() == ':' && first.spacing() == Spacing::Joint && second.as_char() == ':'
    )
}

fn with_span(mut token: TokenTree, span: Span) -> TokenTree {
    token.set_span(span);
    token
}

fn is_punct(token: &TokenTree, c: char) -> bool {
    matches!(token, TokenTree::Punct(p) if p.as_char() == c)
}

fn is_ident(token: &TokenTree, word: &str) -> bool {
    matches!(token, TokenTree::Ident(ident) if ident.to_string() == word)
}

fn is_group(token: &TokenTree, delimiter: Delimiter) -> bool {
    matches!(token, TokenTree::Group(group) if group.delimiter() == delimiter)
}
