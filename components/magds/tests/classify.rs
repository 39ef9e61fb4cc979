//! Table-driven tests of the SQL classifier: each statement with its expected
//! class or the construct its refusal must name.

use magflock_kernel::Capability;
use magflock_magds::classify::{Class, Classified, Dialect, Refusal, allowed, classify};

#[derive(Clone, Copy, Debug)]
enum Expect {
    Is(Class),
    /// The refusal's reason contains this text.
    Refused(&'static str),
}

use Expect::{Is, Refused};
const READ: Expect = Is(Class::Read);
const WRITE: Expect = Is(Class::Write);
const SCHEMA: Expect = Is(Class::Schema);
const ADMIN: Expect = Is(Class::Admin);

const POSTGRES: &[(&str, Expect)] = &[
    // ---- reads
    ("SELECT 1", READ),
    ("SELECT 1;", READ),
    ("SELECT 1;;", READ),
    ("SELECT ';'", READ),
    ("SELECT 'a;b' AS x, $$; DROP TABLE t$$ AS y", READ),
    ("SELECT 'nextval(1)', 'pg_sleep(5)'", READ),
    ("SELECT lower('X') -- ; DROP TABLE t", READ),
    ("SELECT * FROM users WHERE id = $1", READ),
    ("VALUES (1)", READ),
    ("VALUES (1, 'a'), (2, 'b')", READ),
    (
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 10) SELECT n FROM r",
        READ,
    ),
    (
        "WITH a AS (SELECT id FROM t) SELECT * FROM a JOIN u ON a.id = u.id",
        READ,
    ),
    (
        "SELECT id, row_number() OVER (PARTITION BY team ORDER BY score DESC) FROM scores",
        READ,
    ),
    (
        "SELECT sum(x) OVER w FROM t WINDOW w AS (ORDER BY id)",
        READ,
    ),
    ("SELECT a FROM t UNION SELECT b FROM u", READ),
    ("SELECT * FROM t WHERE id IN (SELECT id FROM u)", READ),
    (
        "SELECT t.x, count(*) FROM t JOIN u ON t.id = u.t_id GROUP BY t.x HAVING count(*) > 1",
        READ,
    ),
    ("SELECT my_function(1)", READ),
    ("SELECT * FROM generate_series(1, 3)", READ),
    // deny-list names are function calls, not table or column names
    ("SELECT * FROM lo_items JOIN pg_sleep_log ON true", READ),
    ("SELECT nextval FROM counters", READ),
    ("SELECT current_setting('search_path')", READ),
    ("EXPLAIN SELECT * FROM t", READ),
    ("EXPLAIN DELETE FROM t", READ),
    ("EXPLAIN ANALYZE SELECT * FROM t", READ),
    // ---- writes
    ("INSERT INTO t (a) VALUES (1)", WRITE),
    ("INSERT INTO t SELECT * FROM u", WRITE),
    (
        "INSERT INTO t (id, a) VALUES (1, 2) ON CONFLICT (id) DO UPDATE SET a = EXCLUDED.a",
        WRITE,
    ),
    ("INSERT INTO t VALUES (1) ON CONFLICT DO NOTHING", WRITE),
    ("INSERT INTO t (a) VALUES (1) RETURNING id", WRITE),
    ("UPDATE t SET a = 1 WHERE id = 2", WRITE),
    ("UPDATE t SET a = u.a FROM u WHERE t.id = u.id", WRITE),
    ("DELETE FROM t WHERE id = 1", WRITE),
    (
        "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET a = s.a \
         WHEN NOT MATCHED THEN INSERT (id, a) VALUES (s.id, s.a)",
        WRITE,
    ),
    ("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x", WRITE),
    (
        "WITH d AS (DELETE FROM t RETURNING *) INSERT INTO archive SELECT * FROM d",
        WRITE,
    ),
    // data-modifying CTEs, at any depth
    (
        "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
        WRITE,
    ),
    (
        "WITH i AS (INSERT INTO t (a) VALUES (1) RETURNING id) SELECT id FROM i",
        WRITE,
    ),
    (
        "WITH u AS (UPDATE t SET a = 1 RETURNING id) SELECT count(*) FROM u",
        WRITE,
    ),
    (
        "SELECT * FROM (WITH d AS (DELETE FROM t RETURNING id) SELECT id FROM d) s",
        WRITE,
    ),
    (
        "SELECT 1 UNION SELECT id FROM (WITH d AS (DELETE FROM t RETURNING id) SELECT id FROM d) s",
        WRITE,
    ),
    (
        "SELECT * FROM t WHERE id IN (WITH d AS (DELETE FROM u RETURNING id) SELECT id FROM d)",
        WRITE,
    ),
    (
        "SELECT (WITH d AS (UPDATE u SET a = 1 RETURNING a) SELECT max(a) FROM d)",
        WRITE,
    ),
    (
        "WITH a AS (WITH b AS (UPDATE t SET x = 1 RETURNING id) SELECT id FROM b) SELECT * FROM a",
        WRITE,
    ),
    // row locks
    ("SELECT * FROM t FOR UPDATE", WRITE),
    ("SELECT * FROM t FOR SHARE", WRITE),
    ("SELECT * FROM t WHERE id = 1 FOR UPDATE SKIP LOCKED", WRITE),
    ("SELECT * FROM t FOR SHARE OF t NOWAIT", WRITE),
    ("select * from t for update", WRITE),
    ("SELECT (SELECT 1 FROM t FOR UPDATE)", WRITE),
    ("UPDATE t SET a = (SELECT b FROM u FOR UPDATE)", WRITE),
    (
        "SELECT * FROM t WHERE id IN (SELECT id FROM u FOR UPDATE)",
        WRITE,
    ),
    // sqlparser 0.64 does not know these lock strengths: refused, fail closed
    (
        "SELECT * FROM t FOR NO KEY UPDATE",
        Refused("does not parse"),
    ),
    ("SELECT * FROM t FOR KEY SHARE", Refused("does not parse")),
    // EXPLAIN ANALYZE executes
    ("EXPLAIN ANALYZE DELETE FROM t", WRITE),
    ("EXPLAIN (ANALYZE, BUFFERS) UPDATE t SET a = 1", WRITE),
    ("EXPLAIN (ANALYZE false) DELETE FROM t", WRITE),
    ("EXPLAIN (FORMAT JSON) DELETE FROM t", READ),
    ("EXPLAIN ANALYZE SELECT * FROM t FOR UPDATE", WRITE),
    ("EXPLAIN ANALYZE CREATE TABLE t2 AS SELECT 1", SCHEMA),
    // ---- schema
    (
        "CREATE TABLE t (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL)",
        SCHEMA,
    ),
    ("CREATE TABLE t AS SELECT 1", SCHEMA),
    ("CREATE TEMPORARY TABLE t (a int)", SCHEMA),
    ("SELECT * INTO t2 FROM t", SCHEMA),
    ("ALTER TABLE t ADD COLUMN c int", SCHEMA),
    ("ALTER TABLE t RENAME COLUMN a TO b", SCHEMA),
    ("DROP TABLE t", SCHEMA),
    ("DROP TABLE IF EXISTS t, u CASCADE", SCHEMA),
    ("CREATE INDEX i ON t (a)", SCHEMA),
    ("CREATE UNIQUE INDEX CONCURRENTLY i ON t (a)", SCHEMA),
    ("DROP INDEX i", SCHEMA),
    ("CREATE VIEW v AS SELECT * FROM t", SCHEMA),
    ("CREATE MATERIALIZED VIEW mv AS SELECT * FROM t", SCHEMA),
    ("REFRESH MATERIALIZED VIEW mv", SCHEMA),
    ("DROP VIEW v", SCHEMA),
    ("CREATE SEQUENCE s", SCHEMA),
    ("DROP SEQUENCE s", SCHEMA),
    ("CREATE TYPE mood AS ENUM ('sad', 'ok')", SCHEMA),
    (
        "CREATE TRIGGER tr AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION audit()",
        SCHEMA,
    ),
    ("DROP TRIGGER tr ON t", SCHEMA),
    ("COMMENT ON TABLE t IS 'people'", SCHEMA),
    ("TRUNCATE t", SCHEMA),
    // ---- admin
    ("CREATE DATABASE d", ADMIN),
    ("DROP DATABASE d", ADMIN),
    ("CREATE ROLE r", ADMIN),
    ("CREATE USER bob", ADMIN),
    ("ALTER ROLE bob SUPERUSER", ADMIN),
    ("DROP ROLE r", ADMIN),
    ("DROP USER r", ADMIN),
    ("GRANT ALL ON t TO x", ADMIN),
    ("GRANT r TO x", ADMIN),
    ("REVOKE SELECT ON t FROM x", ADMIN),
    (
        "ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO x",
        ADMIN,
    ),
    ("CREATE EXTENSION pgcrypto", ADMIN),
    ("DROP EXTENSION pgcrypto", ADMIN),
    ("CREATE SCHEMA s", ADMIN),
    ("DROP SCHEMA s CASCADE", ADMIN),
    ("CREATE POLICY p ON t USING (owner = current_user)", ADMIN),
    ("ALTER POLICY p ON t USING (false)", ADMIN),
    ("DROP POLICY p ON t", ADMIN),
    ("ALTER TABLE t ENABLE ROW LEVEL SECURITY", ADMIN),
    ("ALTER TABLE t DISABLE ROW LEVEL SECURITY", ADMIN),
    ("ALTER TABLE t OWNER TO bob", ADMIN),
    ("ALTER TABLE t NO FORCE ROW LEVEL SECURITY", ADMIN),
    ("VACUUM t", ADMIN),
    ("ANALYZE t", ADMIN),
    // ---- one statement per call
    ("", Refused("empty")),
    ("   -- only a comment", Refused("empty")),
    (";", Refused("empty")),
    ("SELECT 1; SELECT 2", Refused("2 statements")),
    ("SELECT 1; DROP TABLE users", Refused("2 statements")),
    ("SELECT 1 /* ; */; DELETE FROM t", Refused("2 statements")),
    ("SELECT E'\\';DROP TABLE t;--'", READ),
    ("SELECT $tag$;$tag$", READ),
    ("SELECT 1 AS \"a;b\"", READ),
    ("SELECT ';'; SELECT 2; SELECT 3", Refused("3 statements")),
    ("SELEC 1", Refused("does not parse")),
    ("SELECT 'unterminated", Refused("does not parse")),
    ("TABLE t", Refused("does not parse")),
    // sqlparser's parse_sql stops at a stray END and drops the rest: not here
    ("SELECT 1 END; DELETE FROM t", Refused("found: END")),
    ("SELECT 1 END DELETE FROM t", Refused("found: END")),
    ("DELETE FROM t WHERE a = 1 END", Refused("found: END")),
    // ---- side-effect functions, anywhere
    ("SELECT nextval('s')", Refused("nextval()")),
    ("SELECT setval('s', 1)", Refused("setval()")),
    ("SELECT pg_sleep(10)", Refused("pg_sleep()")),
    ("SELECT PG_SLEEP(1)", Refused("pg_sleep()")),
    ("SELECT pg_catalog.pg_sleep(1)", Refused("pg_sleep()")),
    ("SELECT \"pg_sleep\"(1)", Refused("pg_sleep()")),
    ("SELECT pg_sleep_for('1 minute')", Refused("pg_sleep_for()")),
    (
        "SELECT set_config('role', 'x', false)",
        Refused("set_config()"),
    ),
    ("SELECT pg_advisory_lock(1)", Refused("pg_advisory_lock()")),
    (
        "SELECT pg_try_advisory_xact_lock(1)",
        Refused("pg_try_advisory_xact_lock()"),
    ),
    (
        "SELECT pg_advisory_unlock_all()",
        Refused("pg_advisory_unlock_all()"),
    ),
    (
        "SELECT * FROM dblink('host=x', 'DELETE FROM t') AS r(a int)",
        Refused("dblink()"),
    ),
    (
        "SELECT dblink_exec('DELETE FROM t')",
        Refused("dblink_exec()"),
    ),
    (
        "SELECT pg_read_file('/etc/passwd')",
        Refused("pg_read_file()"),
    ),
    (
        "SELECT pg_read_binary_file('/x')",
        Refused("pg_read_binary_file()"),
    ),
    ("SELECT * FROM pg_ls_dir('.')", Refused("pg_ls_dir()")),
    ("SELECT pg_stat_file('/x')", Refused("pg_stat_file()")),
    ("SELECT lo_import('/etc/passwd')", Refused("lo_import()")),
    ("SELECT lo_export(1, '/tmp/x')", Refused("lo_export()")),
    ("SELECT lo_unlink(1)", Refused("lo_unlink()")),
    (
        "SELECT pg_terminate_backend(123)",
        Refused("pg_terminate_backend()"),
    ),
    (
        "SELECT pg_cancel_backend(123)",
        Refused("pg_cancel_backend()"),
    ),
    ("SELECT pg_reload_conf()", Refused("pg_reload_conf()")),
    ("SELECT pg_rotate_logfile()", Refused("pg_rotate_logfile()")),
    (
        "SELECT query_to_xml('DELETE FROM t RETURNING 1', true, true, '')",
        Refused("query_to_xml()"),
    ),
    ("SELECT pg_notify('c', 'x')", Refused("pg_notify()")),
    ("SELECT txid_current()", Refused("txid_current()")),
    (
        "SELECT pg_logical_emit_message(true, 'p', 'x')",
        Refused("pg_logical_emit_message()"),
    ),
    (
        "SELECT * FROM t WHERE id = (SELECT nextval('s'))",
        Refused("nextval()"),
    ),
    (
        "SELECT count(*) FILTER (WHERE pg_sleep(1) IS NULL) FROM t",
        Refused("pg_sleep()"),
    ),
    (
        "SELECT * FROM t ORDER BY pg_sleep(1)",
        Refused("pg_sleep()"),
    ),
    (
        "SELECT * FROM t, LATERAL pg_sleep(1)",
        Refused("pg_sleep()"),
    ),
    (
        "SELECT * FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.x = pg_sleep(1))",
        Refused("pg_sleep()"),
    ),
    (
        "CREATE INDEX i ON t (a) WHERE pg_sleep(1) IS NULL",
        Refused("pg_sleep()"),
    ),
    ("CREATE VIEW v AS SELECT nextval('s')", Refused("nextval()")),
    (
        "WITH s AS (SELECT pg_sleep(1)) SELECT * FROM s",
        Refused("pg_sleep()"),
    ),
    (
        "INSERT INTO t (id) VALUES (nextval('s'))",
        Refused("nextval()"),
    ),
    (
        "UPDATE t SET a = pg_read_file('/x')",
        Refused("pg_read_file()"),
    ),
    (
        "CREATE TABLE t (id int DEFAULT nextval('s'))",
        Refused("nextval()"),
    ),
    ("EXPLAIN SELECT pg_sleep(10)", Refused("pg_sleep()")),
    ("EXPLAIN ANALYZE SELECT pg_sleep(10)", Refused("pg_sleep()")),
    // ---- never allowed
    ("COPY t TO PROGRAM 'curl x'", Refused("PROGRAM")),
    ("COPY t FROM PROGRAM 'id'", Refused("PROGRAM")),
    ("COPY t FROM '/etc/passwd'", Refused("file")),
    ("COPY (SELECT * FROM t) TO '/tmp/out'", Refused("file")),
    ("COPY t TO STDOUT", Refused("COPY protocol")),
    ("SET ROLE postgres", Refused("SET ROLE")),
    ("RESET ROLE", Refused("RESET ROLE")),
    (
        "SET SESSION AUTHORIZATION bob",
        Refused("SET SESSION AUTHORIZATION"),
    ),
    ("SET search_path = x", Refused("SET search_path")),
    (
        "SET LOCAL statement_timeout = 0",
        Refused("SET statement_timeout"),
    ),
    ("RESET search_path", Refused("RESET search_path")),
    ("RESET ALL", Refused("RESET ALL")),
    ("BEGIN", Refused("BEGIN")),
    ("START TRANSACTION", Refused("START TRANSACTION")),
    ("COMMIT", Refused("COMMIT")),
    ("ROLLBACK", Refused("ROLLBACK")),
    ("SAVEPOINT a", Refused("SAVEPOINT")),
    ("LISTEN c", Refused("LISTEN")),
    ("UNLISTEN *", Refused("UNLISTEN")),
    ("NOTIFY c, 'x'", Refused("NOTIFY")),
    ("PREPARE s AS SELECT 1", Refused("PREPARE")),
    ("EXECUTE s", Refused("EXECUTE")),
    ("DEALLOCATE s", Refused("DEALLOCATE")),
    ("DO $$ BEGIN PERFORM 1; END $$", Refused("DO runs")),
    ("CALL p()", Refused("CALL")),
    ("LOAD 'auto_explain'", Refused("LOAD")),
    ("DISCARD ALL", Refused("DISCARD")),
    ("LOCK TABLE t", Refused("LOCK TABLE")),
    ("CHECKPOINT", Refused("CHECKPOINT")),
    ("ALTER SYSTEM SET work_mem = '1GB'", Refused("ALTER SYSTEM")),
    (
        "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1 $$ LANGUAGE sql",
        Refused("CREATE FUNCTION"),
    ),
    (
        "CREATE OR REPLACE FUNCTION f() RETURNS int AS $$ SELECT 1 $$ LANGUAGE sql",
        Refused("CREATE FUNCTION"),
    ),
    (
        "CREATE PROCEDURE p() AS $$ SELECT 1 $$ LANGUAGE sql",
        Refused("CREATE PROCEDURE"),
    ),
    ("DROP FUNCTION f", Refused("DROP FUNCTION")),
    (
        "CREATE RULE r AS ON INSERT TO t DO INSTEAD NOTHING",
        Refused("CREATE RULE"),
    ),
    (
        "CREATE SERVER s FOREIGN DATA WRAPPER postgres_fdw",
        Refused("CREATE SERVER connects"),
    ),
    ("DECLARE c CURSOR FOR SELECT 1", Refused("DECLARE: cursors")),
    ("FETCH 1 FROM c", Refused("FETCH: cursors")),
    ("END", Refused("END controls the transaction")),
    ("RELEASE SAVEPOINT a", Refused("RELEASE SAVEPOINT")),
    ("ALTER FUNCTION f() OWNER TO x", Refused("ALTER FUNCTION")),
    ("COPY t FROM STDIN", Refused("COPY protocol")),
    ("USE d", Refused("USE")),
    (
        "CREATE FOREIGN TABLE ft (a int) SERVER s",
        Refused("CREATE FOREIGN TABLE connects the database to other servers"),
    ),
    (
        "CREATE USER MAPPING FOR x SERVER s",
        Refused("CREATE USER MAPPING connects the database to other servers"),
    ),
    (
        "DROP FOREIGN TABLE ft",
        Refused("not a statement kind MagDS recognises"),
    ),
    (
        "CREATE AGGREGATE a (int) (sfunc = f, stype = int)",
        Refused("CREATE AGGREGATE is not"),
    ),
    ("EXPLAIN DROP TABLE t", Refused("EXPLAIN of DROP TABLE")),
    (
        "SHOW search_path",
        Refused("not a statement kind MagDS recognises"),
    ),
    ("EXPLAIN EXECUTE s", Refused("EXECUTE")),
    // ---- one statement needing two capabilities
    (
        "WITH d AS (DELETE FROM t RETURNING *) SELECT * INTO t2 FROM d",
        Refused("database.write and database.schema"),
    ),
    (
        "CREATE TABLE t2 AS WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
        Refused("database.schema and database.write"),
    ),
    (
        "CREATE VIEW v AS SELECT * FROM t FOR UPDATE",
        Refused("database.schema and database.write"),
    ),
    (
        "ALTER TABLE t ADD COLUMN c int, DISABLE ROW LEVEL SECURITY",
        Refused("mixes row-level security"),
    ),
];

