//! The static safety check (repy-api.md §10.1–§10.2): the whole source is parsed and every
//! syntax-tree node checked against a whitelist before any of it runs. Every `match` below
//! names each variant, so a parser upgrade that adds syntax fails to compile until someone
//! decides about it.

use ruff_python_ast::{
    self as ast,
    visitor::{self, Visitor},
    ExceptHandler, Expr, Identifier, Pattern, Stmt,
};
use ruff_text_size::{Ranged, TextRange};

use crate::{identifier::unsafe_identifier_reason, source};

/// Deepest syntax tree accepted.
pub const MAX_NESTING: usize = 1000;

/// Native stack for checking, and for dropping the deepest tree [`parse_allowance`] lets
/// the parser build (a few hundred thousand levels, well under 1 KB each).
const CHECK_STACK_BYTES: usize = 256 << 20;

/// How far the address space may grow while one source is parsed and checked, beyond the
/// check's stack: room for the syntax tree of any real program. The parser grows its stack
/// past the thread's for as deep as the source nests, outside any heap count; this bounds
/// it (a line of ten million minus signs took 17 GB).
fn parse_allowance(source_bytes: usize) -> u64 {
    (256 << 20) + 32 * source_bytes as u64
}

/// One refusal: where, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub line: usize,
    pub col: usize,
    pub reason: String,
}

/// `FILE:LINE:COL: reason`, one line per violation.
pub fn format_violations(file_name: &str, violations: &[Violation]) -> Vec<String> {
    violations.iter().map(|v| format!("{file_name}:{}:{}: {}", v.line, v.col, v.reason)).collect()
}

/// One `import NAME` or `from NAME import ...` of a library, and where it stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Import {
    pub name: String,
    pub line: usize,
    pub col: usize,
}

/// A source that passed the check: its text, and the libraries it imports (in source order).
#[derive(Clone, Debug)]
pub struct Checked {
    pub text: String,
    pub imports: Vec<Import>,
}

/// Decodes and checks a program file; returns its text when it is safe.
pub fn check_program(bytes: &[u8]) -> Result<Checked, Vec<Violation>> {
    let text = source::decode_source(bytes).map_err(|(line, col, reason)| vec![Violation { line, col, reason }])?;
    let imports = check_source(&text)?;
    Ok(Checked { text, imports })
}

/// Checks source text (a program or VirtualNamespace code); returns what it imports.
pub fn check_source(text: &str) -> Result<Vec<Import>, Vec<Violation>> {
    keep_check_panics_quiet();
    let owned = text.to_owned();
    let growth = CHECK_STACK_BYTES as u64 + parse_allowance(text.len());
    let worker = repy_portability::memory::with_address_space_growth(growth, || {
        std::thread::Builder::new()
            .name(CHECK_THREAD.into())
            .stack_size(CHECK_STACK_BYTES)
            .spawn(move || check_on_this_thread(&owned))
            .map(|handle| handle.join())
    });
    match worker {
        Ok(Ok(result)) => result,
        // A panic in the parser is a refusal, never a crash of the host.
        Ok(Err(panic)) => Err(vec![Violation { line: 1, col: 1, reason: parser_failure(&*panic, growth) }]),
        Err(e) => Err(vec![Violation { line: 1, col: 1, reason: format!("cannot start the checker: {e}") }]),
    }
}

/// Name of the thread that parses and checks.
const CHECK_THREAD: &str = "repy-check";

/// True on the thread that parses and checks: a panic there becomes a refusal with its
/// own message, so a panic hook should say nothing about it.
pub fn is_check_thread() -> bool {
    std::thread::current().name() == Some(CHECK_THREAD)
}

/// Wraps the panic hook in force so that it stays silent for the check thread (the default
/// hook names host paths). A hook set later must ask [`is_check_thread`] itself.
fn keep_check_panics_quiet() {
    static WRAPPED: std::sync::Once = std::sync::Once::new();
    WRAPPED.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !is_check_thread() {
                previous(info)
            }
        }));
    });
}

/// Why the parser gave up: out of room for its stack (the source nests too deeply), or a
/// fault of its own.
fn parser_failure(panic: &(dyn std::any::Any + Send), growth: u64) -> String {
    let message = panic.downcast_ref::<String>().map(String::as_str).or_else(|| panic.downcast_ref::<&str>().copied()).unwrap_or("");
    if message.contains("allocate stack") {
        format!("nesting too deep: parsing this source would take more than {} MB", growth >> 20)
    } else {
        "the parser failed on this source".into()
    }
}

