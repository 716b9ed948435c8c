//! Chat conversations of one tenant: the turns, in order, so a follow-up
//! question can be answered with its history, and a client can list, read
//! and delete what was said.

use lode_api::ApiError;
use serde::Serialize;
use serde_json::Value as Json;

use crate::ids::{new_id, rfc3339};
use crate::sql::transaction;
use crate::{Row, Sql, StoreError, Tenant};

/// Turns kept per conversation; older ones are still stored but a request's
/// history is the newest of them.
pub const MAX_TURNS: usize = 1000;

/// A conversation, without its messages.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Conversation {
    /// `conv_…`.
    pub id: String,
    /// The first question, shortened.
    pub title: String,
    /// Messages in it.
    pub message_count: i64,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339, of the last message.
    pub updated_at: String,
}

/// One turn.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Turn {
    /// 1, 2, 3…
    pub seq: i64,
    /// `user` or `assistant`.
    pub role: String,
    /// What was said.
    pub content: String,
    /// For an answer: citations, model, usage.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, Json>,
    /// RFC 3339.
    pub created_at: String,
}

/// The conversations of one tenant.
pub struct Conversations<'a, S: Sql> {
    sql: &'a S,
    tenant: &'a Tenant,
}

impl<'a, S: Sql> Conversations<'a, S> {
    /// The conversations of `tenant`.
    pub fn new(sql: &'a S, tenant: &'a Tenant) -> Self {
        Self { sql, tenant }
    }

    /// Start a conversation titled after its first question.
    pub async fn create(&self, first_question: &str, now: i64) -> Result<Conversation, ApiError> {
        let id = new_id("conv");
        let title: String = first_question.trim().chars().take(80).collect();
        self.sql
            .execute(
                "INSERT INTO conversations (id, tenant, title, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                vec![
                    id.as_str().into(),
                    self.tenant.as_str().into(),
                    title.into(),
                    now.into(),
                    now.into(),
                ],
            )
            .await?;
        self.get(&id).await?.ok_or_else(ApiError::internal)
    }

    /// One conversation of this tenant.
    pub async fn get(&self, id: &str) -> Result<Option<Conversation>, ApiError> {
        let rows = self
            .sql
            .query(
                "SELECT c.id, c.title, c.created_at, c.updated_at, \
                 (SELECT count(*) FROM conversation_messages m WHERE m.conversation_id = c.id) \
                 FROM conversations c WHERE c.tenant = ? AND c.id = ?",
                vec![self.tenant.as_str().into(), id.into()],
            )
            .await?;
        Ok(rows.first().map(conversation).transpose()?)
    }

    /// The newest conversations.
    pub async fn list(&self, limit: u32) -> Result<Vec<Conversation>, ApiError> {
        let rows = self
            .sql
            .query(
                "SELECT c.id, c.title, c.created_at, c.updated_at, \
                 (SELECT count(*) FROM conversation_messages m WHERE m.conversation_id = c.id) \
                 FROM conversations c WHERE c.tenant = ? ORDER BY c.updated_at DESC, c.id DESC LIMIT ?",
                vec![self.tenant.as_str().into(), i64::from(limit).into()],
            )
            .await?;
        Ok(rows.iter().map(conversation).collect::<Result<_, _>>()?)
    }

    /// The newest `limit` turns, oldest first (`None` if no such conversation).
    pub async fn turns(&self, id: &str, limit: usize) -> Result<Option<Vec<Turn>>, ApiError> {
        if self.get(id).await?.is_none() {
            return Ok(None);
        }
        let rows = self
            .sql
            .query(
                "SELECT seq, role, content, extra, created_at FROM conversation_messages \
                 WHERE conversation_id = ? ORDER BY seq DESC LIMIT ?",
                vec![id.into(), (limit.min(MAX_TURNS) as i64).into()],
            )
            .await?;
        let mut turns: Vec<Turn> = rows.iter().map(turn).collect::<Result<_, _>>()?;
        turns.reverse();
        Ok(Some(turns))
    }

    /// Append a question and its answer in one transaction. `false` if the
    /// conversation does not exist (or was deleted meanwhile).
    pub async fn append(
        &self,
        id: &str,
        question: &str,
        answer: &str,
        extra: &Json,
        now: i64,
    ) -> Result<bool, ApiError> {
        let extra = serde_json::to_string(extra).map_err(|_| ApiError::internal())?;
        let tenant = self.tenant.as_str();
        let added = transaction(self.sql, async {
            let touched = self
                .sql
                .execute(
                    "UPDATE conversations SET updated_at = ? WHERE tenant = ? AND id = ?",
                    vec![now.into(), tenant.into(), id.into()],
                )
                .await?;
            if touched == 0 {
                return Ok(false);
            }
            for (role, content, extra) in [("user", question, "{}"), ("assistant", answer, extra.as_str())] {
                self.sql
                    .execute(
                        "INSERT INTO conversation_messages (conversation_id, seq, role, content, extra, created_at) \
                         VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM conversation_messages WHERE conversation_id = ?), ?, ?, ?, ?)",
                        vec![id.into(), id.into(), role.into(), content.into(), extra.into(), now.into()],
                    )
                    .await?;
            }
            Ok(true)
        })
        .await?;
        Ok(added)
    }

    /// Delete a conversation and its messages; `false` if there was none.
    pub async fn delete(&self, id: &str) -> Result<bool, ApiError> {
        let tenant = self.tenant.as_str();
        let deleted = transaction(self.sql, async {
            let n = self
                .sql
                .execute(
                    "DELETE FROM conversations WHERE tenant = ? AND id = ?",
                    vec![tenant.into(), id.into()],
                )
                .await?;
            if n == 1 {
                self.sql
                    .execute(
                        "DELETE FROM conversation_messages WHERE conversation_id = ?",
                        vec![id.into()],
                    )
                    .await?;
            }
            Ok(n == 1)
        })
        .await?;
        Ok(deleted)
    }
}

