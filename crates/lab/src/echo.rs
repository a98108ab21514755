//! A tiny TCP echo server per pod, and the client side, both on threads that entered the pod's
//! (or node's) network namespace. No extra process to leak: stopping the server joins its thread.

use crate::exec::enter_netns;
use crate::LabError;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long a client waits for connect, and then for the echo.
pub const FLOW_TIMEOUT: Duration = Duration::from_millis(1000);

/// A running echo server; dropping it stops the thread.
pub(crate) struct EchoServer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EchoServer {
    /// Listen on `0.0.0.0:port` inside `netns`, answering each line with `"<name> <line>"`.
    pub(crate) fn start(netns: &str, name: &str, port: u16) -> Result<EchoServer, LabError> {
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = mpsc::channel();
        let (ns, pod, stop2) = (netns.to_string(), name.to_string(), stop.clone());
        let thread = std::thread::Builder::new()
            .name(format!("echo-{name}"))
            .spawn(move || {
                let listener = enter_netns(&ns).and_then(|_| {
                    let l = TcpListener::bind(("0.0.0.0", port)).map_err(|e| LabError::Io {
                        path: format!("bind 0.0.0.0:{port} in {ns}"),
                        source: e,
                    })?;
                    l.set_nonblocking(true).map_err(|e| LabError::Io {
                        path: format!("listener in {ns}"),
                        source: e,
                    })?;
                    Ok(l)
                });
                let listener = match listener {
                    Ok(l) => {
                        let _ = ready_tx.send(Ok(()));
                        l
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                // Polling keeps shutdown simple: no wake-up connection is needed.
                let mut conns: Vec<JoinHandle<()>> = Vec::new();
                while !stop2.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let pod = pod.clone();
                            if let Ok(h) = std::thread::Builder::new()
                                .name("echo-conn".into())
                                .spawn(move || serve(stream, &pod))
                            {
                                conns.push(h);
                            }
                            conns.retain(|h| !h.is_finished());
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(10)),
                    }
                }
                // Each connection thread ends within its socket timeouts; wait so that no
                // thread keeps the pod's namespace alive after the lab is gone.
                for h in conns {
                    let _ = h.join();
                }
            })
            .map_err(|e| LabError::Io {
                path: "spawn echo thread".into(),
                source: e,
            })?;
        let server = EchoServer {
            stop,
            thread: Some(thread),
        };
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(server),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(LabError::Unexpected(format!(
                "echo server thread for {name} ended before listening"
            ))),
        }
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(stream: TcpStream, pod: &str) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(FLOW_TIMEOUT));
    let _ = stream.set_write_timeout(Some(FLOW_TIMEOUT));
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut line = String::new();
    if BufReader::new(stream).read_line(&mut line).is_ok() && !line.is_empty() {
        let _ = writer.write_all(format!("{pod} {line}").as_bytes());
    }
}

/// Connect from inside `netns` to `dst`, send a nonce, and return the name of the pod that
/// echoed it.
pub(crate) fn echo_request(netns: &str, dst: SocketAddr, nonce: &str) -> Result<String, String> {
    let ns = netns.to_string();
    let nonce = nonce.to_string();
    let handle = std::thread::Builder::new()
        .name("echo-client".into())
        .spawn(move || -> Result<String, String> {
            enter_netns(&ns).map_err(|e| e.to_string())?;
            let stream = TcpStream::connect_timeout(&dst, FLOW_TIMEOUT)
                .map_err(|e| format!("connect {dst}: {e}"))?;
            let _ = stream.set_read_timeout(Some(FLOW_TIMEOUT));
            let _ = stream.set_write_timeout(Some(FLOW_TIMEOUT));
            let mut w = stream
                .try_clone()
                .map_err(|e| format!("socket to {dst}: {e}"))?;
            w.write_all(format!("{nonce}\n").as_bytes())
                .map_err(|e| format!("send to {dst}: {e}"))?;
            let mut reply = String::new();
            BufReader::new(stream)
                .read_line(&mut reply)
                .map_err(|e| format!("no echo from {dst}: {e}"))?;
            let mut parts = reply.trim_end().splitn(2, ' ');
            let who = parts.next().unwrap_or_default().to_string();
            match parts.next() {
                Some(n) if n == nonce => Ok(who),
                _ => Err(format!("unexpected answer from {dst}: {reply:?}")),
            }
        })
        .map_err(|e| format!("spawn client thread: {e}"))?;
    handle
        .join()
        .unwrap_or_else(|_| Err("client thread panicked".into()))
}
