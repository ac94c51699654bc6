pub mod cache;
pub mod config;
pub mod dispatch;
pub mod engine;
pub mod error;
pub mod json;
pub mod model;
pub mod store;
