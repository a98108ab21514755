//! Matches whose outcome depends on what a packet description does not hold (rates, owners,
//! sockets, payload bytes): read, kept with the reason, and evaluated as unknown.

use super::{opaque, Args};

/// The modules read as opaque, and why each cannot be decided from a packet description.
const OPAQUE: &[(&[&str], &str)] = &[
    (
        &["limit", "hashlimit"],
        "rate limits depend on the traffic's history",
    ),
    (
        &["owner"],
        "the owning socket is not part of the packet description",
    ),
    (&["socket"], "whether a local socket exists is not known"),
    (&["rpfilter"], "reverse-path lookups need the routing table"),
    (
        &["string"],
        "the payload is not part of the packet description",
    ),
    (
        &["u32"],
        "raw header bytes are not part of the packet description",
    ),
    (&["devgroup"], "interface groups are not known"),
];

/// The match modules this file reads.
pub(super) const MODULES: &[(&[&str], super::Reader)] = &[
    (&["limit", "hashlimit"], unknowable),
    (&["owner"], unknowable),
    (&["socket"], unknowable),
    (&["rpfilter"], unknowable),
    (&["string"], unknowable),
    (&["u32"], unknowable),
    (&["devgroup"], unknowable),
];

/// `-m limit`, `-m owner`, ...: the module and its options, as an opaque match.
fn unknowable(
    Args {
        name, opts, out, ..
    }: Args,
) -> Result<(), String> {
    let why = OPAQUE
        .iter()
        .find(|(names, _)| names.contains(&name))
        .map_or("not modelled", |(_, why)| why);
    opaque(out, name, opts, why);
    Ok(())
}
