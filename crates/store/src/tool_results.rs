//! LLM tool results stored on a document version, so running the same tool
//! with the same input on the same version is paid for once. A new version
//! (an edit) has no results until asked; deleting the document deletes them.

use lode_api::ApiError;
use serde_json::Value as Json;

use crate::{Sql, Tenant};

/// The stored tool results of one tenant.
pub struct ToolResults<'a, S: Sql> {
    sql: &'a S,
    tenant: &'a Tenant,
}

impl<'a, S: Sql> ToolResults<'a, S> {
    /// The results of `tenant`.
    pub fn new(sql: &'a S, tenant: &'a Tenant) -> Self {
        Self { sql, tenant }
    }

    /// The stored result of `tool` on this version for this input key.
    pub async fn get(
        &self,
        document_id: &str,
        version: i64,
        tool: &str,
        input_key: &str,
    ) -> Result<Option<Json>, ApiError> {
        let rows = self
            .sql
            .query(
                "SELECT result FROM tool_results WHERE tenant = ? AND document_id = ? \
                 AND version = ? AND tool = ? AND input_key = ?",
                vec![
                    self.tenant.as_str().into(),
                    document_id.into(),
                    version.into(),
                    tool.into(),
                    input_key.into(),
                ],
            )
            .await?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        Ok(serde_json::from_str(&row.text(0)?).ok())
    }

    /// Store (or replace) a result.
    pub async fn put(
        &self,
        document_id: &str,
        version: i64,
        tool: &str,
        input_key: &str,
        result: &Json,
        now: i64,
    ) -> Result<(), ApiError> {
        self.sql
            .execute(
                "INSERT INTO tool_results (tenant, document_id, version, tool, input_key, result, created_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (tenant, document_id, version, tool, input_key) DO UPDATE SET \
                 result = excluded.result, created_at = excluded.created_at",
                vec![
                    self.tenant.as_str().into(),
                    document_id.into(),
                    version.into(),
                    tool.into(),
                    input_key.into(),
                    result.to_string().into(),
                    now.into(),
                ],
            )
            .await?;
        Ok(())
    }

    /// Forget every result of a document (it was deleted).
    pub async fn purge(&self, document_id: &str) -> Result<u64, ApiError> {
        Ok(self
            .sql
            .execute(
                "DELETE FROM tool_results WHERE tenant = ? AND document_id = ?",
                vec![self.tenant.as_str().into(), document_id.into()],
            )
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rusqlite_sql::RusqliteSql;
    use serde_json::json;

    #[test]
    fn results_are_kept_per_version_tool_input_and_tenant() {
        let (db, acme, globex) = RusqliteSql::with_two_tenants();
        RusqliteSql::block_on(async {
            let r = ToolResults::new(&db, &acme);
            r.put("doc_1", 1, "summarize", "k", &json!({"summary": "a"}), 1)
                .await
                .unwrap();
            assert_eq!(
                r.get("doc_1", 1, "summarize", "k").await.unwrap(),
                Some(json!({"summary": "a"}))
            );
            assert!(r.get("doc_1", 2, "summarize", "k").await.unwrap().is_none());
            assert!(r.get("doc_1", 1, "keywords", "k").await.unwrap().is_none());
            assert!(
                r.get("doc_1", 1, "summarize", "other")
                    .await
                    .unwrap()
                    .is_none()
            );
            let other = ToolResults::new(&db, &globex);
            assert!(
                other
                    .get("doc_1", 1, "summarize", "k")
                    .await
                    .unwrap()
                    .is_none()
            );
            r.put("doc_1", 1, "summarize", "k", &json!({"summary": "b"}), 2)
                .await
                .unwrap();
            assert_eq!(
                r.get("doc_1", 1, "summarize", "k").await.unwrap().unwrap()["summary"],
                "b"
            );
            assert_eq!(other.purge("doc_1").await.unwrap(), 0);
            assert_eq!(r.purge("doc_1").await.unwrap(), 1);
            assert!(r.get("doc_1", 1, "summarize", "k").await.unwrap().is_none());
        });
    }
}
