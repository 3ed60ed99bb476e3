//! Documents to chunks. Front matter (YAML `---` or TOML `+++`) is stripped, keeping `title`
//! and `tags`; Markdown is cut at headings (a chunk is one heading section, its heading path
//! recorded), and a section longer than the size limit is cut further at line boundaries
//! with some overlap. Plain text is one section cut the same way.
//!
//! Chunk ids are content hashes: the same document text always gives the same ids, which is
//! what makes ingest idempotent.

use gray_matter::Matter;
use gray_matter::engine::{TOML, YAML};
use pulldown_cmark::{Event, Parser, Tag, TagEnd};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What kind of text a file holds (by extension).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocKind {
    Markdown,
    Text,
}

impl DocKind {
    /// `.md`, `.markdown` and `.txt`; other files are not documents.
    pub fn of(path: &std::path::Path) -> Option<DocKind> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "md" | "markdown" => Some(DocKind::Markdown),
            "txt" => Some(DocKind::Text),
            _ => None,
        }
    }
}

/// A document with its front matter taken off.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// The corpus it belongs to.
    pub source: String,
    /// Its path relative to the corpus root, `/`-separated.
    pub doc: String,
    pub title: Option<String>,
    pub tags: Vec<String>,
    pub kind: DocKind,
    pub body: String,
}

/// The front matter fields kept; any others (`weight`, …) are ignored.
#[derive(Debug, Default, Deserialize)]
struct FrontMatter {
    title: Option<String>,
    #[serde(default)]
    tags: Tags,
}

/// `tags: [a, b]` or `tags: a`.
#[derive(Debug, Default, Deserialize)]
#[serde(untagged)]
enum Tags {
    #[default]
    None,
    One(String),
    Many(Vec<String>),
}

impl Document {
    /// Parses `raw`: front matter first, if any (malformed front matter is kept as text).
    pub fn parse(source: &str, doc: &str, kind: DocKind, raw: &str) -> Document {
        let (front, body) = split_front_matter(raw);
        let tags = match front.tags {
            Tags::None => Vec::new(),
            Tags::One(t) => vec![t],
            Tags::Many(ts) => ts,
        };
        Document {
            source: source.to_string(),
            doc: doc.to_string(),
            title: front.title.filter(|t| !t.trim().is_empty()),
            tags,
            kind,
            body,
        }
    }
}

fn split_front_matter(raw: &str) -> (FrontMatter, String) {
    let raw = raw.strip_prefix('\u{feff}').unwrap_or(raw);
    let first = raw.lines().next().unwrap_or("").trim_end();
    let parsed = match first {
        "---" => Matter::<YAML>::new().parse::<FrontMatter>(raw).ok(),
        "+++" => {
            let mut m = Matter::<TOML>::new();
            m.delimiter = "+++".into();
            m.parse::<FrontMatter>(raw).ok()
        }
        _ => None,
    };
    match parsed {
        Some(p) if !p.matter.is_empty() => (p.data.unwrap_or_default(), p.content),
        _ => (FrontMatter::default(), raw.to_string()),
    }
}

/// Size limits of chunks, in characters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChunkOptions {
    /// A section longer than this is cut into pieces.
    pub max_chars: usize,
    /// How much of a piece's end the next piece repeats, so a sentence cut at a boundary is
    /// whole in one of them.
    pub overlap_chars: usize,
}

impl Default for ChunkOptions {
    fn default() -> Self {
        ChunkOptions {
            max_chars: 1500,
            overlap_chars: 200,
        }
    }
}

/// One retrievable piece of a document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chunk {
    /// SHA-256 (hex) of doc path, heading path and text.
    pub chunk_id: String,
    /// SHA-256 (hex) of the text alone.
    pub content_hash: String,
    pub doc: String,
    /// The heading path, `Top > Section > Subsection` (empty before the first heading).
    pub heading: String,
    pub title: Option<String>,
    pub tags: Vec<String>,
    pub source: String,
    pub text: String,
    pub embedding_model: String,
}

impl Chunk {
    /// What is embedded and indexed: the title and heading path give a short section its
    /// subject ("Impact" alone says little).
    pub fn index_text(&self) -> String {
        let mut s = String::new();
        for part in [self.title.as_deref().unwrap_or(""), &self.heading] {
            if !part.is_empty() {
                s.push_str(part);
                s.push('\n');
            }
        }
        s.push_str(&self.text);
        s
    }
}

