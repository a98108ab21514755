//! A mocked server at the HTTP layer (HTTP/1.1, keep-alive, `content-length` bodies) on
//! 127.0.0.1, for the tests of code that talks to the Kubernetes API or to agents through real
//! clients. Each request is recorded; a handler chosen by the test answers it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// One request as the server received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// The path and the query, as sent.
    pub target: String,
    /// The path alone.
    pub path: String,
    /// The query alone, percent-decoded (`labelSelector=app.kubernetes.io/name=netdoctor`).
    pub query: String,
    /// The `content-type` header, lower-cased, or empty.
    pub content_type: String,
    pub body: Vec<u8>,
}

/// What the handler answers: a status line's code and text, and a JSON body.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub body: String,
}

impl Response {
    pub fn ok(body: impl Into<String>) -> Response {
        Response {
            status: 200,
            body: body.into(),
        }
    }

    pub fn created(body: impl Into<String>) -> Response {
        Response {
            status: 201,
            body: body.into(),
        }
    }

    /// A Kubernetes `Status` document with this code.
    pub fn status(code: u16, reason: &str) -> Response {
        Response {
            status: code,
            body: format!(
                r#"{{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"{reason}","code":{code},"message":"{reason}"}}"#
            ),
        }
    }
}

type Handler = dyn Fn(&Request) -> Response + Send + Sync;

/// The server; it runs until the test process ends (its threads hold nothing else).
pub struct MockHttp {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Request>>>,
}

impl MockHttp {
    /// Listen on a free loopback port and answer every request with `handler`.
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub fn start(handler: impl Fn(&Request) -> Response + Send + Sync + 'static) -> MockHttp {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let s2 = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let (seen, handler) = (s2.clone(), handler.clone());
                std::thread::spawn(move || serve(stream, &seen, &*handler));
            }
        });
        MockHttp { addr, seen }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request so far, in arrival order.
    ///
    /// # Panics
    /// When a handler thread panicked while recording.
    pub fn requests(&self) -> Vec<Request> {
        self.seen.lock().expect("request log").clone()
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        _ => "Status",
    }
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn serve(mut stream: TcpStream, seen: &Mutex<Vec<Request>>, handler: &Handler) {
    let Ok(clone) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(clone);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let (mut length, mut content_type) = (0usize, String::new());
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            if h == "\r\n" || h == "\n" {
                break;
            }
            let lower = h.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            } else if let Some(v) = lower.strip_prefix("content-type:") {
                content_type = v.trim().to_string();
            }
        }
        let mut body = vec![0; length.min(64 << 20)];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let target = parts.next().unwrap_or("").to_string();
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        let request = Request {
            method,
            path: path.to_string(),
            query: decode(query),
            target: target.clone(),
            content_type,
            body,
        };
        let response = handler(&request);
        if let Ok(mut s) = seen.lock() {
            s.push(request);
        }
        let head = format!(
            "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            response.status,
            reason(response.status),
            response.body.len()
        );
        if stream.write_all(head.as_bytes()).is_err()
            || stream.write_all(response.body.as_bytes()).is_err()
            || stream.flush().is_err()
        {
            return;
        }
    }
}
