//! `spin:sqlite@3.1.0`: databases declared in `sqlite_databases`, a
//! connection per open (Spin's factor-sqlite).

use super::*;

impl sq::Host for SpinView<'_> {}

fn sq_err(e: rusqlite::Error) -> sq::Error {
    sq::Error::Io(e.to_string())
}

fn to_store(v: sq::Value) -> stores::Value {
    match v {
        sq::Value::Integer(n) => stores::Value::Integer(n),
        sq::Value::Real(f) => stores::Value::Real(f),
        sq::Value::Text(s) => stores::Value::Text(s),
        sq::Value::Blob(b) => stores::Value::Blob(b),
        sq::Value::Null => stores::Value::Null,
    }
}

fn from_store(v: stores::Value) -> sq::Value {
    match v {
        stores::Value::Integer(n) => sq::Value::Integer(n),
        stores::Value::Real(f) => sq::Value::Real(f),
        stores::Value::Text(s) => sq::Value::Text(s),
        stores::Value::Blob(b) => sq::Value::Blob(b),
        stores::Value::Null => sq::Value::Null,
    }
}

fn run_query(
    c: &SqliteConn,
    statement: &str,
    params: Vec<sq::Value>,
) -> Result<(Vec<String>, Vec<sq::RowResult>), sq::Error> {
    let conn = c.0.lock().expect("sqlite lock");
    let (columns, rows) =
        stores::execute(&conn, statement, params.into_iter().map(to_store).collect())
            .map_err(sq_err)?;
    let rows = rows
        .into_iter()
        .map(|values| sq::RowResult {
            values: values.into_iter().map(from_store).collect(),
        })
        .collect();
    Ok((columns, rows))
}

impl sq::HostConnection for SpinView<'_> {
    fn open(
        &mut self,
        database: String,
    ) -> wasmtime::Result<Result<Resource<SqliteConn>, sq::Error>> {
        // Checked first, as in Spin: an undeclared label is access-denied whether or not it exists.
        if !self.caps.sqlite_databases.contains(&database) {
            return Ok(Err(sq::Error::AccessDenied));
        }
        if database != "default" {
            return Ok(Err(sq::Error::NoSuchDatabase));
        }
        let conn = match self.caps.state.open_sqlite() {
            Ok(c) => c,
            Err(e) => return Ok(Err(sq::Error::Io(e.to_string()))),
        };
        Ok(Ok(self
            .table
            .push(SqliteConn(Arc::new(Mutex::new(conn))))?))
    }

    fn execute(
        &mut self,
        c: Resource<SqliteConn>,
        statement: String,
        parameters: Vec<sq::Value>,
    ) -> wasmtime::Result<Result<sq::QueryResult, sq::Error>> {
        let conn = self.table.get(&c)?.clone();
        Ok(run_query(&conn, &statement, parameters)
            .map(|(columns, rows)| sq::QueryResult { columns, rows }))
    }

    fn last_insert_rowid(&mut self, c: Resource<SqliteConn>) -> wasmtime::Result<i64> {
        Ok(self
            .table
            .get(&c)?
            .0
            .lock()
            .expect("sqlite lock")
            .last_insert_rowid())
    }

    fn changes(&mut self, c: Resource<SqliteConn>) -> wasmtime::Result<u64> {
        Ok(self.table.get(&c)?.0.lock().expect("sqlite lock").changes())
    }

    fn drop(&mut self, rep: Resource<SqliteConn>) -> wasmtime::Result<()> {
        self.table.delete(rep)?;
        Ok(())
    }
}

impl<D> sq::HostConnectionWithStore<D> for SpinHost {
    async fn open_async(
        accessor: &Accessor<D, Self>,
        database: String,
    ) -> wasmtime::Result<Result<Resource<SqliteConn>, sq::Error>> {
        accessor.with(|mut a| sq::HostConnection::open(&mut a.get(), database))
    }

    #[allow(clippy::type_complexity)]
    async fn execute_async(
        accessor: &Accessor<D, Self>,
        c: Resource<SqliteConn>,
        statement: String,
        parameters: Vec<sq::Value>,
    ) -> wasmtime::Result<
        Result<
            (
                Vec<String>,
                StreamReader<sq::RowResult>,
                FutureReader<Result<(), sq::Error>>,
            ),
            sq::Error,
        >,
    > {
        let conn = get(accessor, &c)?;
        let result = tokio::task::spawn_blocking(move || run_query(&conn, &statement, parameters))
            .await
            .map_err(blocking_err)?;
        let (columns, rows) = match result {
            Ok(v) => v,
            Err(e) => return Ok(Err(e)),
        };
        accessor.with(|mut a| {
            let rows = StreamReader::new(&mut a, rows)?;
            let done = FutureReader::new(&mut a, async {
                wasmtime::error::Ok(Ok::<(), sq::Error>(()))
            })?;
            Ok(Ok((columns, rows, done)))
        })
    }

    async fn last_insert_rowid_async(
        accessor: &Accessor<D, Self>,
        c: Resource<SqliteConn>,
    ) -> wasmtime::Result<i64> {
        accessor.with(|mut a| sq::HostConnection::last_insert_rowid(&mut a.get(), c))
    }

    async fn changes_async(
        accessor: &Accessor<D, Self>,
        c: Resource<SqliteConn>,
    ) -> wasmtime::Result<u64> {
        accessor.with(|mut a| sq::HostConnection::changes(&mut a.get(), c))
    }
}
