use super::*;
use crate::migrate;
use crate::rusqlite_sql::RusqliteSql;
use serde_json::json;

fn input(title: &str, content: &str, metadata: Json) -> DocumentInput {
    serde_json::from_value(json!({"title": title, "content": content, "content_type": "text/markdown", "metadata": metadata}))
        .unwrap()
}

fn setup() -> (RusqliteSql, Tenant, Tenant) {
    let db = RusqliteSql::memory();
    RusqliteSql::block_on(migrate(&db)).unwrap();
    (
        db,
        Tenant::parse("acme").unwrap(),
        Tenant::parse("globex").unwrap(),
    )
}

#[test]
fn create_get_update_versions_delete() {
    let (db, acme, _) = setup();
    let docs = Documents::new(&db, &acme);
    RusqliteSql::block_on(async {
        let d = docs
            .create(input("One", "# Hello", json!({"k": "v"})))
            .await
            .unwrap();
        assert_eq!(d.version, 1);
        assert_eq!(d.content.as_deref(), Some("# Hello"));
        assert_eq!(d.content_sha256, sha256_hex(b"# Hello"));

        let u = docs
            .update(&d.id, input("One v2", "# Hi", json!({})))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((u.version, u.title.as_str()), (2, "One v2"));
        assert_eq!(u.created_at, d.created_at);

        let versions = docs.versions(&d.id).await.unwrap().unwrap();
        assert_eq!(
            versions.iter().map(|v| v.version).collect::<Vec<_>>(),
            vec![1, 2]
        );
        let old = docs.get_version(&d.id, Some(1)).await.unwrap().unwrap();
        assert_eq!(old.content.as_deref(), Some("# Hello"));
        assert_eq!(old.metadata, json!({"k": "v"}));

        assert!(docs.delete(&d.id).await.unwrap());
        assert!(docs.get(&d.id).await.unwrap().is_none());
        assert!(docs.versions(&d.id).await.unwrap().is_none());
        assert!(
            docs.update(&d.id, input("x", "y", json!({})))
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            !docs.delete(&d.id).await.unwrap(),
            "second delete finds nothing"
        );
    });
}

