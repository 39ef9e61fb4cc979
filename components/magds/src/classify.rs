//! Classify one SQL statement from an extension by the database capability it
//! needs, or refuse it.
//!
//! # What the classifier guarantees
//!
//! * **A real parser.** The SQL is parsed with `sqlparser` (PostgreSQL or SQLite
//!   dialect) and decided on the syntax tree, never on keywords or regular
//!   expressions: a `;` inside a string or a comment cannot split a statement,
//!   and a `DELETE` hidden in a `WITH` or a subquery is found.
//! * **Exactly one statement per call.** An empty query, a query the parser
//!   rejects (its message and position are reported) and a query holding two or
//!   more statements are refused. A trailing `;` is fine.
//! * **Fail closed.** Every statement kind the classifier does not explicitly
//!   know is refused, never guessed. Constructs that must never run from an
//!   extension (server files and programs, session and role switching,
//!   transaction control, server-side code, side-effecting functions, ...) are
//!   refused whatever was granted: no capability makes them runnable.
//! * **Read is strictly read-only.** [`Class::Read`] is a plain query, `VALUES` or
//!   `EXPLAIN` without `ANALYZE`, with no data-modifying `WITH` at any depth, no
//!   row-locking clause (`FOR UPDATE`/`FOR SHARE`), no `SELECT ... INTO`, and no
//!   call of a function on the side-effect deny-list (checked in every
//!   expression and every `FROM` item, in every statement kind).
//! * **One class per statement.** A statement that would need two capabilities
//!   (a `CREATE TABLE AS` whose query deletes rows, an `ALTER TABLE` that adds a
//!   column and disables row-level security) is refused; send the parts
//!   separately.
//!
//! # What it does not guarantee: the database role is the second wall
//!
//! The classifier sees names, not definitions. A user-defined function called
//! from a `SELECT` may write rows, and the statement still classifies as
//! [`Class::Read`]; a view or a trigger may do more than its name suggests. The
//! database role the platform uses for an extension must therefore hold only
//! the privileges its grants imply: the classifier is the first wall, the role
//! is the second.
//!
//! # Decisions
//!
//! * No implication between classes: `database.write` does not imply
//!   `database.read`, `database.admin` does not imply `database.schema`. A
//!   statement needs exactly the capability of its class (an `INSERT ... SELECT`
//!   needs `database.write` only). See [`allowed`].
//! * `TRUNCATE` is [`Class::Schema`]: it removes every row at once, is not
//!   row-by-row DML and takes an exclusive lock like DDL.
//! * `VACUUM` and `ANALYZE` are [`Class::Admin`]: database maintenance.
//! * Row-level security is [`Class::Admin`]: `CREATE/ALTER/DROP POLICY` and
//!   `ALTER TABLE ... ENABLE/DISABLE/FORCE/NO FORCE ROW LEVEL SECURITY` decide who
//!   sees which rows, as does `ALTER TABLE ... OWNER TO`.
//! * `EXPLAIN ANALYZE <statement>` executes the statement, so it has that
//!   statement's class (`EXPLAIN ANALYZE DELETE` is [`Class::Write`]); a plain
//!   `EXPLAIN` only plans and is [`Class::Read`]. An `ANALYZE` option in any
//!   form (`EXPLAIN (ANALYZE false) ...` included) counts as executing.
//! * Functions and procedures (`CREATE/ALTER/DROP FUNCTION`, `PROCEDURE`, `CALL`,
//!   `DO`) are refused: their code runs with the rights of whoever calls it.
//!   Rewrite rules (`CREATE RULE`) are refused for the same reason. Triggers are
//!   [`Class::Schema`]: they can only call functions that already exist.
//! * Every `COPY` is refused: to or from a program or a server file it reaches
//!   outside the database, and `STDIN`/`STDOUT` need the COPY protocol, which
//!   extensions do not have (use `SELECT` and `INSERT`).
//! * Foreign servers, user mappings, foreign data wrappers and foreign tables
//!   are refused: they connect the database to other servers.
//! * `nextval`/`setval` are on the deny-list everywhere, as the list says, so
//!   explicit sequence calls are refused even in an `INSERT`; identity and
//!   `serial` columns still draw from their sequences on the server side.
//! * Some statements the deny-lists name are not understood by `sqlparser`
//!   0.64 (`DO`, `CHECKPOINT`, `ALTER SYSTEM`, `DETACH`, `FOR NO KEY UPDATE`,
//!   `FOR KEY SHARE`, `TABLE t`, ...). They are refused: named when the leading
//!   words identify them, otherwise as a parse error.

use std::fmt;
use std::ops::ControlFlow;

