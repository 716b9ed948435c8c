//! The host stores behind `spin:sqlite` and `spin:key-value`, on SQLite files
//! in the state directory, as `spin up` keeps them
//! (`.spin/sqlite_db.db` and `.spin/sqlite_key_value.db`, see shared/SPIN-FACTS.md).

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::types::{Value as SqlValue, ValueRef};

/// How long a statement waits for another instance's write lock before failing.
/// Spin instances share the file the same way; without a timeout, concurrent
/// requests would see spurious `database is locked` errors.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// File names under the state directory.
pub const SQLITE_FILE: &str = "sqlite_db.db";
/// Key-value store file name (one table shared by all labels, like Spin's).
pub const KEY_VALUE_FILE: &str = "sqlite_key_value.db";

/// Where the stores live.
#[derive(Debug, Clone)]
pub struct StateDir(pub PathBuf);

impl StateDir {
    /// Create the directory if needed.
    pub fn create(path: &Path) -> anyhow::Result<StateDir> {
        std::fs::create_dir_all(path)?;
        Ok(StateDir(path.canonicalize()?))
    }

    /// Open the default SQLite database.
    pub fn open_sqlite(&self) -> rusqlite::Result<rusqlite::Connection> {
        open(&self.0.join(SQLITE_FILE))
    }

    /// Open the key-value file, creating its table on first use.
    pub fn open_key_value(&self) -> rusqlite::Result<rusqlite::Connection> {
        let conn = open(&self.0.join(KEY_VALUE_FILE))?;
        // Same schema as Spin's key-value-spin store.
        conn.execute(
            "CREATE TABLE IF NOT EXISTS spin_key_value (
                store TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL,
                PRIMARY KEY (store, key))",
            [],
        )?;
        Ok(conn)
    }
}

fn open(path: &Path) -> rusqlite::Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // WAL lets readers proceed while one instance writes.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    Ok(conn)
}

/// A SQLite value in transport form (mirrors `spin:sqlite` `value`).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// NULL.
    Null,
    /// Integer.
    Integer(i64),
    /// Float.
    Real(f64),
    /// Text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
}

/// Columns and rows of one statement.
pub type QueryOutput = (Vec<String>, Vec<Vec<Value>>);

/// Run one statement with positional parameters, returning all rows.
pub fn execute(
    conn: &rusqlite::Connection,
    statement: &str,
    params: Vec<Value>,
) -> rusqlite::Result<QueryOutput> {
    let mut stmt = conn.prepare_cached(statement)?;
    let columns: Vec<String> = stmt.column_names().into_iter().map(String::from).collect();
    let params = rusqlite::params_from_iter(params.into_iter().map(|v| match v {
        Value::Null => SqlValue::Null,
        Value::Integer(n) => SqlValue::Integer(n),
        Value::Real(f) => SqlValue::Real(f),
        Value::Text(s) => SqlValue::Text(s),
        Value::Blob(b) => SqlValue::Blob(b),
    }));
    let mut rows = stmt.query(params)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let values = (0..columns.len())
            .map(|i| match row.get_ref(i) {
                Ok(ValueRef::Null) | Err(_) => Value::Null,
                Ok(ValueRef::Integer(n)) => Value::Integer(n),
                Ok(ValueRef::Real(f)) => Value::Real(f),
                Ok(ValueRef::Text(t)) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                Ok(ValueRef::Blob(b)) => Value::Blob(b.to_vec()),
            })
            .collect();
        out.push(values);
    }
    Ok((columns, out))
}

/// Key-value operations on one label of the shared table.
pub mod kv {
    use rusqlite::{Connection, OptionalExtension, params};

    /// The value of `key`, if any.
    pub fn get(c: &Connection, store: &str, key: &str) -> rusqlite::Result<Option<Vec<u8>>> {
        c.query_row(
            "SELECT value FROM spin_key_value WHERE store = ?1 AND key = ?2",
            params![store, key],
            |r| r.get(0),
        )
        .optional()
    }

    /// Insert or overwrite.
    pub fn set(c: &Connection, store: &str, key: &str, value: &[u8]) -> rusqlite::Result<()> {
        c.execute(
            "INSERT INTO spin_key_value (store, key, value) VALUES (?1, ?2, ?3)
             ON CONFLICT (store, key) DO UPDATE SET value = excluded.value",
            params![store, key, value],
        )
        .map(drop)
    }

    /// Delete; absent keys are not an error.
    pub fn delete(c: &Connection, store: &str, key: &str) -> rusqlite::Result<()> {
        c.execute(
            "DELETE FROM spin_key_value WHERE store = ?1 AND key = ?2",
            params![store, key],
        )
        .map(drop)
    }

    /// Whether `key` exists.
    pub fn exists(c: &Connection, store: &str, key: &str) -> rusqlite::Result<bool> {
        get(c, store, key).map(|v| v.is_some())
    }

    /// All keys of the store.
    pub fn keys(c: &Connection, store: &str) -> rusqlite::Result<Vec<String>> {
        let mut stmt = c.prepare("SELECT key FROM spin_key_value WHERE store = ?1 ORDER BY key")?;
        stmt.query_map(params![store], |r| r.get(0))?.collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_state() -> StateDir {
        let dir = std::env::temp_dir().join(format!(
            "lode-host-stores-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        StateDir::create(&dir).unwrap()
    }

    #[test]
    fn sqlite_has_fts5_and_round_trips_values() {
        let state = temp_state();
        let c = state.open_sqlite().unwrap();
        execute(
            &c,
            "CREATE VIRTUAL TABLE IF NOT EXISTS t USING fts5(x)",
            vec![],
        )
        .unwrap();
        execute(
            &c,
            "INSERT INTO t (x) VALUES (?)",
            vec![Value::Text("hello world".into())],
        )
        .unwrap();
        let (cols, rows) = execute(
            &c,
            "SELECT x, 1, 2.5, NULL, x'00ff' FROM t WHERE t MATCH 'hello'",
            vec![],
        )
        .unwrap();
        assert_eq!(cols.len(), 5);
        assert_eq!(
            rows,
            vec![vec![
                Value::Text("hello world".into()),
                Value::Integer(1),
                Value::Real(2.5),
                Value::Null,
                Value::Blob(vec![0, 255])
            ]]
        );
    }

    #[test]
    fn key_value_labels_are_separate() {
        let state = temp_state();
        let c = state.open_key_value().unwrap();
        kv::set(&c, "default", "k", b"1").unwrap();
        kv::set(&c, "default", "k", b"2").unwrap();
        kv::set(&c, "other", "k", b"x").unwrap();
        assert_eq!(
            kv::get(&c, "default", "k").unwrap().as_deref(),
            Some(&b"2"[..])
        );
        assert_eq!(kv::keys(&c, "default").unwrap(), vec!["k"]);
        kv::delete(&c, "default", "k").unwrap();
        kv::delete(&c, "default", "k").unwrap();
        assert!(!kv::exists(&c, "default", "k").unwrap());
        assert!(kv::exists(&c, "other", "k").unwrap());
    }
}
