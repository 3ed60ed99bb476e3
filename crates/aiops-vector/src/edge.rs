//! The embedded backend: a Qdrant Edge shard per collection, in `<dir>/<collection>`.
//!
//! Qdrant Edge is synchronous, so every call runs on tokio's blocking pool. Writes are
//! serialised by one mutex and each is flushed to the segments before it returns: Qdrant
//! Edge 0.7.0 logs updates to a WAL but does not replay that WAL when a shard is loaded, so
//! an update is only durable once flushed. The mutex also keeps `EdgeShard::flush` (which
//! panics when it finds its locks taken) from running beside another write.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use qdrant_edge::{
    CountRequest, CreateIndex, Distance, EdgeConfig, EdgeShard, EdgeSparseVectorParams,
    EdgeVectorParams, FieldIndexOperations, Fusion, JsonPath, Modifier, NamedQuery, OperationError,
    Payload as EdgePayload, PayloadFieldSchema, PayloadSchemaType, PointId, PointInsertOperations,
    PointOperations, PointStructPersisted, Prefetch, QueryEnum, QueryRequest, ScoredPoint,
    ScoringQuery, ScrollRequest, SparseVector as EdgeSparse, UpdateOperation, VectorInternal,
    VectorPersisted, VectorStructPersisted, WithPayloadInterface, WithVector,
};
use tokio::sync::RwLock;

use crate::filter::{EdgeFilter, check_key};
use crate::layout::Layout;
use crate::{
    DENSE_VECTOR, Hit, INDEXED_KEYS, IndexSpec, Payload, Point, Query, RRF_K, SPARSE_VECTOR,
    VectorError, VectorIndex, prefetch_limit,
};

/// Points read per page when listing points by payload value.
const SCROLL_PAGE: usize = 1000;

/// The embedded index: a Qdrant Edge shard in a directory.
pub struct EdgeIndex {
    dir: PathBuf,
    open: RwLock<Option<Open>>,
}

impl std::fmt::Debug for EdgeIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdgeIndex").field("dir", &self.dir).finish()
    }
}

/// The shard of the ensured collection.
#[derive(Clone)]
struct Open {
    spec: IndexSpec,
    shard: Arc<Shard>,
}

struct Shard {
    edge: EdgeHandle,
    /// Held for every update + flush (see the module doc).
    writes: Mutex<()>,
}

/// The open shard and its directory. Edge flushes on drop and panics when the directory is
/// gone (removed under a running process); a panic in a destructor during unwinding aborts
/// the process. Every write was flushed when it was made, so when the directory is gone the
/// shard is forgotten instead: nothing is lost.
struct EdgeHandle {
    shard: Option<EdgeShard>,
    path: PathBuf,
}

impl std::ops::Deref for EdgeHandle {
    type Target = EdgeShard;
    fn deref(&self) -> &EdgeShard {
        match &self.shard {
            Some(shard) => shard,
            None => unreachable!("the shard is taken only in drop"),
        }
    }
}

impl Drop for EdgeHandle {
    fn drop(&mut self) {
        if let Some(shard) = self.shard.take()
            && !self.path.is_dir()
        {
            std::mem::forget(shard);
        }
    }
}

impl Shard {
    /// The write lock (see the module doc).
    fn lock_writes(&self) -> Result<std::sync::MutexGuard<'_, ()>, VectorError> {
        self.writes
            .lock()
            .map_err(|_| VectorError::Backend("an earlier edge write panicked".into()))
    }
}

impl EdgeIndex {
    /// Every point under `filter` (all without one), with its payload, page by page.
    async fn scroll(
        &self,
        filter: Option<qdrant_edge::Filter>,
    ) -> Result<Vec<(String, Payload)>, VectorError> {
        self.with_shard(move |_, shard| {
            let mut found = Vec::new();
            let mut offset = None;
            loop {
                let (records, next) = shard
                    .edge
                    .scroll(ScrollRequest {
                        offset,
                        limit: Some(SCROLL_PAGE),
                        filter: filter.clone(),
                        with_payload: Some(WithPayloadInterface::Bool(true)),
                        with_vector: WithVector::Bool(false),
                        order_by: None,
                    })
                    .map_err(backend)?;
                for record in records {
                    found.push((
                        id_string(record.id)?,
                        record.payload.map(|p| p.0).unwrap_or_default(),
                    ));
                }
                match next {
                    Some(next) => offset = Some(next),
                    None => return Ok(found),
                }
            }
        })
        .await
    }

