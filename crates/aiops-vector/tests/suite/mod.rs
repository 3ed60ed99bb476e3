//! The behaviour every `VectorIndex` backend must show, written once and run against each
//! backend by `tests/behaviour.rs`. Vectors are hand-made (4-d dense, a handful of sparse
//! terms), so each expected ranking can be worked out by hand.

use aiops_vector::{
    Filter, Hit, IndexSpec, Payload, Point, Query, SparseVector, VectorError, VectorIndex, point_id,
};
use serde_json::json;

/// Opens a new handle on the same storage (the same directory, the same server).
#[async_trait::async_trait]
pub trait Backend: Send + Sync {
    async fn open(&self) -> Box<dyn VectorIndex>;
}

pub fn spec(collection: &str) -> IndexSpec {
    IndexSpec {
        collection: collection.to_string(),
        dense_dim: 4,
    }
}

fn sparse(terms: &[(u32, f32)]) -> SparseVector {
    SparseVector {
        indices: terms.iter().map(|(i, _)| *i).collect(),
        values: terms.iter().map(|(_, v)| *v).collect(),
    }
}

fn payload(value: serde_json::Value) -> Payload {
    match value {
        serde_json::Value::Object(map) => map,
        other => panic!("payload must be an object, got {other}"),
    }
}

fn point(chunk: &str, dense: [f32; 4], terms: &[(u32, f32)], extra: serde_json::Value) -> Point {
    let mut body = payload(json!({ "chunk": chunk }));
    body.extend(payload(extra));
    Point {
        id: point_id(chunk),
        dense: dense.to_vec(),
        sparse: sparse(terms),
        payload: body,
    }
}

fn query(dense: &[f32], terms: &[(u32, f32)], limit: usize) -> Query {
    Query {
        dense: dense.to_vec(),
        sparse: sparse(terms),
        filter: Filter::default(),
        limit,
    }
}

/// The chunk names of hits, best first.
fn chunks(hits: &[Hit]) -> Vec<String> {
    hits.iter()
        .map(|h| {
            let chunk = h.payload.get("chunk").and_then(|c| c.as_str());
            let chunk =
                chunk.unwrap_or_else(|| panic!("hit {} has no chunk in {:?}", h.id, h.payload));
            assert_eq!(h.id, point_id(chunk), "a hit's id is its chunk's point id");
            chunk.to_string()
        })
        .collect()
}

/// `v` scaled to unit length: what a cosine collection stores (and hands back) for it.
fn unit(v: &[f32]) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter().map(|x| x / norm).collect()
}

/// Every hit carries the dense vector its point was upserted with, up to normalisation.
fn assert_dense_vectors(hits: &[Hit], upserted: &[Point]) {
    for hit in hits {
        let point = upserted
            .iter()
            .find(|p| p.id == hit.id)
            .unwrap_or_else(|| panic!("hit {} was not upserted", hit.id));
        let want = unit(&point.dense);
        assert_eq!(
            hit.dense.len(),
            want.len(),
            "hit {}: {:?}",
            hit.id,
            hit.dense
        );
        let diff = hit
            .dense
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(
            diff < 1e-5,
            "hit {}: dense {:?}, upserted {:?}",
            hit.id,
            hit.dense,
            point.dense
        );
    }
}

fn assert_code<T: std::fmt::Debug>(result: Result<T, VectorError>, code: &str, what: &str) {
    match result {
        Err(err) => assert_eq!(err.code(), code, "{what}: {err}"),
        Ok(value) => panic!("{what}: expected {code}, got Ok({value:?})"),
    }
}

/// Four points whose rankings are known:
/// - dense against [1,0,0,0]: a (1.0), b (~0.99), c (0), d (-1)
/// - sparse term 1 is in a and c, term 2 in b, term 3 in c only, term 4 in d.
fn ranked_points() -> Vec<Point> {
    vec![
        point("a", [1.0, 0.0, 0.0, 0.0], &[(1, 1.0)], json!({})),
        point("b", [0.9, 0.1, 0.0, 0.0], &[(2, 1.0)], json!({})),
        point("c", [0.0, 0.0, 1.0, 0.0], &[(1, 1.0), (3, 1.0)], json!({})),
        point("d", [-1.0, 0.0, 0.0, 0.0], &[(4, 1.0)], json!({})),
    ]
}