const SQLITE: &[(&str, Expect)] = &[
    ("SELECT * FROM t", READ),
    ("SELECT ';'", READ),
    (
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5) SELECT x FROM c",
        READ,
    ),
    ("SELECT id, rank() OVER (ORDER BY score) FROM t", READ),
    ("VALUES (1)", READ),
    ("EXPLAIN QUERY PLAN SELECT * FROM t", READ),
    ("INSERT INTO t VALUES (1)", WRITE),
    ("REPLACE INTO t VALUES (1)", WRITE),
    ("INSERT OR REPLACE INTO t VALUES (1)", WRITE),
    (
        "INSERT INTO t (id) VALUES (1) ON CONFLICT (id) DO UPDATE SET a = 2",
        WRITE,
    ),
    ("UPDATE t SET a = 1", WRITE),
    ("DELETE FROM t", WRITE),
    ("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)", SCHEMA),
    ("CREATE VIRTUAL TABLE v USING fts5(a)", SCHEMA),
    (
        "CREATE TRIGGER tr AFTER INSERT ON t BEGIN DELETE FROM u; END",
        SCHEMA,
    ),
    ("DROP TABLE t", SCHEMA),
    ("VACUUM", ADMIN),
    ("ATTACH DATABASE 'x.db' AS x", Refused("ATTACH")),
    ("DETACH DATABASE x", Refused("DETACH")),
    ("PRAGMA journal_mode = WAL", Refused("PRAGMA")),
    ("PRAGMA table_info(t)", Refused("PRAGMA")),
    (
        "SELECT load_extension('evil.so')",
        Refused("load_extension()"),
    ),
    ("SELECT writefile('x', 'y')", Refused("writefile()")),
    ("SELECT readfile('/etc/passwd')", Refused("readfile()")),
    (
        "SELECT 1 WHERE 'x' IN readfile('/etc/passwd')",
        Refused("readfile()"),
    ),
    (
        "CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT load_extension('x'); END",
        Refused("load_extension()"),
    ),
    ("BEGIN", Refused("BEGIN")),
    ("SELECT 1; DELETE FROM t", Refused("2 statements")),
    (
        "CREATE TRIGGER tr AFTER INSERT ON t BEGIN DELETE FROM u; END; DELETE FROM t",
        Refused("2 statements"),
    ),
    // END is not reserved in SQLite: `SELECT 1 END` is `SELECT 1 AS END`
    ("SELECT 1 END; DELETE FROM t", Refused("2 statements")),
    ("", Refused("empty")),
    ("VACUUM INTO '/tmp/copy.db'", Refused("does not parse")),
];

