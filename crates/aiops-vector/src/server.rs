//! The production backend: a Qdrant server over gRPC (`qdrant-client`).
//!
//! The collection is created with the layout of the embedded shard (named dense vector,
//! cosine; named sparse vector with the IDF modifier) and the same prefetch + RRF query is
//! sent, so both backends rank alike. Writes wait for the server to apply them.

use std::collections::HashMap;
use std::time::Duration;

use qdrant_client::qdrant::{
    self, CountPointsBuilder, CreateCollectionBuilder, CreateFieldIndexCollectionBuilder,
    DeletePointsBuilder, Distance, FieldType, Modifier, NamedVectors, PointId, PointStruct,
    PointsIdsList, PrefetchQueryBuilder, QueryPointsBuilder, Rrf, ScrollPointsBuilder,
    SparseVectorParamsBuilder, SparseVectorsConfigBuilder, UpsertPointsBuilder, Vector,
    VectorInput, VectorParamsBuilder, VectorsConfigBuilder, point_id::PointIdOptions,
    vectors_config::Config,
};
use qdrant_client::{Qdrant, QdrantError};
use tokio::sync::RwLock;
use tonic::Code;

use crate::filter::{ServerFilter, check_key};
use crate::layout::Layout;
use crate::types::parse_id;
use crate::{
    DENSE_VECTOR, Hit, INDEXED_KEYS, IndexSpec, Payload, Point, Query, RRF_K, SPARSE_VECTOR,
    VectorError, VectorIndex, prefetch_limit,
};

/// Points per page when listing points by payload value.
const SCROLL_PAGE: u32 = 1000;

/// How to reach the server.
#[derive(Clone)]
pub struct QdrantOptions {
    /// Sent as the `api-key` header; never logged.
    pub api_key: Option<String>,
    /// Per request; a server slower than this is `vector_unavailable`.
    pub timeout: Duration,
    /// For establishing a connection.
    pub connect_timeout: Duration,
}

impl Default for QdrantOptions {
    fn default() -> Self {
        QdrantOptions {
            api_key: None,
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(3),
        }
    }
}

impl std::fmt::Debug for QdrantOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QdrantOptions")
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

/// A collection on a Qdrant server.
pub struct QdrantIndex {
    url: String,
    client: Qdrant,
    spec: RwLock<Option<IndexSpec>>,
}

impl std::fmt::Debug for QdrantIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QdrantIndex")
            .field("url", &self.url)
            .finish()
    }
}

impl QdrantIndex {
    /// Every point under `filter` (all without one), with its payload, page by page.
    async fn scroll(
        &self,
        filter: Option<qdrant::Filter>,
    ) -> Result<Vec<(String, Payload)>, VectorError> {
        let collection = self.collection().await?;
        let mut found = Vec::new();
        let mut offset: Option<PointId> = None;
        loop {
            let mut request = ScrollPointsBuilder::new(&collection)
                .limit(SCROLL_PAGE)
                .with_payload(true)
                .with_vectors(false);
            if let Some(filter) = &filter {
                request = request.filter(filter.clone());
            }
            if let Some(offset) = offset.take() {
                request = request.offset(offset);
            }
            let page = self.client.scroll(request).await.map_err(server_error)?;
            for point in page.result {
                found.push((id_string(point.id)?, payload_json(point.payload)));
            }
            match page.next_page_offset {
                Some(next) => offset = Some(next),
                None => return Ok(found),
            }
        }
    }

    /// A client for the server's gRPC endpoint (`http://host:6334`). Connects lazily: a
    /// server that is down shows on the first call (`vector_unavailable`), not here.
    pub fn connect(url: &str, options: QdrantOptions) -> Result<QdrantIndex, VectorError> {
        let mut config = Qdrant::from_url(url)
            .timeout(options.timeout)
            .connect_timeout(options.connect_timeout)
            // The check would block here and print to stdout; `health` asks the server.
            .skip_compatibility_check();
        if let Some(key) = &options.api_key {
            config.set_api_key(key);
        }
        let client = config.build().map_err(|err| {
            VectorError::Config(format!("Qdrant URL `{url}` is not usable: {err}"))
        })?;
        Ok(QdrantIndex {
            url: url.to_string(),
            client,
            spec: RwLock::new(None),
        })
    }