    /// An index keeping its shards under `dir` (created when needed). Nothing is opened
    /// before [`VectorIndex::ensure`].
    pub fn new(dir: impl Into<PathBuf>) -> EdgeIndex {
        EdgeIndex {
            dir: dir.into(),
            open: RwLock::new(None),
        }
    }

    /// The directory the shards are kept in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    async fn current(&self) -> Result<Open, VectorError> {
        self.open
            .read()
            .await
            .clone()
            .ok_or_else(VectorError::not_ensured)
    }

    /// Runs `f` on the shard on the blocking pool.
    async fn with_shard<T: Send + 'static>(
        &self,
        f: impl FnOnce(&IndexSpec, &Shard) -> Result<T, VectorError> + Send + 'static,
    ) -> Result<T, VectorError> {
        let open = self.current().await?;
        blocking(move || f(&open.spec, &open.shard)).await
    }

    /// Applies one update and flushes it (see the module doc).
    async fn write(
        &self,
        op: impl FnOnce() -> UpdateOperation + Send + 'static,
    ) -> Result<(), VectorError> {
        self.with_shard(move |_, shard| {
            let _writing = shard.lock_writes()?;
            shard.edge.update(op()).map_err(backend)?;
            shard.edge.flush();
            Ok(())
        })
        .await
    }
}