fn check_table(dialect: Dialect, cases: &[(&str, Expect)]) {
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(sql, expect)| mismatch(sql, dialect, *expect))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} {dialect:?} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

fn mismatch(sql: &str, dialect: Dialect, expect: Expect) -> Option<String> {
    let got = classify(sql, dialect);
    let ok = match (&got, expect) {
        (Ok(classified), Is(class)) => classified.class == class,
        (Err(refusal), Refused(needle)) => refusal.reason.contains(needle),
        _ => false,
    };
    (!ok).then(|| format!("  {sql:?}: expected {expect:?}, got {got:?}"))
}

#[test]
fn postgres_statements_classify_as_expected() {
    assert!(POSTGRES.len() >= 60, "the table has {}", POSTGRES.len());
    check_table(Dialect::Postgres, POSTGRES);
}

#[test]
fn sqlite_statements_classify_as_expected() {
    check_table(Dialect::Sqlite, SQLITE);
}

fn classified(sql: &str) -> Classified {
    classify(sql, Dialect::Postgres).unwrap_or_else(|refusal| panic!("{sql}: {refusal}"))
}

fn refused(sql: &str) -> Refusal {
    match classify(sql, Dialect::Postgres) {
        Ok(classified) => panic!("{sql} was accepted as {classified:?}"),
        Err(refusal) => refusal,
    }
}

