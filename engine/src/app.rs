//! Wires settings, store, scheduler and web together.
