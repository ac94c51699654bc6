//! What a write may do to the store: every call goes through its `Txn`,
//! which holds the writer; the write operations (`crate::write`) never
//! see the writer itself. Each method is the store's own (see `store`).

use super::Txn;
use crate::error::Result;
use crate::model::Snapshot;
use crate::store::{Applied, AppliedMessage, Marked, ReadUpTo};

impl<V: Snapshot> Txn<'_, '_, V> {
    // Remembered messages (see `store::applied`).
    pub fn applied(&mut self, conversation_id: &str, msg_id: &str) -> Result<Option<Applied>> {
        self.w.applied(conversation_id, msg_id)
    }
    pub fn record_message(&mut self, m: &AppliedMessage) -> Result<()> {
        self.w.record_message(m)
    }
    pub fn remember_message(&mut self, m: &AppliedMessage) -> Result<()> {
        self.w.remember_message(m)
    }
    pub fn move_message(&mut self, m: &AppliedMessage) -> Result<()> {
        self.w.move_message(m)
    }
    pub fn forget_unread(&mut self, conversation_id: &str, msg_id: &str) -> Result<()> {
        self.w.forget_unread(conversation_id, msg_id)
    }
    pub fn unread_messages(&mut self, id: &str) -> Result<u64> {
        self.w.unread_messages(id)
    }
    pub fn mark_messages_read(&mut self, id: &str, upto: ReadUpTo) -> Result<Marked> {
        self.w.mark_messages_read(id, upto)
    }
    pub fn keep_newest_unread(&mut self, id: &str, n: u64) -> Result<Vec<(u64, i32)>> {
        self.w.keep_newest_unread(id, n)
    }
    pub fn forget_read(
        &mut self,
        id: &str,
        read_ms: u64,
        read_seq: u64,
        keep: Option<&str>,
    ) -> Result<u64> {
        self.w.forget_read(id, read_ms, read_seq, keep)
    }
    pub fn forget_marked(
        &mut self,
        id: &str,
        msg_ids: &[String],
        keep: Option<&str>,
    ) -> Result<()> {
        self.w.forget_marked(id, msg_ids, keep)
    }
    pub fn forget_messages(&mut self, id: &str) -> Result<()> {
        self.w.forget_messages(id)
    }
    pub fn was_forgotten(&self, conversation_id: &str, msg_id: &str) -> Result<bool> {
        self.w.was_forgotten(conversation_id, msg_id)
    }
    pub fn any_applied_message(&self) -> Result<bool> {
        self.w.any_applied_message()
    }

    // Conversation groups.
    pub fn put_group(&mut self, name: &str, position: i64) -> Result<()> {
        self.w.put_group(name, position)
    }
    pub fn delete_group(&mut self, name: &str) -> Result<()> {
        self.w.delete_group(name)
    }
    pub fn group_members(&self, name: &str) -> Result<Vec<String>> {
        self.w.group_members(name)
    }

    // The list.
    pub fn newest_activity(&self) -> Result<u64> {
        self.w.newest_activity()
    }
    pub fn pinned_count(&self) -> Result<u64> {
        self.w.pinned_count()
    }
    pub fn ids_to_mark_read(&self, kind: Option<i32>, upto: ReadUpTo) -> Result<Vec<String>> {
        self.w.ids_to_mark_read(kind, upto)
    }
    pub fn conversation_ids(&self) -> Result<Vec<String>> {
        self.w.conversation_ids()
    }
    pub fn no_conversations(&self) -> Result<bool> {
        self.w.no_conversations()
    }
    pub fn drop_order_index(&mut self) -> Result<()> {
        self.w.drop_order_index()
    }
    pub fn create_order_index(&mut self) -> Result<()> {
        self.w.create_order_index()
    }
}
