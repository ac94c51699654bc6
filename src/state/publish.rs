//! After a commit: one write's changes into the cache, the unread total and
//! the subscriptions' counts, and its events.

use std::sync::Arc;

use super::txn::{Change, Raised};
use super::{unread_part, State};
use crate::error::Result;
use crate::events::Events;
use crate::model::{saturated, ConversationId, ListFilter, Snapshot};
use crate::store::Store;
use crate::subscriptions::Deltas;

impl<V: Snapshot> State<V> {
    /// After a commit (store lock held): refreshes the cache with one
    /// write's changes, keeps the unread total and the subscriptions'
    /// counts, and builds the write's events (none when nobody listens or
    /// nothing changed).
    pub(super) fn publish(
        &self,
        changes: Vec<Change<V>>,
        raised: Raised,
        mut filtered: Option<&mut Deltas>,
    ) -> Option<Events<V>> {
        let mut events = Events::default();
        let mut untracked = Vec::new();
        let mut delta: i128 = 0;
        // A group event names the conversations the write changed, as views.
        let views: Vec<(ConversationId, Arc<V>)> = if raised.groups.is_empty() {
            Vec::new()
        } else {
            changes
                .iter()
                .filter_map(|c| Some((c.id.clone(), c.after.clone()?)))
                .collect()
        };
        for c in changes {
            let Some(before) = c.before else {
                // Written without reading what it replaced (an import with
                // nobody listening): refresh what the cache holds.
                if let Some(after) = c.after {
                    untracked.push((c.id, after));
                }
                if let Some(f) = &mut filtered {
                    f.untracked();
                }
                continue;
            };
            let after = c.after.as_deref().map(V::conversation);
            delta += unread_part(after) as i128 - unread_part(before.as_ref()) as i128;
            if let Some(f) = &mut filtered {
                f.add(before.as_ref(), after);
            }
            match c.after {
                Some(view) => {
                    self.cache.put(c.id.text(), Some(view.clone()));
                    if before.is_some() {
                        events.changed.push(view)
                    } else {
                        events.new.push(view)
                    }
                }
                None => {
                    self.cache.put(c.id.text(), None);
                    events.deleted.push(c.id);
                }
            }
        }
        {
            let mut total = self.total_unread.lock();
            if !untracked.is_empty() {
                *total = None;
            } else if let (Some(t), d) = (*total, delta) {
                if d != 0 {
                    let now = (t as i128 + d).max(0) as u128;
                    *total = Some(now);
                    if saturated(now) != saturated(t) {
                        events.total = Some(saturated(now));
                    }
                }
            }
        }
        if !untracked.is_empty() {
            self.cache
                .refresh(untracked.iter().map(|(id, v)| (id.text(), v.clone())));
        }
        if let Some(f) = filtered {
            events.filtered = self.subscriptions.settle(f);
        }
        events.sync = raised.sync;
        events.groups = raised
            .groups
            .into_iter()
            .map(|g| g.map(|id| views.iter().find(|(v, _)| *v == id).map(|(_, v)| v.clone())))
            .filter(|g| !g.is_empty())
            .collect();
        (!events.is_empty() && !self.listeners.is_empty()).then_some(events)
    }

    /// Learns the unread total (it reads every row) when it is not known.
    /// Store lock held.
    pub(super) fn ensure_total(&self, store: &Store) -> Result<()> {
        let mut total = self.total_unread.lock();
        if total.is_none() {
            *total = Some(store.unread_total(&ListFilter::default())?);
        }
        Ok(())
    }
}
