//! Blocking HTTP for the JSON APIs (search, repo details, viewer) and for
//! downloads. Redirects are followed by hand so the token is decided
//! per hop: it goes only to the configured endpoint's origin.

use std::time::Duration;

use ureq::http::{HeaderMap, Response, StatusCode};
use url::Url;

use super::error::{HubError, HubResult};
use super::settings::HubSettings;

const MAX_REDIRECTS: usize = 5;
const MAX_JSON_BYTES: u64 = 64 * 1024 * 1024;
const USER_AGENT: &str = concat!("wick/", env!("CARGO_PKG_VERSION"));

pub type Body = ureq::Body;

pub(crate) struct Http {
    agent: ureq::Agent,
    endpoint: Url,
    token: Option<String>,
}

impl Http {
    pub fn new(settings: &HubSettings) -> HubResult<Self> {
        let endpoint = Url::parse(&settings.endpoint).map_err(|e| HubError::BadResponse {
            url: settings.endpoint.clone(),
            message: format!("HF_ENDPOINT is not a valid URL: {e}"),
        })?;
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .user_agent(USER_AGENT)
            .timeout_connect(Some(Duration::from_secs(20)))
            .timeout_recv_response(Some(Duration::from_secs(60)))
            .timeout_per_read(Some(Duration::from_secs(60)))
            .build();
        Ok(Self {
            agent: config.into(),
            endpoint,
            token: settings.token.clone(),
        })
    }

    /// A client that never sends the token, whatever the URL (the viewer).
    pub fn anonymous(settings: &HubSettings) -> HubResult<Self> {
        let mut http = Self::new(settings)?;
        http.token = None;
        Ok(http)
    }

    /// The token, if `url` has the endpoint's scheme, host and port.
    fn token_for(&self, url: &Url) -> Option<&str> {
        let same_origin = url.scheme() == self.endpoint.scheme()
            && url.host_str() == self.endpoint.host_str()
            && url.port_or_known_default() == self.endpoint.port_or_known_default();
        self.token.as_deref().filter(|_| same_origin)
    }

    /// GET or HEAD, following redirects; any status comes back as a response.
    /// With `follow_absolute` false, only relative redirects are followed: the
    /// Hub puts file metadata (`X-Linked-Etag`...) on its redirect to the CDN.
    pub fn send(
        &self,
        head: bool,
        url: &str,
        headers: &[(&str, String)],
        follow_absolute: bool,
    ) -> HubResult<(String, Response<Body>)> {
        let mut current = parse_url(url)?;
        for _ in 0..=MAX_REDIRECTS {
            let mut request = if head {
                self.agent.head(current.as_str())
            } else {
                self.agent.get(current.as_str())
            };
            for (name, value) in headers {
                request = request.header(*name, value.as_str());
            }
            if let Some(token) = self.token_for(&current) {
                request = request.header("Authorization", format!("Bearer {token}"));
            }
            let response = request.call().map_err(|e| unreachable(&current, &e))?;
            if response.status().is_redirection()
                && let Some(location) = header(response.headers(), "location")
                && (follow_absolute || Url::parse(&location).is_err())
            {
                current = current.join(&location).map_err(|e| HubError::BadResponse {
                    url: current.to_string(),
                    message: format!("bad redirect {location:?}: {e}"),
                })?;
                continue;
            }
            return Ok((current.to_string(), response));
        }
        Err(HubError::BadResponse {
            url: url.to_string(),
            message: format!("more than {MAX_REDIRECTS} redirects"),
        })
    }

    /// GET a JSON document; non-2xx statuses become errors naming `what`.
    pub fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        what: &str,
    ) -> HubResult<(T, HeaderMap)> {
        let (final_url, mut response) = self.send(false, url, &[], true)?;
        check_status(&mut response, &final_url, what)?;
        let text = response
            .body_mut()
            .with_config()
            .limit(MAX_JSON_BYTES)
            .read_to_string()
            .map_err(|e| transport(&final_url, e))?;
        let value = serde_json::from_str(&text).map_err(|e| HubError::BadResponse {
            url: final_url.clone(),
            message: format!("invalid JSON for {what}: {e}"),
        })?;
        Ok((value, response.headers().clone()))
    }
}

fn parse_url(url: &str) -> HubResult<Url> {
    Url::parse(url).map_err(|e| HubError::BadResponse {
        url: url.to_string(),
        message: format!("invalid URL: {e}"),
    })
}

pub(crate) fn transport(url: &str, err: impl std::fmt::Display) -> HubError {
    HubError::Transport {
        url: url.to_string(),
        message: err.to_string(),
    }
}

/// A failed connection in plain words naming the server, never the resolver's raw text.
fn unreachable(url: &Url, err: &ureq::Error) -> HubError {
    HubError::Unreachable {
        origin: url.origin().ascii_serialization(),
        reason: unreachable_reason(err),
    }
}

