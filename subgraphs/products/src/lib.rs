//! products service