fn check_on_this_thread(text: &str) -> Result<Vec<Import>, Vec<Violation>> {
    // The compiler's own limit on nested brackets, applied before a tree that deep exists.
    let file = ruff_source_file::SourceFileBuilder::new("<check>", text).finish();
    if let Err(e) = rustpython_compiler::pre_parse_source_error(&file) {
        let (line, col) = e.python_location();
        return Err(vec![Violation { line, col, reason: format!("syntax error: {e}") }]);
    }
    let parsed = ruff_python_parser::parse_module(text).map_err(|e| {
        let (line, col) = source::position(text, e.location.start().to_usize());
        vec![Violation { line, col, reason: format!("syntax error: {}", e.error) }]
    })?;
    let mut checker = Checker { found: Vec::new(), imports: Vec::new(), depth: 0, too_deep: false };
    checker.visit_body(&parsed.syntax().body);
    if checker.found.is_empty() {
        return Ok(checker
            .imports
            .into_iter()
            .map(|(offset, name)| {
                let (line, col) = source::position(text, offset);
                Import { name, line, col }
            })
            .collect());
    }
    checker.found.sort_by_key(|(offset, _)| *offset);
    Err(checker
        .found
        .into_iter()
        .map(|(offset, reason)| {
            let (line, col) = source::position(text, offset);
            Violation { line, col, reason }
        })
        .collect())
}

struct Checker {
    /// (byte offset, reason)
    found: Vec<(usize, String)>,
    /// (byte offset, library name)
    imports: Vec<(usize, String)>,
    depth: usize,
    too_deep: bool,
}

impl Checker {
    fn refuse(&mut self, range: TextRange, reason: impl Into<String>) {
        self.found.push((range.start().to_usize(), reason.into()));
    }

    fn name(&mut self, name: &str, range: TextRange) {
        if let Some(reason) = unsafe_identifier_reason(name) {
            self.refuse(range, format!("name {reason}"));
        }
    }

    fn ident(&mut self, id: &Identifier) {
        self.name(id.as_str(), id.range);
    }

    /// Counts one level of nesting; false (after one report) once past the limit.
    fn enter(&mut self, range: TextRange) -> bool {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            if !self.too_deep {
                self.too_deep = true;
                self.refuse(range, format!("nesting too deep (more than {MAX_NESTING} levels)"));
            }
            self.depth -= 1;
            return false;
        }
        true
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    /// `import NAME [as ALIAS]` and `from NAME import NAME [as ALIAS], ...` of a library
    /// by a plain name: no dotted, relative or `*` imports, which have no meaning here.
    fn import(&mut self, stmt: &Stmt) {
        match stmt {
            Stmt::Import(import) => {
                for alias in &import.names {
                    self.library(&alias.name);
                    if let Some(name) = &alias.asname {
                        self.ident(name);
                    }
                }
            }
            Stmt::ImportFrom(from) => {
                if from.level > 0 {
                    self.refuse(from.range, "relative imports are not allowed (import a library by its name)");
                    return;
                }
                match &from.module {
                    Some(module) => self.library(module),
                    None => self.refuse(from.range, "import of nothing"),
                }
                for alias in &from.names {
                    if alias.name.as_str() == "*" {
                        self.refuse(alias.range, "'from ... import *' is not allowed: name what you import");
                        continue;
                    }
                    self.ident(&alias.name);
                    if let Some(name) = &alias.asname {
                        self.ident(name);
                    }
                }
            }
            _ => {}
        }
    }

    fn library(&mut self, module: &Identifier) {
        let name = module.as_str();
        if name.contains('.') {
            self.refuse(
                module.range,
                format!("'{name}' is not a library name: libraries have plain names (there are no host modules or packages)"),
            );
        } else if let Some(reason) = unsafe_identifier_reason(name) {
            self.refuse(module.range, format!("library name {reason}"));
        } else {
            self.imports.push((module.range.start().to_usize(), name.to_owned()));
        }
    }
}

const ASYNC: &str = "async code is not allowed (no event loop; coroutines expose frames)";

