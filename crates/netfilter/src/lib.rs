//! netdoctor-netfilter (stub; being written).
