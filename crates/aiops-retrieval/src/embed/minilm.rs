//! all-MiniLM-L6-v2 with candle: BERT (6 layers, 384 wide) over the model's own WordPiece
//! tokenizer, inputs cut at 256 tokens, mean pooling over the attention mask and L2
//! normalisation: the sentence-transformers pipeline of this model. CPU only.

use std::path::Path;
use std::sync::Arc;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use moka::sync::Cache;
use tokenizers::{PaddingParams, Tokenizer, TruncationParams};

use super::Embedder;
use crate::{Result, RetrievalError};

/// Texts per forward pass: large enough to amortise the call, small enough that padding
/// to the longest text in a batch stays cheap (texts are sorted by length first).
const BATCH: usize = 16;
/// sentence-transformers' `max_seq_length` for this model.
const MAX_TOKENS: usize = 256;
const QUERY_CACHE_ENTRIES: u64 = 2048;

/// The in-process embedder. Cheap to clone; the model is shared.
#[derive(Clone)]
pub struct MiniLm {
    model: Arc<Model>,
    queries: Cache<String, Arc<Vec<f32>>>,
}

struct Model {
    bert: BertModel,
    tokenizer: Tokenizer,
    device: Device,
    dim: usize,
}

impl std::fmt::Debug for MiniLm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MiniLm")
            .field("dim", &self.model.dim)
            .finish()
    }
}

impl MiniLm {
    pub const MODEL_ID: &'static str = "sentence-transformers/all-MiniLM-L6-v2";

    /// Loads `config.json`, `tokenizer.json` and `model.safetensors` from `dir` (what
    /// `bootstrap/embeddings.sh` prints as `AIOPS_EMBED_MODEL_DIR`).
    pub fn load(dir: &Path) -> Result<MiniLm> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read(&path).map_err(RetrievalError::io(path))
        };
        let config: Config = serde_json::from_slice(&read("config.json")?)
            .map_err(|e| RetrievalError::ModelLoad(format!("config.json: {e}")))?;
        let mut tokenizer = Tokenizer::from_bytes(read("tokenizer.json")?)
            .map_err(|e| RetrievalError::ModelLoad(format!("tokenizer.json: {e}")))?;
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..Default::default()
            }))
            .map_err(|e| RetrievalError::ModelLoad(format!("tokenizer truncation: {e}")))?;
        tokenizer.with_padding(Some(PaddingParams::default()));
        let device = Device::Cpu;
        // Read into memory rather than mapped: the crate forbids `unsafe`, and 90 MB is small.
        let vb =
            VarBuilder::from_buffered_safetensors(read("model.safetensors")?, DType::F32, &device)
                .map_err(|e| RetrievalError::ModelLoad(format!("model.safetensors: {e}")))?;
        let bert = BertModel::load(vb, &config)
            .map_err(|e| RetrievalError::ModelLoad(format!("model.safetensors: {e}")))?;
        Ok(MiniLm {
            model: Arc::new(Model {
                bert,
                tokenizer,
                device,
                dim: config.hidden_size,
            }),
            queries: Cache::new(QUERY_CACHE_ENTRIES),
        })
    }

    /// Embeds on the calling thread (CPU bound): shortest texts first, in batches.
    pub fn embed_blocking(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        let mut out = vec![Vec::new(); texts.len()];
        for batch in order.chunks(BATCH) {
            let inputs: Vec<&str> = batch.iter().map(|&i| texts[i].as_str()).collect();
            let vectors = self
                .model
                .forward(&inputs)
                .map_err(|e| RetrievalError::Embed(e.to_string()))?;
            for (&i, v) in batch.iter().zip(vectors) {
                out[i] = v;
            }
        }
        Ok(out)
    }
}

impl Model {
    fn forward(
        &self,
        texts: &[&str],
    ) -> std::result::Result<Vec<Vec<f32>>, Box<dyn std::error::Error + Send + Sync>> {
        let encodings = self.tokenizer.encode_batch(texts.to_vec(), true)?;
        let n = encodings.len();
        let len = encodings.first().map_or(0, |e| e.len());
        let flat = |f: fn(&tokenizers::Encoding) -> &[u32]| -> Vec<u32> {
            encodings
                .iter()
                .flat_map(|e| f(e).iter().copied())
                .collect()
        };
        let ids = Tensor::from_vec(flat(|e| e.get_ids()), (n, len), &self.device)?;
        let types = Tensor::from_vec(flat(|e| e.get_type_ids()), (n, len), &self.device)?;
        let mask = Tensor::from_vec(flat(|e| e.get_attention_mask()), (n, len), &self.device)?;
        let hidden = self.bert.forward(&ids, &types, Some(&mask))?;
        // Mean over the real tokens only, then unit length.
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
        let pooled = summed.broadcast_div(&mask.sum(1)?)?;
        let norm = pooled.sqr()?.sum_keepdim(1)?.sqrt()?;
        Ok(pooled.broadcast_div(&norm)?.to_vec2::<f32>()?)
    }
}

#[async_trait::async_trait]
impl Embedder for MiniLm {
    fn model_id(&self) -> &str {
        Self::MODEL_ID
    }

    fn dim(&self) -> usize {
        self.model.dim
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        let this = self.clone();
        let texts = texts.to_vec();
        tokio::task::spawn_blocking(move || this.embed_blocking(&texts))
            .await
            .map_err(|e| RetrievalError::Embed(format!("embedding task: {e}")))?
    }

    async fn embed_query(&self, text: &str) -> Result<Vec<f32>> {
        if let Some(v) = self.queries.get(text) {
            return Ok(v.as_ref().clone());
        }
        let v = self
            .embed(&[text.to_string()])
            .await?
            .pop()
            .ok_or_else(|| RetrievalError::Embed("no vector for the query".into()))?;
        self.queries.insert(text.to_string(), Arc::new(v.clone()));
        Ok(v)
    }
}