fn unreachable_reason(err: &ureq::Error) -> String {
    use std::io::ErrorKind;
    match err {
        ureq::Error::HostNotFound => {
            "the name does not resolve (check the address and the network)".into()
        }
        ureq::Error::Io(io) if io.to_string().contains("lookup address") => {
            "the name does not resolve (check the address and the network)".into()
        }
        ureq::Error::Io(io) if io.kind() == ErrorKind::ConnectionRefused => {
            "nothing answers there (connection refused)".into()
        }
        ureq::Error::ConnectionFailed => "the connection failed".into(),
        ureq::Error::Timeout(_) => "it did not answer in time".into(),
        ureq::Error::Io(io) if io.kind() == ErrorKind::TimedOut => {
            "it did not answer in time".into()
        }
        other => format!("the connection failed ({other})"),
    }
}

pub(crate) fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name)?.to_str().ok().map(str::to_string)
}

/// Map a non-success status to an error naming `what` (a repo, file, ...).
pub(crate) fn check_status(response: &mut Response<Body>, url: &str, what: &str) -> HubResult<()> {
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let body: String = response
        .body_mut()
        .with_config()
        .limit(64 * 1024)
        .read_to_string()
        .unwrap_or_default()
        .chars()
        .take(300)
        .collect();
    Err(status_error(status, url, what, body))
}

pub(crate) fn status_error(status: StatusCode, url: &str, what: &str, body: String) -> HubError {
    match status.as_u16() {
        401 | 403 => HubError::Unauthorized {
            repo: what.to_string(),
            url: url.to_string(),
            status: status.as_u16(),
        },
        404 => HubError::NotFound {
            what: what.to_string(),
            url: url.to_string(),
        },
        code => HubError::Status {
            url: url.to_string(),
            status: code,
            body,
        },
    }
}

/// The `rel="next"` target of a `Link` header, made absolute against `base`.
pub(crate) fn next_link(headers: &HeaderMap, base: &str) -> Option<String> {
    let link = header(headers, "link")?;
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let is_next = params
            .split(';')
            .any(|p| p.trim().replace(' ', "") == "rel=\"next\"" || p.trim() == "rel=next");
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        is_next.then(|| {
            Url::parse(base)
                .and_then(|b| b.join(target))
                .map(String::from)
                .unwrap_or_else(|_| target.to_string())
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_next_link() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "link",
            "<https://h/api/models?cursor=abc>; rel=\"next\", <https://h/x>; rel=\"prev\""
                .parse()
                .unwrap(),
        );
        assert_eq!(
            next_link(&headers, "https://h/api/models").as_deref(),
            Some("https://h/api/models?cursor=abc")
        );
        headers.insert("link", "</api/models?p=2>; rel=\"next\"".parse().unwrap());
        assert_eq!(
            next_link(&headers, "http://127.0.0.1:5/api/models?p=1").as_deref(),
            Some("http://127.0.0.1:5/api/models?p=2")
        );
        headers.insert("link", "<https://h/x>; rel=\"prev\"".parse().unwrap());
        assert_eq!(next_link(&headers, "https://h/"), None);
    }

    #[test]
    fn connection_failures_are_plain_sentences_naming_the_server() {
        let url = Url::parse("https://no-such-host.invalid/api/models?search=x").unwrap();
        let dns = std::io::Error::other(
            "failed to lookup address information: Name or service not known",
        );
        let err = unreachable(&url, &ureq::Error::Io(dns)).to_string();
        assert_eq!(
            err,
            "could not reach https://no-such-host.invalid: the name does not resolve \
             (check the address and the network)"
        );
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let err = unreachable(&url, &ureq::Error::Io(refused)).to_string();
        assert!(
            err.ends_with("nothing answers there (connection refused)"),
            "{err}"
        );
    }

    #[test]
    fn token_only_for_endpoint_origin() {
        let settings = HubSettings::with_home(std::path::Path::new("/h"))
            .with_endpoint("http://127.0.0.1:8000")
            .with_token(Some("hf_x"));
        let http = Http::new(&settings).unwrap();
        let at = |u: &str| http.token_for(&Url::parse(u).unwrap()).is_some();
        assert!(at("http://127.0.0.1:8000/api/models"));
        assert!(!at("http://127.0.0.1:8001/api/models"));
        assert!(!at("https://127.0.0.1:8000/api/models"));
        assert!(!at("http://localhost:8000/api/models"));
        let anonymous = Http::anonymous(&settings).unwrap();
        assert!(
            anonymous
                .token_for(&Url::parse("http://127.0.0.1:8000/x").unwrap())
                .is_none()
        );
    }
}
