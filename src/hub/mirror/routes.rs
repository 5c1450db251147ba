//! Request routing for the mirror: Hub API, `resolve` downloads, viewer API.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{Value, json};

use super::Shared;
use super::repos::{MirrorFile, MirrorRepo, Revision, inside_path};
use super::server::{Body, Request, Response};
use crate::hub::card::{CardData, matches_pattern};
use crate::hub::id::{RepoKind, check_repo_path};

struct Target {
    segments: Vec<String>,
    query: Vec<(String, String)>,
}

impl Target {
    fn parse(target: &str) -> Option<Self> {
        let url = url::Url::parse(&format!("http://mirror{target}")).ok()?;
        let segments = url
            .path_segments()?
            .filter(|s| !s.is_empty())
            .map(|s| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8()
                    .map(|c| c.into_owned())
            })
            .collect::<Result<_, _>>()
            .ok()?;
        let query = url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        Some(Self { segments, query })
    }

    fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn params(&self, name: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.split(','))
            .filter(|v| !v.is_empty())
            .collect()
    }
}

pub(crate) fn handle(shared: &Shared, request: &Request) -> Response {
    if request.method != "GET" && request.method != "HEAD" {
        return Response::error(405, "only GET and HEAD");
    }
    let Some(target) = Target::parse(&request.target) else {
        return Response::error(400, "bad request target");
    };
    let segs: Vec<&str> = target.segments.iter().map(String::as_str).collect();
    match segs.as_slice() {
        ["api", plural] => match kind_of(plural) {
            Some(kind) => search(shared, request, &target, kind),
            None => Response::error(404, "unknown API"),
        },
        ["api", plural, owner, name, rest @ ..] => match kind_of(plural) {
            Some(kind) => repo_info(
                shared,
                request,
                &target,
                kind,
                &format!("{owner}/{name}"),
                rest,
            ),
            None => Response::error(404, "unknown API"),
        },
        ["viewer", endpoint] => viewer(shared, &target, endpoint),
        ["datasets", owner, name, "resolve", revision, file @ ..] if !file.is_empty() => resolve(
            shared,
            request,
            RepoKind::Dataset,
            &format!("{owner}/{name}"),
            revision,
            &file.join("/"),
        ),
        [owner, name, "resolve", revision, file @ ..] if !file.is_empty() => resolve(
            shared,
            request,
            RepoKind::Model,
            &format!("{owner}/{name}"),
            revision,
            &file.join("/"),
        ),
        _ => Response::error(404, "not found"),
    }
}

fn kind_of(plural: &str) -> Option<RepoKind> {
    match plural {
        "models" => Some(RepoKind::Model),
        "datasets" => Some(RepoKind::Dataset),
        _ => None,
    }
}

fn authorized(shared: &Shared, request: &Request) -> bool {
    match &shared.options.token {
        Some(token) => request.header("authorization") == Some(format!("Bearer {token}").as_str()),
        None => false,
    }
}

fn find<'a>(shared: &'a Shared, kind: RepoKind, id: &str) -> Option<&'a MirrorRepo> {
    shared.repos.iter().find(|r| r.kind == kind && r.id == id)
}

fn summary(repo: &MirrorRepo) -> Value {
    json!({
        "id": repo.id,
        "downloads": repo.meta.downloads,
        "likes": repo.meta.likes,
        "trendingScore": repo.meta.trending_score,
        "tags": repo.tags(),
        "lastModified": repo.last_modified(),
        "private": repo.meta.private,
        "gated": if repo.meta.gated { json!("manual") } else { json!(false) },
    })
}

