//! Persistence through sea-orm (the only module that imports it).