pub async fn ensure_is_idempotent_and_refuses_another_layout(b: &dyn Backend) {
    let index = b.open().await;
    assert_code(index.count().await, "vector_config", "count before ensure");
    index.ensure(&spec("layout")).await.expect("created");
    index.ensure(&spec("layout")).await.expect("ensured again");
    index.upsert(ranked_points()).await.expect("upserted");
    let wider = IndexSpec {
        dense_dim: 8,
        ..spec("layout")
    };
    assert_code(
        index.ensure(&wider).await,
        "vector_config",
        "same collection, other dimension",
    );
    assert_eq!(
        index.count().await.expect("still usable"),
        4,
        "the refused ensure changed nothing"
    );
    drop(index);

    let again = b.open().await;
    assert_code(
        again.ensure(&wider).await,
        "vector_config",
        "a new handle, other dimension",
    );
    again
        .ensure(&spec("layout"))
        .await
        .expect("the existing layout fits");
    assert_eq!(again.count().await.expect("counted"), 4);
    assert_code(
        again
            .ensure(&IndexSpec {
                collection: "../x".into(),
                dense_dim: 4,
            })
            .await,
        "vector_config",
        "a collection name that is not a plain name",
    );
}

pub async fn dense_sparse_and_hybrid_rank_as_expected(b: &dyn Backend) {
    let index = b.open().await;
    index.ensure(&spec("ranking")).await.expect("created");
    index.upsert(ranked_points()).await.expect("upserted");

    let dense = index
        .search(&query(&[1.0, 0.0, 0.0, 0.0], &[], 4))
        .await
        .expect("dense");
    assert_eq!(
        chunks(&dense),
        ["a", "b", "c", "d"],
        "dense only: by cosine"
    );

    let sparse_hits = index
        .search(&query(&[], &[(3, 1.0)], 4))
        .await
        .expect("sparse");
    assert_eq!(
        chunks(&sparse_hits),
        ["c"],
        "sparse only: just the point with the term"
    );
    let both_terms = index
        .search(&query(&[], &[(1, 1.0), (3, 1.0)], 4))
        .await
        .expect("sparse");
    assert_eq!(
        chunks(&both_terms),
        ["c", "a"],
        "sparse only: more matching terms first"
    );

    // c is third by dense but the only sparse match. A hit at 0-based position p of one
    // prefetch adds 1 / (k + p), k = 60: c has 1/62 + 1/60, which beats a's 1/60.
    let hybrid = index
        .search(&query(&[1.0, 0.0, 0.0, 0.0], &[(3, 1.0)], 3))
        .await
        .expect("hybrid");
    assert_eq!(chunks(&hybrid), ["c", "a", "b"], "hybrid: fused by RRF");
    let expected = [1.0 / 62.0 + 1.0 / 60.0, 1.0 / 60.0, 1.0 / 61.0];
    for (hit, want) in hybrid.iter().zip(expected) {
        assert!(
            (hit.score - want).abs() < 1e-4,
            "RRF score with k=60: {} vs {want}",
            hit.score
        );
    }

    let top = index
        .search(&query(&[1.0, 0.0, 0.0, 0.0], &[(1, 1.0)], 1))
        .await
        .expect("limit 1");
    assert_eq!(chunks(&top), ["a"], "first by both, and the limit holds");
    assert_eq!(
        top[0].payload,
        payload(json!({ "chunk": "a" })),
        "the payload comes back"
    );

    // Hits carry their dense vector (unit length), from every kind of query: a caller
    // measures relevance with it, which the fused score cannot tell.
    let upserted = ranked_points();
    for hits in [&dense, &sparse_hits, &both_terms, &hybrid, &top] {
        assert_dense_vectors(hits, &upserted);
    }
    assert!(
        dense.iter().any(|h| h.id == point_id("b")),
        "b's stored vector is not unit length, so normalisation is checked"
    );

    assert_code(
        index.search(&query(&[], &[], 3)).await,
        "vector_invalid",
        "an empty query",
    );
    assert_code(
        index.search(&query(&[1.0, 0.0], &[], 3)).await,
        "vector_invalid",
        "a query of another dimension",
    );
}

