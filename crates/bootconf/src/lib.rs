//! netdoctor-bootconf (stub; being written).
