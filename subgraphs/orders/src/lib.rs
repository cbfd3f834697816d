//! orders service