fn conversation(row: &Row) -> Result<Conversation, StoreError> {
    Ok(Conversation {
        id: row.text(0)?,
        title: row.text(1)?,
        created_at: rfc3339(row.int(2)?),
        updated_at: rfc3339(row.int(3)?),
        message_count: row.int(4)?,
    })
}

fn turn(row: &Row) -> Result<Turn, StoreError> {
    let extra = match serde_json::from_str(&row.text(3)?) {
        Ok(Json::Object(map)) => map,
        _ => return Err(StoreError::Decode("conversation_messages.extra".into())),
    };
    Ok(Turn {
        seq: row.int(0)?,
        role: row.text(1)?,
        content: row.text(2)?,
        extra,
        created_at: rfc3339(row.int(4)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rusqlite_sql::RusqliteSql;
    use serde_json::json;

    #[test]
    fn turns_are_kept_in_order_per_tenant_and_deleted_together() {
        let (db, acme, globex) = RusqliteSql::with_two_tenants();
        RusqliteSql::block_on(async {
            let c = Conversations::new(&db, &acme);
            let conv = c.create("What is lift?", 1_000).await.unwrap();
            assert_eq!(conv.title, "What is lift?");
            assert!(
                c.append(
                    &conv.id,
                    "What is lift?",
                    "A force [1].",
                    &json!({"citations": [1]}),
                    2_000
                )
                .await
                .unwrap()
            );
            assert!(
                c.append(&conv.id, "And drag?", "Resistance [2].", &json!({}), 3_000)
                    .await
                    .unwrap()
            );
            let turns = c.turns(&conv.id, 10).await.unwrap().unwrap();
            let said: Vec<(&str, &str)> = turns
                .iter()
                .map(|t| (t.role.as_str(), t.content.as_str()))
                .collect();
            assert_eq!(
                said,
                [
                    ("user", "What is lift?"),
                    ("assistant", "A force [1]."),
                    ("user", "And drag?"),
                    ("assistant", "Resistance [2].")
                ]
            );
            assert_eq!(turns[1].extra["citations"], json!([1]));
            let newest = c.turns(&conv.id, 2).await.unwrap().unwrap();
            assert_eq!(newest[0].content, "And drag?");
            assert_eq!(c.get(&conv.id).await.unwrap().unwrap().message_count, 4);

            let other = Conversations::new(&db, &globex);
            assert!(other.get(&conv.id).await.unwrap().is_none());
            assert!(other.turns(&conv.id, 10).await.unwrap().is_none());
            assert!(
                !other
                    .append(&conv.id, "q", "a", &json!({}), 4_000)
                    .await
                    .unwrap()
            );
            assert!(!other.delete(&conv.id).await.unwrap());
            assert!(other.list(10).await.unwrap().is_empty());

            assert_eq!(c.list(10).await.unwrap().len(), 1);
            assert!(c.delete(&conv.id).await.unwrap());
            assert!(c.get(&conv.id).await.unwrap().is_none());
            assert!(
                !c.append(&conv.id, "q", "a", &json!({}), 5_000)
                    .await
                    .unwrap()
            );
        });
    }
}