/// Cuts a document into chunks.
pub fn chunk_document(doc: &Document, opts: &ChunkOptions, embedding_model: &str) -> Vec<Chunk> {
    let sections = match doc.kind {
        DocKind::Markdown => markdown_sections(&doc.body),
        DocKind::Text => vec![(String::new(), doc.body.clone())],
    };
    let mut chunks = Vec::new();
    for (heading, text) in sections {
        for piece in split_text(&text, opts) {
            chunks.push(Chunk {
                chunk_id: sha256_hex(&[&doc.doc, &heading, &piece]),
                content_hash: sha256_hex(&[&piece]),
                doc: doc.doc.clone(),
                heading: heading.clone(),
                title: doc.title.clone(),
                tags: doc.tags.clone(),
                source: doc.source.clone(),
                text: piece,
                embedding_model: embedding_model.to_string(),
            });
        }
    }
    chunks
}

/// SHA-256 over the parts, each followed by a NUL (so `("ab","c")` ≠ `("a","bc")`).
pub(crate) fn sha256_hex(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    hex::encode(h.finalize())
}

/// `(heading path, section text)` per heading, in order; text before the first heading has
/// an empty path. Headings inside code blocks are not headings (the Markdown parser knows).
fn markdown_sections(body: &str) -> Vec<(String, String)> {
    let mut sections = Vec::new();
    let mut path: Vec<(usize, String)> = Vec::new();
    let mut current = String::new();
    let mut start = 0;
    let mut in_heading: Option<(usize, usize, String)> = None;
    for (event, range) in Parser::new(body).into_offset_iter() {
        match event {
            Event::Start(Tag::Heading { level, .. }) => {
                sections.push((current.clone(), body[start..range.start].to_string()));
                in_heading = Some((level as usize, range.start, String::new()));
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some((_, _, h)) = in_heading.as_mut() {
                    h.push_str(&t);
                }
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some((level, _, text)) = in_heading.take() {
                    path.retain(|(l, _)| *l < level);
                    path.push((level, text.trim().to_string()));
                    current = path
                        .iter()
                        .map(|(_, h)| h.as_str())
                        .collect::<Vec<_>>()
                        .join(" > ");
                    start = range.end;
                }
            }
            _ => {}
        }
    }
    sections.push((current, body[start..].to_string()));
    sections
        .into_iter()
        .map(|(h, t)| (h, t.trim().to_string()))
        .filter(|(_, t)| !t.is_empty())
        .collect()
}

