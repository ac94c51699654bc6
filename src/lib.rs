//! imconv: the conversation layer of an IM client SDK.
//!
//! Layers, lowest first; a layer uses only those below it:
//! - [`error`]: error codes and messages (the one place codes are mapped);
//!   [`inject`]: panics at named stages of a call, for tests;
//! - [`model`]: conversation IDs and the conversation record;
//! - [`key`]: the store's encryption key, kept secret and wiped;
//! - [`json`], [`config`]: reading and writing JSON, instance options;
//! - [`store`]: SQLite (schema, migrations, queries);
//! - [`cache`]: the in-memory cache in front of the store;
//! - [`dispatch`]: the callback thread, the exactly-once completer, and the
//!   record of cross-thread waits that keeps them from forming a cycle;
//! - [`events`]: listeners and the event batch one write raises;
//! - [`state`]: one instance's state, reads, and the one place writes commit
//!   (on the calling thread: it starts no thread and posts nothing);
//! - [`write`](mod@write): the write operations, their checks and what each changes;
//! - [`engine`]: the threads and jobs, the one place work changes threads:
//!   runtime, dispatcher, read pool, the write queue, checkpoints and syncs;
//! - [`ffi`]: the C ABI, the only code with `extern "C"` and raw pointers.

// `unsafe` lives only in the C ABI, the host thread's start and join, and
// the shared change counter's mapping (`shared_map`),
// each block with a SAFETY comment; everything else is safe Rust.
#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod cache;
pub mod config;
pub mod dispatch;
pub mod engine;
pub mod error;
pub mod events;
#[allow(unsafe_code)]
pub mod host_thread;
pub mod inject;
pub mod json;
pub mod key;
pub mod log;
pub mod model;
pub mod platform;
#[allow(unsafe_code)]
pub mod shared_map;
pub mod state;
pub mod store;
pub mod subscriptions;
#[cfg(test)]
mod test_support;
pub mod write;

#[allow(unsafe_code)]
pub mod ffi;