#[async_trait::async_trait]
impl VectorIndex for EdgeIndex {
    fn kind(&self) -> &'static str {
        "edge"
    }

    /// Runs Qdrant Edge's optimizers (merging segments, building the HNSW graph once a
    /// segment is large enough) until none has work left; `true` when one did. Edge has no
    /// background optimizer, so without this every search scans the points: call it after
    /// a bulk (re-)index. It blocks writes while it runs; searches go on.
    async fn optimize(&self) -> Result<bool, VectorError> {
        self.with_shard(|_, shard| {
            let _writing = shard.lock_writes()?;
            let optimized = shard.edge.optimize().map_err(backend)?;
            shard.edge.flush();
            Ok(optimized)
        })
        .await
    }

    async fn ensure(&self, spec: &IndexSpec) -> Result<(), VectorError> {
        spec.check()?;
        let mut open = self.open.write().await;
        if let Some(current) = open.as_ref()
            && current.spec.collection == spec.collection
        {
            return layout_of(&current.shard.edge.config()).check(spec);
        }
        let path = self.dir.join(&spec.collection);
        let wanted = spec.clone();
        let at = path.clone();
        let edge = blocking(move || open_or_create(&at, &wanted)).await?;
        *open = Some(Open {
            spec: spec.clone(),
            shard: Arc::new(Shard {
                edge: EdgeHandle {
                    shard: Some(edge),
                    path,
                },
                writes: Mutex::new(()),
            }),
        });
        Ok(())
    }

    async fn upsert(&self, points: Vec<Point>) -> Result<(), VectorError> {
        if points.is_empty() {
            return Ok(());
        }
        let spec = self.current().await?.spec;
        let ids = spec.check_points(&points)?;
        let points: Vec<PointStructPersisted> = points
            .into_iter()
            .zip(ids)
            .map(|(point, id)| {
                let mut sparse = EdgeSparse {
                    indices: point.sparse.indices,
                    values: point.sparse.values,
                };
                sparse.sort_by_indices();
                PointStructPersisted {
                    id: PointId::Uuid(id),
                    vector: VectorStructPersisted::Named(HashMap::from([
                        (
                            DENSE_VECTOR.to_string(),
                            VectorPersisted::Dense(point.dense),
                        ),
                        (SPARSE_VECTOR.to_string(), VectorPersisted::Sparse(sparse)),
                    ])),
                    payload: Some(EdgePayload(point.payload)),
                }
            })
            .collect();
        self.write(move || {
            UpdateOperation::PointOperation(PointOperations::UpsertPoints(
                PointInsertOperations::PointsList(points),
            ))
        })
        .await
    }

    async fn delete(&self, ids: Vec<String>) -> Result<(), VectorError> {
        if ids.is_empty() {
            return Ok(());
        }
        let ids = ids
            .iter()
            .map(|id| crate::types::parse_id(id).map(PointId::Uuid))
            .collect::<Result<Vec<_>, _>>()?;
        self.write(move || UpdateOperation::PointOperation(PointOperations::DeletePoints { ids }))
            .await
    }

    async fn ids_where(
        &self,
        key: &str,
        value: &str,
    ) -> Result<Vec<(String, Payload)>, VectorError> {
        check_key(key)?;
        self.scroll(Some(EdgeFilter::key_equals(key, value)?)).await
    }

    async fn payloads(&self) -> Result<Vec<(String, Payload)>, VectorError> {
        self.scroll(None).await
    }

    async fn search(&self, q: &Query) -> Result<Vec<Hit>, VectorError> {
        let spec = self.current().await?.spec;
        spec.check_query(q)?;
        let filter = EdgeFilter::from_filter(&q.filter)?;
        let candidates = prefetch_limit(q.limit);
        let mut prefetches = Vec::with_capacity(2);
        if !q.dense.is_empty() {
            prefetches.push(prefetch(
                VectorInternal::Dense(q.dense.clone()),
                DENSE_VECTOR,
                candidates,
                filter.clone(),
            ));
        }
        if !q.sparse.is_empty() {
            let mut sparse = EdgeSparse {
                indices: q.sparse.indices.clone(),
                values: q.sparse.values.clone(),
            };
            sparse.sort_by_indices();
            prefetches.push(prefetch(
                VectorInternal::Sparse(sparse),
                SPARSE_VECTOR,
                candidates,
                filter.clone(),
            ));
        }
        let request = QueryRequest {
            prefetches,
            query: Some(ScoringQuery::Fusion(Fusion::Rrf {
                k: RRF_K as usize,
                weights: None,
            })),
            filter,
            score_threshold: None,
            limit: q.limit,
            offset: 0,
            params: None,
            with_vector: WithVector::Selector(vec![DENSE_VECTOR.into()]),
            with_payload: WithPayloadInterface::Bool(true),
        };
        self.with_shard(move |_, shard| {
            let points = shard.edge.query(request).map_err(backend)?;
            points.into_iter().map(hit).collect()
        })
        .await
    }

    async fn count(&self) -> Result<u64, VectorError> {
        self.with_shard(|_, shard| {
            let n = shard
                .edge
                .count(CountRequest {
                    filter: None,
                    exact: true,
                })
                .map_err(backend)?;
            Ok(n as u64)
        })
        .await
    }

    async fn health(&self) -> Result<(), VectorError> {
        self.current().await.map(|_| ())
    }
}

fn prefetch(
    vector: VectorInternal,
    using: &str,
    limit: usize,
    filter: Option<qdrant_edge::Filter>,
) -> Prefetch {
    Prefetch {
        prefetches: Vec::new(),
        query: Some(ScoringQuery::Vector(QueryEnum::Nearest(NamedQuery::new(
            vector, using,
        )))),
        limit,
        params: None,
        filter,
        score_threshold: None,
    }
}

