//! HTTP (the only module that imports axum).
