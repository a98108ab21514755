//! netdoctor-checks (stub; being written).
