//! Tencent's listener surface beyond the list's four events (issue 16,
//! item 6): the host's sync stages in order with the writes, the five
//! conversation-group events, and unread counts by filter.

mod common;

use std::sync::Arc;

use imconv::engine::Engine;
use imconv::events::{FilteredUnread, GroupEvent, Listener, SyncStage};
use imconv::model::{ConversationId, ConversationType, ListFilter};
use imconv::write::Write;
use parking_lot::Mutex;

use common::*;

/// Records every event, the list's too, as lines.
#[derive(Default)]
struct Everything(Mutex<Vec<String>>);

impl Listener<View> for Everything {
    fn on_new(&self, c: &[Arc<View>]) {
        self.0.lock().push(format!("new {}", names(c)));
    }
    fn on_changed(&self, c: &[Arc<View>]) {
        self.0.lock().push(format!("changed {}", names(c)));
    }
    fn on_deleted(&self, ids: &[ConversationId]) {
        let ids: Vec<&str> = ids.iter().map(|i| i.as_str()).collect();
        self.0.lock().push(format!("deleted {}", ids.join(",")));
    }
    fn on_total_unread_changed(&self, total: u64) {
        self.0.lock().push(format!("total {total}"));
    }
    fn on_sync(&self, stage: SyncStage) {
        self.0.lock().push(format!("sync {stage:?}"));
    }
    fn on_group(&self, e: &GroupEvent<Arc<View>>) {
        let line = match e {
            GroupEvent::Created {
                name,
                conversations,
            } => format!("group created {} [{}]", name.as_str(), names(conversations)),
            GroupEvent::Deleted { name } => format!("group deleted {}", name.as_str()),
            GroupEvent::Renamed { from, to } => {
                format!("group renamed {} {}", from.as_str(), to.as_str())
            }
            GroupEvent::Added {
                name,
                conversations,
            } => format!("group added {} [{}]", name.as_str(), names(conversations)),
            GroupEvent::Removed {
                name,
                conversations,
            } => format!("group removed {} [{}]", name.as_str(), names(conversations)),
        };
        self.0.lock().push(line);
    }
    fn on_filtered_unread(&self, f: &FilteredUnread) {
        self.0
            .lock()
            .push(format!("filtered {} {}", f.subscription, f.count));
    }
}

fn listen(e: &Engine<View>) -> Arc<Everything> {
    let l = Arc::new(Everything::default());
    e.add_listener(l.clone());
    l
}

fn take(l: &Everything) -> Vec<String> {
    std::mem::take(&mut *l.0.lock())
}

