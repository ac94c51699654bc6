//! The limits of the C API (IMCONV_MAX_*), each the core's own value (a
//! test checks that they agree).

/// Most conversation IDs one batch write takes (mark, receive option,
/// custom data, group membership, delete); more fail the call.
pub const IMCONV_MAX_IDS_PER_CALL: usize = 100;
/// Most conversation groups.
pub const IMCONV_MAX_GROUPS: usize = 20;
/// Longest conversation group name, in bytes (no control characters).
pub const IMCONV_MAX_GROUP_NAME_BYTES: usize = 32;
/// Most pinned conversations.
pub const IMCONV_MAX_PINNED: u64 = 50;
/// Most conversations in one page.
pub const IMCONV_MAX_PAGE: usize = 1000;
/// A message's msgID: 1 to this many bytes.
pub const IMCONV_MAX_MSG_ID_BYTES: usize = 128;
/// Longest showName, in bytes.
pub const IMCONV_MAX_SHOW_NAME_BYTES: usize = 1024;
/// Longest faceUrl, in bytes.
pub const IMCONV_MAX_FACE_URL_BYTES: usize = 2048;
/// Longest groupType, in bytes.
pub const IMCONV_MAX_GROUP_TYPE_BYTES: usize = 64;
/// Longest draft, in bytes.
pub const IMCONV_MAX_DRAFT_BYTES: usize = 16384;
/// Longest customData, in bytes.
pub const IMCONV_MAX_CUSTOM_DATA_BYTES: usize = 256;
/// Longest message object (a lastMessage, or one applied message) as JSON
/// text, in bytes.
pub const IMCONV_MAX_MESSAGE_BYTES: usize = 65536;
/// Largest JSON document one call takes (import, sync, messages, profiles),
/// in bytes.
pub const IMCONV_MAX_DOCUMENT_BYTES: usize = 67108864;
/// Most writes waiting in one instance's queue; a write call beyond it
/// returns IMCONV_ERR_QUEUE_FULL.
pub const IMCONV_MAX_QUEUED_WRITES: usize = 10000;
/// Most reads (lookups, lists, pages, totals, group lists) of one instance
/// accepted and not yet called back: a read call past it returns
/// IMCONV_ERR_QUEUE_FULL at once and makes no callback.
pub const IMCONV_MAX_QUEUED_READS: usize = 65536;
/// Most bytes of arguments waiting in one instance's write queue; a write
/// call beyond it returns IMCONV_ERR_QUEUE_FULL (a write into an empty queue
/// is always taken).
pub const IMCONV_MAX_QUEUED_BYTES: usize = 67108864;