#[test]
fn statement_kinds_are_named_in_sql_words() {
    let kinds = [
        ("SELECT 1", "SELECT"),
        ("VALUES (1)", "VALUES"),
        ("INSERT INTO t VALUES (1)", "INSERT"),
        (
            "WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x",
            "INSERT",
        ),
        ("UPDATE t SET a = 1", "UPDATE"),
        ("DELETE FROM t", "DELETE"),
        ("CREATE TABLE t (a int)", "CREATE TABLE"),
        ("CREATE TABLE t AS SELECT 1", "CREATE TABLE AS"),
        ("SELECT * INTO t2 FROM t", "SELECT INTO"),
        ("DROP TABLE t", "DROP TABLE"),
        ("DROP DATABASE d", "DROP DATABASE"),
        ("EXPLAIN SELECT 1", "EXPLAIN"),
        ("EXPLAIN ANALYZE DELETE FROM t", "EXPLAIN ANALYZE DELETE"),
        ("TRUNCATE t", "TRUNCATE"),
        ("GRANT ALL ON t TO x", "GRANT"),
    ];
    for (sql, kind) in kinds {
        assert_eq!(classified(sql).statement_kind, kind, "{sql}");
    }
}

#[test]
fn tables_touched_are_listed_without_ctes_or_table_functions() {
    let cases: [(&str, &[&str]); 8] = [
        ("INSERT INTO public.t SELECT * FROM u", &["public.t", "u"]),
        (
            "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d JOIN u ON true",
            &["t", "u"],
        ),
        (
            "SELECT * FROM generate_series(1, 3) g JOIN t ON true",
            &["t"],
        ),
        ("SELECT * INTO t2 FROM t", &["t2", "t"]),
        ("UPDATE t SET a = 1 WHERE id IN (SELECT id FROM t)", &["t"]),
        ("DROP TABLE a, b", &["a", "b"]),
        (
            "CREATE TRIGGER tr AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()",
            &["t"],
        ),
        ("SELECT 1", &[]),
    ];
    for (sql, tables) in cases {
        assert_eq!(classified(sql).tables, tables, "{sql}");
    }
}

