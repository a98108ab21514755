//! Live collection (being written).
