use super::*;
use lode_store::rusqlite_sql::RusqliteSql;

fn chunk(ordinal: i64, text: &str, v: [f32; 2]) -> ChunkRecord {
    ChunkRecord {
        ordinal,
        text: text.into(),
        heading_path: vec!["Intro".into()],
        pages: Some((1, 1)),
        chars: (0, text.len() as i64),
        token_count: 3,
        sha256: lode_store::ids::sha256_hex(text.as_bytes()),
        vector: Some(v.to_vec()),
    }
}

fn setup() -> (RusqliteSql, Tenant, Tenant) {
    RusqliteSql::with_two_tenants()
}

async fn count(db: &RusqliteSql, table: &str) -> i64 {
    db.query(&format!("SELECT COUNT(*) FROM {table}"), vec![])
        .await
        .unwrap()[0]
        .int(0)
        .unwrap()
}

#[test]
fn write_search_rewrite_purge() {
    let (db, acme, globex) = setup();
    let idx = Index::new(&db, &acme, "m");
    RusqliteSql::block_on(async {
        idx.write(
            "d1",
            1,
            &[
                chunk(0, "boundary layer flow", [1.0, 0.0]),
                chunk(1, "heat transfer", [0.0, 1.0]),
            ],
        )
        .await
        .unwrap();
        let v = idx.search_vector(&[0.0, 1.0], 10, &[]).await.unwrap();
        let texts = idx
            .chunks(&v.iter().map(|h| h.chunk_id).collect::<Vec<_>>())
            .await
            .unwrap();
        assert_eq!(texts[&v[0].chunk_id].text, "heat transfer");
        let f = idx
            .search_fulltext("layers of the boundary", 10, &[])
            .await
            .unwrap();
        assert_eq!(f.len(), 1, "porter stemming matches 'layers' to 'layer'");
        assert!(f[0].score > 0.0);

        // Another tenant sees nothing.
        let other = Index::new(&db, &globex, "m");
        assert!(
            other
                .search_vector(&[0.0, 1.0], 10, &[])
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            other
                .search_fulltext("boundary", 10, &[])
                .await
                .unwrap()
                .is_empty()
        );

        // Re-index: chunk 0 unchanged (no vector needed), chunk 1 changed, chunk 2 dropped.
        let first_id = idx.document_chunks("d1").await.unwrap()[0].id;
        let mut keep = chunk(0, "boundary layer flow", [9.0, 9.0]);
        keep.vector = None;
        idx.write("d1", 2, &[keep, chunk(1, "shock waves", [0.0, 1.0])])
            .await
            .unwrap();
        let chunks = idx.document_chunks("d1").await.unwrap();
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks[0].id, first_id, "unchanged chunk kept its row");
        assert!(
            idx.search_fulltext("heat", 10, &[])
                .await
                .unwrap()
                .is_empty(),
            "old text left the FTS index"
        );
        assert_eq!(
            idx.search_fulltext("shock", 10, &[]).await.unwrap().len(),
            1
        );
        assert_eq!(count(&db, "chunk_vectors").await, 2);

        idx.write("d1", 3, &[chunk(0, "boundary layer flow", [1.0, 0.0])])
            .await
            .unwrap();
        assert_eq!(
            idx.document_chunks("d1").await.unwrap().len(),
            1,
            "surplus chunks removed"
        );

        idx.purge("d1").await.unwrap();
        assert_eq!(count(&db, "chunks").await, 0);
        assert_eq!(count(&db, "chunk_vectors").await, 0);
        assert!(
            idx.search_fulltext("boundary", 10, &[])
                .await
                .unwrap()
                .is_empty()
        );
    });
}

#[test]
fn changed_chunk_without_vector_is_refused() {
    let (db, acme, _) = setup();
    let idx = Index::new(&db, &acme, "m");
    let mut c = chunk(0, "new text", [1.0, 0.0]);
    c.vector = None;
    assert!(RusqliteSql::block_on(idx.write("d1", 1, &[c])).is_err());
}

#[test]
fn document_filter_limits_results() {
    let (db, acme, _) = setup();
    let idx = Index::new(&db, &acme, "m");
    RusqliteSql::block_on(async {
        idx.write("d1", 1, &[chunk(0, "wing", [1.0, 0.0])])
            .await
            .unwrap();
        idx.write("d2", 1, &[chunk(0, "wing", [1.0, 0.0])])
            .await
            .unwrap();
        let only = vec!["d2".to_string()];
        let v = idx.search_vector(&[1.0, 0.0], 10, &only).await.unwrap();
        let f = idx.search_fulltext("wing", 10, &only).await.unwrap();
        assert_eq!((v.len(), f.len()), (1, 1));
        let c = idx.chunks(&[v[0].chunk_id]).await.unwrap();
        assert_eq!(c[&v[0].chunk_id].document_id, "d2");
    });
}

