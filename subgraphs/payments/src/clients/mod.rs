//! What payments calls: the card provider.

pub mod card_provider;