/// Cuts `text` into pieces of at most `max_chars` at line boundaries (a longer single line
/// at character boundaries), each piece starting with the last `overlap_chars` of the
/// previous one, rounded to whole lines.
fn split_text(text: &str, opts: &ChunkOptions) -> Vec<String> {
    let text = text.trim();
    if text.is_empty() {
        return Vec::new();
    }
    let max = opts.max_chars.max(1);
    if text.chars().count() <= max {
        return vec![text.to_string()];
    }
    let mut lines: Vec<String> = Vec::new();
    for line in text.lines() {
        let chars: Vec<char> = line.chars().collect();
        if chars.len() <= max {
            lines.push(line.to_string());
        } else {
            lines.extend(chars.chunks(max).map(|c| c.iter().collect()));
        }
    }
    let len = |l: &String| l.chars().count() + 1;
    let mut pieces = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let mut size = 0;
        let mut j = i;
        while j < lines.len() && (j == i || size + len(&lines[j]) <= max) {
            size += len(&lines[j]);
            j += 1;
        }
        let piece = lines[i..j].join("\n").trim().to_string();
        if !piece.is_empty() {
            pieces.push(piece);
        }
        if j >= lines.len() {
            break;
        }
        // Step back over whole lines worth at most the overlap, but always move forward.
        let mut back = j;
        let mut overlap = 0;
        while back > i + 1 && overlap + len(&lines[back - 1]) <= opts.overlap_chars {
            overlap += len(&lines[back - 1]);
            back -= 1;
        }
        i = back;
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    fn md(raw: &str) -> Document {
        Document::parse("runbooks", "dns/zone.md", DocKind::Markdown, raw)
    }

    #[test]
    fn yaml_front_matter_gives_title_and_tags_and_is_not_text() {
        let d = md(
            "---\ntitle: Kube Pod Crash Looping\nweight: 20\ntags: [kube, pods]\n---\n\n# Body\ntext\n",
        );
        assert_eq!(d.title.as_deref(), Some("Kube Pod Crash Looping"));
        assert_eq!(d.tags, ["kube", "pods"]);
        assert!(!d.body.contains("weight"));
        assert!(d.body.contains("# Body"));
    }

    #[test]
    fn toml_front_matter_and_a_single_tag() {
        let d = md("+++\ntitle = \"Disk\"\ntags = \"storage\"\n+++\nbody\n");
        assert_eq!(d.title.as_deref(), Some("Disk"));
        assert_eq!(d.tags, ["storage"]);
        assert_eq!(d.body.trim(), "body");
    }

    #[test]
    fn no_front_matter_keeps_everything() {
        let d = md("# T\n---\nnot front matter\n");
        assert_eq!(d.title, None);
        assert!(d.body.starts_with("# T"));
    }

    #[test]
    fn sections_carry_their_heading_path_and_code_is_not_a_heading() {
        let d = md(
            "intro\n# Top\n## Meaning\nm text\n```\n# not a heading\n```\n## Diagnosis\nd text\n### Deep\nx\n# Other\no\n",
        );
        let chunks = chunk_document(&d, &ChunkOptions::default(), "m");
        let got: Vec<(&str, &str)> = chunks
            .iter()
            .map(|c| (c.heading.as_str(), c.text.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("", "intro"),
                ("Top > Meaning", "m text\n```\n# not a heading\n```"),
                ("Top > Diagnosis", "d text"),
                ("Top > Diagnosis > Deep", "x"),
                ("Other", "o"),
            ]
        );
    }

    #[test]
    fn chunk_ids_are_stable_and_depend_on_doc_heading_and_text() {
        let a = chunk_document(&md("# H\nsame\n"), &ChunkOptions::default(), "m");
        let b = chunk_document(&md("# H\nsame\n"), &ChunkOptions::default(), "m");
        assert_eq!(a[0].chunk_id, b[0].chunk_id);
        assert_eq!(a[0].chunk_id.len(), 64);
        let other_heading = chunk_document(&md("# G\nsame\n"), &ChunkOptions::default(), "m");
        assert_ne!(a[0].chunk_id, other_heading[0].chunk_id);
        assert_eq!(a[0].content_hash, other_heading[0].content_hash);
        let other_doc = Document::parse("runbooks", "x.md", DocKind::Markdown, "# H\nsame\n");
        let c = chunk_document(&other_doc, &ChunkOptions::default(), "m");
        assert_ne!(a[0].chunk_id, c[0].chunk_id);
    }

    #[test]
    fn long_sections_are_cut_with_overlap_within_the_limit() {
        let lines: Vec<String> = (0..100)
            .map(|i| format!("line number {i:03} of the section"))
            .collect();
        let opts = ChunkOptions {
            max_chars: 300,
            overlap_chars: 70,
        };
        let pieces = split_text(&lines.join("\n"), &opts);
        assert!(pieces.len() > 10);
        for p in &pieces {
            assert!(p.chars().count() <= 300, "{} chars", p.chars().count());
        }
        for pair in pieces.windows(2) {
            // Lines are 31 characters: a 70-character overlap repeats the last two.
            let tail: Vec<&str> = pair[0].lines().rev().take(2).collect();
            let head: Vec<&str> = pair[1].lines().take(2).collect();
            assert_eq!(head, [tail[1], tail[0]]);
        }
        // Every line is in some piece.
        for l in &lines {
            assert!(pieces.iter().any(|p| p.contains(l.as_str())), "{l} lost");
        }
    }

    #[test]
    fn an_overlong_line_is_cut_at_characters() {
        let opts = ChunkOptions {
            max_chars: 10,
            overlap_chars: 0,
        };
        assert_eq!(
            split_text("ééééééééééééééé", &opts),
            ["éééééééééé", "ééééé"]
        );
    }

    #[test]
    fn plain_text_is_one_section_without_heading() {
        let d = Document::parse("s", "notes.txt", DocKind::Text, "# not markdown\nplain\n");
        let c = chunk_document(&d, &ChunkOptions::default(), "m");
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].heading, "");
        assert_eq!(c[0].text, "# not markdown\nplain");
    }
}
