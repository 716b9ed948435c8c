//! Versioned schema migrations, applied idempotently on first use.
//!
//! Spin has no deploy hook, so every component calls [`migrate`] before its
//! first query. It costs one indexed read when the schema is current; when it is
//! not, each pending migration runs inside `BEGIN IMMEDIATE`, which takes the
//! database's write lock, and re-checks the version inside the lock, so two
//! instances starting together apply each migration exactly once.

use crate::sql::transaction;
use crate::{Sql, StoreError};

/// One schema step: statements run in order inside one transaction.
pub struct Migration {
    /// Strictly increasing version number.
    pub version: i64,
    /// Short description, stored with the version for operators.
    pub name: &'static str,
    /// One SQL statement per entry (the host store runs one statement per call).
    pub statements: &'static [&'static str],
}

/// Lode's schema, oldest first. Never edit a released migration; add a new one.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "documents and api keys",
        statements: &[
            "CREATE TABLE documents (
                id TEXT PRIMARY KEY,
                tenant TEXT NOT NULL,
                title TEXT NOT NULL,
                content_type TEXT NOT NULL,
                metadata TEXT NOT NULL,
                version INTEGER NOT NULL,
                content_sha256 TEXT NOT NULL,
                size_bytes INTEGER NOT NULL,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL,
                deleted_at INTEGER
            )",
            "CREATE INDEX documents_by_tenant ON documents (tenant, created_at, id)",
            "CREATE TABLE document_versions (
                document_id TEXT NOT NULL REFERENCES documents (id),
                tenant TEXT NOT NULL,
                version INTEGER NOT NULL,
                title TEXT NOT NULL,
                content TEXT NOT NULL,
                content_type TEXT NOT NULL,
                metadata TEXT NOT NULL,
                content_sha256 TEXT NOT NULL,
                size_bytes INTEGER NOT NULL,
                created_at INTEGER NOT NULL,
                PRIMARY KEY (document_id, version)
            )",
            "CREATE INDEX document_versions_by_hash ON document_versions (tenant, content_sha256)",
            "CREATE TABLE api_keys (
                id TEXT PRIMARY KEY,
                tenant TEXT NOT NULL,
                name TEXT NOT NULL,
                role TEXT NOT NULL,
                key_sha256 TEXT NOT NULL UNIQUE,
                created_at INTEGER NOT NULL,
                revoked_at INTEGER
            )",
            "CREATE INDEX api_keys_by_tenant ON api_keys (tenant, created_at, id)",
        ],
    },
    Migration {
        version: 2,
        name: "chunks, vectors and full-text index",
        statements: &[
            // `id` is also the FTS5 rowid, so full-text hits join back cheaply.
            "CREATE TABLE chunks (
            id INTEGER PRIMARY KEY,
            tenant TEXT NOT NULL,
            document_id TEXT NOT NULL,
            version INTEGER NOT NULL,
            ordinal INTEGER NOT NULL,
            text TEXT NOT NULL,
            heading_path TEXT NOT NULL,
            page_start INTEGER,
            page_end INTEGER,
            char_start INTEGER NOT NULL,
            char_end INTEGER NOT NULL,
            token_count INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            UNIQUE (tenant, document_id, ordinal)
        )",
            // f32 little-endian vectors. `list_id` is reserved for an IVF
            // (approximate) index: NULL means "not assigned", so adding one later
            // needs no schema break.
            "CREATE TABLE chunk_vectors (
            chunk_id INTEGER PRIMARY KEY REFERENCES chunks (id),
            tenant TEXT NOT NULL,
            model TEXT NOT NULL,
            dim INTEGER NOT NULL,
            vector BLOB NOT NULL,
            list_id INTEGER
        )",
            "CREATE INDEX chunk_vectors_by_tenant ON chunk_vectors (tenant, model, list_id)",
            "CREATE VIRTUAL TABLE chunks_fts USING fts5(
            text, content = 'chunks', content_rowid = 'id', tokenize = 'porter unicode61'
        )",
        ],
    },
    Migration {
        version: 3,
        name: "find live documents by content hash (deduplication)",
        statements: &["CREATE INDEX documents_by_hash ON documents (tenant, content_sha256)"],
    },
    Migration {
        version: 4,
        name: "per-tenant settings",
        statements: &["CREATE TABLE tenant_settings (
            tenant TEXT PRIMARY KEY,
            settings TEXT NOT NULL,
            updated_at INTEGER NOT NULL
        )"],
    },
    Migration {
        version: 5,
        name: "ingestion jobs, their events, and stored originals",
        statements: &[
            // The source of truth for asynchronous ingestion (crates/jobs);
            // Redis messages only wake workers up.
            "CREATE TABLE jobs (
            id TEXT PRIMARY KEY,
            tenant TEXT NOT NULL,
            batch_id TEXT NOT NULL,
            status TEXT NOT NULL,
            priority INTEGER NOT NULL,
            attempts INTEGER NOT NULL,
            max_attempts INTEGER NOT NULL,
            next_attempt_at INTEGER NOT NULL,
            lease_until INTEGER,
            worker TEXT,
            step TEXT,
            percent INTEGER NOT NULL,
            last_error TEXT,
            request TEXT NOT NULL,
            blob_id TEXT,
            document_id TEXT,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
        )",
            "CREATE INDEX jobs_by_tenant ON jobs (tenant, status, created_at, id)",
            "CREATE INDEX jobs_by_batch ON jobs (tenant, batch_id)",
            "CREATE INDEX jobs_runnable ON jobs (status, priority, next_attempt_at)",
            "CREATE TABLE job_events (
            job_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            status TEXT NOT NULL,
            step TEXT,
            percent INTEGER NOT NULL,
            message TEXT,
            at INTEGER NOT NULL,
            PRIMARY KEY (job_id, seq)
        )",
            // Uploaded originals, so a job can be re-run without the client.
            "CREATE TABLE blobs (
            id TEXT PRIMARY KEY,
            tenant TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            size_bytes INTEGER NOT NULL,
            bytes BLOB NOT NULL,
            created_at INTEGER NOT NULL
        )",
        ],
    },
    Migration {
        version: 6,
        name: "chat conversations, LLM usage and tool results",
        statements: &[
            "CREATE TABLE conversations (
            id TEXT PRIMARY KEY,
            tenant TEXT NOT NULL,
            title TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
        )",
            "CREATE INDEX conversations_by_tenant ON conversations (tenant, updated_at, id)",
            // `extra` holds an assistant turn's citations, model and usage (JSON).
            "CREATE TABLE conversation_messages (
            conversation_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            role TEXT NOT NULL,
            content TEXT NOT NULL,
            extra TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            PRIMARY KEY (conversation_id, seq)
        )",
            // Tokens and cost per tenant, UTC day, provider and model.
            "CREATE TABLE llm_usage (
            tenant TEXT NOT NULL,
            day TEXT NOT NULL,
            provider TEXT NOT NULL,
            model TEXT NOT NULL,
            requests INTEGER NOT NULL,
            failures INTEGER NOT NULL,
            input_tokens INTEGER NOT NULL,
            output_tokens INTEGER NOT NULL,
            cost_usd REAL NOT NULL,
            PRIMARY KEY (tenant, day, provider, model)
        )",
            // LLM tool results on a document version (`input_key`: sha256 of
            // the input and model choice), so they are not paid for twice.
            "CREATE TABLE tool_results (
            tenant TEXT NOT NULL,
            document_id TEXT NOT NULL,
            version INTEGER NOT NULL,
            tool TEXT NOT NULL,
            input_key TEXT NOT NULL,
            result TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            PRIMARY KEY (tenant, document_id, version, tool, input_key)
        )",
        ],
    },
    Migration {
        version: 7,
        name: "job kinds (ingestion or LLM tool) and tool job results",
        statements: &[
            // Existing jobs are all ingestion jobs.
            "ALTER TABLE jobs ADD COLUMN kind TEXT NOT NULL DEFAULT 'ingest'",
            // A completed tool job's output (JSON).
            "ALTER TABLE jobs ADD COLUMN result TEXT",
        ],
    },
    Migration {
        version: 8,
        name: "key scopes",
        statements: &[
            // Space-separated scope names; NULL: the role's scopes.
            "ALTER TABLE api_keys ADD COLUMN scopes TEXT",
        ],
    },
    Migration {
        version: 9,
        name: "audit log",
        statements: &[
            // Insert-only: who changed access or deleted data (crates/store/src/audit.rs).
            "CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY,
            tenant TEXT NOT NULL,
            at INTEGER NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            target TEXT NOT NULL,
            detail TEXT NOT NULL
        )",
            "CREATE INDEX audit_log_by_tenant ON audit_log (tenant, id)",
        ],
    },
    Migration {
        version: 10,
        name: "users, request ids on jobs, metrics",
        statements: &[
            // People who log in (crates/auth/src/users.rs): an email is one
            // account across tenants; the password is an Argon2id PHC string.
            "CREATE TABLE users (
            id TEXT PRIMARY KEY,
            tenant TEXT NOT NULL,
            email TEXT NOT NULL UNIQUE,
            password_hash TEXT NOT NULL,
            role TEXT NOT NULL,
            created_at INTEGER NOT NULL
        )",
            "CREATE INDEX users_by_tenant ON users (tenant, created_at)",
            // The request that queued a job, so the worker's logs and LLM
            // calls carry the same id.
            "ALTER TABLE jobs ADD COLUMN request_id TEXT",
            // Prometheus series (crates/metrics): counters, and histograms
            // as per-bucket counts with their sum, added to by every instance.
            "CREATE TABLE metric_series (
            name TEXT NOT NULL,
            labels TEXT NOT NULL,
            bucket INTEGER NOT NULL,
            count INTEGER NOT NULL,
            sum REAL NOT NULL,
            PRIMARY KEY (name, labels, bucket)
        )",
        ],
    },
    Migration {
        version: 11,
        name: "session generations: changing a password ends a user's sessions",
        statements: &[
            // Every session token carries the generation it was issued in;
            // a password change, reset or sign-out everywhere moves it on,
            // and tokens of older generations are refused (crates/auth/src/users.rs).
            "ALTER TABLE users ADD COLUMN token_generation INTEGER NOT NULL DEFAULT 0",
        ],
    },
    Migration {
        version: 12,
        name: "fair queueing: whose turn it is",
        statements: &[
            // A wake-up takes the due job of the tenant served longest ago
            // (crates/jobs/src/queue.rs, `claim_next`): `turn` is the order in
            // which tenants were last served, per kind of job.
            "CREATE TABLE job_turns (
            kind TEXT NOT NULL,
            tenant TEXT NOT NULL,
            turn INTEGER NOT NULL,
            PRIMARY KEY (kind, tenant)
        )",
            "CREATE INDEX jobs_fair ON jobs (status, kind, priority, next_attempt_at)",
        ],
    },
    Migration {
        version: 13,
        name: "full-text statistics per tenant",
        statements: &[
            // Lode analyses text itself (crates/index/src/analyze.rs) and keeps
            // each chunk's terms; the index holds them prefixed by the tenant
            // (`acme:flow`), so FTS5 ranks candidates by the tenant's own
            // document frequencies; `fts_stats` holds its chunk and term counts
            // (crates/index/src/bm25.rs).
            // Chunks from before are analysed in batches (terms IS NULL).
            "ALTER TABLE chunks ADD COLUMN terms TEXT",
            "ALTER TABLE chunks ADD COLUMN term_count INTEGER",
            "CREATE INDEX chunks_unanalyzed ON chunks (tenant) WHERE terms IS NULL",
            "DROP TABLE chunks_fts",
            "CREATE VIRTUAL TABLE chunk_terms USING fts5(
            terms, content = '',
            tokenize = \"unicode61 remove_diacritics 0 categories 'L* N* Co M*' tokenchars '-_:'\"
        )",
            "CREATE TABLE fts_stats (
            tenant TEXT PRIMARY KEY,
            chunks INTEGER NOT NULL,
            terms INTEGER NOT NULL
        )",
            // Document frequencies per tenant and term, kept as chunks come
            // and go: one indexed lookup per query term (counting FTS5's
            // doclists again would cost as much as the search itself).
            "CREATE TABLE fts_terms (
            tenant TEXT NOT NULL,
            term TEXT NOT NULL,
            df INTEGER NOT NULL,
            PRIMARY KEY (tenant, term)
        ) WITHOUT ROWID",
        ],
    },
];

