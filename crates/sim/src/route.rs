//! The routing names the walk uses, from the node's [`netdoctor_datapath::Routing`] (the
//! lookup itself is `NodeModel::routing`).

pub use netdoctor_datapath::routing::{describe, table_name, Flow, Lookup};
