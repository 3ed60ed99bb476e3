//! The behaviour suite (`tests/suite/`) against both backends: the embedded Qdrant Edge shard
//! in a temporary directory, and a real Qdrant server started by `bootstrap/qdrant.sh`
//! (one per test, stopped when the test ends, also when it fails). Plus what only one
//! backend has: a server that is down, a shard directory that is damaged.

mod suite;

use aiops_test_support::ports::closed_addr;
use aiops_vector::{EdgeIndex, QdrantIndex, QdrantOptions, VectorIndex};
use suite::{Backend, spec};
use tempfile::TempDir;

/// Edge shards in a directory of their own; every handle opens the same directory.
struct Edge {
    dir: TempDir,
}

impl Edge {
    fn new() -> Edge {
        Edge {
            dir: tempfile::tempdir().expect("temporary directory"),
        }
    }
}

#[async_trait::async_trait]
impl Backend for Edge {
    async fn open(&self) -> Box<dyn VectorIndex> {
        Box::new(EdgeIndex::new(self.dir.path().join("vectors")))
    }
}

/// A real Qdrant server of this test (`aiops_test_support::Qdrant`, started by
/// `bootstrap/qdrant.sh`): stopped on drop.
struct Server(aiops_test_support::Qdrant);

impl Server {
    fn start() -> Server {
        Server(aiops_test_support::Qdrant::start().unwrap_or_else(|err| {
            panic!("starting Qdrant (install it with `bash bootstrap/qdrant.sh install`): {err}")
        }))
    }

    fn stop(&self) {
        self.0.stop().expect("stopping Qdrant");
    }

    fn index(&self) -> QdrantIndex {
        QdrantIndex::connect(&self.0.url, QdrantOptions::default()).expect("a client")
    }
}

#[async_trait::async_trait]
impl Backend for Server {
    async fn open(&self) -> Box<dyn VectorIndex> {
        Box::new(self.index())
    }
}

/// One test per backend and suite case.
macro_rules! behaviour {
    ($($case:ident),* $(,)?) => {
        mod edge {
            $(
                #[tokio::test]
                async fn $case() {
                    let backend = super::Edge::new();
                    super::suite::$case(&backend).await;
                }
            )*
        }
        mod qdrant {
            $(
                #[tokio::test]
                async fn $case() {
                    let backend = super::Server::start();
                    super::suite::$case(&backend).await;
                }
            )*
        }
    };
}

behaviour!(
    ensure_is_idempotent_and_refuses_another_layout,
    dense_sparse_and_hybrid_rank_as_expected,
    filters_restrict_by_source_and_tags,
    ids_where_delete_count_and_replace,
    a_new_handle_sees_what_was_written,
);

#[tokio::test]
async fn kinds_name_the_backends() {
    let edge = Edge::new();
    assert_eq!(edge.open().await.kind(), "edge");
    let client = QdrantIndex::connect(
        &format!("http://{}", closed_addr()),
        QdrantOptions::default(),
    )
    .expect("connecting is lazy");
    assert_eq!(client.kind(), "qdrant");
}

#[tokio::test]
async fn a_server_that_is_down_is_unavailable() {
    let nowhere = QdrantIndex::connect(
        &format!("http://{}", closed_addr()),
        QdrantOptions::default(),
    )
    .expect("connecting is lazy");
    for (what, result) in [
        ("health", nowhere.health().await),
        ("ensure", nowhere.ensure(&spec("down")).await),
    ] {
        let err = result.expect_err(what);
        assert_eq!(err.code(), "vector_unavailable", "{what}: {err}");
    }

    // A server that goes away under an open index.
    let server = Server::start();
    let index = server.index();
    index.ensure(&spec("down")).await.expect("created");
    index.health().await.expect("healthy");
    server.stop();
    let err = index.count().await.expect_err("the server is gone");
    assert_eq!(err.code(), "vector_unavailable", "{err}");
    let err = index.health().await.expect_err("the server is gone");
    assert_eq!(err.code(), "vector_unavailable", "{err}");
}

#[tokio::test]
async fn a_damaged_shard_directory_is_corrupt_not_replaced() {
    let edge = Edge::new();
    let index = edge.open().await;
    index.ensure(&spec("damaged")).await.expect("created");
    drop(index);
    let config = edge.dir.path().join("vectors/damaged/edge_config.json");
    assert!(
        config.is_file(),
        "the shard keeps its config at {}",
        config.display()
    );
    std::fs::write(&config, b"{ not json").expect("damaged");

    let index = edge.open().await;
    let err = index.ensure(&spec("damaged")).await.expect_err("refused");
    assert_eq!(err.code(), "vector_corrupt", "{err}");
    assert_eq!(
        std::fs::read(&config).expect("still there"),
        b"{ not json",
        "left as found"
    );
}

#[tokio::test]
async fn optimizing_an_edge_shard_keeps_points_and_rankings() {
    let edge = Edge::new();
    let index = EdgeIndex::new(edge.dir.path().join("vectors"));
    assert_eq!(
        index.optimize().await.map_err(|e| e.code()),
        Err("vector_config"),
        "nothing to optimize before ensure"
    );
    index.ensure(&spec("optimized")).await.expect("created");
    suite::upsert_ranked(&index).await;
    let before = suite::hybrid_chunks(&index).await;
    index.optimize().await.expect("optimized");
    assert_eq!(index.count().await.expect("counted"), 4);
    assert_eq!(suite::hybrid_chunks(&index).await, before);
}
