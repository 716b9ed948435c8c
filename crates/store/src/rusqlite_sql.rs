//! [`Sql`] over rusqlite, for native tests of the repositories.

use std::sync::Mutex;

use crate::{Row, Sql, StoreError, Value};

/// A rusqlite connection behind the [`Sql`] trait.
pub struct RusqliteSql(Mutex<rusqlite::Connection>);

impl RusqliteSql {
    /// A fresh in-memory database with Lode's schema, and two tenants to
    /// prove isolation with (`acme`, `globex`).
    pub fn with_two_tenants() -> (Self, crate::Tenant, crate::Tenant) {
        let db = Self::memory();
        Self::block_on(crate::migrate(&db)).expect("migrations apply");
        (
            db,
            crate::Tenant::parse("acme").expect("a valid tenant"),
            crate::Tenant::parse("globex").expect("a valid tenant"),
        )
    }

    /// A fresh in-memory database.
    pub fn memory() -> Self {
        Self(Mutex::new(
            rusqlite::Connection::open_in_memory().expect("in-memory SQLite"),
        ))
    }

    /// A database file in WAL mode, as lode-host opens its stores (for
    /// benchmarks that must pay for real writes).
    pub fn file(path: &std::path::Path) -> Self {
        let conn = rusqlite::Connection::open(path).expect("SQLite file");
        conn.pragma_update(None, "journal_mode", "WAL")
            .expect("WAL mode");
        Self(Mutex::new(conn))
    }

    /// Run a future to completion: rusqlite calls never actually suspend.
    pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
        futures::executor::block_on(f)
    }
}

fn to_sql(v: Value) -> rusqlite::types::Value {
    use rusqlite::types::Value as V;
    match v {
        Value::Null => V::Null,
        Value::Integer(n) => V::Integer(n),
        Value::Real(f) => V::Real(f),
        Value::Text(s) => V::Text(s),
        Value::Blob(b) => V::Blob(b),
    }
}

fn from_sql(v: rusqlite::types::ValueRef<'_>) -> Value {
    use rusqlite::types::ValueRef as V;
    match v {
        V::Null => Value::Null,
        V::Integer(n) => Value::Integer(n),
        V::Real(f) => Value::Real(f),
        V::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        V::Blob(b) => Value::Blob(b.to_vec()),
    }
}

fn db_err(e: rusqlite::Error) -> StoreError {
    StoreError::Database(e.to_string())
}

impl Sql for RusqliteSql {
    async fn query(&self, statement: &str, params: Vec<Value>) -> Result<Vec<Row>, StoreError> {
        let conn = self.0.lock().expect("connection lock");
        let mut stmt = conn.prepare(statement).map_err(db_err)?;
        let n = stmt.column_count();
        let params = rusqlite::params_from_iter(params.into_iter().map(to_sql));
        let mut rows = stmt.query(params).map_err(db_err)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(db_err)? {
            out.push(Row((0..n)
                .map(|i| from_sql(row.get_ref_unwrap(i)))
                .collect()));
        }
        Ok(out)
    }

    async fn execute(&self, statement: &str, params: Vec<Value>) -> Result<u64, StoreError> {
        self.query(statement, params).await?;
        Ok(self.0.lock().expect("connection lock").changes())
    }
}