#[test]
fn full_text_scores_use_only_the_tenants_own_statistics() {
    let (db, acme, globex) = setup();
    let (a, g) = (Index::new(&db, &acme, "m"), Index::new(&db, &globex, "m"));
    RusqliteSql::block_on(async {
        g.write(
            "g1",
            1,
            &[
                chunk(0, "the ornithopter flaps its wings", [1.0, 0.0]),
                chunk(1, "a glider soars on thermals", [0.0, 1.0]),
                chunk(2, "wings of a glider", [0.0, 1.0]),
            ],
        )
        .await
        .unwrap();
        let before = g
            .search_fulltext("ornithopter wings", 10, &[])
            .await
            .unwrap();
        assert_eq!(before.len(), 2);
        // Acme stores many chunks with globex's rare word, and longer ones.
        let many: Vec<ChunkRecord> = (0..50)
            .map(|i| {
                chunk(
                    i,
                    &format!("ornithopter model {i} with long text about wings and more words"),
                    [1.0, 0.0],
                )
            })
            .collect();
        a.write("a1", 1, &many).await.unwrap();
        let after = g
            .search_fulltext("ornithopter wings", 10, &[])
            .await
            .unwrap();
        assert_eq!(before, after, "globex's scores moved with acme's data");
        // Acme's own scores do see its statistics: the word is common there.
        let acme_hits = a.search_fulltext("ornithopter", 60, &[]).await.unwrap();
        assert_eq!(acme_hits.len(), 50);
        assert!(acme_hits[0].score < before[0].score);
        // Removing acme's chunks restores its statistics to nothing.
        a.purge("a1").await.unwrap();
        let stats = db
            .query(
                "SELECT chunks, terms FROM fts_stats WHERE tenant = 'acme'",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!((stats[0].int(0).unwrap(), stats[0].int(1).unwrap()), (0, 0));
        assert_eq!(
            g.search_fulltext("ornithopter wings", 10, &[])
                .await
                .unwrap(),
            before
        );
    });
}

#[test]
fn chunks_stored_before_terms_were_kept_are_analysed_by_a_search() {
    let (db, acme, _) = setup();
    let idx = Index::new(&db, &acme, "m");
    RusqliteSql::block_on(async {
        idx.write("d1", 1, &[chunk(0, "supersonic inlet", [1.0, 0.0])])
            .await
            .unwrap();
        // As a database from before migration 13 holds them: no terms.
        db.execute(
            "INSERT INTO chunks (tenant, document_id, version, ordinal, text, heading_path, \
             char_start, char_end, token_count, sha256) \
             VALUES ('acme', 'old', 1, 0, 'Supersonic diffusers', '[]', 0, 20, 3, 'x')",
            vec![],
        )
        .await
        .unwrap();
        let hits = idx.search_fulltext("supersonic", 10, &[]).await.unwrap();
        assert_eq!(hits.len(), 2, "the old chunk was analysed and found");
        assert_eq!(idx.analyze_pending(10).await.unwrap(), 0);
        // Deleting it takes it out of the index and the statistics.
        idx.purge("old").await.unwrap();
        assert_eq!(
            idx.search_fulltext("supersonic", 10, &[])
                .await
                .unwrap()
                .len(),
            1
        );
        assert_eq!(count(&db, "chunk_terms").await, 1);
    });
}

#[test]
fn the_sweep_analyses_every_tenants_old_chunks_in_batches() {
    let (db, acme, globex) = setup();
    RusqliteSql::block_on(async {
        for (tenant, n) in [("acme", 3), ("globex", 2)] {
            for i in 0..n {
                db.execute(
                    "INSERT INTO chunks (tenant, document_id, version, ordinal, text, heading_path, \
                     char_start, char_end, token_count, sha256) VALUES (?, 'old', 1, ?, 'Old wing', '[]', 0, 8, 2, 'x')",
                    vec![tenant.into(), i.into()],
                )
                .await
                .unwrap();
            }
        }
        assert_eq!(analyze_any_pending(&db, 4).await.unwrap(), 4);
        assert_eq!(analyze_any_pending(&db, 4).await.unwrap(), 1);
        assert_eq!(analyze_any_pending(&db, 4).await.unwrap(), 0);
        for (tenant, n) in [(&acme, 3), (&globex, 2)] {
            let idx = Index::new(&db, tenant, "m");
            assert_eq!(
                idx.search_fulltext("wings", 10, &[]).await.unwrap().len(),
                n
            );
        }
    });
}
