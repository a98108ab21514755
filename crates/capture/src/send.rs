//! Sending the flow from where its source lives: this node's own network namespace when the
//! source is one of its addresses, else the named network namespace (`/run/netns/*`, where
//! `ip netns` and the container runtimes' CNI namespaces live) that holds it. A thread of our own
//! enters that namespace (setns), so the sockets it opens are the pod's; the rest of the process
//! stays where it was.

use crate::Request;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The protocol of the flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Tcp,
    Udp,
    Icmp,
}

use netdoctor_probe::netns::in_netns;
pub use netdoctor_probe::netns::{find_source, Source};

/// Send the flow `count` times; what each attempt gave, and the source ports it used (so the
/// captures are read for these connections only).
pub(crate) fn send(source: &Source, req: &Request, stop: &AtomicBool) -> (Vec<String>, Vec<u16>) {
    let where_ = match source {
        Source::Here => "this node".to_string(),
        Source::Netns(p) => format!("the network namespace {}", p.display()),
    };
    let req2 = req.clone();
    // The stop flag cannot cross into the thread by reference; it is checked between attempts
    // here, and each attempt is bounded by the timeout.
    let mut out = vec![format!("sent from {where_}, which holds {}", req.src)];
    let mut ports = Vec::new();
    for i in 0..req.count.max(1) {
        if stop.load(Ordering::Relaxed) {
            out.push("interrupted".into());
            break;
        }
        let r = req2.clone();
        let attempt = move || one(&r);
        let (line, port) = match source {
            Source::Here => Some(attempt()),
            Source::Netns(p) => in_netns(p.clone(), attempt),
        }
        .unwrap_or_else(|| (format!("could not enter {where_}"), None));
        ports.extend(port);
        out.push(format!("{}: {line}", i + 1));
    }
    (out, ports)
}

fn one(r: &Request) -> (String, Option<u16>) {
    let port = r.port.unwrap_or(0);
    match r.proto {
        Proto::Tcp => {
            let to = SocketAddr::from((r.dst, port));
            // Bind the source so a node with several addresses sends from the one asked for.
            let s = match socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None) {
                Ok(s) => s,
                Err(e) => return (format!("socket: {e}"), None),
            };
            if let Err(e) = s.bind(&SocketAddr::from((r.src, 0)).into()) {
                return (format!("bind {}: {e}", r.src), None);
            }
            let port = s
                .local_addr()
                .ok()
                .and_then(|a| a.as_socket())
                .map(|a| a.port());
            let line = match s.connect_timeout(&to.into(), r.timeout) {
                Ok(()) => format!("TCP connect to {to}: connected"),
                Err(e) => format!("TCP connect to {to}: {e}"),
            };
            (line, port)
        }
        Proto::Udp => {
            let to = SocketAddr::from((r.dst, port));
            let sock = match UdpSocket::bind(SocketAddr::from((r.src, 0))) {
                Ok(s) => s,
                Err(e) => return (format!("bind {}: {e}", r.src), None),
            };
            let port = sock.local_addr().ok().map(|a| a.port());
            if let Err(e) = sock.send_to(b"netdoctor capture\n", to) {
                return (format!("UDP to {to}: {e}"), port);
            }
            let _ = sock.set_read_timeout(Some(r.timeout.max(Duration::from_millis(10))));
            let mut buf = [0u8; 1500];
            let line = match sock.recv_from(&mut buf) {
                Ok((n, from)) => format!("UDP to {to}: {n} bytes back from {from}"),
                Err(e) => format!("UDP to {to}: no answer ({e})"),
            };
            (line, port)
        }
        Proto::Icmp => {
            use netdoctor_probe::Echo;
            let what = match netdoctor_probe::echo(r.dst, 84, false, r.timeout) {
                Ok(Echo::Reply { rtt }) => format!("answered in {rtt:?}"),
                Ok(Echo::Silence) => format!("no answer in {:?}", r.timeout),
                Ok(Echo::Unreachable { code, from }) => {
                    format!("destination unreachable (code {code}) from {from}")
                }
                Ok(Echo::TooBig { mtu, .. }) => format!("fragmentation needed (MTU {mtu:?})"),
                Ok(Echo::TimeExceeded { from }) => format!("time exceeded from {from}"),
                Ok(Echo::NotSent { reason }) => format!("not sent: {reason}"),
                Err(e) => e.to_string(),
            };
            (format!("ICMP echo to {}: {what}", r.dst), None)
        }
    }
}
