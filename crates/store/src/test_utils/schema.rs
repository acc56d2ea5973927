//! Both backends' migrations build the same schema: a composition of migration sets run on a
//! fresh SQLite file and a fresh PostgreSQL database, then tables, columns, nullability and a
//! coarse type class compared. The table list comes from the databases themselves (no list to
//! keep up to date when a migration is added).

use std::collections::BTreeMap;

use sqlx::{Connection, Row};

use super::TestDb;
use crate::MigrationSet;

/// Coarse type class: what both backends must agree on.
fn class(declared: &str) -> &'static str {
    let t = declared.to_ascii_lowercase();
    if t.contains("bool") {
        "bool"
    } else if t.contains("int") || t.contains("serial") {
        "integer"
    } else if t.contains("char") || t.contains("text") || t.contains("clob") || t == "uuid" {
        "text"
    } else if t.contains("blob") || t.contains("bytea") {
        "bytes"
    } else if t.contains("real") || t.contains("double") || t.contains("float") {
        "real"
    } else if t.contains("numeric") || t.contains("decimal") {
        "numeric"
    } else if t.contains("json") {
        "json"
    } else if t.contains("time") || t.contains("date") {
        "timestamp"
    } else {
        "other"
    }
}

/// `table -> column -> (type class, nullable)`.
type Schema = BTreeMap<String, BTreeMap<String, (&'static str, bool)>>;

fn is_bookkeeping(table: &str) -> bool {
    table.starts_with("_sqlx") || table.starts_with("sqlite_")
}

async fn sqlite_schema(url: &str) -> Schema {
    let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    let mut schema = Schema::new();
    for table in tables.into_iter().filter(|t| !is_bookkeeping(t)) {
        let rows = sqlx::query("SELECT name, type, \"notnull\", pk FROM pragma_table_info(?)")
            .bind(&table)
            .fetch_all(&mut conn)
            .await
            .unwrap();
        let columns = rows
            .iter()
            .map(|r| {
                let name: String = r.get(0);
                let ty: String = r.get(1);
                let not_null: i64 = r.get(2);
                let pk: i64 = r.get(3);
                // A primary key is never NULL in PostgreSQL; SQLite only says so when declared.
                (name, (class(&ty), not_null == 0 && pk == 0))
            })
            .collect();
        schema.insert(table, columns);
    }
    conn.close().await.unwrap();
    schema
}

async fn postgres_schema(url: &str) -> Schema {
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    let rows = sqlx::query(
        "SELECT c.table_name::text, c.column_name::text, c.data_type::text, c.is_nullable::text \
         FROM information_schema.columns c \
         JOIN information_schema.tables t \
           ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
         WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let mut schema = Schema::new();
    for r in &rows {
        let table: String = r.get(0);
        if is_bookkeeping(&table) {
            continue;
        }
        let column: String = r.get(1);
        let ty: String = r.get(2);
        let nullable: String = r.get(3);
        schema
            .entry(table)
            .or_default()
            .insert(column, (class(&ty), nullable == "YES"));
    }
    conn.close().await.unwrap();
    schema
}

/// One line per difference, readable in a test failure.
fn diff(sqlite: &Schema, postgres: &Schema) -> Vec<String> {
    let mut out = Vec::new();
    let show = |(class, nullable): &(&str, bool)| {
        format!("{class}{}", if *nullable { " NULL" } else { " NOT NULL" })
    };
    for table in sqlite
        .keys()
        .chain(postgres.keys())
        .collect::<std::collections::BTreeSet<_>>()
    {
        match (sqlite.get(table), postgres.get(table)) {
            (Some(_), None) => out.push(format!("table {table}: only in SQLite")),
            (None, Some(_)) => out.push(format!("table {table}: only in PostgreSQL")),
            (Some(s), Some(p)) => {
                let names: std::collections::BTreeSet<_> = s.keys().chain(p.keys()).collect();
                for col in names {
                    match (s.get(col), p.get(col)) {
                        (Some(a), None) => {
                            out.push(format!("{table}.{col}: only in SQLite ({})", show(a)));
                        }
                        (None, Some(b)) => {
                            out.push(format!("{table}.{col}: only in PostgreSQL ({})", show(b)));
                        }
                        (Some(a), Some(b)) if a != b => out.push(format!(
                            "{table}.{col}: SQLite {} vs PostgreSQL {}",
                            show(a),
                            show(b)
                        )),
                        _ => {}
                    }
                }
            }
            (None, None) => {}
        }
    }
    out
}

/// Migrate a fresh SQLite file and a fresh PostgreSQL database with the platform's migrations
/// and `services`, compare what they built and return the table names.
///
/// # Panics
/// With one line per difference (e.g. `oracle_requests.gas_budget: SQLite integer NULL vs
/// PostgreSQL integer NOT NULL`), or when PostgreSQL is unreachable.
pub async fn assert_same_schema(services: &[&MigrationSet]) -> Vec<String> {
    let (lite, pg) = tokio::join!(TestDb::sqlite(services), TestDb::postgres(services));
    let (s, p) = tokio::join!(sqlite_schema(lite.url()), postgres_schema(pg.url()));
    let differences = diff(&s, &p);
    assert!(
        differences.is_empty(),
        "the SQLite and PostgreSQL migrations disagree:\n  {}",
        differences.join("\n  ")
    );
    s.into_keys().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_diff_names_every_kind_of_difference() {
        let schema = |cols: &[(&str, &str, (&'static str, bool))]| {
            let mut s = Schema::new();
            for (t, c, v) in cols {
                s.entry(t.to_string())
                    .or_default()
                    .insert(c.to_string(), *v);
            }
            s
        };
        let a = schema(&[
            ("t", "id", ("integer", false)),
            ("t", "name", ("text", true)),
            ("t", "only_a", ("bytes", false)),
            ("lite", "x", ("integer", false)),
        ]);
        let b = schema(&[
            ("t", "id", ("integer", false)),
            ("t", "name", ("text", false)),
            ("t", "only_b", ("text", true)),
            ("pg", "x", ("integer", false)),
        ]);
        assert_eq!(
            diff(&a, &b),
            [
                "table lite: only in SQLite",
                "table pg: only in PostgreSQL",
                "t.name: SQLite text NULL vs PostgreSQL text NOT NULL",
                "t.only_a: only in SQLite (bytes NOT NULL)",
                "t.only_b: only in PostgreSQL (text NULL)",
            ]
        );
        assert!(diff(&a, &a).is_empty());
        assert_eq!(class("BIGINT"), class("INTEGER"));
        assert_eq!(class("bytea"), class("BLOB"));
        assert_eq!(class("character varying"), class("TEXT"));
        assert_ne!(class("BLOB"), class("TEXT"));
    }
}
