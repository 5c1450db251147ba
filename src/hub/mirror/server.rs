//! A deliberately small HTTP/1.1 server on std::net: one request per
//! connection (`Connection: close`). Written by hand rather than with an HTTP
//! crate because the fault injection needs the raw socket: cutting a body
//! mid-way and dribbling bytes slowly.

use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

const MAX_HEAD_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub method: String,
    /// Path and query as sent (still percent-encoded).
    pub target: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

pub(crate) fn read_request(stream: &TcpStream) -> std::io::Result<Request> {
    let mut reader = BufReader::new(stream.take(MAX_HEAD_BYTES as u64));
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "bad request line",
        ));
    };
    let (method, target) = (method.to_string(), target.to_string());
    let mut headers = Vec::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            break;
        }
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        if let Some((name, value)) = trimmed.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    Ok(Request {
        method,
        target,
        headers,
    })
}

/// A body in memory, or a byte range of a file streamed from disk (so
/// `wick hub serve` can serve multi-gigabyte weights).
#[derive(Debug, Clone)]
pub(crate) enum Body {
    Bytes(Vec<u8>),
    File { path: PathBuf, start: u64, len: u64 },
}

impl Body {
    pub fn len(&self) -> u64 {
        match self {
            Body::Bytes(bytes) => bytes.len() as u64,
            Body::File { len, .. } => *len,
        }
    }

    /// Keep only the first `n` bytes.
    pub fn truncate(&mut self, n: u64) {
        match self {
            Body::Bytes(bytes) => bytes.truncate(n as usize),
            Body::File { len, .. } => *len = (*len).min(n),
        }
    }

    fn reader(&self) -> std::io::Result<Box<dyn Read + '_>> {
        Ok(match self {
            Body::Bytes(bytes) => Box::new(bytes.as_slice()),
            Body::File { path, start, len } => {
                let mut file = std::fs::File::open(path)?;
                file.seek(SeekFrom::Start(*start))?;
                Box::new(file.take(*len))
            }
        })
    }
}

/// What to send back; `body` is written only for GET.
#[derive(Debug, Clone)]
pub(crate) struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

impl Response {
    pub fn new(status: u16, body: Vec<u8>) -> Self {
        Self::with_body(status, Body::Bytes(body))
    }

    pub fn with_body(status: u16, body: Body) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body,
        }
    }

    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        Self::new(status, value.to_string().into_bytes()).with("Content-Type", "application/json")
    }

    pub fn error(status: u16, message: &str) -> Self {
        Self::json(status, &serde_json::json!({ "error": message }))
    }

    pub fn with(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }
}

/// How the body goes out: whole, cut after some bytes, or slowly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Delivery {
    Whole,
    CutAfter(u64),
    Slow { chunk: usize, pause: Duration },
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        206 => "Partial Content",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        416 => "Range Not Satisfiable",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

pub(crate) fn write_response(
    mut stream: &TcpStream,
    head_only: bool,
    response: &Response,
    delivery: Delivery,
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        response.status,
        reason(response.status)
    );
    let has_length = response
        .headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-length"));
    for (name, value) in &response.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !has_length {
        head.push_str(&format!("Content-Length: {}\r\n", response.body.len()));
    }
    head.push_str("Connection: close\r\n\r\n");
    stream.write_all(head.as_bytes())?;
    if head_only || response.status == 304 {
        return stream.flush();
    }
    let (limit, chunk, pause) = match delivery {
        Delivery::Whole => (response.body.len(), 64 * 1024, None),
        // Always stop short, even for tiny bodies, so the cut is real.
        Delivery::CutAfter(n) => (
            n.min(response.body.len().saturating_sub(1)),
            64 * 1024,
            None,
        ),
        Delivery::Slow { chunk, pause } => (response.body.len(), chunk.max(1), Some(pause)),
    };
    let mut reader = response.body.reader()?.take(limit);
    let mut buf = vec![0u8; chunk];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        stream.write_all(&buf[..n])?;
        if let Some(pause) = pause {
            stream.flush()?;
            std::thread::sleep(pause);
        }
    }
    if let Delivery::CutAfter(_) = delivery {
        stream.flush()?;
        // Closing with bytes still owed is what a dropped connection looks like.
        return stream.shutdown(std::net::Shutdown::Both);
    }
    stream.flush()
}