pub async fn filters_restrict_by_source_and_tags(b: &dyn Backend) {
    let index = b.open().await;
    index.ensure(&spec("filters")).await.expect("created");
    let same = [1.0, 0.0, 0.0, 0.0];
    index
        .upsert(vec![
            point(
                "w1",
                same,
                &[(1, 1.0)],
                json!({ "source": "ops wiki", "tags": ["dns", "prod"] }),
            ),
            point(
                "w2",
                same,
                &[(1, 1.0)],
                json!({ "source": "ops wiki", "tags": ["kube"] }),
            ),
            point(
                "g1",
                same,
                &[(1, 1.0)],
                json!({ "source": "git", "tags": ["dns"] }),
            ),
            point("g2", same, &[(1, 1.0)], json!({ "source": "git" })),
            // "ops" alone must not match "ops wiki": values are keywords, not text.
            point(
                "o1",
                same,
                &[(1, 1.0)],
                json!({ "source": "ops", "tags": ["prod"] }),
            ),
        ])
        .await
        .expect("upserted");

    let run = |sources: &[&str], tags: &[&str]| {
        let mut q = query(&same, &[(1, 1.0)], 10);
        q.filter = Filter {
            sources: sources.iter().map(|s| s.to_string()).collect(),
            tags: tags.iter().map(|s| s.to_string()).collect(),
        };
        q
    };
    let sorted = |hits: Vec<Hit>| {
        let mut names = chunks(&hits);
        names.sort();
        names
    };
    let cases: [(&[&str], &[&str], &[&str]); 6] = [
        (&[], &[], &["g1", "g2", "o1", "w1", "w2"]),
        (&["ops wiki"], &[], &["w1", "w2"]),
        (&["git", "ops"], &[], &["g1", "g2", "o1"]),
        (&[], &["dns"], &["g1", "w1"]),
        (&[], &["kube", "prod"], &["o1", "w1", "w2"]),
        (&["ops wiki"], &["dns"], &["w1"]),
    ];
    for (sources, tags, want) in cases {
        let hits = index.search(&run(sources, tags)).await.expect("searched");
        assert_eq!(sorted(hits), want, "sources {sources:?}, tags {tags:?}");
    }
    let none = index
        .search(&run(&["nowhere"], &[]))
        .await
        .expect("searched");
    assert!(
        none.is_empty(),
        "an unknown source matches nothing: {none:?}"
    );
}

