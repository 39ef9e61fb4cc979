//! Validation of everything MagDS puts into SQL text itself: identifiers and
//! row-level-security expressions. (Values are never put into SQL text: they
//! are always bound.)
//!
//! Guarantees:
//! * A project name matches `[a-z][a-z0-9_]{0,62}` and is not a reserved
//!   database name; it is then used as the database name unchanged.
//! * Other identifiers (tables, schemas, policies, roles) match
//!   `[A-Za-z_][A-Za-z0-9_]{0,62}` and are always written double-quoted by
//!   [`quote`], so case is kept and no keyword is special.
//! * A policy expression is exactly one SQL expression for the PostgreSQL
//!   parser (`sqlparser`): anything after it (`); DROP TABLE x; --`) is refused,
//!   and what goes into the statement is the parsed expression re-rendered,
//!   never the caller's text.
//! * [`transaction_control`] finds statements that would end or split the
//!   migration's transaction, by tokens (strings, comments and dollar-quoted
//!   bodies cannot hide or fake one). Known false positive: an SQL-standard
//!   function body (`BEGIN ATOMIC ...; END`) is refused; use a dollar-quoted
//!   body instead.

use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::keywords::Keyword;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer};

use crate::error::MagDsError;

/// Names a database server keeps for itself.
const RESERVED: &[&str] = &["postgres", "template0", "template1"];

/// Checks a project name; it becomes the database name.
pub fn project_name(name: &str) -> Result<(), MagDsError> {
    let problem = |p: &str| MagDsError::InvalidName {
        name: name.to_string(),
        problem: p.to_string(),
    };
    let mut chars = name.chars();
    if !chars.next().is_some_and(|c| c.is_ascii_lowercase()) {
        return Err(problem("it must start with a lowercase letter a-z"));
    }
    if !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
        return Err(problem(
            "it may only hold lowercase letters a-z, digits and '_'",
        ));
    }
    if name.len() > 63 {
        return Err(problem("it must be at most 63 characters long"));
    }
    if RESERVED.contains(&name) {
        return Err(problem("the name is reserved by the database server"));
    }
    Ok(())
}

/// Checks an identifier (`kind` names it in the message, e.g. "table").
pub fn identifier(project: &str, kind: &str, value: &str) -> Result<(), MagDsError> {
    let mut chars = value.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if first_ok && rest_ok && value.len() <= 63 {
        Ok(())
    } else {
        Err(MagDsError::invalid(
            project,
            format!(
                "{kind} '{value}' is not a valid identifier ([A-Za-z_][A-Za-z0-9_]*, at most 63 characters)"
            ),
        ))
    }
}

/// A validated identifier, double-quoted.
pub fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// Parses `text` as exactly one PostgreSQL expression and returns it
/// re-rendered from the syntax tree.
pub fn expression(project: &str, what: &str, text: &str) -> Result<String, MagDsError> {
    let refuse = |problem: String| MagDsError::invalid(project, format!("{what}: {problem}"));
    let dialect = PostgreSqlDialect {};
    let mut parser = Parser::new(&dialect)
        .try_with_sql(text)
        .map_err(|e| refuse(e.to_string()))?;
    let expr = parser.parse_expr().map_err(|e| refuse(e.to_string()))?;
    let next = parser.peek_token();
    if next.token != Token::EOF {
        return Err(refuse(format!(
            "must be a single SQL expression, but '{}' follows it (line {}, column {})",
            next.token, next.span.start.line, next.span.start.column
        )));
    }
    Ok(expr.to_string())
}

/// The first statement in `sql` that controls transactions (`BEGIN`,
/// `COMMIT`, `ROLLBACK`, `SAVEPOINT`, ...), by its leading word.
pub fn transaction_control(sql: &str) -> Result<Option<String>, String> {
    let dialect = PostgreSqlDialect {};
    let tokens = Tokenizer::new(&dialect, sql)
        .tokenize()
        .map_err(|e| e.to_string())?;
    let mut at_start = true;
    for token in tokens {
        match token {
            Token::Whitespace(_) => {}
            Token::SemiColon => at_start = true,
            Token::Word(word) if at_start => {
                if is_transaction_word(word.keyword) {
                    return Ok(Some(word.value.to_uppercase()));
                }
                at_start = false;
            }
            _ => at_start = false,
        }
    }
    Ok(None)
}

fn is_transaction_word(keyword: Keyword) -> bool {
    matches!(
        keyword,
        Keyword::BEGIN
            | Keyword::START
            | Keyword::COMMIT
            | Keyword::END
            | Keyword::ROLLBACK
            | Keyword::ABORT
            | Keyword::SAVEPOINT
            | Keyword::RELEASE
            | Keyword::PREPARE
    )
}
