//! payments service