#[test]
fn parse_errors_report_the_parser_message_and_position() {
    let refusal = refused("SELECT * FROM t WHERE a = ) ");
    assert_eq!(
        refusal.reason,
        "the SQL does not parse: Expected: an expression, found: )"
    );
    assert_eq!(refusal.position, Some((1, 27)));

    // an error at the end of the input is placed there
    let refusal = refused("SELECT *\nFROM t WHERE");
    assert!(refusal.reason.ends_with("found: EOF"), "{}", refusal.reason);
    assert_eq!(refusal.position, Some((2, 13)));

    let refusal = refused("SELECT 1;\nSELEC 2");
    assert_eq!(refusal.position, Some((2, 1)));
    assert!(refusal.reason.contains("SELEC"), "{}", refusal.reason);
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    let sql = format!("SELECT {}1{}", "(".repeat(500), ")".repeat(500));
    let refusal = refused(&sql);
    assert!(
        refusal.reason.contains("nested too deeply"),
        "{}",
        refusal.reason
    );
}

#[test]
fn a_second_statement_is_located() {
    let refusal = refused("SELECT 1;\n  DELETE FROM t");
    assert_eq!(refusal.position, Some((2, 3)));
    assert_eq!(
        refusal.to_string(),
        "refused: 2 statements in one query; send one statement per call (line 2, column 3)"
    );
}