    /// The gRPC URL this index talks to.
    pub fn url(&self) -> &str {
        &self.url
    }

    async fn collection(&self) -> Result<String, VectorError> {
        self.current_spec().await.map(|spec| spec.collection)
    }

    async fn current_spec(&self) -> Result<IndexSpec, VectorError> {
        self.spec
            .read()
            .await
            .clone()
            .ok_or_else(VectorError::not_ensured)
    }

    async fn create(&self, spec: &IndexSpec) -> Result<(), VectorError> {
        let mut dense = VectorsConfigBuilder::default();
        dense.add_named_vector_params(
            DENSE_VECTOR,
            VectorParamsBuilder::new(spec.dense_dim as u64, Distance::Cosine),
        );
        let mut sparse = SparseVectorsConfigBuilder::default();
        sparse.add_named_vector_params(
            SPARSE_VECTOR,
            SparseVectorParamsBuilder::default().modifier(Modifier::Idf),
        );
        let created = self
            .client
            .create_collection(
                CreateCollectionBuilder::new(&spec.collection)
                    .vectors_config(dense)
                    .sparse_vectors_config(sparse),
            )
            .await;
        match created {
            Ok(_) => {}
            // Created meanwhile by another process: its layout is checked next.
            Err(err) if status_code(&err) == Some(Code::AlreadyExists) => {}
            Err(err) => return Err(server_error(err)),
        }
        // Keyword indexes on the filter keys (idempotent on the server).
        for key in INDEXED_KEYS {
            self.client
                .create_field_index(
                    CreateFieldIndexCollectionBuilder::new(
                        &spec.collection,
                        key,
                        FieldType::Keyword,
                    )
                    .wait(true),
                )
                .await
                .map_err(server_error)?;
        }
        Ok(())
    }

    async fn layout(&self, collection: &str) -> Result<Layout, VectorError> {
        let info = self
            .client
            .collection_info(collection)
            .await
            .map_err(server_error)?;
        let params = info
            .result
            .and_then(|info| info.config)
            .and_then(|config| config.params)
            .ok_or_else(|| {
                VectorError::Corrupt(format!("collection `{collection}` has no parameters"))
            })?;
        Ok(layout_of(&params))
    }
}

