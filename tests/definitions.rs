//! definitions
