//! The agent's HTTP server: hyper on a one-thread tokio runtime of its own.
//!
//! Bounds: at most [`MAX_CONNECTIONS`] at once (more are closed at accept), request heads of at
//! most [`MAX_HEAD`] bytes read within [`HEAD_TIMEOUT`], and a connection lives at most
//! [`CONNECTION_LIFETIME`]. A client that sends its headers one byte a minute, or a megabyte
//! of them, loses its own connection and nobody else's.

use crate::{AgentError, Shared};
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{
    HeaderMap, HeaderValue, ACCEPT_ENCODING, AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE,
    WWW_AUTHENTICATE,
};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use subtle::ConstantTimeEq;
use tokio::sync::{oneshot, Semaphore};

pub const MAX_CONNECTIONS: usize = 64;
pub const MAX_HEAD: usize = 16 * 1024;
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(60);

type Reply = Response<Full<Bytes>>;

/// Bind `addr` and serve on a thread of its own until the returned sender fires.
/// A TLS acceptor for the certificate chain and private key in these PEM files (rustls with
/// the ring provider, its safe default protocol versions).
pub(crate) fn tls_acceptor(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<tokio_rustls::TlsAcceptor, AgentError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    use tokio_rustls::rustls;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| AgentError::Tls(format!("{}: {e}", cert.display())))?;
    if certs.is_empty() {
        return Err(AgentError::Tls(format!(
            "{}: no certificate",
            cert.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| AgentError::Tls(format!("{}: {e}", key.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| AgentError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| AgentError::Tls(format!("the certificate and key: {e}")))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

pub(crate) fn serve(
    addr: SocketAddr,
    shared: Arc<Shared>,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> Result<(SocketAddr, oneshot::Sender<()>, JoinHandle<()>), AgentError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(AgentError::Thread)?;
    let std_listener =
        std::net::TcpListener::bind(addr).map_err(|source| AgentError::Listen { addr, source })?;
    let bound = std_listener
        .local_addr()
        .map_err(|source| AgentError::Listen { addr, source })?;
    std_listener
        .set_nonblocking(true)
        .map_err(|source| AgentError::Listen { addr, source })?;
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let handle = std::thread::Builder::new()
        .name("netdoctor-http".into())
        .spawn(move || {
            rt.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(std_listener) {
                    Ok(l) => l,
                    Err(_) => return,
                };
                accept_loop(listener, shared, stop_rx, tls).await;
            });
        })
        .map_err(AgentError::Thread)?;
    Ok((bound, stop_tx, handle))
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    mut stop: oneshot::Receiver<()>,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let accepted = tokio::select! {
            _ = &mut stop => return,
            a = listener.accept() => a,
        };
        let Ok((stream, _peer)) = accepted else {
            // EMFILE and friends: wait a little rather than spin.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            drop(stream);
            continue;
        };
        let shared = shared.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let _permit = permit;
            match tls {
                // The handshake is bounded like a request head.
                Some(acceptor) => {
                    if let Ok(Ok(s)) =
                        tokio::time::timeout(HEAD_TIMEOUT, acceptor.accept(stream)).await
                    {
                        connection(TokioIo::new(s), shared).await;
                    }
                }
                None => connection(TokioIo::new(stream), shared).await,
            }
        });
    }
}

/// Serve one connection, bounded in head size, head time and lifetime.
async fn connection<I>(io: I, shared: Arc<Shared>)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = service_fn(move |req| {
        let shared = shared.clone();
        async move { Ok::<_, Infallible>(route(&req, &shared)) }
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEAD_TIMEOUT)
        .max_buf_size(MAX_HEAD)
        .keep_alive(true)
        .serve_connection(io, service);
    let _ = tokio::time::timeout(CONNECTION_LIFETIME, conn).await;
}

