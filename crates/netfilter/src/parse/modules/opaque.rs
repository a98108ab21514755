//! Matches whose outcome depends on what a packet description does not hold (rates, owners, sockets, payload bytes): read, and evaluated as unknown.

use super::opaque;
use crate::parse::args::{Opt, RuleArgs};
use std::sync::Arc;

/// The match modules this file reads.
pub(super) const MODULES: &[(&[&str], super::Reader)] = &[
    (&["limit", "hashlimit"], limit),
    (&["owner"], owner),
    (&["socket"], socket_match),
    (&["rpfilter"], rpfilter),
    (&["string"], string_match),
    (&["u32"], u32_match),
    (&["devgroup"], devgroup),
];

/// `-m limit | hashlimit`.
fn limit(
    name: &str,
    opts: &[Opt],
    _proto_seen: Option<u8>,
    _src: &Arc<String>,
    out: &mut RuleArgs,
) -> Result<(), String> {
    opaque(
        out,
        name,
        opts,
        "rate limits depend on the traffic's history",
    );
    Ok(())
}

/// `-m owner`.
fn owner(
    name: &str,
    opts: &[Opt],
    _proto_seen: Option<u8>,
    _src: &Arc<String>,
    out: &mut RuleArgs,
) -> Result<(), String> {
    opaque(
        out,
        name,
        opts,
        "the owning socket is not part of the packet description",
    );
    Ok(())
}

/// `-m socket`.
fn socket_match(
    name: &str,
    opts: &[Opt],
    _proto_seen: Option<u8>,
    _src: &Arc<String>,
    out: &mut RuleArgs,
) -> Result<(), String> {
    opaque(
        out,
        name,
        opts,
        "whether a local socket exists is not known",
    );
    Ok(())
}

/// `-m rpfilter`.
fn rpfilter(
    name: &str,
    opts: &[Opt],
    _proto_seen: Option<u8>,
    _src: &Arc<String>,
    out: &mut RuleArgs,
) -> Result<(), String> {
    opaque(
        out,
        name,
        opts,
        "reverse-path lookups need the routing table",
    );
    Ok(())
}

/// `-m string`.
fn string_match(
    name: &str,
    opts: &[Opt],
    _proto_seen: Option<u8>,
    _src: &Arc<String>,
    out: &mut RuleArgs,
) -> Result<(), String> {
    opaque(
        out,
        name,
        opts,
        "the payload is not part of the packet description",
    );
    Ok(())
}

/// `-m u32`.
fn u32_match(
    name: &str,
    opts: &[Opt],
    _proto_seen: Option<u8>,
    _src: &Arc<String>,
    out: &mut RuleArgs,
) -> Result<(), String> {
    opaque(
        out,
        name,
        opts,
        "raw header bytes are not part of the packet description",
    );
    Ok(())
}

/// `-m devgroup`.
fn devgroup(
    name: &str,
    opts: &[Opt],
    _proto_seen: Option<u8>,
    _src: &Arc<String>,
    out: &mut RuleArgs,
) -> Result<(), String> {
    opaque(out, name, opts, "interface groups are not known");
    Ok(())
}
