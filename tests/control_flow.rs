//! control_flow