#[test]
fn sync_stages_arrive_in_order_with_the_writes() {
    let e = memory();
    let l = listen(&e);
    // Queued together: the stages come between the writes' events.
    let (tx, rx) = std::sync::mpsc::channel();
    let ops = [
        Write::ReportSync(SyncStage::Started),
        Write::Messages(br#"[{"conversationID":"c2c_a","msgID":"1","timestamp":5}]"#.to_vec()),
        Write::ReportSync(SyncStage::Finished),
        Write::ReportSync(SyncStage::Failed),
    ];
    for op in ops {
        let tx = tx.clone();
        e.write(
            op,
            e.completer(move |r: imconv::error::Result<()>| {
                let _ = tx.send(r.is_ok());
            }),
        )
        .unwrap();
    }
    for _ in 0..4 {
        assert!(wait(&rx));
    }
    assert_eq!(
        take(&l),
        vec![
            "sync Started",
            "new c2c_a",
            "total 1",
            "sync Finished",
            "sync Failed"
        ]
    );
}

#[test]
fn group_writes_raise_the_five_group_events() {
    let e = memory();
    import(
        &e,
        r#"[{"conversationID":"c2c_a"},{"conversationID":"c2c_b"},{"conversationID":"group_g"}]"#,
    )
    .unwrap();
    let l = listen(&e);
    let name = text("work");
    write(
        &e,
        Write::CreateGroup {
            name: name.clone(),
            ids: ids(&["c2c_a"]),
        },
    )
    .unwrap();
    assert_eq!(
        take(&l),
        vec!["changed c2c_a", "group created work [c2c_a]"]
    );
    // c2c_a is in it already: only the others are named.
    write(
        &e,
        Write::AddToGroup {
            name: name.clone(),
            ids: ids(&["c2c_a", "c2c_b", "group_g"]),
        },
    )
    .unwrap();
    assert_eq!(
        take(&l),
        vec!["changed c2c_b,group_g", "group added work [c2c_b,group_g]"]
    );
    write(
        &e,
        Write::RemoveFromGroup {
            name: name.clone(),
            ids: ids(&["c2c_b"]),
        },
    )
    .unwrap();
    assert_eq!(
        take(&l),
        vec!["changed c2c_b", "group removed work [c2c_b]"]
    );
    // Removing what is not in it changes nothing and raises nothing.
    write(
        &e,
        Write::RemoveFromGroup {
            name: name.clone(),
            ids: ids(&["c2c_b"]),
        },
    )
    .unwrap();
    assert!(take(&l).is_empty());
    let home = text("home");
    write(
        &e,
        Write::RenameGroup {
            from: name,
            to: home.clone(),
        },
    )
    .unwrap();
    let log = take(&l);
    assert_eq!(log.last().unwrap(), "group renamed work home");
    assert_eq!(log.len(), 2, "{log:?}");
    write(&e, Write::DeleteGroup { name: home }).unwrap();
    let log = take(&l);
    assert_eq!(log.last().unwrap(), "group deleted home");
    // A failing group write raises nothing.
    assert!(write(
        &e,
        Write::DeleteGroup {
            name: text("missing")
        }
    )
    .is_err());
    assert!(take(&l).is_empty());
}

#[test]
fn a_subscription_hears_its_count_only_when_it_moves() {
    let e = memory();
    import(
        &e,
        r#"[{"conversationID":"c2c_a","unreadCount":1},{"conversationID":"group_g","unreadCount":2}]"#,
    )
    .unwrap();
    let l = listen(&e);
    let groups = e.subscribe_unread(ListFilter {
        kind: Some(ConversationType::Group),
        ..ListFilter::default()
    });
    let marked = e.subscribe_unread(ListFilter {
        mark: Some(4),
        ..ListFilter::default()
    });
    // A one-to-one message moves neither.
    messages(
        &e,
        r#"[{"conversationID":"c2c_a","msgID":"1","timestamp":5}]"#,
    )
    .unwrap();
    assert_eq!(take(&l), vec!["changed c2c_a", "total 4"]);
    // A group message moves the group count.
    messages(
        &e,
        r#"[{"conversationID":"group_g","msgID":"2","timestamp":6,"seq":1}]"#,
    )
    .unwrap();
    assert_eq!(
        take(&l),
        vec![
            "changed group_g",
            "total 5",
            &format!("filtered {groups} 3")
        ]
    );
    // Marking a conversation moves the marked count from 0.
    write(
        &e,
        Write::Mark {
            ids: ids(&["c2c_a"]),
            mark: 4,
            enable: true,
        },
    )
    .unwrap();
    assert_eq!(
        take(&l),
        vec!["changed c2c_a", &format!("filtered {marked} 2")]
    );
    // Muting the group takes it out of its count.
    write(
        &e,
        Write::RecvOpt {
            ids: ids(&["group_g"]),
            opt: 2,
        },
    )
    .unwrap();
    assert_eq!(
        take(&l),
        vec![
            "changed group_g",
            "total 2",
            &format!("filtered {groups} 0")
        ]
    );
    assert!(e.unsubscribe_unread(groups));
    assert!(!e.unsubscribe_unread(groups), "unknown now");
    write(
        &e,
        Write::RecvOpt {
            ids: ids(&["group_g"]),
            opt: 0,
        },
    )
    .unwrap();
    assert_eq!(take(&l), vec!["changed group_g", "total 5"]);
}
