//! The state's calls on the whole store that are neither reads of
//! conversations nor writes: a full check, the conversation groups, and
//! what the engine's upkeep needs (the checkpoint connection, the WAL).

use super::{optional, State};
use crate::error::{Error, ErrorCode, Result};
use crate::model::{Snapshot, Text};
use crate::store::{Checkpointer, Reader};

impl<V: Snapshot> State<V> {
    /// A full check of the store, beside the writer where it can be (a
    /// store in memory is checked under the store's lock): the damaged
    /// conversations' IDs. Each is told (once), and so is damage that is
    /// no one conversation's.
    pub fn verify(&self) -> Result<Vec<String>> {
        let beside = {
            let reader = self.reader.lock();
            reader.as_ref().map(Reader::verify)
        };
        let found = match beside {
            Some(found) => found?,
            None => self.with_store(|store| store.verify())?,
        };
        for id in &found.damaged {
            let e = crate::store::checksum::damaged(id, "found by a full check");
            self.health.damaged(Some(id), &e);
        }
        if !found.structure.is_empty() {
            let e = Error::new(
                ErrorCode::StoreDamaged,
                format!(
                    "the store is damaged: a full check found: {}",
                    found.structure.join("; ")
                ),
            );
            self.health.damaged(None, &e);
        }
        Ok(found.damaged)
    }

    /// The conversation groups' names, in creation order.
    pub fn groups(&self) -> Result<Vec<Text>> {
        let groups = self.with_store(|store| store.groups())?;
        groups.iter().map(|(name, _)| Text::new(name)).collect()
    }

    /// A second connection for WAL checkpoints, off the writer (`None` in
    /// memory, or when it cannot be opened: the instance then works
    /// without it, and SQLite checkpoints on the writer's connection).
    pub fn checkpointer(&self) -> Option<Checkpointer> {
        optional("checkpoint", self.with_store(|s| s.checkpointer()))
    }

    /// The store's WAL file (`None` in memory).
    pub fn wal_path(&self) -> Option<std::path::PathBuf> {
        self.with_store(|s| Ok(s.wal_path())).ok().flatten()
    }
}
