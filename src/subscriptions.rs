//! Unread counts by filter that the host subscribed to (Tencent's
//! subscribeUnreadMessageCountByFilter): each subscription keeps its
//! filter's count, and every committed write's changes tell it whether the
//! count moved, without reading the store again (only a write whose
//! previous state is unknown, an import with nobody listening, makes it
//! count anew).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::error::Result;
use crate::events::FilteredUnread;
use crate::model::{saturated, Conversation, ListFilter};

struct Subscription {
    id: u64,
    filter: Arc<ListFilter>,
    /// The exact count once known.
    count: Option<u128>,
}

/// The subscriptions of one instance.
pub struct Subscriptions {
    list: Mutex<Vec<Subscription>>,
    next_id: AtomicU64,
}

impl Default for Subscriptions {
    fn default() -> Self {
        Subscriptions {
            list: Mutex::new(Vec::new()),
            next_id: AtomicU64::new(1),
        }
    }
}

/// What one write changed, per subscription (in the order of the list
/// when the write began).
pub struct Deltas {
    ids: Vec<(u64, Arc<ListFilter>)>,
    deltas: Vec<i128>,
    /// A change whose previous state is unknown: counts are read anew.
    untracked: bool,
}

impl Deltas {
    /// One conversation as it was and as it is now (`None`: not stored).
    pub fn add(&mut self, before: Option<&Conversation>, after: Option<&Conversation>) {
        for ((_, filter), d) in self.ids.iter().zip(&mut self.deltas) {
            *d += part(filter, after) as i128 - part(filter, before) as i128;
        }
    }

    pub fn untracked(&mut self) {
        self.untracked = true;
    }
}

/// What a conversation adds to a filter's unread count: its unread count
/// when it passes the filter and is not muted (as the totals count).
fn part(filter: &ListFilter, c: Option<&Conversation>) -> u64 {
    match c {
        Some(c) if !matches!(c.recv_opt, 1..=3) && filter.passes(c) => c.unread_count,
        _ => 0,
    }
}

impl Subscriptions {
    /// Subscribes to a filter's unread count; returns the subscription's ID.
    pub fn subscribe(&self, filter: ListFilter) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.list.lock().push(Subscription {
            id,
            filter: Arc::new(filter),
            count: None,
        });
        id
    }

    /// Ends a subscription; false when no subscription has that ID.
    pub fn unsubscribe(&self, id: u64) -> bool {
        let mut list = self.list.lock();
        let before = list.len();
        list.retain(|s| s.id != id);
        list.len() != before
    }

    /// An accumulator for one write's changes; `None` without subscriptions.
    pub fn deltas(&self) -> Option<Deltas> {
        let list = self.list.lock();
        if list.is_empty() {
            return None;
        }
        Some(Deltas {
            ids: list.iter().map(|s| (s.id, s.filter.clone())).collect(),
            deltas: vec![0; list.len()],
            untracked: false,
        })
    }

    /// After the write committed: each subscription's new count, and the
    /// ones that changed as events. `count_now` reads a filter's count from
    /// the store as committed (for a count not known yet, or after an
    /// untracked change); when it fails the count is forgotten and read
    /// again next time.
    pub fn settle(
        &self,
        d: Deltas,
        mut count_now: impl FnMut(&ListFilter) -> Result<u128>,
    ) -> Vec<FilteredUnread> {
        let mut events = Vec::new();
        let mut list = self.list.lock();
        for ((id, filter), delta) in d.ids.into_iter().zip(d.deltas) {
            // Unsubscribed meanwhile: nothing to do.
            let Some(s) = list.iter_mut().find(|s| s.id == id) else {
                continue;
            };
            if !d.untracked && delta == 0 {
                continue;
            }
            let now = match (s.count, d.untracked) {
                (Some(known), false) => (known as i128 + delta).max(0) as u128,
                _ => match count_now(&filter) {
                    Ok(now) => now,
                    Err(_) => {
                        s.count = None;
                        continue;
                    }
                },
            };
            let before = match (s.count, d.untracked) {
                (Some(known), _) => Some(known),
                (None, false) => Some((now as i128 - delta).max(0) as u128),
                (None, true) => None,
            };
            s.count = Some(now);
            if before.is_some_and(|b| saturated(b) != saturated(now)) {
                events.push(FilteredUnread {
                    subscription: id,
                    filter,
                    count: saturated(now),
                });
            }
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ConversationId, ConversationType};

    fn conv(id: &str, unread: u64) -> Conversation {
        let mut c = Conversation::empty(ConversationId::parse(id).unwrap());
        c.unread_count = unread;
        c
    }

    #[test]
    fn a_count_is_raised_only_when_it_moves() {
        let subs = Subscriptions::default();
        let groups = subs.subscribe(ListFilter {
            kind: Some(ConversationType::Group),
            ..ListFilter::default()
        });
        let all = subs.subscribe(ListFilter::default());
        // The store holds group_g with 2 unread and c2c_a with 1.
        let store = |f: &ListFilter| -> Result<u128> { Ok(if f.kind.is_some() { 3 } else { 4 }) };
        // group_g goes from 2 to 3: both counts move.
        let mut d = subs.deltas().unwrap();
        d.add(Some(&conv("group_g", 2)), Some(&conv("group_g", 3)));
        let events = subs.settle(d, store);
        let got: Vec<(u64, u64)> = events.iter().map(|e| (e.subscription, e.count)).collect();
        assert_eq!(got, vec![(groups, 3), (all, 4)]);
        // c2c_a changes: only the count of all moves; the store is not read.
        let mut d = subs.deltas().unwrap();
        d.add(Some(&conv("c2c_a", 1)), Some(&conv("c2c_a", 0)));
        let events = subs.settle(d, |_| panic!("the count is known"));
        let got: Vec<(u64, u64)> = events.iter().map(|e| (e.subscription, e.count)).collect();
        assert_eq!(got, vec![(all, 3)]);
        // Muted: no part of any count; a change that moves nothing raises nothing.
        let mut muted = conv("group_m", 5);
        muted.recv_opt = 2;
        let mut d = subs.deltas().unwrap();
        d.add(None, Some(&muted));
        assert!(subs.settle(d, |_| panic!("nothing moved")).is_empty());
        assert!(subs.unsubscribe(groups));
        assert!(!subs.unsubscribe(groups));
    }
}