#[test]
fn tenants_are_isolated() {
    let (db, acme, globex) = setup();
    RusqliteSql::block_on(async {
        let d = Documents::new(&db, &acme)
            .create(input("A", "a", json!({})))
            .await
            .unwrap();
        let other = Documents::new(&db, &globex);
        assert!(other.get(&d.id).await.unwrap().is_none());
        assert!(other.versions(&d.id).await.unwrap().is_none());
        assert!(
            other
                .update(&d.id, input("B", "b", json!({})))
                .await
                .unwrap()
                .is_none()
        );
        assert!(!other.delete(&d.id).await.unwrap());
        assert!(
            other
                .list(&ListQuery::parse("").unwrap())
                .await
                .unwrap()
                .data
                .is_empty()
        );
        // And acme's document is untouched by globex's attempts.
        let still = Documents::new(&db, &acme)
            .get(&d.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((still.version, still.title.as_str()), (1, "A"));
    });
}

#[test]
fn pagination_visits_every_document_once() {
    let (db, acme, _) = setup();
    let docs = Documents::new(&db, &acme);
    RusqliteSql::block_on(async {
        let mut ids = Vec::new();
        for i in 0..7 {
            ids.push(
                docs.create(input(&format!("d{i}"), "x", json!({})))
                    .await
                    .unwrap()
                    .id,
            );
        }
        let mut seen = Vec::new();
        let mut query = "limit=3".to_string();
        loop {
            let page = docs.list(&ListQuery::parse(&query).unwrap()).await.unwrap();
            assert!(page.data.len() <= 3);
            assert!(page.data.iter().all(|d| d.content.is_none()));
            seen.extend(page.data.into_iter().map(|d| d.id));
            match page.next_cursor {
                Some(c) => query = format!("limit=3&cursor={c}"),
                None => break,
            }
        }
        // Every document exactly once (order within one millisecond follows the id).
        assert_eq!(seen.len(), ids.len());
        seen.sort();
        ids.sort();
        assert_eq!(seen, ids);
    });
}

#[test]
fn metadata_filters() {
    let (db, acme, _) = setup();
    let docs = Documents::new(&db, &acme);
    RusqliteSql::block_on(async {
        docs.create(input(
            "a",
            "x",
            json!({"author": "ann", "year": 2020, "draft": true}),
        ))
        .await
        .unwrap();
        docs.create(input("b", "x", json!({"author": "bob", "year": 2021})))
            .await
            .unwrap();
        for (q, want) in [
            ("metadata.author=ann", vec!["a"]),
            ("metadata.year=2021", vec!["b"]),
            ("metadata.draft=true", vec!["a"]),
            ("metadata.author=bob&metadata.year=2020", vec![]),
            ("metadata.missing=x", vec![]),
        ] {
            let page = docs.list(&ListQuery::parse(q).unwrap()).await.unwrap();
            let titles: Vec<_> = page.data.into_iter().map(|d| d.title).collect();
            assert_eq!(titles, want, "{q}");
        }
    });
}

#[test]
fn title_filter_matches_part_of_a_title_in_any_case() {
    let (db, acme, globex) = setup();
    let docs = Documents::new(&db, &acme);
    RusqliteSql::block_on(async {
        for title in [
            "Annual Report 2024",
            "report draft",
            "Minutes",
            "50% off_sale",
        ] {
            docs.create(input(title, title, json!({}))).await.unwrap();
        }
        Documents::new(&db, &globex)
            .create(input("Globex report", "g", json!({})))
            .await
            .unwrap();
        // Documents made in one millisecond list in id order: compare sets.
        for (q, mut want) in [
            ("title=REPORT", vec!["Annual Report 2024", "report draft"]),
            ("title=%25", vec!["50% off_sale"]),
            ("title=_", vec!["50% off_sale"]),
            ("title=nothing", vec![]),
            (
                "title=",
                vec![
                    "Annual Report 2024",
                    "report draft",
                    "Minutes",
                    "50% off_sale",
                ],
            ),
        ] {
            let page = docs.list(&ListQuery::parse(q).unwrap()).await.unwrap();
            let mut titles: Vec<_> = page.data.into_iter().map(|d| d.title).collect();
            titles.sort();
            want.sort();
            assert_eq!(titles, want, "{q}");
        }
        let first = docs
            .list(&ListQuery::parse("title=report&limit=1").unwrap())
            .await
            .unwrap();
        assert_eq!(first.data.len(), 1);
        assert!(
            first.next_cursor.is_some(),
            "the other report is on the next page"
        );
    });
    assert_eq!(
        ListQuery::parse(&format!("title={}", "t".repeat(201)))
            .unwrap_err()
            .status(),
        422
    );
}

#[test]
fn validation_errors() {
    let (db, acme, _) = setup();
    let docs = Documents::new(&db, &acme);
    let status = |v: Json| {
        let input: DocumentInput = serde_json::from_value(v).unwrap();
        RusqliteSql::block_on(docs.create(input))
            .map(|_| 201)
            .unwrap_or_else(|e| e.status())
    };
    assert_eq!(status(json!({"title": " ", "content": "x"})), 422);
    assert_eq!(
        status(json!({"title": "t".repeat(501), "content": "x"})),
        422
    );
    assert_eq!(
        status(json!({"title": "t", "content": "x", "content_type": "application/pdf"})),
        415
    );
    assert_eq!(
        status(json!({"title": "t", "content": "x", "metadata": [1]})),
        422
    );
    assert_eq!(
        status(json!({"title": "t", "content": "x", "metadata": {"bad key": 1}})),
        422
    );
    assert_eq!(
        status(json!({"title": "t", "content": "x", "content_type": "TEXT/PLAIN"})),
        201
    );
}

#[test]
fn list_query_errors() {
    assert_eq!(ListQuery::parse("limt=3").unwrap_err().status(), 400);
    assert_eq!(ListQuery::parse("limit=1000").unwrap_err().status(), 422);
    assert_eq!(ListQuery::parse("cursor=zzz").unwrap_err().status(), 400);
    assert_eq!(
        ListQuery::parse("metadata.a%20b=1").unwrap_err().status(),
        400
    );
}
