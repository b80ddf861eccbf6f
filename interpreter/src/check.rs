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

/// Native stack for parsing and checking, so that no source can overflow it.
const CHECK_STACK_BYTES: usize = 1 << 30;

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

/// Decodes and checks a program file; returns its text when it is safe.
pub fn check_program(bytes: &[u8]) -> Result<String, Vec<Violation>> {
    let text = source::decode_source(bytes).map_err(|(line, col, reason)| vec![Violation { line, col, reason }])?;
    check_source(&text)?;
    Ok(text)
}

/// Checks source text (a program or VirtualNamespace code).
pub fn check_source(text: &str) -> Result<(), Vec<Violation>> {
    let owned = text.to_owned();
    let worker = std::thread::Builder::new()
        .name("repy-check".into())
        .stack_size(CHECK_STACK_BYTES)
        .spawn(move || check_on_this_thread(&owned));
    match worker.map(|handle| handle.join()) {
        Ok(Ok(result)) => result,
        // A panic in the parser is a refusal, never a crash of the host.
        Ok(Err(_)) => Err(vec![Violation { line: 1, col: 1, reason: "the parser failed on this source".into() }]),
        Err(e) => Err(vec![Violation { line: 1, col: 1, reason: format!("cannot start the checker: {e}") }]),
    }
}

fn check_on_this_thread(text: &str) -> Result<(), Vec<Violation>> {
    let parsed = ruff_python_parser::parse_module(text).map_err(|e| {
        let (line, col) = source::position(text, e.location.start().to_usize());
        vec![Violation { line, col, reason: format!("syntax error: {}", e.error) }]
    })?;
    let mut checker = Checker { found: Vec::new(), depth: 0, too_deep: false };
    checker.visit_body(&parsed.syntax().body);
    if checker.found.is_empty() {
        return Ok(());
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
            Stmt::Try(try_) if try_.is_star => self.refuse(try_.range, "'except*' is not allowed (exception groups are not part of the sandbox)"),
            Stmt::For(_) | Stmt::With(_) | Stmt::Try(_) => {}
            Stmt::Import(_) | Stmt::ImportFrom(_) => {
                self.refuse(stmt.range(), "import is not allowed (nothing can be imported)");
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
