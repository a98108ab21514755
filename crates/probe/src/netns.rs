//! Network namespaces other than ours: the named ones under `/run/netns` (where `ip netns` and
//! the container runtimes put pods' namespaces). A thread of our own enters one (setns), so the
//! sockets it opens are that namespace's; the rest of the process stays where it was.

use ipnet::Ipv4Net;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::AsFd;
use std::path::PathBuf;

/// Where an address lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// This process's network namespace.
    Here,
    /// A named network namespace.
    Netns(PathBuf),
}

/// Whether `src` can be bound to in the calling thread's network namespace.
fn holds(src: Ipv4Addr) -> bool {
    UdpSocket::bind(SocketAddr::from((src, 0))).is_ok()
}

/// Run `f` in a thread that has entered the network namespace at `path`; `None` when it could
/// not be entered.
pub fn in_netns<T: Send + 'static>(
    path: PathBuf,
    f: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).ok()?;
        nix::sched::setns(file.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).ok()?;
        Some(f())
    })
    .join()
    .ok()
    .flatten()
}

fn named() -> Vec<PathBuf> {
    let mut v = Vec::new();
    for dir in ["/run/netns", "/var/run/netns"] {
        if let Ok(entries) = std::fs::read_dir(dir) {
            v.extend(entries.flatten().map(|e| e.path()));
        }
        if !v.is_empty() {
            // /var/run is usually a link to /run: the same namespaces.
            break;
        }
    }
    v.sort();
    v
}

/// Where `src` lives: here, or in a named network namespace.
pub fn find_source(src: Ipv4Addr) -> Option<Source> {
    if holds(src) {
        return Some(Source::Here);
    }
    named()
        .into_iter()
        .find(|p| in_netns(p.clone(), move || holds(src)) == Some(true))
        .map(Source::Netns)
}

/// A pod's network namespace on this node: a named namespace whose route to `towards` leaves
/// from an address in `pod_cidr` that the caller's namespace does not hold, and from which a
/// datagram to `node_addr` (an address this node holds in the pod network, its bridge's) really
/// reaches the caller's namespace. The datagram is the proof: another node's pods (another
/// cluster in namespaces on the same machine) have the same addresses. With the pod's address.
pub fn pod_netns(
    pod_cidr: Ipv4Net,
    towards: Ipv4Addr,
    node_addr: Ipv4Addr,
) -> Option<(PathBuf, Ipv4Addr)> {
    let listener = UdpSocket::bind("0.0.0.0:0").ok()?;
    listener
        .set_read_timeout(Some(std::time::Duration::from_millis(300)))
        .ok()?;
    let port = listener.local_addr().ok()?.port();
    named().into_iter().find_map(|p| {
        let token: [u8; 8] = {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            (t ^ u64::from(std::process::id())).to_be_bytes()
        };
        let src = in_netns(p.clone(), move || {
            let s = UdpSocket::bind("0.0.0.0:0").ok()?;
            s.connect(SocketAddr::from((towards, 9))).ok()?;
            let src = match s.local_addr().ok()?.ip() {
                std::net::IpAddr::V4(a) => a,
                std::net::IpAddr::V6(_) => return None,
            };
            if !pod_cidr.contains(&src) {
                return None;
            }
            let probe = UdpSocket::bind(SocketAddr::from((src, 0))).ok()?;
            probe
                .send_to(&token, SocketAddr::from((node_addr, port)))
                .ok()?;
            Some(src)
        })
        .flatten()?;
        // An address this namespace holds too (the node's own namespace) is not a pod's.
        if holds(src) {
            return None;
        }
        let mut buf = [0u8; 16];
        loop {
            match listener.recv_from(&mut buf) {
                Ok((8, from)) if buf[..8] == token && from.ip() == std::net::IpAddr::V4(src) => {
                    return Some((p, src));
                }
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
    })
}
