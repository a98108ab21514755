//! Evidence bundles (being written).
