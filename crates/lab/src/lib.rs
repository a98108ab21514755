//! netdoctor-lab (stub; being written).