#[test]
fn refusals_read_as_one_sentence() {
    assert_eq!(
        refused("COPY t TO PROGRAM 'x'").to_string(),
        "refused: COPY ... PROGRAM runs a program on the database server (line 1, column 1)"
    );
    assert_eq!(
        refused("SELECT pg_sleep(10)").to_string(),
        "refused: pg_sleep() has side effects and is not allowed from extensions (line 1, column 8)"
    );
    assert_eq!(
        refused("").to_string(),
        "refused: the query is empty; send exactly one SQL statement"
    );
}

#[test]
fn classes_map_to_database_capabilities() {
    assert_eq!(Class::Read.capability(), Capability::DatabaseRead);
    assert_eq!(Class::Write.capability(), Capability::DatabaseWrite);
    assert_eq!(Class::Schema.capability(), Capability::DatabaseSchema);
    assert_eq!(Class::Admin.capability(), Capability::DatabaseAdmin);
}

#[test]
fn allowed_needs_the_capability_of_the_class() {
    let read = classified("SELECT * FROM t");
    let write = classified("INSERT INTO t SELECT * FROM u");
    let schema = classified("CREATE INDEX i ON t (a)");
    let admin = classified("CREATE ROLE r");

    assert_eq!(allowed(&read, &[Capability::DatabaseRead]), Ok(()));
    assert_eq!(allowed(&write, &[Capability::DatabaseWrite]), Ok(()));
    assert_eq!(allowed(&schema, &[Capability::DatabaseSchema]), Ok(()));
    assert_eq!(allowed(&admin, &[Capability::DatabaseAdmin]), Ok(()));
    assert_eq!(
        allowed(
            &write,
            &[Capability::NetworkOutbound, Capability::DatabaseWrite]
        ),
        Ok(())
    );
}

