//! Hub ids (`owner/name`, `owner/name:config`), repo kinds, the local-path vs
//! Hub-id decision, and the check that keeps server file names inside the cache.

use std::path::{Path, PathBuf};

use super::error::{HubError, HubResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RepoKind {
    Model,
    Dataset,
}

impl RepoKind {
    /// `models` / `datasets`: the API segment and the cache folder prefix.
    pub fn plural(self) -> &'static str {
        match self {
            RepoKind::Model => "models",
            RepoKind::Dataset => "datasets",
        }
    }

    /// Path prefix of `resolve` URLs: models live at the root.
    pub fn url_prefix(self) -> &'static str {
        match self {
            RepoKind::Model => "",
            RepoKind::Dataset => "datasets/",
        }
    }
}

/// A validated `owner/name` (or legacy owner-less `name`) repo id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RepoId {
    pub owner: Option<String>,
    pub name: String,
}

impl RepoId {
    pub fn parse(id: &str) -> HubResult<Self> {
        let bad = |reason: &str| HubError::InvalidId {
            id: id.to_string(),
            reason: reason.to_string(),
        };
        let parts: Vec<&str> = id.split('/').collect();
        let (owner, name) = match parts.as_slice() {
            [name] => (None, *name),
            [owner, name] => (Some(*owner), *name),
            _ => return Err(bad("expected owner/name")),
        };
        for part in owner.iter().chain(std::iter::once(&name)) {
            check_id_part(part).map_err(bad)?;
        }
        Ok(Self {
            owner: owner.map(str::to_string),
            name: name.to_string(),
        })
    }

    /// Cache folder name, as huggingface_hub writes it: `models--owner--name`.
    pub fn cache_folder(&self, kind: RepoKind) -> String {
        match &self.owner {
            Some(owner) => format!("{}--{owner}--{}", kind.plural(), self.name),
            None => format!("{}--{}", kind.plural(), self.name),
        }
    }
}

impl std::fmt::Display for RepoId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.owner {
            Some(owner) => write!(f, "{owner}/{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

fn check_id_part(part: &str) -> Result<(), &'static str> {
    if part.is_empty() {
        return Err("empty owner or name");
    }
    if part.len() > 96 {
        return Err("longer than 96 characters");
    }
    if !part
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err("only letters, digits, '-', '_' and '.' are allowed");
    }
    if part.contains("..") || part.starts_with(['.', '-']) || part.ends_with(['.', '-']) {
        return Err("'..' and a leading or trailing '.'/'-' are not allowed");
    }
    if part.contains("--") {
        return Err("'--' is not allowed (it separates parts of cache folder names)");
    }
    Ok(())
}

/// `owner/name[:config]`, the way Wick names a dataset on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetSpec {
    pub repo: RepoId,
    pub config: Option<String>,
}

impl DatasetSpec {
    pub fn parse(spec: &str) -> HubResult<Self> {
        let (id, config) = match spec.split_once(':') {
            Some((id, config)) => (id, Some(config)),
            None => (spec, None),
        };
        if let Some(config) = config
            && (config.is_empty() || config.contains(['/', '\\']) || config.contains(".."))
        {
            return Err(HubError::InvalidId {
                id: spec.to_string(),
                reason: "config after ':' must be a plain name".to_string(),
            });
        }
        Ok(Self {
            repo: RepoId::parse(id)?,
            config: config.map(str::to_string),
        })
    }
}

/// Where a model or dataset argument points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Local(PathBuf),
    Hub(String),
}

/// Tell a Hub id (`owner/name`, `owner/name:config`) from a local path.
/// An existing path always wins; otherwise path-like spellings are local.
pub fn classify_source(arg: &str) -> Source {
    let path = Path::new(arg);
    let path_like = arg.starts_with(['/', '.', '~'])
        || arg.contains('\\')
        || arg.split('/').count() > 2
        || path.extension().is_some_and(|ext| {
            matches!(
                ext.to_str(),
                Some(
                    "json" | "jsonl" | "csv" | "tsv" | "parquet" | "arrow" | "txt" | "safetensors"
                )
            )
        });
    if path.exists() || path_like || DatasetSpec::parse(arg).is_err() {
        Source::Local(path.to_path_buf())
    } else {
        Source::Hub(arg.to_string())
    }
}