#[async_trait::async_trait]
impl VectorIndex for QdrantIndex {
    fn kind(&self) -> &'static str {
        "qdrant"
    }

    async fn ensure(&self, spec: &IndexSpec) -> Result<(), VectorError> {
        spec.check()?;
        let exists = self
            .client
            .collection_exists(&spec.collection)
            .await
            .map_err(server_error)?;
        if !exists {
            self.create(spec).await?;
        }
        self.layout(&spec.collection).await?.check(spec)?;
        *self.spec.write().await = Some(spec.clone());
        Ok(())
    }

    async fn upsert(&self, points: Vec<Point>) -> Result<(), VectorError> {
        if points.is_empty() {
            return Ok(());
        }
        let spec = self.current_spec().await?;
        spec.check_points(&points)?;
        let points: Vec<PointStruct> = points
            .into_iter()
            .map(|point| {
                let vectors = NamedVectors::default()
                    .add_vector(DENSE_VECTOR, Vector::new_dense(point.dense))
                    .add_vector(
                        SPARSE_VECTOR,
                        Vector::new_sparse(point.sparse.indices, point.sparse.values),
                    );
                PointStruct::new(
                    point.id,
                    vectors,
                    qdrant_client::Payload::from(point.payload),
                )
            })
            .collect();
        self.client
            .upsert_points(UpsertPointsBuilder::new(&spec.collection, points).wait(true))
            .await
            .map_err(server_error)?;
        Ok(())
    }

    async fn delete(&self, ids: Vec<String>) -> Result<(), VectorError> {
        if ids.is_empty() {
            return Ok(());
        }
        let collection = self.collection().await?;
        for id in &ids {
            parse_id(id)?;
        }
        let ids: Vec<PointId> = ids.into_iter().map(PointId::from).collect();
        self.client
            .delete_points(
                DeletePointsBuilder::new(&collection)
                    .points(PointsIdsList { ids })
                    .wait(true),
            )
            .await
            .map_err(server_error)?;
        Ok(())
    }

    async fn ids_where(
        &self,
        key: &str,
        value: &str,
    ) -> Result<Vec<(String, Payload)>, VectorError> {
        check_key(key)?;
        self.scroll(Some(ServerFilter::key_equals(key, value)))
            .await
    }

    async fn payloads(&self) -> Result<Vec<(String, Payload)>, VectorError> {
        self.scroll(None).await
    }

    async fn search(&self, q: &Query) -> Result<Vec<Hit>, VectorError> {
        let spec = self.current_spec().await?;
        spec.check_query(q)?;
        let filter = ServerFilter::from_filter(&q.filter);
        let candidates = prefetch_limit(q.limit) as u64;
        let prefetch = |input: VectorInput, using: &str| {
            let mut builder = PrefetchQueryBuilder::default()
                .query(qdrant::Query::new_nearest(input))
                .using(using)
                .limit(candidates);
            if let Some(filter) = &filter {
                builder = builder.filter(filter.clone());
            }
            builder
        };
        let mut request = QueryPointsBuilder::new(&spec.collection)
            .query(qdrant::Query::new_rrf(Rrf {
                k: Some(RRF_K),
                weights: Vec::new(),
            }))
            .limit(q.limit as u64)
            .with_payload(true)
            .with_vectors(qdrant::VectorsSelector {
                names: vec![DENSE_VECTOR.to_string()],
            });
        if !q.dense.is_empty() {
            request = request.add_prefetch(prefetch(
                VectorInput::new_dense(q.dense.clone()),
                DENSE_VECTOR,
            ));
        }
        if !q.sparse.is_empty() {
            request = request.add_prefetch(prefetch(
                VectorInput::new_sparse(q.sparse.indices.clone(), q.sparse.values.clone()),
                SPARSE_VECTOR,
            ));
        }
        if let Some(filter) = filter.clone() {
            request = request.filter(filter);
        }
        let found = self.client.query(request).await.map_err(server_error)?;
        found
            .result
            .into_iter()
            .map(|point| {
                let dense = match point
                    .vectors
                    .as_ref()
                    .and_then(|v| v.get_vector_by_name(DENSE_VECTOR))
                {
                    Some(qdrant::vector_output::Vector::Dense(v)) => v.data,
                    _ => Vec::new(),
                };
                Ok(Hit {
                    id: id_string(point.id)?,
                    score: point.score,
                    payload: payload_json(point.payload),
                    dense,
                })
            })
            .collect()
    }

    async fn count(&self) -> Result<u64, VectorError> {
        let collection = self.collection().await?;
        let counted = self
            .client
            .count(CountPointsBuilder::new(&collection).exact(true))
            .await
            .map_err(server_error)?;
        Ok(counted.result.map(|r| r.count).unwrap_or(0))
    }

    async fn health(&self) -> Result<(), VectorError> {
        self.client.health_check().await.map_err(server_error)?;
        Ok(())
    }
}