fn search(shared: &Shared, request: &Request, target: &Target, kind: RepoKind) -> Response {
    let text = target.param("search").map(str::to_ascii_lowercase);
    let author = target.param("author").map(str::to_ascii_lowercase);
    let filters = target.params("filter");
    let visible = authorized(shared, request);
    let mut hits: Vec<&MirrorRepo> = shared
        .repos
        .iter()
        .filter(|r| r.kind == kind && (!r.meta.private || visible))
        .filter(|r| {
            text.as_ref()
                .is_none_or(|t| r.id.to_ascii_lowercase().contains(t))
        })
        .filter(|r| {
            author.as_ref().is_none_or(|a| {
                r.id.split('/')
                    .next()
                    .is_some_and(|o| o.eq_ignore_ascii_case(a))
            })
        })
        .filter(|r| {
            let tags = r.tags();
            filters.iter().all(|f| tags.iter().any(|t| t == f))
        })
        .collect();
    let key = |r: &MirrorRepo| -> (u64, String) {
        match target.param("sort").unwrap_or("downloads") {
            "likes" => (r.meta.likes, String::new()),
            "trendingScore" | "trending" => (r.meta.trending_score, String::new()),
            "lastModified" | "modified" => (0, r.last_modified()),
            _ => (r.meta.downloads, String::new()),
        }
    };
    hits.sort_by(|a, b| key(a).cmp(&key(b)).then_with(|| b.id.cmp(&a.id)));
    if target.param("direction") != Some("1") {
        hits.reverse();
    }
    let limit = target
        .param("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(usize::MAX);
    let page_size = limit.min(shared.options.page_size).max(1);
    let page: usize = target.param("p").and_then(|p| p.parse().ok()).unwrap_or(0);
    let start = page.saturating_mul(page_size).min(hits.len());
    let end = start.saturating_add(page_size).min(hits.len());
    let items: Vec<Value> = hits[start..end].iter().map(|r| summary(r)).collect();
    let mut response = Response::json(200, &Value::Array(items));
    if end < hits.len() {
        let mut next = url::Url::parse(&format!("{}/api/{}", shared.base_url, kind.plural()))
            .expect("mirror base URL is valid");
        {
            let mut pairs = next.query_pairs_mut();
            for (k, v) in target.query.iter().filter(|(k, _)| k != "p") {
                pairs.append_pair(k, v);
            }
            pairs.append_pair("p", &(page + 1).to_string());
        }
        response = response.with("Link", format!("<{next}>; rel=\"next\""));
    }
    response
}

fn repo_info(
    shared: &Shared,
    request: &Request,
    target: &Target,
    kind: RepoKind,
    id: &str,
    rest: &[&str],
) -> Response {
    let Some(repo) = find(shared, kind, id) else {
        return Response::error(404, "Repository not found");
    };
    if repo.meta.private && !authorized(shared, request) {
        return Response::error(401, "Repository is private");
    }
    let revision_name = match rest {
        [] => "main".to_string(),
        ["revision", rev @ ..] if !rev.is_empty() => rev.join("/"),
        ["tree", rev, path @ ..] => {
            return match repo.revision(rev) {
                Some(revision) => tree(revision, &path.join("/"), target),
                None => {
                    Response::error(404, "Invalid rev id").with("X-Error-Code", "RevisionNotFound")
                }
            };
        }
        _ => return Response::error(404, "unknown repo API"),
    };
    let Some(revision) = repo.revision(&revision_name) else {
        return Response::error(404, "Invalid rev id");
    };
    let mut siblings: Vec<Value> = revision
        .files
        .values()
        .map(|f| json!({ "rfilename": f.path, "size": f.size }))
        .collect();
    for (extra_id, name) in &shared.options.extra_siblings {
        if extra_id == id {
            siblings.push(json!({ "rfilename": name, "size": 1 }));
        }
    }
    let card = repo
        .card
        .as_ref()
        .and_then(|c| serde_json::to_value(c).ok())
        .unwrap_or(Value::Null);
    let mut info = summary(repo);
    info["sha"] = json!(revision.commit);
    info["siblings"] = Value::Array(siblings);
    info["cardData"] = card;
    Response::json(200, &info)
}

/// `GET /api/{models|datasets}/{id}/tree/{rev}/{path}?recursive=`: the files and folders
/// under `path` (all of them when recursive), as `list_repo_tree` and `HfFileSystem` read
/// them. Object ids are stable stand-ins derived from the content hash, not git's.
fn tree(revision: &Revision, path: &str, target: &Target) -> Response {
    let recursive = matches!(target.param("recursive"), Some("true" | "1" | "True"));
    let prefix = path.trim_matches('/');
    let mut folders = std::collections::BTreeSet::new();
    let mut files = Vec::new();
    for file in revision.files.values() {
        let rest = if prefix.is_empty() {
            file.path.as_str()
        } else {
            match file
                .path
                .strip_prefix(prefix)
                .and_then(|r| r.strip_prefix('/'))
            {
                Some(rest) => rest,
                None => continue,
            }
        };
        let parts: Vec<&str> = rest.split('/').collect();
        let depth = if recursive { parts.len() - 1 } else { 1 };
        for end in 1..=depth.min(parts.len() - 1) {
            folders.insert(join_path(prefix, &parts[..end].join("/")));
        }
        if recursive || parts.len() == 1 {
            files.push(file);
        }
    }
    if !prefix.is_empty() && files.is_empty() && folders.is_empty() {
        return Response::error(404, "Entry not found").with("X-Error-Code", "EntryNotFound");
    }
    let mut entries: Vec<Value> = folders
        .iter()
        .map(|folder| json!({ "type": "directory", "oid": stand_in_oid(folder), "size": 0, "path": folder }))
        .collect();
    entries.extend(
        files.iter().map(
            |f| json!({ "type": "file", "oid": f.etag[..40], "size": f.size, "path": f.path }),
        ),
    );
    Response::json(200, &Value::Array(entries))
}

fn join_path(prefix: &str, rest: &str) -> String {
    if prefix.is_empty() {
        rest.to_string()
    } else {
        format!("{prefix}/{rest}")
    }
}

fn stand_in_oid(text: &str) -> String {
    blake3::hash(text.as_bytes()).to_hex()[..40].to_string()
}

fn resolve(
    shared: &Shared,
    request: &Request,
    kind: RepoKind,
    id: &str,
    revision: &str,
    path: &str,
) -> Response {
    let Some(repo) = find(shared, kind, id) else {
        return Response::error(404, "Repository not found").with("X-Error-Code", "RepoNotFound");
    };
    if (repo.meta.gated || repo.meta.private) && !authorized(shared, request) {
        return Response::error(
            401,
            &format!("Access to {id} is restricted. You must be authenticated."),
        )
        .with("X-Error-Code", "GatedRepo");
    }
    let Some(rev) = repo.revision(revision) else {
        return Response::error(404, "Invalid rev id").with("X-Error-Code", "RevisionNotFound");
    };
    let file = check_repo_path(id, path)
        .ok()
        .and_then(|p| rev.files.get(p));
    let Some(file) = file else {
        return Response::error(404, "Entry not found")
            .with("X-Error-Code", "EntryNotFound")
            .with("X-Repo-Commit", rev.commit.clone());
    };
    // Checked again now: the file may have become a link out since the scan.
    let Some(disk) = inside_path(&shared.root, &file.disk) else {
        return Response::error(404, "Entry not found").with("X-Error-Code", "EntryNotFound");
    };
    serve_file(request, rev, file, disk)
}

fn serve_file(request: &Request, rev: &Revision, file: &MirrorFile, disk: PathBuf) -> Response {
    let etag = format!("\"{}\"", file.etag);
    let with_meta = |r: Response| {
        r.with("ETag", etag.clone())
            .with("X-Repo-Commit", rev.commit.clone())
            .with("Accept-Ranges", "bytes")
            .with("Content-Type", "application/octet-stream")
    };
    if request.header("if-none-match") == Some(etag.as_str()) {
        return with_meta(Response::new(304, Vec::new()));
    }
    let range = request.header("range").and_then(parse_range);
    let (status, start, end) = match range {
        Some((start, _)) if start >= file.size => {
            return with_meta(Response::error(416, "range not satisfiable"))
                .with("Content-Range", format!("bytes */{}", file.size));
        }
        Some((start, end)) => (206, start, end.unwrap_or(file.size - 1).min(file.size - 1)),
        None => (200, 0, file.size.saturating_sub(1)),
    };
    let len = if file.size == 0 { 0 } else { end + 1 - start };
    let body = Body::File {
        path: disk,
        start,
        len,
    };
    let mut response = with_meta(Response::with_body(status, body));
    if status == 206 {
        response = response.with(
            "Content-Range",
            format!("bytes {start}-{end}/{}", file.size),
        );
    }
    response
}

fn parse_range(value: &str) -> Option<(u64, Option<u64>)> {
    let spec = value.trim().strip_prefix("bytes=")?;
    let (start, end) = spec.split_once('-')?;
    let start = start.trim().parse().ok()?;
    let end = match end.trim() {
        "" => None,
        e => Some(e.parse().ok()?),
    };
    Some((start, end))
}

/// The split's data files: the card's `configs:` on main, else the parquet branch.
fn split_files<'a>(repo: &'a MirrorRepo, config: &str, split: &str) -> Vec<&'a MirrorFile> {
    let card = repo
        .card
        .as_ref()
        .map(CardData::from_yaml)
        .unwrap_or_default();
    if let Some(cfg) = card.configs.iter().find(|c| c.name == config) {
        let patterns: Vec<&String> = cfg
            .data_files
            .iter()
            .filter(|(s, _)| s == split)
            .flat_map(|(_, p)| p)
            .collect();
        return repo
            .main()
            .files
            .values()
            .filter(|f| patterns.iter().any(|p| matches_pattern(p, &f.path)))
            .collect();
    }
    let prefix = format!("{config}/{split}/");
    repo.revisions
        .get("refs/convert/parquet")
        .map(|rev| {
            rev.files
                .values()
                .filter(|f| f.path.starts_with(&prefix))
                .collect()
        })
        .unwrap_or_default()
}

