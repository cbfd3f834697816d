//! users service
