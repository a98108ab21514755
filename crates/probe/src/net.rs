//! TCP connects and DNS queries, through the node's own sockets.

use crate::ProbeError;
use simple_dns::rdata::RData;
use simple_dns::{Name, Packet, PacketFlag, Question, CLASS, QCLASS, QTYPE, RCODE, TYPE};
use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

/// What became of a connect or a query.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// Connected, or a DNS answer with these addresses.
    Ok {
        rtt: Duration,
        addresses: Vec<Ipv4Addr>,
    },
    /// A DNS answer that is an error (NXDOMAIN, SERVFAIL, ...).
    DnsError { rtt: Duration, rcode: String },
    /// TCP RST or ICMP port unreachable.
    Refused,
    /// Nothing in time.
    Silence,
    /// ICMP host or network unreachable.
    Unreachable,
    /// The local stack refused to send it.
    NotSent(String),
}

fn from_io(e: &std::io::Error) -> Option<Answer> {
    Some(match e.kind() {
        ErrorKind::ConnectionRefused => Answer::Refused,
        ErrorKind::TimedOut | ErrorKind::WouldBlock => Answer::Silence,
        ErrorKind::HostUnreachable | ErrorKind::NetworkUnreachable => Answer::Unreachable,
        ErrorKind::PermissionDenied => {
            Answer::NotSent("a rule in the OUTPUT chain drops it (EPERM)".into())
        }
        _ => return None,
    })
}

/// A TCP connect to `to`, closed at once.
pub fn connect(to: SocketAddr, timeout: Duration) -> Result<Answer, ProbeError> {
    let started = Instant::now();
    match TcpStream::connect_timeout(&to, timeout) {
        Ok(s) => {
            drop(s);
            Ok(Answer::Ok {
                rtt: started.elapsed(),
                addresses: Vec::new(),
            })
        }
        Err(e) => from_io(&e).ok_or(ProbeError::Io(e)),
    }
}

/// Ask `server` (UDP) for the A record of `name`.
pub fn query(server: SocketAddr, name: &str, timeout: Duration) -> Result<Answer, ProbeError> {
    let id = (std::process::id() as u16) ^ 0x5a5a;
    let mut packet = Packet::new_query(id);
    packet.set_flags(PacketFlag::RECURSION_DESIRED);
    let qname = Name::new(name).map_err(|e| ProbeError::Packet(format!("{name}: {e}")))?;
    packet.questions.push(Question::new(
        qname,
        QTYPE::TYPE(TYPE::A),
        QCLASS::CLASS(CLASS::IN),
        false,
    ));
    let bytes = packet
        .build_bytes_vec()
        .map_err(|e| ProbeError::Packet(e.to_string()))?;
    let sock = UdpSocket::bind("0.0.0.0:0").map_err(ProbeError::Io)?;
    if let Err(e) = sock.connect(server) {
        return from_io(&e).ok_or(ProbeError::Io(e));
    }
    let started = Instant::now();
    if let Err(e) = sock.send(&bytes) {
        return from_io(&e).ok_or(ProbeError::Io(e));
    }
    let deadline = started + timeout;
    let mut buf = [0u8; 4096];
    loop {
        let now = Instant::now();
        if now >= deadline {
            return Ok(Answer::Silence);
        }
        sock.set_read_timeout(Some(deadline - now))
            .map_err(ProbeError::Io)?;
        let n = match sock.recv(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return from_io(&e).ok_or(ProbeError::Io(e)),
        };
        let Ok(reply) = Packet::parse(&buf[..n]) else {
            continue;
        };
        if reply.id() != id || !reply.has_flags(PacketFlag::RESPONSE) {
            continue;
        }
        let rtt = started.elapsed();
        let rcode = reply.rcode();
        if rcode != RCODE::NoError {
            return Ok(Answer::DnsError {
                rtt,
                rcode: format!("{rcode:?}"),
            });
        }
        let addresses = reply
            .answers
            .iter()
            .filter_map(|rr| match &rr.rdata {
                RData::A(a) => Some(Ipv4Addr::from(a.address)),
                _ => None,
            })
            .collect();
        return Ok(Answer::Ok { rtt, addresses });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_to_a_local_server_gets_its_answer() {
        // A one-shot DNS server on loopback: answers the query with 10.96.0.1.
        let server = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let addr = server.local_addr().expect("addr");
        let t = std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            let (n, from) = server.recv_from(&mut buf).expect("recv");
            let q = Packet::parse(&buf[..n]).expect("parse");
            assert!(q.has_flags(PacketFlag::RECURSION_DESIRED));
            let mut r = Packet::new_reply(q.id());
            r.questions = q.questions.clone();
            r.answers.push(simple_dns::ResourceRecord::new(
                q.questions[0].qname.clone(),
                CLASS::IN,
                30,
                RData::A(simple_dns::rdata::A {
                    address: u32::from(Ipv4Addr::new(10, 96, 0, 1)),
                }),
            ));
            server
                .send_to(&r.build_bytes_vec().expect("bytes"), from)
                .expect("send");
        });
        let a = query(
            addr,
            "kubernetes.default.svc.cluster.local",
            Duration::from_secs(2),
        )
        .expect("query");
        t.join().expect("server");
        match a {
            Answer::Ok { addresses, .. } => {
                assert_eq!(addresses, vec![Ipv4Addr::new(10, 96, 0, 1)])
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_closed_port_is_refused_and_a_silent_one_times_out() {
        // Bind then drop: nobody listens there now.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr");
        assert_eq!(
            connect(port, Duration::from_secs(1)).expect("connect"),
            Answer::Refused
        );
        let quiet = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let a = query(
            quiet.local_addr().expect("addr"),
            "kubernetes.default.svc.cluster.local",
            Duration::from_millis(200),
        )
        .expect("query");
        assert_eq!(a, Answer::Silence);
    }
}
