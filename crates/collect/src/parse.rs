//! Text importers (being written).