use magflock_kernel::Capability;
use sqlparser::ast::{
    AlterTableOperation, CommentObject, CopyTarget, Expr, InTarget, ObjectName, ObjectNamePart,
    ObjectType, Query, Reset, Select, Set, SetExpr, Spanned, SqliteOnConflict, Statement,
    TableFactor, UtilityOption, Visit, Visitor,
};
use sqlparser::dialect::{PostgreSqlDialect, SQLiteDialect};
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Location, Token, Tokenizer};

/// The SQL dialect of the project database the statement is meant for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dialect {
    Postgres,
    Sqlite,
}

impl Dialect {
    fn parser_dialect(self) -> Box<dyn sqlparser::dialect::Dialect> {
        match self {
            Dialect::Postgres => Box::new(PostgreSqlDialect {}),
            Dialect::Sqlite => Box::new(SQLiteDialect {}),
        }
    }
}

/// What a statement does, and so which database capability it needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Class {
    /// Reads rows and nothing else.
    Read,
    /// Inserts, updates, deletes, merges or locks rows.
    Write,
    /// Changes the structure of tables and other schema objects.
    Schema,
    /// Manages databases, schemas, roles, privileges, extensions, row-level
    /// security and maintenance.
    Admin,
}

impl Class {
    /// The capability a statement of this class needs.
    pub fn capability(self) -> Capability {
        match self {
            Class::Read => Capability::DatabaseRead,
            Class::Write => Capability::DatabaseWrite,
            Class::Schema => Capability::DatabaseSchema,
            Class::Admin => Capability::DatabaseAdmin,
        }
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Class::Read => "read",
            Class::Write => "write",
            Class::Schema => "schema",
            Class::Admin => "admin",
        })
    }
}

/// A statement the classifier accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Classified {
    pub class: Class,
    /// The statement's kind in SQL words, e.g. `SELECT`, `INSERT`, `CREATE TABLE`.
    pub statement_kind: String,
    /// The tables (and views) the statement names, as written, for auditing.
    /// Best effort: names of `WITH` queries and table functions are left out.
    pub tables: Vec<String>,
    /// Whether the statement may return rows. `false` only when it certainly
    /// returns none: `INSERT`, `UPDATE` and `DELETE` without `RETURNING`, and
    /// schema statements.
    pub returns_rows: bool,
}

/// Why a query was refused. Refusals are final: no grant makes the same SQL run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// What was refused and why, without the leading "refused: ".
    pub reason: String,
    /// Where, as (line, column), both from 1, when known.
    pub position: Option<(u64, u64)>,
}

impl Refusal {
    fn new(reason: impl Into<String>) -> Self {
        Refusal {
            reason: reason.into(),
            position: None,
        }
    }

