//! `aiops ingest PATH...`: a tree of runbooks into the daemon's retrieval index.
//!
//! The daemon owns the index (an embedded shard is open in one process only), so the CLI
//! reads the files and sends them over `POST /api/v1/documents`, one document per request:
//! each is replaced atomically on the server, and the progress bar moves per document. A
//! last request lists every path sent (`keep`), so documents deleted from the tree leave
//! the index too. Files that are not UTF-8 are skipped here, with the reason; everything
//! else (size, binary content, chunk count) is the server's call.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aiops_api::{DocumentUpload, IngestRequest, IngestSummary, SkipKind, SkippedDocument};

use crate::client::Api;
use crate::error::CliError;

/// Extensions the daemon indexes; other files in a tree are not sent.
const EXTENSIONS: &[&str] = &["md", "markdown", "txt"];

/// A file to send, under the path it is known by in its source.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalDocument {
    /// Relative to the directory given on the command line (a file given directly: its name).
    pub path: String,
    pub file: PathBuf,
}

/// The documents under `paths`, sorted by their path in the source. Two files that would
/// have the same path (`a/x.md` and `b/x.md` given as `a b`) are a usage error rather than
/// one silently replacing the other.
pub fn collect(paths: &[PathBuf]) -> Result<Vec<LocalDocument>, CliError> {
    let mut found: BTreeMap<String, PathBuf> = BTreeMap::new();
    for root in paths {
        let meta = std::fs::metadata(root)
            .map_err(|e| CliError::Usage(format!("{}: {e}", root.display())))?;
        let files: Vec<(String, PathBuf)> = if meta.is_dir() {
            walkdir::WalkDir::new(root)
                .follow_links(false)
                .sort_by_file_name()
                .into_iter()
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_file() && indexable(e.path()))
                .filter_map(|e| {
                    let rel = e.path().strip_prefix(root).ok()?;
                    Some((slash_path(rel), e.path().to_path_buf()))
                })
                .collect()
        } else {
            let name = root
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            vec![(name, root.clone())]
        };
        for (path, file) in files {
            if let Some(first) = found.insert(path.clone(), file.clone()) {
                return Err(CliError::Usage(format!(
                    "{} and {} would both be indexed as {path}; ingest them separately with --source",
                    first.display(),
                    file.display()
                )));
            }
        }
    }
    Ok(found
        .into_iter()
        .map(|(path, file)| LocalDocument { path, file })
        .collect())
}

fn indexable(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

/// A relative path with `/` separators, whatever the platform.
fn slash_path(rel: &Path) -> String {
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Sends `docs` and then the `keep` list; `progress` is told each document's path once it
/// is done (sent or skipped).
pub async fn send(
    api: &Api,
    source: &str,
    docs: &[LocalDocument],
    prune: bool,
    mut progress: impl FnMut(&str),
) -> Result<IngestSummary, CliError> {
    let url = api.endpoint(&["api", "v1", "documents"]);
    let mut total = IngestSummary {
        source: source.to_string(),
        ..Default::default()
    };
    let mut sent = Vec::with_capacity(docs.len());
    for doc in docs {
        let bytes = std::fs::read(&doc.file)
            .map_err(|e| CliError::Other(format!("cannot read {}: {e}", doc.file.display())))?;
        let Ok(text) = String::from_utf8(bytes) else {
            total.skipped.push(SkippedDocument {
                path: doc.path.clone(),
                reason: SkipKind::NotUtf8,
                detail: "not UTF-8 text".into(),
            });
            progress(&doc.path);
            continue;
        };
        let body = IngestRequest {
            source: source.to_string(),
            documents: vec![DocumentUpload {
                path: doc.path.clone(),
                text,
            }],
            keep: None,
        };
        let reply = api.post_json(url.clone(), &body).await?;
        total.absorb(reply.decode("an ingest summary")?);
        sent.push(doc.path.clone());
        progress(&doc.path);
    }
    if prune {
        // Skipped documents are not kept: a document that became unreadable leaves the
        // index rather than answering with its old text.
        let body = IngestRequest {
            source: source.to_string(),
            documents: Vec::new(),
            keep: Some(sent),
        };
        let reply = api.post_json(url, &body).await?;
        total.absorb(reply.decode("an ingest summary")?);
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collect_walks_trees_and_refuses_colliding_paths() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::fs::create_dir_all(a.join("sub")).unwrap();
        std::fs::write(a.join("x.md"), "# X").unwrap();
        std::fs::write(a.join("sub/y.txt"), "y").unwrap();
        std::fs::write(a.join("image.png"), [0u8, 1, 2]).unwrap();
        let docs = collect(std::slice::from_ref(&a)).unwrap();
        let paths: Vec<&str> = docs.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(paths, ["sub/y.txt", "x.md"]);

        let b = dir.path().join("b");
        std::fs::create_dir_all(&b).unwrap();
        std::fs::write(b.join("x.md"), "# other X").unwrap();
        let err = collect(&[a.clone(), b]).unwrap_err();
        assert!(
            matches!(&err, CliError::Usage(m) if m.contains("x.md")),
            "{err:?}"
        );

        // A file given directly is known by its name.
        let one = collect(&[a.join("sub/y.txt")]).unwrap();
        assert_eq!(one[0].path, "y.txt");
        assert!(matches!(
            collect(&[dir.path().join("missing")]),
            Err(CliError::Usage(_))
        ));
    }
}
