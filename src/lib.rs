//! imconv: the conversation layer of an IM client SDK.
//!
//! Layers, lowest first; a layer uses only those below it:
//! - [`error`]: error codes and messages (the one place codes are mapped);
//! - [`model`]: conversation IDs and the conversation record;
//! - [`json`], [`config`]: reading and writing JSON, instance options;
//! - [`store`]: SQLite (schema, migrations, queries);
//! - [`cache`]: the in-memory cache in front of the store;
//! - [`dispatch`]: the callback thread and the exactly-once completer;
//! - [`engine`]: answers requests; owns the runtime, store and dispatcher;
//! - [`manager`]: the write operations, events, ordered and filtered lists;
//! - [`ffi`]: the C ABI, the only code with `extern "C"` and raw pointers.

pub mod cache;
pub mod config;
pub mod dispatch;
pub mod engine;
pub mod error;
pub mod json;
pub mod manager;
pub mod model;
pub mod store;

pub mod ffi;