#[test]
fn allowed_has_no_implication_between_capabilities() {
    let read = classified("SELECT * FROM t");
    let write = classified("UPDATE t SET a = 1");
    let schema = classified("ALTER TABLE t ADD COLUMN c int");

    let error = allowed(
        &read,
        &[Capability::DatabaseWrite, Capability::DatabaseAdmin],
    );
    assert_eq!(
        error,
        Err("SELECT needs the database.read capability, which is not granted".to_string())
    );
    assert!(
        allowed(&write, &[Capability::DatabaseRead])
            .unwrap_err()
            .contains("database.write")
    );
    assert!(
        allowed(&schema, &[Capability::DatabaseAdmin])
            .unwrap_err()
            .contains("database.schema")
    );
    assert!(allowed(&read, &[]).is_err());
}

#[test]
fn explain_analyze_needs_what_the_statement_needs() {
    let explain = classified("EXPLAIN ANALYZE DELETE FROM t");
    assert_eq!(explain.class, Class::Write);
    assert!(allowed(&explain, &[Capability::DatabaseRead]).is_err());
    assert_eq!(allowed(&explain, &[Capability::DatabaseWrite]), Ok(()));
}

#[test]
fn returns_rows_is_false_only_when_no_rows_can_come_back() {
    let cases = [
        ("SELECT 1", true),
        ("INSERT INTO t (a) VALUES (1)", false),
        ("INSERT INTO t (a) VALUES (1) RETURNING id", true),
        ("UPDATE t SET a = 1", false),
        ("UPDATE t SET a = 1 RETURNING a", true),
        ("DELETE FROM t", false),
        ("DELETE FROM t RETURNING *", true),
        (
            "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
            true,
        ),
        ("SELECT * FROM t FOR UPDATE", true),
        ("CREATE TABLE x (a int)", false),
        ("EXPLAIN ANALYZE INSERT INTO t (a) VALUES (1)", true),
    ];
    for (sql, rows) in cases {
        assert_eq!(classified(sql).returns_rows, rows, "{sql}");
    }
}