/// Whether `arg` names a Hub repo (`owner/name[:config]`) rather than a local path.
pub fn is_hub_id(arg: &str) -> bool {
    matches!(classify_source(arg), Source::Hub(_))
}

/// Accept a repo-relative file name from a server only if joining it to a
/// cache folder cannot leave that folder.
pub fn check_repo_path<'a>(repo: &str, name: &'a str) -> HubResult<&'a str> {
    let reject = |reason: &'static str| HubError::UnsafePath {
        repo: repo.to_string(),
        name: name.to_string(),
        reason,
    };
    if name.is_empty() {
        return Err(reject("empty name"));
    }
    if name.starts_with('/') {
        return Err(reject("absolute path"));
    }
    if name.contains('\\') {
        return Err(reject("backslash"));
    }
    if name.contains('\0') || name.chars().any(char::is_control) {
        return Err(reject("control character"));
    }
    if name.len() >= 2 && name.as_bytes()[1] == b':' {
        return Err(reject("drive letter"));
    }
    for segment in name.split('/') {
        match segment {
            ".." => return Err(reject("'..' segment")),
            "" | "." => return Err(reject("empty or '.' segment")),
            _ => {}
        }
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ids_and_specs() {
        let id = RepoId::parse("nyu-mll/glue").unwrap();
        assert_eq!(id.to_string(), "nyu-mll/glue");
        assert_eq!(
            id.cache_folder(RepoKind::Dataset),
            "datasets--nyu-mll--glue"
        );
        assert_eq!(
            RepoId::parse("gpt2").unwrap().cache_folder(RepoKind::Model),
            "models--gpt2"
        );
        let spec = DatasetSpec::parse("nyu-mll/glue:mrpc").unwrap();
        assert_eq!(spec.config.as_deref(), Some("mrpc"));
        for bad in [
            "",
            "a/b/c",
            "../x",
            "a/..",
            "a b/c",
            "a/.hidden",
            "o/n:",
            "o/n:../x",
        ] {
            assert!(DatasetSpec::parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn tells_hub_ids_from_paths() {
        assert_eq!(
            classify_source("nyu-mll/glue:mrpc"),
            Source::Hub("nyu-mll/glue:mrpc".into())
        );
        assert_eq!(
            classify_source("sentence-transformers/all-MiniLM-L6-v2"),
            Source::Hub("sentence-transformers/all-MiniLM-L6-v2".into())
        );
        for local in [
            "./data/train.csv",
            "/tmp/x",
            "data/train.csv",
            "a/b/c",
            "train.jsonl",
            "..\\x",
        ] {
            assert!(
                matches!(classify_source(local), Source::Local(_)),
                "{local} should be local"
            );
        }
        assert!(is_hub_id("nyu-mll/glue") && !is_hub_id("./glue"));
        let dir = tempfile::tempdir().unwrap();
        let arg = dir.path().to_str().unwrap();
        assert_eq!(
            classify_source(arg),
            Source::Local(dir.path().to_path_buf())
        );
    }

    #[test]
    fn rejects_escaping_file_names() {
        for bad in [
            "../x",
            "a/../../x",
            "/etc/passwd",
            "a\\b",
            "..\\x",
            "",
            "a//b",
            "./a",
            "C:x",
            "a\0b",
        ] {
            assert!(
                check_repo_path("o/n", bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
        for good in [
            "config.json",
            "mrpc/train-00000-of-00001.parquet",
            "1_Pooling/config.json",
            "a..b",
        ] {
            assert_eq!(check_repo_path("o/n", good).unwrap(), good);
        }
    }
}