/// Loads the shard at `path` after checking its saved config against `spec`, or creates it.
fn open_or_create(path: &Path, spec: &IndexSpec) -> Result<EdgeShard, VectorError> {
    match EdgeConfig::load(path) {
        Some(Ok(config)) => {
            layout_of(&config).check(spec)?;
            let shard = EdgeShard::load(path, None).map_err(|err| corrupt(path, err))?;
            // Again on load: a segment added since (e.g. a new appendable one) gets them too.
            index_filter_keys(&shard)?;
            Ok(shard)
        }
        Some(Err(err)) => Err(corrupt(path, err)),
        None => {
            std::fs::create_dir_all(path).map_err(|err| {
                VectorError::Backend(format!("creating {}: {err}", path.display()))
            })?;
            let config = EdgeConfig::builder()
                .vector(
                    DENSE_VECTOR,
                    EdgeVectorParams::builder(spec.dense_dim, Distance::Cosine).build(),
                )
                .sparse_vector(
                    SPARSE_VECTOR,
                    EdgeSparseVectorParams::builder()
                        .modifier(Modifier::Idf)
                        .build(),
                )
                .build();
            // Fails on segments without a config file: data this crate did not write.
            let shard = EdgeShard::new(path, config).map_err(|err| corrupt(path, err))?;
            index_filter_keys(&shard)?;
            Ok(shard)
        }
    }
}

/// Keyword indexes on the filter keys (see [`INDEXED_KEYS`]), idempotent. Called on a shard
/// no other handle holds yet, so the flush cannot find its locks taken.
fn index_filter_keys(shard: &EdgeShard) -> Result<(), VectorError> {
    for key in INDEXED_KEYS {
        let field_name: JsonPath = key
            .parse()
            .map_err(|_| VectorError::Config(format!("payload key `{key}` is not valid")))?;
        shard
            .update(UpdateOperation::FieldIndexOperation(
                FieldIndexOperations::CreateIndex(CreateIndex {
                    field_name,
                    field_schema: Some(PayloadFieldSchema::FieldType(PayloadSchemaType::Keyword)),
                }),
            ))
            .map_err(backend)?;
    }
    shard.flush();
    Ok(())
}

fn layout_of(config: &EdgeConfig) -> Layout {
    let dense = config.vectors.get(DENSE_VECTOR).map(|v| {
        (
            v.size as u64,
            format!("{:?}", v.distance).to_ascii_lowercase(),
        )
    });
    let sparse_modifier = config
        .sparse_vectors
        .get(SPARSE_VECTOR)
        .map(|s| format!("{:?}", s.modifier.unwrap_or_default()).to_ascii_lowercase());
    let mut others: Vec<String> = config
        .vectors
        .keys()
        .filter(|name| name.as_str() != DENSE_VECTOR)
        .chain(
            config
                .sparse_vectors
                .keys()
                .filter(|name| name.as_str() != SPARSE_VECTOR),
        )
        .map(|name| name.to_string())
        .collect();
    others.sort();
    Layout {
        dense,
        sparse_modifier,
        others,
    }
}

fn hit(point: ScoredPoint) -> Result<Hit, VectorError> {
    let dense = match point.vector {
        Some(qdrant_edge::VectorStructInternal::Named(mut named)) => {
            match named.remove(DENSE_VECTOR) {
                Some(VectorInternal::Dense(v)) => v,
                _ => Vec::new(),
            }
        }
        _ => Vec::new(),
    };
    Ok(Hit {
        id: id_string(point.id)?,
        score: point.score,
        payload: point.payload.map(|p| p.0).unwrap_or_default(),
        dense,
    })
}

/// This crate writes UUID ids only; a numeric id was written by something else.
fn id_string(id: PointId) -> Result<String, VectorError> {
    match id {
        PointId::Uuid(uuid) => Ok(uuid.to_string()),
        PointId::NumId(n) => Err(VectorError::Corrupt(format!(
            "the shard holds a point with numeric id {n}; this index writes UUID ids only"
        ))),
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, VectorError> + Send + 'static,
) -> Result<T, VectorError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|err| VectorError::Backend(format!("edge shard task failed: {err}")))?
}

fn backend(err: OperationError) -> VectorError {
    VectorError::Backend(err.to_string())
}

fn corrupt(path: &Path, err: impl std::fmt::Display) -> VectorError {
    VectorError::Corrupt(format!("edge shard {}: {err}", path.display()))
}