impl<'a> Visitor<'a> for Checker {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        if !self.enter(stmt.range()) {
            return;
        }
        let mut walk = true;
        match stmt {
            Stmt::FunctionDef(def) => {
                if def.is_async {
                    self.refuse(def.range, ASYNC);
                }
                if let Some(params) = &def.type_params {
                    self.refuse(params.range, "type parameters are not allowed");
                }
                self.ident(&def.name);
            }
            Stmt::ClassDef(class) => {
                if let Some(params) = &class.type_params {
                    self.refuse(params.range, "type parameters are not allowed");
                }
                self.ident(&class.name);
                for keyword in class.arguments.iter().flat_map(|a| a.keywords.iter()) {
                    let name = keyword.arg.as_ref().map_or("**", |a| a.as_str()).to_owned();
                    self.refuse(keyword.range, format!("class keyword '{name}' is not allowed (it bypasses the body check)"));
                }
            }
            Stmt::For(for_) if for_.is_async => self.refuse(for_.range, ASYNC),
            Stmt::With(with) if with.is_async => self.refuse(with.range, ASYNC),
            Stmt::Try(try_) if try_.is_star => {
                self.refuse(try_.range, "'except*' is not allowed (exception groups are not part of the sandbox)")
            }
            Stmt::For(_) | Stmt::With(_) | Stmt::Try(_) => {}
            Stmt::Import(_) | Stmt::ImportFrom(_) => {
                self.import(stmt);
                walk = false;
            }
            Stmt::Global(_) => {
                self.refuse(stmt.range(), "'global' is not allowed; use mycontext");
                walk = false;
            }
            Stmt::Nonlocal(nonlocal) => nonlocal.names.iter().for_each(|n| self.ident(n)),
            Stmt::TypeAlias(_) => {
                self.refuse(stmt.range(), "'type' alias statements are not allowed");
                walk = false;
            }
            Stmt::IpyEscapeCommand(_) => {
                self.refuse(stmt.range(), "IPython escape commands are not allowed");
                walk = false;
            }
            Stmt::Return(_)
            | Stmt::Delete(_)
            | Stmt::Assign(_)
            | Stmt::AugAssign(_)
            | Stmt::AnnAssign(_)
            | Stmt::While(_)
            | Stmt::If(_)
            | Stmt::Match(_)
            | Stmt::Raise(_)
            | Stmt::Assert(_)
            | Stmt::Expr(_)
            | Stmt::Pass(_)
            | Stmt::Break(_)
            | Stmt::Continue(_) => {}
        }
        if walk {
            visitor::walk_stmt(self, stmt);
        }
        self.leave();
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        if !self.enter(expr.range()) {
            return;
        }
        let mut walk = true;
        match expr {
            Expr::Name(name) => self.name(name.id.as_str(), name.range),
            Expr::Attribute(attribute) => self.ident(&attribute.attr),
            Expr::Await(_) => self.refuse(expr.range(), ASYNC),
            Expr::TString(_) => {
                self.refuse(expr.range(), "template strings are not allowed");
                walk = false;
            }
            Expr::IpyEscapeCommand(_) => {
                self.refuse(expr.range(), "IPython escape commands are not allowed");
                walk = false;
            }
            Expr::BoolOp(_)
            | Expr::Named(_)
            | Expr::BinOp(_)
            | Expr::UnaryOp(_)
            | Expr::Lambda(_)
            | Expr::If(_)
            | Expr::Dict(_)
            | Expr::Set(_)
            | Expr::ListComp(_)
            | Expr::SetComp(_)
            | Expr::DictComp(_)
            | Expr::Generator(_)
            | Expr::Yield(_)
            | Expr::YieldFrom(_)
            | Expr::Compare(_)
            | Expr::Call(_)
            | Expr::FString(_)
            | Expr::StringLiteral(_)
            | Expr::BytesLiteral(_)
            | Expr::NumberLiteral(_)
            | Expr::BooleanLiteral(_)
            | Expr::NoneLiteral(_)
            | Expr::EllipsisLiteral(_)
            // Folded literals (the parser never makes them; they hold only literal values).
            | Expr::Constant(_)
            | Expr::Subscript(_)
            | Expr::Starred(_)
            | Expr::List(_)
            | Expr::Tuple(_)
            | Expr::Slice(_) => {}
        }
        if walk {
            visitor::walk_expr(self, expr);
        }
        self.leave();
    }

    fn visit_comprehension(&mut self, comprehension: &'a ast::Comprehension) {
        if comprehension.is_async {
            self.refuse(comprehension.range, ASYNC);
        }
        visitor::walk_comprehension(self, comprehension);
    }

    fn visit_except_handler(&mut self, handler: &'a ExceptHandler) {
        let ExceptHandler::ExceptHandler(h) = handler;
        if let Some(Expr::Tuple(tuple)) = h.type_.as_deref() {
            if !tuple.parenthesized {
                // Python 2 meant `except E, name:`; newer parsers read a tuple of classes.
                self.refuse(tuple.range, "'except A, B:' is not allowed; write 'except (A, B):' (or 'except A as name:')");
            }
        }
        if let Some(name) = &h.name {
            self.ident(name);
        }
        visitor::walk_except_handler(self, handler);
    }

    fn visit_parameter(&mut self, parameter: &'a ast::Parameter) {
        self.ident(&parameter.name);
        visitor::walk_parameter(self, parameter);
    }

    fn visit_keyword(&mut self, keyword: &'a ast::Keyword) {
        if let Some(arg) = &keyword.arg {
            self.ident(arg);
        }
        visitor::walk_keyword(self, keyword);
    }

    fn visit_type_params(&mut self, _type_params: &'a ast::TypeParams) {
        // Refused where they appear (def/class); nothing inside needs checking.
    }

    fn visit_pattern(&mut self, pattern: &'a Pattern) {
        if !self.enter(pattern.range()) {
            return;
        }
        match pattern {
            Pattern::MatchAs(p) => {
                if let Some(name) = &p.name {
                    self.ident(name);
                }
            }
            Pattern::MatchStar(p) => {
                if let Some(name) = &p.name {
                    self.ident(name);
                }
            }
            Pattern::MatchMapping(p) => {
                if let Some(rest) = &p.rest {
                    self.ident(rest);
                }
            }
            Pattern::MatchValue(_)
            | Pattern::MatchSingleton(_)
            | Pattern::MatchSequence(_)
            | Pattern::MatchClass(_)
            | Pattern::MatchOr(_) => {}
        }
        visitor::walk_pattern(self, pattern);
        self.leave();
    }

    fn visit_pattern_keyword(&mut self, keyword: &'a ast::PatternKeyword) {
        self.ident(&keyword.attr);
        visitor::walk_pattern_keyword(self, keyword);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusals(src: &str) -> Vec<(usize, usize, String)> {
        match check_source(src) {
            Ok(_) => Vec::new(),
            Err(v) => v.into_iter().map(|v| (v.line, v.col, v.reason)).collect(),
        }
    }

    fn refused_at(src: &str, line: usize, col: usize, words: &str) {
        let found = refusals(src);
        assert!(
            found.iter().any(|(l, c, r)| (*l, *c) == (line, col) && r.contains(words)),
            "{src:?}: expected {line}:{col} '{words}', got {found:?}"
        );
    }

    #[test]
    fn refused_statements_are_reported_with_positions() {
        refused_at("import os.path", 1, 8, "plain names");
        refused_at("x = 1\nfrom . import path", 2, 1, "relative");
        refused_at("from rpc import *", 1, 17, "import *");
        refused_at("import __main__", 1, 8, "library name");
        refused_at("from rpc import __dict__", 1, 17, "name");
        refused_at("import rpc as __x", 1, 15, "name");
        refused_at("def f():\n    global g", 2, 5, "global");
        refused_at("async def f():\n    pass", 1, 1, "async");
        refused_at("def f():\n    x = [i async for i in y]", 2, 12, "async");
        refused_at("try:\n    pass\nexcept* ValueError:\n    pass", 1, 1, "except*");
        refused_at("type X = int", 1, 1, "alias");
        refused_at("def f[T](x):\n    pass", 1, 6, "type parameters");
        refused_at("class A(metaclass=M):\n    pass", 1, 9, "metaclass");
        refused_at("class A(B, x=1):\n    pass", 1, 12, "class keyword 'x'");
        refused_at("x = t'{y}'", 1, 5, "template");
    }

    #[test]
    fn imports_of_libraries_are_listed_with_positions() {
        let src = "import serialize\ndef f():\n    from rpc import rpc_call as call, RpcError\nimport clock as c, serialize\n";
        let found: Vec<(String, usize, usize)> = check_source(src).unwrap().into_iter().map(|i| (i.name, i.line, i.col)).collect();
        let expected = [("serialize", 1, 8), ("rpc", 3, 10), ("clock", 4, 8), ("serialize", 4, 20)];
        assert_eq!(found, expected.map(|(n, l, c)| (n.to_owned(), l, c)));
    }

    #[test]
    fn identifier_rule_covers_every_kind_of_name() {
        refused_at("x.__class__", 1, 3, "__class__");
        refused_at("__builtins__", 1, 1, "__builtins__");
        refused_at("def __f(a):\n    pass", 1, 5, "__f");
        refused_at("def f(__a):\n    pass", 1, 7, "__a");
        refused_at("def f(*, gi_x=1, **co_y):\n    pass", 1, 10, "gi_x");
        refused_at("def f(*, gi_x=1, **co_y):\n    pass", 1, 20, "co_y");
        refused_at("f(tb_frame=1)", 1, 3, "tb_frame");
        refused_at("try:\n    pass\nexcept E as f_back:\n    pass", 3, 13, "f_back");
        refused_at("class _C__x:\n    pass", 1, 7, "_C__x");
        refused_at("lambda func_code: 1", 1, 8, "func_code");
        refused_at("def f():\n    nonlocal im_self", 2, 14, "im_self");
        refused_at("f'{x.__class__}'", 1, 6, "__class__");
        refused_at("f'{x:{y.__class__}}'", 1, 9, "__class__");
        refused_at("match x:\n    case C(__class__=y):\n        pass", 2, 12, "__class__");
        refused_at("match x:\n    case [*__rest]:\n        pass", 2, 12, "__rest");
        refused_at("match x:\n    case {**cr_rest}:\n        pass", 2, 13, "cr_rest");
        refused_at("match x:\n    case y as ag_z:\n        pass", 2, 15, "ag_z");
    }

    #[test]
    fn every_violation_is_reported_in_order() {
        let found = refusals("import a.b\nx.__dict__\nglobal b\n");
        assert_eq!(found.iter().map(|f| f.0).collect::<Vec<_>>(), vec![1, 2, 3]);
    }

    #[test]
    fn allowed_constructs_pass() {
        let src = r#"
x = 1 + 2 * 3 - 4 / 5 // 6 % 7 ** 2 @ m if a else ...
x += 1; y: int = 2; z, *w = [1, 2, 3]
def f(a, /, b, *args, c=1, **kw) -> int:
    return a
@dec
class A(B, C):
    def __init__(self): self.v = lambda q: q
    def __add__(self, o): return o
for i in range(3):
    if i: continue
    else: break
else: pass
while False: pass
try: raise ValueError() from None
except (ValueError, TypeError) as e: pass
else: pass
finally: pass
assert True, 'x'
del x
with lock as l: pass
g = [i for i in y if i]; s = {i for i in y}; d = {k: v for k, v in y}; h = (i for i in y)
def gen():
    yield 1
    yield from gen()
def outer():
    n = 0
    def inner():
        nonlocal n
        n += 1
t = f"{x!r:>{width}} {y=}"
if (n := 10) > 5: pass
match p:
    case 1 | 2: pass
    case [a, *rest]: pass
    case {'k': v, **others}: pass
    case Point(x=0, y=yy) as pt: pass
    case None: pass
    case _: pass
print(*a, **k)
"#;
        assert_eq!(refusals(src), Vec::new());
    }

    #[test]
    fn python2_forms_and_bad_encoding_are_refused() {
        for src in ["print 'x'", "exec 'x'", "x = `y`", "if a <> b: pass", "x = 0777", "try:\n    pass\nexcept E, e:\n    pass"] {
            let found = refusals(src);
            assert!(found.len() == 1 && (found[0].2.starts_with("syntax error") || found[0].2.contains("except A, B")), "{src}: {found:?}");
        }
        let err = check_program(b"x = '\xff'\n").unwrap_err();
        assert_eq!((err[0].line, err[0].col), (1, 6));
    }

    #[test]
    fn deep_nesting_is_refused_without_overflowing_the_stack() {
        for src in [
            format!("x = {}1", "-".repeat(100_000)),
            format!("x = {}{}", "[".repeat(5_000), "]".repeat(5_000)),
            format!("x = a{}", ".b".repeat(100_000)),
            format!("x = {}", "not ".repeat(50_000) + "1"),
        ] {
            let found = refusals(&src);
            assert!(found.iter().any(|f| f.2.contains("nesting too deep") || f.2.starts_with("syntax error")), "{found:?}");
        }
        let deep_but_fine = format!("x = {}1{}", "(".repeat(200), ")".repeat(200));
        assert_eq!(refusals(&deep_but_fine), Vec::new());
    }

    /// The compiler refuses more than 200 nested brackets; the check says so first, with
    /// the place, instead of passing a program that `repy run` then refuses.
    #[test]
    fn brackets_nested_past_the_compilers_limit_are_refused_where_they_open() {
        let src = format!("x = 1\ny = {}1{}\n", "([{".repeat(67), "}])".repeat(67));
        assert_eq!(refusals(&src), vec![(2, 205, "syntax error: too many nested parentheses".to_owned())]);
        let in_a_string = format!("x = '{}'\n", "(".repeat(1000));
        assert_eq!(refusals(&in_a_string), Vec::new());
    }
}