pub async fn ids_where_delete_count_and_replace(b: &dyn Backend) {
    let index = b.open().await;
    index.ensure(&spec("docs")).await.expect("created");
    assert_eq!(index.count().await.expect("counted"), 0);
    let v = [0.0, 1.0, 0.0, 0.0];
    let points = vec![
        point("d1#0", v, &[(1, 1.0)], json!({ "doc": "runbooks/dns.md" })),
        point("d1#1", v, &[(2, 1.0)], json!({ "doc": "runbooks/dns.md" })),
        point("d1#2", v, &[(3, 1.0)], json!({ "doc": "runbooks/dns.md" })),
        point("d2#0", v, &[(1, 1.0)], json!({ "doc": "runbooks/dns md" })),
        point(
            "d3#0",
            v,
            &[(1, 1.0)],
            json!({ "doc": "runbooks/kube.md", "tags": ["runbooks/dns.md"] }),
        ),
    ];
    index.upsert(points).await.expect("upserted");
    assert_eq!(index.count().await.expect("counted"), 5);

    let mut d1 = index
        .ids_where("doc", "runbooks/dns.md")
        .await
        .expect("listed");
    d1.sort_by(|a, b| a.0.cmp(&b.0));
    let mut want: Vec<String> = ["d1#0", "d1#1", "d1#2"]
        .iter()
        .map(|c| point_id(c))
        .collect();
    want.sort();
    assert_eq!(
        d1.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>(),
        want,
        "exactly the chunks of the doc"
    );
    for (id, body) in &d1 {
        let chunk = body
            .get("chunk")
            .and_then(|c| c.as_str())
            .expect("payload comes with the id");
        assert_eq!(*id, point_id(chunk));
    }
    let spaced = index
        .ids_where("doc", "runbooks/dns md")
        .await
        .expect("listed");
    assert_eq!(spaced.len(), 1, "a value with a space matches exactly");
    let tagged = index
        .ids_where("tags", "runbooks/dns.md")
        .await
        .expect("listed");
    assert_eq!(
        tagged.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>(),
        [point_id("d3#0")],
        "arrays match by element"
    );
    assert!(
        index
            .ids_where("doc", "missing")
            .await
            .expect("listed")
            .is_empty()
    );
    assert_code(
        index.ids_where("doc.path", "x").await,
        "vector_invalid",
        "a JSON path as key",
    );
    // Every point, each with its own payload.
    let mut all = index.payloads().await.expect("listed");
    all.sort_by(|a, b| a.0.cmp(&b.0));
    let mut want: Vec<(String, String)> = ["d1#0", "d1#1", "d1#2", "d2#0", "d3#0"]
        .iter()
        .map(|c| (point_id(c), (*c).to_string()))
        .collect();
    want.sort();
    assert_eq!(
        all.iter()
            .map(|(id, body)| (id.clone(), body["chunk"].as_str().unwrap_or("").to_string()))
            .collect::<Vec<_>>(),
        want,
        "every point with its payload"
    );

    index
        .delete(vec![
            point_id("d1#0"),
            point_id("d1#1"),
            point_id("never-stored"),
        ])
        .await
        .expect("deleted");
    assert_eq!(index.count().await.expect("counted"), 3);
    let left = index
        .ids_where("doc", "runbooks/dns.md")
        .await
        .expect("listed");
    assert_eq!(
        left.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>(),
        [point_id("d1#2")]
    );
    let hits = index
        .search(&query(&v, &[(2, 1.0)], 10))
        .await
        .expect("searched");
    assert!(
        !chunks(&hits).contains(&"d1#1".to_string()),
        "a deleted point is not found"
    );

    // Upserting an existing id replaces the point, its vectors too.
    let replacement = point(
        "d1#2",
        [0.0, 0.0, 0.0, 2.0],
        &[(9, 1.0)],
        json!({ "doc": "runbooks/moved.md" }),
    );
    index
        .upsert(vec![replacement.clone()])
        .await
        .expect("replaced");
    assert_eq!(index.count().await.expect("counted"), 3);
    assert!(
        index
            .ids_where("doc", "runbooks/dns.md")
            .await
            .expect("listed")
            .is_empty()
    );
    let moved = index
        .ids_where("doc", "runbooks/moved.md")
        .await
        .expect("listed");
    assert_eq!(moved.len(), 1);
    let by_new_term = index
        .search(&query(&[], &[(9, 1.0)], 3))
        .await
        .expect("searched");
    assert_eq!(
        chunks(&by_new_term),
        ["d1#2"],
        "the new sparse vector replaced the old one"
    );
    assert_dense_vectors(&by_new_term, &[replacement]);
    assert_eq!(
        by_new_term[0].dense,
        [0.0, 0.0, 0.0, 1.0],
        "the new dense vector"
    );

    assert_code(
        index.delete(vec!["chunk-7".into()]).await,
        "vector_invalid",
        "an id that is not a UUID",
    );
    let mut bad = point("x", v, &[], json!({}));
    bad.id = "x".into();
    assert_code(
        index.upsert(vec![bad]).await,
        "vector_invalid",
        "an upsert with a non-UUID id",
    );
    let short = Point {
        dense: vec![1.0, 0.0],
        ..point("y", v, &[], json!({}))
    };
    assert_code(
        index.upsert(vec![short]).await,
        "vector_invalid",
        "a dense vector of another dimension",
    );
    assert_eq!(
        index.count().await.expect("counted"),
        3,
        "refused upserts wrote nothing"
    );
}

pub async fn a_new_handle_sees_what_was_written(b: &dyn Backend) {
    let first = b.open().await;
    first.ensure(&spec("reopen")).await.expect("created");
    first.upsert(ranked_points()).await.expect("upserted");
    first.delete(vec![point_id("d")]).await.expect("deleted");
    let before = first
        .search(&query(&[1.0, 0.0, 0.0, 0.0], &[(3, 1.0)], 3))
        .await
        .expect("searched");
    first.health().await.expect("healthy");
    drop(first);

    let second = b.open().await;
    assert_code(
        second.count().await,
        "vector_config",
        "a new handle before ensure",
    );
    second.ensure(&spec("reopen")).await.expect("reopened");
    second.health().await.expect("healthy");
    assert_eq!(
        second.count().await.expect("counted"),
        3,
        "upserts and the delete were kept"
    );
    let after = second
        .search(&query(&[1.0, 0.0, 0.0, 0.0], &[(3, 1.0)], 3))
        .await
        .expect("searched");
    assert_eq!(chunks(&after), chunks(&before));
    assert_eq!(chunks(&after), ["c", "a", "b"]);
}

/// Upserts [`ranked_points`] (for backend-specific tests).
pub async fn upsert_ranked(index: &dyn VectorIndex) {
    index.upsert(ranked_points()).await.expect("upserted");
}

/// The chunks of the hybrid query whose RRF ranking is worked out above: c, a, b.
pub async fn hybrid_chunks(index: &dyn VectorIndex) -> Vec<String> {
    let hits = index
        .search(&query(&[1.0, 0.0, 0.0, 0.0], &[(3, 1.0)], 3))
        .await
        .expect("searched");
    let found = chunks(&hits);
    assert_eq!(found, ["c", "a", "b"]);
    found
}
