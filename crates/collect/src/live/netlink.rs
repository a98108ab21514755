//! A small blocking rtnetlink socket that runs one dump at a time.
//!
//! Dumps are read to their `NLMSG_DONE`; a message the decoder rejects is reported, not
//! dropped, and the rest of the dump is kept.

use netlink_packet_core::{
    NetlinkBuffer, NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_DUMP, NLM_F_DUMP_INTR,
    NLM_F_REQUEST,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use std::io;

/// Why a dump failed as a whole.
#[derive(Debug, thiserror::Error)]
pub(crate) enum NetlinkError {
    /// A socket call failed (no permission, no netlink support, ...).
    #[error("netlink {op}: {source}")]
    Io { op: &'static str, source: io::Error },
    /// The kernel answered the request with an error code.
    #[error("kernel refused the dump: {0}")]
    Kernel(io::Error),
    /// The table kept changing while it was dumped (`NLM_F_DUMP_INTR` on every attempt).
    #[error("the dump was interrupted by concurrent changes {0} times in a row")]
    Interrupted(u32),
    /// The reply was not a sequence of netlink messages.
    #[error("malformed netlink reply: {0}")]
    Malformed(String),
}

/// What one dump returned.
#[derive(Debug, Default)]
pub(crate) struct Dump {
    pub messages: Vec<RouteNetlinkMessage>,
    /// Messages of the dump that could not be decoded, described.
    pub undecodable: Vec<String>,
}

/// How often a dump that the kernel marks inconsistent is repeated before giving up.
const DUMP_ATTEMPTS: u32 = 3;

pub(crate) struct RtSocket {
    socket: Socket,
    sequence: u32,
}

impl RtSocket {
    pub fn open() -> Result<Self, NetlinkError> {
        let io = |op| move |source| NetlinkError::Io { op, source };
        let mut socket = Socket::new(NETLINK_ROUTE).map_err(io("socket"))?;
        socket.bind_auto().map_err(io("bind"))?;
        socket
            .connect(&SocketAddr::new(0, 0))
            .map_err(io("connect"))?;
        Ok(RtSocket {
            socket,
            sequence: 0,
        })
    }

    /// Run a dump request to completion. The kernel flags a dump whose table changed
    /// under it with `NLM_F_DUMP_INTR`; such a dump may miss or repeat entries, so it is
    /// run again.
    pub fn dump(&mut self, request: &RouteNetlinkMessage) -> Result<Dump, NetlinkError> {
        for _ in 0..DUMP_ATTEMPTS {
            let (dump, interrupted) = self.dump_once(request)?;
            if !interrupted {
                return Ok(dump);
            }
        }
        Err(NetlinkError::Interrupted(DUMP_ATTEMPTS))
    }

    fn dump_once(&mut self, request: &RouteNetlinkMessage) -> Result<(Dump, bool), NetlinkError> {
        self.sequence = self.sequence.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_DUMP;
        header.sequence_number = self.sequence;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(request.clone()));
        packet.finalize();
        let mut out = vec![0u8; packet.buffer_len()];
        packet.serialize(&mut out);
        self.socket
            .send(&out, 0)
            .map_err(|source| NetlinkError::Io { op: "send", source })?;

        let mut dump = Dump::default();
        let mut interrupted = false;
        loop {
            let (datagram, _) = self
                .socket
                .recv_from_full()
                .map_err(|source| NetlinkError::Io { op: "recv", source })?;
            if datagram.is_empty() {
                return Err(NetlinkError::Malformed(
                    "empty datagram before NLMSG_DONE".into(),
                ));
            }
            let mut offset = 0;
            while offset < datagram.len() {
                let rest = &datagram[offset..];
                let frame = NetlinkBuffer::new_checked(rest)
                    .map_err(|e| NetlinkError::Malformed(e.to_string()))?;
                let len = frame.length() as usize;
                if len < 16 || len > rest.len() {
                    return Err(NetlinkError::Malformed(format!(
                        "message length {len} with {} bytes left",
                        rest.len()
                    )));
                }
                let seq = frame.sequence_number();
                let flags = frame.flags();
                let kind = frame.message_type();
                // Messages are 4-byte aligned within a datagram.
                offset += (len + 3) & !3;
                if seq != self.sequence {
                    // Left over from an earlier dump that ended in an error.
                    continue;
                }
                if flags & NLM_F_DUMP_INTR != 0 {
                    interrupted = true;
                }
                match NetlinkMessage::<RouteNetlinkMessage>::deserialize(&rest[..len]) {
                    Ok(message) => match message.payload {
                        NetlinkPayload::Done(_) => return Ok((dump, interrupted)),
                        NetlinkPayload::Error(e) if e.code.is_some() => {
                            return Err(NetlinkError::Kernel(e.to_io()))
                        }
                        NetlinkPayload::InnerMessage(m) => dump.messages.push(m),
                        NetlinkPayload::Overrun(_) => {
                            return Err(NetlinkError::Malformed("receive overrun".into()))
                        }
                        // An acknowledgement or a no-op carries nothing for a dump.
                        _ => {}
                    },
                    Err(e) => dump
                        .undecodable
                        .push(format!("message type {kind} ({len} bytes): {e}")),
                }
            }
        }
    }
}
