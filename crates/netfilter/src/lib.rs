//! netdoctor-netfilter: parses iptables-save dumps and nft JSON, and evaluates packets through them.

pub mod error;
pub mod eval;
pub mod nft;
pub mod packet;
pub mod parse;
pub mod rule;

pub use error::{ErrorKind, ParseError};
pub use eval::{Evaluation, Evaluator, Outcome, Verdict};
pub use packet::{CtDir, CtState, HostContext, Hook, Packet};
pub use nft::parse_nft_json;
pub use parse::{parse_dump, parse_iptables_save};
pub use rule::*;