const CREATE_LEDGER: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at INTEGER NOT NULL
)";

async fn current_version<S: Sql>(sql: &S) -> Result<i64, StoreError> {
    let rows = sql
        .query(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            vec![],
        )
        .await?;
    rows.first().map(|r| r.int(0)).unwrap_or(Ok(0))
}

/// Bring the schema up to date; returns the versions this call applied.
pub async fn migrate<S: Sql>(sql: &S) -> Result<Vec<i64>, StoreError> {
    migrate_with(sql, MIGRATIONS).await
}

/// [`migrate`] with an explicit list (tests use their own lists).
pub async fn migrate_with<S: Sql>(
    sql: &S,
    migrations: &[Migration],
) -> Result<Vec<i64>, StoreError> {
    sql.execute(CREATE_LEDGER, vec![]).await?;
    let latest = migrations.last().map_or(0, |m| m.version);
    if current_version(sql).await? >= latest {
        return Ok(vec![]);
    }
    let mut applied = Vec::new();
    for m in migrations {
        if transaction(sql, apply_one(sql, m)).await? {
            applied.push(m.version);
        }
    }
    Ok(applied)
}

/// Apply `m` unless another instance already did; runs inside the write lock.
async fn apply_one<S: Sql>(sql: &S, m: &Migration) -> Result<bool, StoreError> {
    if current_version(sql).await? >= m.version {
        return Ok(false);
    }
    for statement in m.statements {
        sql.execute(statement, vec![]).await?;
    }
    sql.execute(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
        vec![m.version.into(), m.name.into(), crate::ids::now_ms().into()],
    )
    .await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rusqlite_sql::RusqliteSql;

    #[test]
    fn applies_once_and_is_idempotent() {
        let db = RusqliteSql::memory();
        RusqliteSql::block_on(async {
            assert_eq!(
                migrate(&db).await.unwrap(),
                vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]
            );
            assert!(migrate(&db).await.unwrap().is_empty());
            assert_eq!(current_version(&db).await.unwrap(), 13);
        });
    }

    #[test]
    fn failed_migration_rolls_back() {
        const BROKEN: &[Migration] = &[Migration {
            version: 1,
            name: "broken",
            statements: &["CREATE TABLE t (x)", "NOT SQL"],
        }];
        let db = RusqliteSql::memory();
        RusqliteSql::block_on(async {
            assert!(migrate_with(&db, BROKEN).await.is_err());
            assert_eq!(current_version(&db).await.unwrap(), 0);
            // The table from the first statement was rolled back with it.
            assert!(db.query("SELECT * FROM t", vec![]).await.is_err());
        });
    }
}
