//! The smallest SQL surface Lode needs, mirroring `spin:sqlite` (values, rows,
//! one statement per call), so that any host store can implement it.

/// A SQLite value, the same five kinds `spin:sqlite` transports.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// 64-bit integer.
    Integer(i64),
    /// 64-bit float.
    Real(f64),
    /// UTF-8 text.
    Text(String),
    /// Raw bytes.
    Blob(Vec<u8>),
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_string())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Integer(v)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map(Into::into).unwrap_or(Value::Null)
    }
}

/// One result row, columns in the order of the SELECT.
#[derive(Debug, Clone, PartialEq)]
pub struct Row(pub Vec<Value>);

impl Row {
    /// Column `i` as text; NULL and other kinds are a schema bug, reported as an error.
    pub fn text(&self, i: usize) -> Result<String, StoreError> {
        match self.0.get(i) {
            Some(Value::Text(s)) => Ok(s.clone()),
            other => Err(StoreError::Decode(format!(
                "column {i}: expected text, got {other:?}"
            ))),
        }
    }

    /// Column `i` as text, or `None` when NULL.
    pub fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        match self.0.get(i) {
            Some(Value::Null) => Ok(None),
            _ => self.text(i).map(Some),
        }
    }

    /// Column `i` as an integer.
    pub fn int(&self, i: usize) -> Result<i64, StoreError> {
        match self.0.get(i) {
            Some(Value::Integer(n)) => Ok(*n),
            other => Err(StoreError::Decode(format!(
                "column {i}: expected integer, got {other:?}"
            ))),
        }
    }

    /// Column `i` as a real number (an integer column reads as one too:
    /// SQLite stores a whole-valued REAL such as `0.0` as it likes).
    pub fn real(&self, i: usize) -> Result<f64, StoreError> {
        match self.0.get(i) {
            Some(Value::Real(f)) => Ok(*f),
            Some(Value::Integer(n)) => Ok(*n as f64),
            other => Err(StoreError::Decode(format!(
                "column {i}: expected real, got {other:?}"
            ))),
        }
    }

    /// Column `i` as an integer, or `None` when NULL.
    pub fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        match self.0.get(i) {
            Some(Value::Null) => Ok(None),
            _ => self.int(i).map(Some),
        }
    }
}

/// Why a store call failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    /// The host store refused or failed the statement (I/O, constraint, access denied…).
    #[error("database error: {0}")]
    Database(String),
    /// A row did not have the shape the repository expected.
    #[error("unexpected row shape: {0}")]
    Decode(String),
}

/// An async SQL connection executing one statement per call.
///
/// Async because `spin:sqlite@3.1.0` is; components run single-threaded in Wasm,
/// so futures need not be `Send`.
#[allow(async_fn_in_trait)]
pub trait Sql {
    /// Run a statement and return its rows (empty for statements that return none).
    async fn query(&self, statement: &str, params: Vec<Value>) -> Result<Vec<Row>, StoreError>;

    /// Run a statement and return how many rows it changed.
    async fn execute(&self, statement: &str, params: Vec<Value>) -> Result<u64, StoreError>;
}

/// Run `work` inside `BEGIN IMMEDIATE … COMMIT`, rolling back if it fails.
///
/// `work` is a future, and futures do nothing until awaited, so it runs after
/// `BEGIN`. IMMEDIATE takes the write lock up front: concurrent writers wait
/// (busy timeout) instead of failing halfway.
pub async fn transaction<S: Sql, T>(
    sql: &S,
    work: impl std::future::Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    sql.execute("BEGIN IMMEDIATE", vec![]).await?;
    match work.await {
        Ok(value) => {
            sql.execute("COMMIT", vec![]).await?;
            Ok(value)
        }
        Err(e) => {
            // Best effort: the original error is the one worth reporting.
            let _ = sql.execute("ROLLBACK", vec![]).await;
            Err(e)
        }
    }
}
