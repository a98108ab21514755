//! Netlink change notifications: a multicast rtnetlink socket subscribed to links, addresses,
//! routes and neighbours (FDB entries are neighbours of the bridge family). Every message, and
//! an overflow of the socket (ENOBUFS: changes were lost), calls the callback; the checker
//! debounces.

use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

// rtnetlink multicast groups (linux/rtnetlink.h, the legacy RTMGRP_* bit masks).
const RTMGRP_LINK: u32 = 0x1;
const RTMGRP_NEIGH: u32 = 0x4;
const RTMGRP_IPV4_IFADDR: u32 = 0x10;
const RTMGRP_IPV4_ROUTE: u32 = 0x40;
const RTMGRP_IPV4_RULE: u32 = 0x80;
const RTMGRP_IPV6_IFADDR: u32 = 0x100;
const RTMGRP_IPV6_ROUTE: u32 = 0x400;

/// How often the watcher looks at its stop flag.
const POLL_MS: u16 = 200;

pub(crate) struct Watcher {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Watcher {
    pub fn start(mut on_change: impl FnMut() + Send + 'static) -> std::io::Result<Watcher> {
        let mut socket = Socket::new(NETLINK_ROUTE)?;
        let groups = RTMGRP_LINK
            | RTMGRP_NEIGH
            | RTMGRP_IPV4_IFADDR
            | RTMGRP_IPV4_ROUTE
            | RTMGRP_IPV4_RULE
            | RTMGRP_IPV6_IFADDR
            | RTMGRP_IPV6_ROUTE;
        socket.bind(&SocketAddr::new(0, groups))?;
        socket.set_non_blocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("netdoctor-netlink".into())
            .spawn(move || {
                let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
                while !flag.load(Ordering::Relaxed) {
                    let mut fds = [PollFd::new(socket.as_fd(), PollFlags::POLLIN)];
                    match poll(&mut fds, PollTimeout::from(POLL_MS)) {
                        Ok(n) if n > 0 => {}
                        _ => continue,
                    }
                    let mut changed = false;
                    // Drain what is queued; one callback per batch is enough.
                    loop {
                        buf.clear();
                        match socket.recv(&mut buf, 0) {
                            Ok(0) => break,
                            Ok(_) => changed = true,
                            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                            // ENOBUFS: the kernel dropped notifications; something changed.
                            Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => changed = true,
                            Err(_) => break,
                        }
                    }
                    if changed {
                        on_change();
                    }
                }
            })?;
        Ok(Watcher {
            stop,
            thread: Some(thread),
        })
    }

    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
