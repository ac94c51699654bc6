//! Unread counts by filter that the host subscribed to (Tencent's
//! subscribeUnreadMessageCountByFilter): each subscription's count is read
//! from the store once, before the first group of writes after it was
//! made (under the store's lock, before anything is written), and from
//! then on every committed write's changes move it, without reading the
//! store again.

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

/// The subscriptions a group of writes keeps up to date, with what the
/// current write changed (in the order of the list when the group began).
/// Each count was known before the group's first write, so every write's
/// changes move it from an exact base.
pub struct Deltas {
    ids: Vec<(u64, Arc<ListFilter>)>,
    deltas: Vec<i128>,
    /// A change whose previous state is unknown: the counts are forgotten
    /// and read anew before the next group.
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
    /// Its count is read before the next group of writes.
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

    /// Whether any subscription exists (then every write reads what it
    /// replaces, so that its change can be counted).
    pub fn any(&self) -> bool {
        !self.list.lock().is_empty()
    }

    /// Before a group of writes (store lock held, nothing written yet):
    /// reads the count of every subscription that has none yet, and
    /// returns the accumulator the group's writes fill; `None` without
    /// subscriptions. A subscription whose count cannot be read is left
    /// out of this group and read again before the next.
    pub fn begin(&self, mut count_now: impl FnMut(&ListFilter) -> Result<u128>) -> Option<Deltas> {
        let mut list = self.list.lock();
        if list.is_empty() {
            return None;
        }
        let mut ids = Vec::with_capacity(list.len());
        for s in list.iter_mut() {
            if s.count.is_none() {
                s.count = count_now(&s.filter).ok();
            }
            if s.count.is_some() {
                ids.push((s.id, s.filter.clone()));
            }
        }
        let n = ids.len();
        Some(Deltas {
            ids,
            deltas: vec![0; n],
            untracked: false,
        })
    }

    /// After one write of the group committed: each subscription's new
    /// count, and the ones that changed as events; the accumulator is
    /// emptied for the next write.
    pub fn settle(&self, d: &mut Deltas) -> Vec<FilteredUnread> {
        let mut events = Vec::new();
        let mut list = self.list.lock();
        if d.untracked {
            // Not reachable while subscriptions make every write read what
            // it replaces; if it were, the counts are read anew.
            for s in list.iter_mut() {
                s.count = None;
            }
            d.ids.clear();
            d.deltas.clear();
            return events;
        }
        for ((id, filter), delta) in d.ids.iter().zip(&mut d.deltas) {
            let delta = std::mem::take(delta);
            // Unsubscribed meanwhile: nothing to do.
            let Some(s) = list.iter_mut().find(|s| s.id == *id) else {
                continue;
            };
            let Some(known) = s.count else { continue };
            if delta == 0 {
                continue;
            }
            let now = (known as i128 + delta).max(0) as u128;
            s.count = Some(now);
            if saturated(known) != saturated(now) {
                events.push(FilteredUnread {
                    subscription: *id,
                    filter: filter.clone(),
                    count: saturated(now),
                });
            }
        }
        events
    }

    /// Another process changed the store (see `state::shared`): every
    /// known count is read again; returns the ones that moved. A count
    /// that cannot be read is forgotten (read again before the next write).
    pub fn recount(
        &self,
        mut count_now: impl FnMut(&ListFilter) -> Result<u128>,
    ) -> Vec<FilteredUnread> {
        let mut events = Vec::new();
        for s in self.list.lock().iter_mut() {
            let Some(known) = s.count else { continue };
            s.count = count_now(&s.filter).ok();
            if let Some(now) = s.count.filter(|&n| saturated(n) != saturated(known)) {
                events.push(FilteredUnread {
                    subscription: s.id,
                    filter: s.filter.clone(),
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
    fn a_count_is_read_before_the_group_and_raised_only_when_it_moves() {
        let subs = Subscriptions::default();
        let groups = subs.subscribe(ListFilter {
            kind: Some(ConversationType::Group),
            ..ListFilter::default()
        });
        let all = subs.subscribe(ListFilter::default());
        // Before the group the store holds group_g with 2 unread and c2c_a
        // with 1: the counts are read then, once.
        let store = |f: &ListFilter| -> Result<u128> { Ok(if f.kind.is_some() { 2 } else { 3 }) };
        let mut d = subs.begin(store).unwrap();
        // group_g goes from 2 to 3: both counts move.
        d.add(Some(&conv("group_g", 2)), Some(&conv("group_g", 3)));
        let events = subs.settle(&mut d);
        let got: Vec<(u64, u64)> = events.iter().map(|e| (e.subscription, e.count)).collect();
        assert_eq!(got, vec![(groups, 3), (all, 4)]);
        // The next write of the group: c2c_a changes, only the count of
        // all moves, from where the last write left it.
        d.add(Some(&conv("c2c_a", 1)), Some(&conv("c2c_a", 0)));
        let events = subs.settle(&mut d);
        let got: Vec<(u64, u64)> = events.iter().map(|e| (e.subscription, e.count)).collect();
        assert_eq!(got, vec![(all, 3)]);
        // The next group reads nothing: the counts are known.
        let mut d = subs.begin(|_| panic!("the counts are known")).unwrap();
        // Muted: no part of any count; a change that moves nothing raises nothing.
        let mut muted = conv("group_m", 5);
        muted.recv_opt = 2;
        d.add(None, Some(&muted));
        assert!(subs.settle(&mut d).is_empty());
        // A subscription made during a group is not in it: it is counted
        // before the next.
        let late = subs.subscribe(ListFilter::default());
        d.add(None, Some(&conv("c2c_b", 1)));
        let got: Vec<u64> = subs.settle(&mut d).iter().map(|e| e.subscription).collect();
        assert_eq!(got, vec![all]);
        let mut d = subs.begin(|_| Ok(4)).unwrap();
        d.add(None, Some(&conv("c2c_c", 1)));
        let got: Vec<(u64, u64)> = subs
            .settle(&mut d)
            .iter()
            .map(|e| (e.subscription, e.count))
            .collect();
        assert_eq!(got, vec![(all, 5), (late, 5)]);
        assert!(subs.unsubscribe(groups));
        assert!(!subs.unsubscribe(groups));
    }
}
