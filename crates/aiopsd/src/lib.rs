//! aiopsd (stub)