fn all_splits(repo: &MirrorRepo) -> Vec<(String, String)> {
    let card = repo
        .card
        .as_ref()
        .map(CardData::from_yaml)
        .unwrap_or_default();
    let mut out: Vec<(String, String)> = card
        .configs
        .iter()
        .flat_map(|c| {
            c.data_files
                .iter()
                .map(|(s, _)| (c.name.clone(), s.clone()))
        })
        .collect();
    if out.is_empty()
        && let Some(rev) = repo.revisions.get("refs/convert/parquet")
    {
        for file in rev.files.values() {
            let parts: Vec<&str> = file.path.split('/').collect();
            if let [config, split, _] = parts.as_slice() {
                out.push((config.to_string(), split.to_string()));
            }
        }
        out.dedup();
    }
    out
}

fn viewer(shared: &Shared, target: &Target, endpoint: &str) -> Response {
    let Some(id) = target.param("dataset") else {
        return Response::error(400, "Parameter 'dataset' is required");
    };
    let Some(repo) = find(shared, RepoKind::Dataset, id) else {
        return Response::error(404, "The dataset does not exist.");
    };
    if repo.meta.gated || repo.meta.private {
        // The mirror's viewer never sees tokens, like Wick never sends them.
        return Response::error(401, "The dataset is gated.");
    }
    let config = target.param("config").unwrap_or("default");
    match endpoint {
        "splits" => {
            let splits: Vec<Value> = all_splits(repo)
                .into_iter()
                .map(|(config, split)| json!({ "dataset": id, "config": config, "split": split }))
                .collect();
            Response::json(
                200,
                &json!({ "splits": splits, "pending": [], "failed": [] }),
            )
        }
        "first-rows" => {
            let split = target.param("split").unwrap_or("train");
            let files = split_files(repo, config, split);
            let Some(disk) = files
                .iter()
                .find(|f| f.path.ends_with(".parquet"))
                .and_then(|f| inside_path(&shared.root, &f.disk))
            else {
                return Response::error(404, "The split does not exist.");
            };
            match crate::hub::viewer::read_parquet_rows(&disk, 100) {
                Ok((columns, rows)) => {
                    let features: Vec<Value> = columns
                        .iter()
                        .enumerate()
                        .map(|(i, name)| json!({ "feature_idx": i, "name": name, "type": {} }))
                        .collect();
                    let rows: Vec<Value> = rows
                        .into_iter()
                        .enumerate()
                        .map(|(i, row)| json!({ "row_idx": i, "row": row, "truncated_cells": [] }))
                        .collect();
                    Response::json(
                        200,
                        &json!({ "dataset": id, "config": config, "split": split,
                                 "features": features, "rows": rows, "truncated": false }),
                    )
                }
                Err(e) => Response::error(500, &e.to_string()),
            }
        }
        "info" => {
            let card = repo
                .card
                .as_ref()
                .map(CardData::from_yaml)
                .unwrap_or_default();
            let Some(info) = card.info(config) else {
                return Response::error(404, "The config does not exist.");
            };
            let features: BTreeMap<&str, Value> = info
                .features
                .iter()
                .map(|f| {
                    let value = if f.dtype == "class_label" {
                        json!({ "names": f.class_names, "_type": "ClassLabel" })
                    } else {
                        json!({ "dtype": f.dtype, "_type": "Value" })
                    };
                    (f.name.as_str(), value)
                })
                .collect();
            let splits: BTreeMap<&str, Value> = info
                .splits
                .iter()
                .map(|s| (s.name.as_str(), json!({ "name": s.name, "num_examples": s.num_examples, "num_bytes": s.num_bytes })))
                .collect();
            Response::json(
                200,
                &json!({ "dataset_info": { "config_name": config, "features": features, "splits": splits } }),
            )
        }
        _ => Response::error(404, "unknown viewer endpoint"),
    }
}