fn reply(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Reply {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// Whether the client takes a zstd-encoded body (`Accept-Encoding: zstd`).
fn accepts_zstd(h: &HeaderMap) -> bool {
    h.get_all(ACCEPT_ENCODING).iter().any(|v| {
        v.to_str().is_ok_and(|s| {
            s.split(',').any(|e| {
                let mut parts = e.split(';');
                let name = parts.next().unwrap_or("").trim();
                let q0 = parts.any(|p| p.trim().replace(' ', "") == "q=0");
                name.eq_ignore_ascii_case("zstd") && !q0
            })
        })
    })
}

fn unauthorized() -> Reply {
    let mut r = reply(StatusCode::UNAUTHORIZED, "text/plain", "unauthorized\n");
    r.headers_mut()
        .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    r
}

/// Whether the request carries the agent's token (`Authorization: Bearer <token>`). Without a
/// configured token nobody is let in.
pub(crate) fn authorized(token: Option<&str>, header: Option<&HeaderValue>) -> bool {
    let Some(token) = token else { return false };
    let Some(value) = header.and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let Some((scheme, given)) = value.split_once(' ') else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return false;
    }
    // Constant time in the token's content (a length difference is not hidden, as usual).
    bool::from(given.trim().as_bytes().ct_eq(token.as_bytes()))
}

fn route(req: &Request<Incoming>, shared: &Shared) -> Reply {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = reply(StatusCode::METHOD_NOT_ALLOWED, "text/plain", "only GET\n");
        r.headers_mut()
            .insert(hyper::header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    match req.uri().path() {
        "/metrics" => reply(
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            shared.metrics.encode(),
        ),
        "/healthz" => {
            let latest = shared.latest.read().unwrap_or_else(|p| p.into_inner());
            match (&latest.check_json, &latest.error) {
                (_, Some(e)) => reply(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "text/plain",
                    format!("the last check failed: {e}\n"),
                ),
                (Some(_), None) => reply(StatusCode::OK, "text/plain", "ok\n"),
                (None, None) => reply(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "text/plain",
                    "the first check has not finished\n",
                ),
            }
        }
        "/v1/check" | "/v1/snapshot" => {
            if !authorized(shared.token.as_deref(), req.headers().get(AUTHORIZATION)) {
                return unauthorized();
            }
            let latest = shared.latest.read().unwrap_or_else(|p| p.into_inner());
            let not_yet = || {
                reply(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "text/plain",
                    "the first check has not finished\n",
                )
            };
            if req.uri().path() == "/v1/check" {
                // Bytes are shared, not copied, per request.
                return match latest.check_json.clone() {
                    Some(d) => reply(StatusCode::OK, "application/json", d),
                    None => not_yet(),
                };
            }
            let Some(z) = latest.snapshot_zstd.clone() else {
                return not_yet();
            };
            drop(latest);
            if accepts_zstd(req.headers()) {
                let mut r = reply(StatusCode::OK, "application/json", z);
                r.headers_mut()
                    .insert(CONTENT_ENCODING, HeaderValue::from_static("zstd"));
                r
            } else {
                // A client without zstd gets the JSON, decompressed for this response only.
                match zstd::decode_all(&z[..]) {
                    Ok(json) => reply(StatusCode::OK, "application/json", json),
                    Err(e) => reply(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "text/plain",
                        format!("the stored snapshot cannot be read: {e}\n"),
                    ),
                }
            }
        }
        _ => reply(
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found: /metrics, /healthz, /v1/check, /v1/snapshot\n",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_bearer_token_is_let_in() {
        let h = |s: &str| HeaderValue::from_str(s).expect("header");
        assert!(authorized(Some("s3cret"), Some(&h("Bearer s3cret"))));
        assert!(authorized(Some("s3cret"), Some(&h("bearer s3cret"))));
        for bad in [
            "Bearer s3cre",
            "Bearer s3cret2",
            "Basic s3cret",
            "s3cret",
            "Bearer ",
        ] {
            assert!(!authorized(Some("s3cret"), Some(&h(bad))), "{bad}");
        }
        assert!(!authorized(Some("s3cret"), None));
        // No token configured: closed to everyone.
        assert!(!authorized(None, Some(&h("Bearer "))));
    }
}