fn layout_of(params: &qdrant::CollectionParams) -> Layout {
    let mut layout = Layout::default();
    match params
        .vectors_config
        .as_ref()
        .and_then(|c| c.config.as_ref())
    {
        Some(Config::ParamsMap(map)) => {
            for (name, vector) in &map.map {
                if name == DENSE_VECTOR {
                    let distance = Distance::try_from(vector.distance)
                        .map(|d| d.as_str_name().to_ascii_lowercase())
                        .unwrap_or_else(|_| format!("distance {}", vector.distance));
                    layout.dense = Some((vector.size, distance));
                } else {
                    layout.others.push(name.clone());
                }
            }
        }
        Some(Config::Params(_)) => layout.others.push("(unnamed dense vector)".into()),
        None => {}
    }
    if let Some(sparse) = &params.sparse_vectors_config {
        for (name, vector) in &sparse.map {
            if name == SPARSE_VECTOR {
                let modifier = vector
                    .modifier
                    .and_then(|m| Modifier::try_from(m).ok())
                    .unwrap_or(Modifier::None);
                layout.sparse_modifier = Some(modifier.as_str_name().to_ascii_lowercase());
            } else {
                layout.others.push(name.clone());
            }
        }
    }
    layout.others.sort();
    layout
}

fn id_string(id: Option<PointId>) -> Result<String, VectorError> {
    match id.and_then(|id| id.point_id_options) {
        Some(PointIdOptions::Uuid(uuid)) => Ok(uuid),
        Some(PointIdOptions::Num(n)) => Err(VectorError::Corrupt(format!(
            "the collection holds a point with numeric id {n}; this index writes UUID ids only"
        ))),
        None => Err(VectorError::Corrupt(
            "the server returned a point without an id".into(),
        )),
    }
}

fn payload_json(payload: HashMap<String, qdrant::Value>) -> Payload {
    payload
        .into_iter()
        .map(|(key, value)| (key, value.into_json()))
        .collect()
}

fn status_code(err: &QdrantError) -> Option<Code> {
    match err {
        QdrantError::ResponseError { status } => Some(status.code()),
        QdrantError::ResourceExhaustedError { .. } => Some(Code::ResourceExhausted),
        _ => None,
    }
}

/// How qdrant-client 1.18 starts the message of a connection it could not open.
const CONNECT_FAILED: &str = "Failed to connect to ";

/// tonic's message of a call whose connection failed (`Status::from_error` of a
/// transport error).
const TRANSPORT_FAILED: &str = "transport error";

/// Server and transport errors by what the caller can do about them: a server that is down,
/// overloaded or too slow is `vector_unavailable` (retry later); refused credentials or a
/// missing collection are configuration; the rest is the server refusing the operation.
fn server_error(err: QdrantError) -> VectorError {
    let message = match &err {
        QdrantError::ResponseError { status }
        | QdrantError::ResourceExhaustedError { status, .. } => status.message().to_string(),
        other => other.to_string(),
    };
    match status_code(&err) {
        // qdrant-client reports a refused or timed-out connection as `Internal` with this
        // message (its channel pool, 1.18): the only mark of a server that is not there.
        Some(Code::Internal) if message.starts_with(CONNECT_FAILED) => {
            VectorError::Unavailable(format!("Qdrant server: {message}"))
        }
        // A connection that broke under a call (the server stopped): tonic's status for it.
        Some(Code::Unknown) if message == TRANSPORT_FAILED => {
            VectorError::Unavailable(format!("Qdrant server: {message}"))
        }
        Some(
            Code::Unavailable
            | Code::DeadlineExceeded
            | Code::Cancelled
            | Code::ResourceExhausted
            | Code::Aborted,
        ) => VectorError::Unavailable(format!("Qdrant server: {message}")),
        Some(Code::Unauthenticated | Code::PermissionDenied | Code::NotFound) => {
            VectorError::Config(format!("Qdrant server: {message}"))
        }
        Some(_) => VectorError::Backend(format!("Qdrant server: {message}")),
        None => match err {
            QdrantError::Io(_) => VectorError::Unavailable(format!("Qdrant server: {message}")),
            QdrantError::InvalidUri(_) => VectorError::Config(format!("Qdrant URL: {message}")),
            _ => VectorError::Backend(format!("Qdrant client: {message}")),
        },
    }
}
