//! netdoctor-report (stub; being written).