    fn at(reason: impl Into<String>, location: Location) -> Self {
        let position = (location.line > 0).then_some((location.line, location.column));
        Refusal {
            reason: reason.into(),
            position,
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "refused: {}", self.reason)?;
        if let Some((line, column)) = self.position {
            write!(f, " (line {line}, column {column})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Refusal {}

/// Classify exactly one SQL statement, or refuse it.
pub fn classify(sql: &str, dialect: Dialect) -> Result<Classified, Refusal> {
    let (statement, start) = parse_one(sql, dialect)?;
    classify_statement(&statement, start)
}

/// Whether `granted` covers the statement. There is no implication between
/// capabilities: each class needs its own capability (see the module docs).
pub fn allowed(classified: &Classified, granted: &[Capability]) -> Result<(), String> {
    let needed = classified.class.capability();
    if granted.contains(&needed) {
        Ok(())
    } else {
        Err(format!(
            "{} needs the {needed} capability, which is not granted",
            classified.statement_kind
        ))
    }
}

// ---------------------------------------------------------------- parsing

fn parse_one(sql: &str, dialect: Dialect) -> Result<(Statement, Location), Refusal> {
    let parser_dialect = dialect.parser_dialect();
    let mut statements = parse_all(sql, parser_dialect.as_ref()).map_err(|error| {
        leading_words_refusal(sql, parser_dialect.as_ref())
            .unwrap_or_else(|| parse_error_refusal(&error, sql))
    })?;
    match statements.len() {
        0 => Err(Refusal::new(
            "the query is empty; send exactly one SQL statement",
        )),
        1 => Ok(statements.remove(0)),
        n => Err(Refusal::at(
            format!("{n} statements in one query; send one statement per call"),
            statements[1].1,
        )),
    }
}

/// Every statement with the location of its first token. Unlike
/// `Parser::parse_sql`, which stops at a stray `END` and ignores what follows,
/// the whole input must be consumed.
fn parse_all(
    sql: &str,
    dialect: &dyn sqlparser::dialect::Dialect,
) -> Result<Vec<(Statement, Location)>, ParserError> {
    let mut parser = Parser::new(dialect).try_with_sql(sql)?;
    let mut statements = Vec::new();
    let mut expecting_delimiter = false;
    loop {
        while parser.consume_token(&Token::SemiColon) {
            expecting_delimiter = false;
        }
        let next = parser.peek_token();
        if next.token == Token::EOF {
            return Ok(statements);
        }
        if expecting_delimiter {
            return parser.expected("end of statement", next);
        }
        let statement = parser.parse_statement()?;
        statements.push((statement, next.span.start));
        expecting_delimiter = true;
    }
}

/// The parser's message, with its trailing " at Line: L, Column: C" moved into
/// the position; an error at the end of the input is placed there.
fn parse_error_refusal(error: &ParserError, sql: &str) -> Refusal {
    let message = match error {
        ParserError::TokenizerError(message) | ParserError::ParserError(message) => message.clone(),
        ParserError::RecursionLimitExceeded => "the query is nested too deeply".to_string(),
    };
    let (message, position) = split_position(&message);
    let position = position.or_else(|| message.ends_with("found: EOF").then(|| end_of(sql)));
    Refusal {
        reason: format!("the SQL does not parse: {message}"),
        position,
    }
}

/// The (line, column) just after the last character of `sql`.
fn end_of(sql: &str) -> (u64, u64) {
    let line = sql.matches('\n').count() + 1;
    let last_line = sql.rsplit('\n').next().unwrap_or_default();
    (line as u64, last_line.chars().count() as u64 + 1)
}

fn split_position(message: &str) -> (&str, Option<(u64, u64)>) {
    let Some(at) = message.rfind(" at Line: ") else {
        return (message, None);
    };
    let mut numbers = message[at + " at Line: ".len()..].split(", Column: ");
    let line = numbers.next().and_then(|n| n.trim().parse().ok());
    let column = numbers.next().and_then(|n| n.trim().parse().ok());
    match (line, column) {
        (Some(line), Some(column)) => (&message[..at], Some((line, column))),
        _ => (message, None),
    }
}

/// Names a never-allowed statement the parser does not understand, from its
/// first words, so that the refusal says what it is rather than "does not parse".
fn leading_words_refusal(sql: &str, dialect: &dyn sqlparser::dialect::Dialect) -> Option<Refusal> {
    let tokens = Tokenizer::new(dialect, sql).tokenize_with_location().ok()?;
    let mut words = tokens.iter().filter_map(|token| match &token.token {
        Token::Word(word) => Some((word.value.to_ascii_uppercase(), token.span.start)),
        Token::Whitespace(_) => None,
        _ => Some((String::new(), token.span.start)),
    });
    let (first, start) = words.next()?;
    let mut rest = words.map(|(word, _)| word);
    let second = rest.next().unwrap_or_default();
    let reason = match (first.as_str(), second.as_str()) {
        ("DO", _) => "DO runs an anonymous code block on the database server".to_string(),
        ("CHECKPOINT", _) => "CHECKPOINT forces a checkpoint of the database server".to_string(),
        ("PRAGMA", _) => pragma_reason(),
        ("ATTACH" | "DETACH", _) => attach_reason(&first),
        ("LOAD", _) => load_reason(),
        ("ALTER", "SYSTEM") => "ALTER SYSTEM changes the database server's configuration".into(),
        ("CREATE" | "ALTER" | "DROP", _) => {
            let object = if second == "OR" {
                rest.nth(1).unwrap_or_default()
            } else {
                second
            };
            if !matches!(object.as_str(), "FUNCTION" | "PROCEDURE") {
                return None;
            }
            server_code_reason(&format!("{first} {object}"))
        }
        _ => return None,
    };
    Some(Refusal::at(reason, start))
}

// ---------------------------------------------------------- classification

/// `start` locates refusals of the statement as a whole.
fn classify_statement(statement: &Statement, start: Location) -> Result<Classified, Refusal> {
    if let Statement::Explain {
        analyze,
        options,
        statement: inner,
        ..
    } = statement
    {
        return classify_explain(*analyze, options.as_deref(), inner, start);
    }
    if let Some(reason) = never_allowed(statement) {
        return Err(Refusal::at(reason, start));
    }
    let Some((base, kind)) = known_class(statement) else {
        return Err(Refusal::at(
            format!(
                "{} is not a statement kind MagDS recognises; unknown statements are refused",
                leading_words(statement)
            ),
            start,
        ));
    };
    let walk = Walk::run(statement)?;
    let statement_kind = if base == Class::Read && walk.creates_table {
        "SELECT INTO".to_string()
    } else {
        kind
    };
    let class =
        settle_class(base, &statement_kind, &walk).map_err(|reason| Refusal::at(reason, start))?;
    let mut tables = walk.tables();
    add_unvisited_tables(statement, &mut tables);
    Ok(Classified {
        class,
        statement_kind,
        tables,
        returns_rows: may_return_rows(statement, class),
    })
}

/// `false` only for statements that certainly return no rows.
fn may_return_rows(statement: &Statement, class: Class) -> bool {
    match statement {
        Statement::Insert(insert) => insert.returning.is_some() || insert.output.is_some(),
        Statement::Update(update) => update.returning.is_some() || update.output.is_some(),
        Statement::Delete(delete) => delete.returning.is_some() || delete.output.is_some(),
        Statement::Query(_) | Statement::Merge(_) => true,
        _ => class != Class::Schema,
    }
}

/// `EXPLAIN` plans; `EXPLAIN ANALYZE` also executes, so it needs what the
/// explained statement needs.
fn classify_explain(
    analyze: bool,
    options: Option<&[UtilityOption]>,
    inner: &Statement,
    start: Location,
) -> Result<Classified, Refusal> {
    let explained = classify_statement(inner, start)?;
    if !is_explainable(inner) {
        return Err(Refusal::at(
            format!("EXPLAIN of {} is not supported", explained.statement_kind),
            start,
        ));
    }
    let executes = analyze
        || options
            .unwrap_or_default()
            .iter()
            .any(|option| option.name.value.eq_ignore_ascii_case("analyze"));
    if executes {
        Ok(Classified {
            statement_kind: format!("EXPLAIN ANALYZE {}", explained.statement_kind),
            returns_rows: true,
            ..explained
        })
    } else {
        Ok(Classified {
            class: Class::Read,
            statement_kind: "EXPLAIN".to_string(),
            tables: explained.tables,
            returns_rows: true,
        })
    }
}

fn is_explainable(statement: &Statement) -> bool {
    match statement {
        Statement::Query(_)
        | Statement::Insert(_)
        | Statement::Update(_)
        | Statement::Delete(_)
        | Statement::Merge(_) => true,
        Statement::CreateTable(create) => create.query.is_some(),
        Statement::CreateView(view) => view.materialized,
        _ => false,
    }
}

/// The statement needs its own class plus what the walk found; more than one
/// class (a read plus something else counts as the something else) is refused.
fn settle_class(base: Class, kind: &str, walk: &Walk) -> Result<Class, String> {
    let mut needs = vec![base];
    let found = [
        walk.changes_rows.map(|_| Class::Write),
        walk.creates_table.then_some(Class::Schema),
    ];
    for class in found.into_iter().flatten() {
        if !needs.contains(&class) {
            needs.push(class);
        }
    }
    if needs.len() > 1 {
        needs.retain(|class| *class != Class::Read);
    }
    match needs.as_slice() {
        [class] => Ok(*class),
        _ => {
            let capabilities: Vec<&str> = needs.iter().map(|c| c.capability().as_str()).collect();
            Err(format!(
                "{kind} needs {} at once{}; send the parts as separate statements",
                capabilities.join(" and "),
                walk.changes_rows
                    .map(|what| format!(" (it contains {what})"))
                    .unwrap_or_default(),
            ))
        }
    }
}

/// The class and kind of every statement the classifier knows and allows.
fn known_class(statement: &Statement) -> Option<(Class, String)> {
    data_class(statement)
        .or_else(|| schema_class(statement))
        .or_else(|| admin_class(statement))
}

fn data_class(statement: &Statement) -> Option<(Class, String)> {
    let (class, kind) = match statement {
        Statement::Query(query) => query_class(query),
        Statement::Insert(insert) => {
            let replaces = insert.replace_into || insert.or == Some(SqliteOnConflict::Replace);
            (Class::Write, if replaces { "REPLACE" } else { "INSERT" })
        }
        Statement::Update(_) => (Class::Write, "UPDATE"),
        Statement::Delete(_) => (Class::Write, "DELETE"),
        Statement::Merge(_) => (Class::Write, "MERGE"),
        _ => return None,
    };
    Some((class, kind.to_string()))
}

/// A query is a read unless its body is itself a data-modifying statement
/// (`WITH ... INSERT`); nested effects are found by the walk.
fn query_class(query: &Query) -> (Class, &'static str) {
    body_class(&query.body)
}

fn body_class(body: &SetExpr) -> (Class, &'static str) {
    match body {
        SetExpr::Select(_) | SetExpr::SetOperation { .. } => (Class::Read, "SELECT"),
        SetExpr::Values(_) => (Class::Read, "VALUES"),
        SetExpr::Table(_) => (Class::Read, "TABLE"),
        SetExpr::Query(inner) => query_class(inner),
        SetExpr::Insert(_) => (Class::Write, "INSERT"),
        SetExpr::Update(_) => (Class::Write, "UPDATE"),
        SetExpr::Delete(_) => (Class::Write, "DELETE"),
        SetExpr::Merge(_) => (Class::Write, "MERGE"),
    }
}

fn schema_class(statement: &Statement) -> Option<(Class, String)> {
    let kind = match statement {
        Statement::CreateTable(create) if create.query.is_some() => "CREATE TABLE AS",
        Statement::CreateTable(_) => "CREATE TABLE",
        Statement::CreateView(view) if view.materialized => "CREATE MATERIALIZED VIEW",
        Statement::CreateView(_) => "CREATE VIEW",
        Statement::CreateVirtualTable { .. } => "CREATE VIRTUAL TABLE",
        Statement::CreateIndex(_) => "CREATE INDEX",
        Statement::CreateSequence { .. } => "CREATE SEQUENCE",
        Statement::CreateType { .. } => "CREATE TYPE",
        Statement::CreateDomain(_) => "CREATE DOMAIN",
        Statement::CreateTrigger(_) => "CREATE TRIGGER",
        Statement::AlterTable(alter) if alter_table_class(&alter.operations) == Class::Schema => {
            "ALTER TABLE"
        }
        Statement::AlterIndex { .. } => "ALTER INDEX",
        Statement::AlterView(_) => "ALTER VIEW",
        Statement::AlterType(_) => "ALTER TYPE",
        Statement::AlterTrigger(_) => "ALTER TRIGGER",
        Statement::DropTrigger(_) => "DROP TRIGGER",
        Statement::DropDomain(_) => "DROP DOMAIN",
        Statement::DropRule(_) => "DROP RULE",
        Statement::Truncate(_) => "TRUNCATE",
        Statement::Comment { .. } => "COMMENT ON",
        Statement::RefreshMaterializedView(_) => "REFRESH MATERIALIZED VIEW",
        Statement::Drop { object_type, .. } => return drop_class(*object_type, Class::Schema),
        _ => return None,
    };
    Some((Class::Schema, kind.to_string()))
}

fn admin_class(statement: &Statement) -> Option<(Class, String)> {
    let kind = match statement {
        Statement::CreateDatabase { .. } => "CREATE DATABASE",
        Statement::CreateSchema { .. } => "CREATE SCHEMA",
        Statement::AlterSchema(_) => "ALTER SCHEMA",
        Statement::CreateRole(_) => "CREATE ROLE",
        Statement::AlterRole { .. } => "ALTER ROLE",
        Statement::CreateUser(_) => "CREATE USER",
        Statement::AlterUser(_) => "ALTER USER",
        Statement::Grant(_) | Statement::GrantRole(_) => "GRANT",
        Statement::Revoke(_) | Statement::RevokeRole(_) => "REVOKE",
        Statement::AlterDefaultPrivileges(_) => "ALTER DEFAULT PRIVILEGES",
        Statement::CreateExtension(_) => "CREATE EXTENSION",
        Statement::DropExtension(_) => "DROP EXTENSION",
        Statement::CreatePolicy(_) => "CREATE POLICY",
        Statement::AlterPolicy(_) => "ALTER POLICY",
        Statement::DropPolicy(_) => "DROP POLICY",
        Statement::AlterTable(alter) if alter_table_class(&alter.operations) == Class::Admin => {
            "ALTER TABLE"
        }
        Statement::Vacuum(_) => "VACUUM",
        Statement::Analyze(_) => "ANALYZE",
        Statement::Drop { object_type, .. } => return drop_class(*object_type, Class::Admin),
        _ => return None,
    };
    Some((Class::Admin, kind.to_string()))
}

/// `DROP <object>` when the object's class is `wanted`.
fn drop_class(object_type: ObjectType, wanted: Class) -> Option<(Class, String)> {
    let class = match object_type {
        ObjectType::Table
        | ObjectType::View
        | ObjectType::MaterializedView
        | ObjectType::Index
        | ObjectType::Sequence
        | ObjectType::Type => Class::Schema,
        ObjectType::Database
        | ObjectType::Schema
        | ObjectType::Role
        | ObjectType::Group
        | ObjectType::User => Class::Admin,
        _ => return None,
    };
    (class == wanted).then(|| (class, format!("DROP {object_type}")))
}

/// Row-level security and ownership decide who sees which rows: admin. Any
/// other operation is a structure change: schema.
fn alter_table_class(operations: &[AlterTableOperation]) -> Class {
    if operations.iter().any(is_admin_operation) {
        Class::Admin
    } else {
        Class::Schema
    }
}

fn is_admin_operation(operation: &AlterTableOperation) -> bool {
    matches!(
        operation,
        AlterTableOperation::EnableRowLevelSecurity
            | AlterTableOperation::DisableRowLevelSecurity
            | AlterTableOperation::ForceRowLevelSecurity
            | AlterTableOperation::NoForceRowLevelSecurity
            | AlterTableOperation::OwnerTo { .. }
    )
}

// ----------------------------------------------------- never-allowed kinds

/// The reason a statement kind is refused whatever was granted, if it is.
fn never_allowed(statement: &Statement) -> Option<String> {
    let reason = match statement {
        Statement::Copy { target, .. } => copy_reason(target).to_string(),
        Statement::Set(set) => set_reason(set),
        Statement::Reset(reset) => reset_reason(&reset.reset),
        Statement::AlterSession { .. } => "ALTER SESSION changes session settings".to_string(),
        Statement::StartTransaction { begin: true, .. } => transaction_reason("BEGIN"),
        Statement::StartTransaction { .. } => transaction_reason("START TRANSACTION"),
        Statement::Commit { end: true, .. } => transaction_reason("END"),
        Statement::Commit { .. } => transaction_reason("COMMIT"),
        Statement::Rollback { .. } => transaction_reason("ROLLBACK"),
        Statement::Savepoint { .. } => transaction_reason("SAVEPOINT"),
        Statement::ReleaseSavepoint { .. } => transaction_reason("RELEASE SAVEPOINT"),
        Statement::LISTEN { .. } => notification_reason("LISTEN"),
        Statement::UNLISTEN { .. } => notification_reason("UNLISTEN"),
        Statement::NOTIFY { .. } => notification_reason("NOTIFY"),
        Statement::Prepare { .. } => prepared_reason("PREPARE"),
        Statement::Execute { .. } => prepared_reason("EXECUTE"),
        Statement::Deallocate { .. } => prepared_reason("DEALLOCATE"),
        Statement::Call(_) => server_code_reason("CALL"),
        Statement::CreateFunction(_) => server_code_reason("CREATE FUNCTION"),
        Statement::AlterFunction(_) => server_code_reason("ALTER FUNCTION"),
        Statement::DropFunction(_) => server_code_reason("DROP FUNCTION"),
        Statement::CreateProcedure { .. } => server_code_reason("CREATE PROCEDURE"),
        Statement::DropProcedure { .. } => server_code_reason("DROP PROCEDURE"),
        Statement::CreateRule(_) => {
            "CREATE RULE rewrites queries into other commands that run with the table owner's rights"
                .to_string()
        }
        Statement::Load { .. } | Statement::Install { .. } => load_reason(),
        Statement::AttachDatabase { .. } | Statement::AttachDuckDBDatabase { .. } => {
            attach_reason("ATTACH")
        }
        Statement::DetachDuckDBDatabase { .. } => attach_reason("DETACH"),
        Statement::Pragma { .. } => pragma_reason(),
        Statement::Discard { .. } => "DISCARD resets the session's state".to_string(),
        Statement::Lock(_) | Statement::LockTables { .. } | Statement::UnlockTables => {
            "LOCK TABLE takes table locks, which the platform manages".to_string()
        }
        Statement::CreateServer(_) => foreign_reason("CREATE SERVER"),
        Statement::CreateForeignDataWrapper(_) => foreign_reason("CREATE FOREIGN DATA WRAPPER"),
        Statement::CreateUserMapping(_) => foreign_reason("CREATE USER MAPPING"),
        Statement::CreateForeignTable(_) => foreign_reason("CREATE FOREIGN TABLE"),
        Statement::Declare { .. } => cursor_reason("DECLARE"),
        Statement::Fetch { .. } => cursor_reason("FETCH"),
        Statement::Close { .. } => cursor_reason("CLOSE"),
        Statement::Open(_) => cursor_reason("OPEN"),
        Statement::Use(_) => "USE switches to another database".to_string(),
        Statement::AlterTable(alter) if mixes_admin_and_schema(&alter.operations) => {
            "ALTER TABLE mixes row-level security or ownership (database.admin) with structure \
             changes (database.schema); send them as separate statements"
                .to_string()
        }
        _ => return None,
    };
    Some(reason)
}

fn mixes_admin_and_schema(operations: &[AlterTableOperation]) -> bool {
    operations.iter().any(is_admin_operation) && !operations.iter().all(is_admin_operation)
}

fn copy_reason(target: &CopyTarget) -> &'static str {
    match target {
        CopyTarget::Program { .. } => "COPY ... PROGRAM runs a program on the database server",
        CopyTarget::File { .. } => {
            "COPY ... TO/FROM a file reads or writes files on the database server"
        }
        CopyTarget::Stdin | CopyTarget::Stdout => {
            "COPY ... STDIN/STDOUT needs the COPY protocol, which extensions do not have; \
             use SELECT or INSERT"
        }
    }
}

fn set_reason(set: &Set) -> String {
    match set {
        Set::SetRole { .. } => "SET ROLE changes the session's database role".to_string(),
        Set::SetSessionAuthorization(_) => {
            "SET SESSION AUTHORIZATION changes the session's database user".to_string()
        }
        Set::SingleAssignment { variable, .. } => setting_reason("SET", variable),
        _ => "SET changes session settings, which extensions may not change".to_string(),
    }
}

fn reset_reason(reset: &Reset) -> String {
    match reset {
        Reset::ALL => "RESET ALL changes session settings, which extensions may not change".into(),
        Reset::SessionAuthorization => {
            "RESET SESSION AUTHORIZATION changes the session's database user".to_string()
        }
        Reset::ConfigurationParameter(name) => setting_reason("RESET", name),
    }
}

fn setting_reason(verb: &str, name: &ObjectName) -> String {
    let setting = name.to_string().to_ascii_lowercase();
    match setting.as_str() {
        "role" => format!("{verb} ROLE changes the session's database role"),
        "session_authorization" | "session authorization" => {
            format!("{verb} SESSION AUTHORIZATION changes the session's database user")
        }
        _ => format!("{verb} {setting} changes a session setting, which extensions may not change"),
    }
}

fn transaction_reason(keyword: &str) -> String {
    format!("{keyword} controls the transaction, which the platform owns")
}

fn notification_reason(keyword: &str) -> String {
    format!(
        "{keyword} uses the database server's notification channels; use the platform's event bus"
    )
}

fn prepared_reason(keyword: &str) -> String {
    format!(
        "{keyword} works with prepared statements the classifier cannot see; send the statement itself"
    )
}

fn server_code_reason(keyword: &str) -> String {
    format!(
        "{keyword}: server-side functions and procedures run with the rights of whoever calls \
         them and are not managed from extensions"
    )
}

fn foreign_reason(keyword: &str) -> String {
    format!("{keyword} connects the database to other servers")
}

fn cursor_reason(keyword: &str) -> String {
    format!("{keyword}: cursors need a transaction, which the platform owns")
}

fn load_reason() -> String {
    "LOAD loads a library into the database server".to_string()
}

fn attach_reason(keyword: &str) -> String {
    format!("{keyword} opens or closes other database files")
}

fn pragma_reason() -> String {
    "PRAGMA reads or changes SQLite's settings".to_string()
}

/// The first words of the statement as SQL, to name a kind without a label.
fn leading_words(statement: &Statement) -> String {
    let text = statement.to_string();
    let words: Vec<&str> = text.split_whitespace().take(2).collect();
    words.join(" ")
}

// ------------------------------------------------------ side-effect deny-list

enum Pattern {
    Exact(&'static str),
    Prefix(&'static str),
}

/// Functions with effects outside the statement's rows (sleeping, locking,
/// files, other connections, server signals, session settings, sequences,
/// running query text the classifier cannot see). Refused in every statement
/// kind, case-insensitively, schema-qualified or not.
const SIDE_EFFECT_FUNCTIONS: &[Pattern] = &[
    Pattern::Exact("nextval"),
    Pattern::Exact("setval"),
    Pattern::Prefix("pg_advisory_lock"),
    Pattern::Prefix("pg_advisory_xact_lock"),
    Pattern::Prefix("pg_try_advisory"),
    Pattern::Prefix("pg_advisory_unlock"),
    Pattern::Prefix("dblink"),
    Pattern::Prefix("lo_"),
    Pattern::Exact("lowrite"),
    Pattern::Exact("pg_read_file"),
    Pattern::Exact("pg_read_binary_file"),
    Pattern::Exact("pg_ls_dir"),
    Pattern::Exact("pg_stat_file"),
    Pattern::Prefix("pg_file_"),
    Pattern::Exact("pg_terminate_backend"),
    Pattern::Exact("pg_cancel_backend"),
    Pattern::Exact("pg_reload_conf"),
    Pattern::Exact("pg_rotate_logfile"),
    Pattern::Exact("set_config"),
    Pattern::Prefix("pg_sleep"),
    Pattern::Prefix("query_to_xml"),
    Pattern::Prefix("cursor_to_xml"),
    Pattern::Exact("ts_stat"),
    Pattern::Exact("pg_notify"),
    Pattern::Exact("txid_current"),
    Pattern::Exact("pg_current_xact_id"),
    Pattern::Prefix("pg_logical_"),
    Pattern::Exact("load_extension"),
    Pattern::Exact("writefile"),
    Pattern::Exact("readfile"),
    Pattern::Exact("fts3_tokenizer"),
];

fn has_side_effects(function: &str) -> bool {
    let name = function.to_ascii_lowercase();
    SIDE_EFFECT_FUNCTIONS.iter().any(|pattern| match pattern {
        Pattern::Exact(denied) => name == *denied,
        Pattern::Prefix(denied) => name.starts_with(denied),
    })
}

/// The unqualified name of a function or relation.
fn last_name(name: &ObjectName) -> Option<&str> {
    match name.0.last()? {
        ObjectNamePart::Identifier(ident) => Some(&ident.value),
        ObjectNamePart::Function(function) => Some(&function.name.value),
    }
}

fn refuse_side_effects(name: &ObjectName) -> ControlFlow<Refusal> {
    match last_name(name) {
        Some(function) if has_side_effects(function) => ControlFlow::Break(Refusal::at(
            format!(
                "{}() has side effects and is not allowed from extensions",
                function.to_ascii_lowercase()
            ),
            name.span().start,
        )),
        _ => ControlFlow::Continue(()),
    }
}

// ------------------------------------------------------------ the AST walk

/// What a walk over the whole statement found beyond its top-level kind.
#[derive(Default)]
struct Walk {
    /// Set when some part changes or locks rows: what it is.
    changes_rows: Option<&'static str>,
    /// A `SELECT ... INTO` creates a table.
    creates_table: bool,
    relations: Vec<String>,
    table_functions: Vec<String>,
    cte_names: Vec<String>,
}

impl Walk {
    fn run(statement: &Statement) -> Result<Walk, Refusal> {
        let mut walk = Walk::default();
        match statement.visit(&mut walk) {
            ControlFlow::Break(refusal) => Err(refusal),
            ControlFlow::Continue(()) => Ok(walk),
        }
    }

    /// The relations seen, without `WITH` names and table functions, each once.
    fn tables(&self) -> Vec<String> {
        let mut tables: Vec<String> = Vec::new();
        for name in &self.relations {
            let is_cte = self.cte_names.iter().any(|cte| cte == name);
            let is_function = self.table_functions.contains(name);
            if !is_cte && !is_function && !tables.contains(name) {
                tables.push(name.clone());
            }
        }
        tables
    }
}

impl Visitor for Walk {
    type Break = Refusal;

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<Refusal> {
        if !query.locks.is_empty() {
            self.changes_rows
                .get_or_insert("a FOR UPDATE/FOR SHARE row lock");
        }
        if body_changes_rows(&query.body) {
            self.changes_rows
                .get_or_insert("an INSERT, UPDATE, DELETE or MERGE inside a query");
        }
        if let Some(with) = &query.with {
            let names = with.cte_tables.iter().map(|cte| cte.alias.name.to_string());
            self.cte_names.extend(names);
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, select: &Select) -> ControlFlow<Refusal> {
        if let Some(into) = &select.into {
            self.creates_table = true;
            let targets = into.targets.iter().map(|target| target.to_string());
            self.relations.extend(targets);
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_relation(&mut self, relation: &ObjectName) -> ControlFlow<Refusal> {
        self.relations.push(relation.to_string());
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, table_factor: &TableFactor) -> ControlFlow<Refusal> {
        match table_factor {
            TableFactor::Table {
                name,
                args: Some(_),
                ..
            } => {
                refuse_side_effects(name)?;
                self.table_functions.push(name.to_string());
            }
            TableFactor::Function { name, .. } => refuse_side_effects(name)?,
            _ => {}
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<Refusal> {
        match expr {
            Expr::Function(function) => refuse_side_effects(&function.name)?,
            // SQLite's `x IN table_function(...)`
            Expr::In {
                target:
                    InTarget::Table {
                        name,
                        args: Some(_),
                    },
                ..
            } => {
                refuse_side_effects(name)?;
                self.table_functions.push(name.to_string());
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

/// Whether a query body is (or unions in) an INSERT, UPDATE, DELETE or MERGE.
/// Nested queries are visited on their own.
fn body_changes_rows(body: &SetExpr) -> bool {
    match body {
        SetExpr::Insert(_) | SetExpr::Update(_) | SetExpr::Delete(_) | SetExpr::Merge(_) => true,
        SetExpr::SetOperation { left, right, .. } => {
            body_changes_rows(left) || body_changes_rows(right)
        }
        SetExpr::Select(_) | SetExpr::Query(_) | SetExpr::Values(_) | SetExpr::Table(_) => false,
    }
}

/// Tables that statements name outside the parts the walk sees as relations.
fn add_unvisited_tables(statement: &Statement, tables: &mut Vec<String>) {
    let names: Vec<&ObjectName> = match statement {
        Statement::Drop {
            object_type: ObjectType::Table | ObjectType::View | ObjectType::MaterializedView,
            names,
            ..
        } => names.iter().collect(),
        Statement::Comment {
            object_type: CommentObject::Table,
            object_name,
            ..
        } => vec![object_name],
        Statement::CreateVirtualTable { name, .. } => vec![name],
        Statement::CreateTrigger(trigger) => vec![&trigger.table_name],
        Statement::DropTrigger(trigger) => trigger.table_name.iter().collect(),
        Statement::Vacuum(vacuum) => vacuum.table_name.iter().collect(),
        _ => Vec::new(),
    };
    for name in names {
        let name = name.to_string();
        if !tables.contains(&name) {
            tables.push(name);
        }
    }
}
