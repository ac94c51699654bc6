//! The state's own rules, without the engine's threads: a group of writes
//! in one transaction, what a commit reports, reads from cache and store,
//! pages and their cursors.

use super::*;
use crate::test_support::{id, message, text, TestView};
use crate::write::Write;

fn open() -> State<TestView> {
    State::open(&Config::in_memory("me")).unwrap()
}

/// Commits `writes` as the engine's writer does.
fn run(state: &State<TestView>, mut writes: Vec<Write>) -> Committed<TestView> {
    state.transact(&mut writes, |w, txn| {
        w.validate()?;
        w.apply(txn)
    })
}

fn ids(views: &[Arc<TestView>]) -> Vec<&str> {
    views.iter().map(|v| v.0.id.as_str()).collect()
}

struct Quiet;

impl crate::events::Listener<TestView> for Quiet {
    fn on_new(&self, _: &[Arc<TestView>]) {}
    fn on_changed(&self, _: &[Arc<TestView>]) {}
    fn on_deleted(&self, _: &[ConversationId]) {}
    fn on_total_unread_changed(&self, _: u64) {}
}

#[test]
fn a_failing_write_in_a_group_is_undone_alone() {
    let state = open();
    let group = |name: &str| Write::CreateGroup {
        name: text(name),
        ids: IdList::default(),
    };
    let done = run(
        &state,
        vec![group("work"), group("work"), message("c2c_bob", "m1", 100)],
    );
    let results: Vec<_> = done.outcomes.iter().map(|o| o.result.clone()).collect();
    assert!(results[0].is_ok(), "{results:?}");
    let e = results[1].clone().unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidParameters);
    assert!(
        e.message().contains("\"work\" exists already"),
        "{}",
        e.message()
    );
    assert!(results[2].is_ok(), "{results:?}");
    assert!(done.row_changes > 0);
    assert_eq!(state.groups().unwrap(), ["work"]);
    let bob = state.load(id("c2c_bob")).unwrap();
    assert!(bob.1, "the write after the failed one committed");
    assert_eq!(bob.0.unread_count, 1);
}

#[test]
fn a_lone_failing_write_commits_nothing_and_reports_no_changes() {
    let state = open();
    let done = run(
        &state,
        vec![Write::Messages(b"[{\"msgID\":\"m\"}]".to_vec())],
    );
    assert_eq!(done.outcomes.len(), 1);
    assert!(done.outcomes[0].result.is_err());
    assert_eq!(done.row_changes, 0);
    assert_eq!(state.with_store(|s| s.count()).unwrap(), 0);
}

#[test]
fn after_close_every_write_fails_with_shutdown() {
    let state = open();
    state.close();
    let done = run(
        &state,
        vec![message("c2c_a", "m1", 1), message("c2c_b", "m2", 2)],
    );
    for o in &done.outcomes {
        assert_eq!(o.result.as_ref().unwrap_err().code(), ErrorCode::Shutdown);
    }
    assert_eq!(done.row_changes, 0);
    assert_eq!(
        state.load(id("c2c_a")).unwrap_err().code(),
        ErrorCode::Shutdown
    );
}

#[test]
fn events_name_new_and_changed_conversations_and_the_total() {
    let state = open();
    // Nobody listens: no events are built.
    let done = run(&state, vec![message("c2c_a", "m1", 1)]);
    assert!(done.outcomes[0].events.is_none());
    state.listeners.add(Arc::new(Quiet));
    let done = run(
        &state,
        vec![message("c2c_a", "m2", 2), message("c2c_b", "m3", 3)],
    );
    let a = done.outcomes[0]
        .events
        .as_ref()
        .expect("events for a listener");
    assert_eq!(ids(&a.changed), ["c2c_a"]);
    assert!(a.new.is_empty());
    assert_eq!(
        a.total,
        Some(2),
        "the total, read once someone listens, moves"
    );
    let b = done.outcomes[1].events.as_ref().unwrap();
    assert_eq!(ids(&b.new), ["c2c_b"]);
    assert_eq!(
        b.total,
        Some(3),
        "each write's events carry the total after it"
    );
    assert_eq!(state.unread_total(&ListFilter::default()).unwrap(), 3);
    // The cache holds what the commit wrote, not the row before it.
    match state.cache.probe("c2c_a") {
        Probe::Stored(v) => assert_eq!(v.0.unread_count, 2),
        _ => panic!("c2c_a is not cached after its write"),
    }
}

#[test]
fn a_batch_answers_in_request_order_each_once_and_caches_what_it_read() {
    let state = open();
    run(
        &state,
        vec![message("c2c_a", "m1", 1), message("c2c_b", "m2", 2)],
    );
    let mut list = IdList::default();
    for s in ["c2c_b", "c2c_x", "c2c_a", "c2c_b"] {
        list.push(s).unwrap();
    }
    let found = state.lookup_batch(&list).unwrap();
    assert_eq!(ids(&found), ["c2c_b", "c2c_a"]);
    assert!(matches!(state.cache.probe("c2c_a"), Probe::Stored(_)));
    assert!(matches!(state.cache.probe("c2c_x"), Probe::NotStored));
}

#[test]
fn a_page_refuses_a_bad_cursor_and_a_count_out_of_range() {
    let state = open();
    run(
        &state,
        vec![
            message("c2c_a", "m1", 1),
            message("c2c_b", "m2", 2),
            message("c2c_c", "m3", 3),
        ],
    );
    let all = ListFilter::default();
    let e = state.page(&all, "not a cursor", 10).err().unwrap();
    assert_eq!(e.code(), ErrorCode::InvalidParameters);
    assert!(e.message().contains("invalid cursor"), "{}", e.message());
    // A count out of 1..=1000 is refused, naming it; the cursor continues
    // where it stopped.
    for n in [0, MAX_PAGE + 1] {
        let e = state.page(&all, "", n).err().unwrap();
        assert_eq!(e.code(), ErrorCode::InvalidParameters);
        assert!(
            e.message().contains(&format!(
                "count must be 1 to 1000 conversations a page (got {n})"
            )),
            "{}",
            e.message()
        );
    }
    let first = state.page(&all, "", 1).unwrap();
    assert_eq!(ids(&first.conversations), ["c2c_c"]);
    assert!(!first.finished);
    let rest = state.page(&all, &first.next_cursor, MAX_PAGE).unwrap();
    assert_eq!(ids(&rest.conversations), ["c2c_b", "c2c_a"]);
    assert!(rest.finished);
    // In memory there is no reader connection: the writer's answers.
    assert!(state.page_beside_writer(&all, "", 10).is_none());
}

#[test]
fn a_temporary_conversation_is_named_after_its_profile() {
    let state = open();
    let before = state.temporary(id("c2c_carol"));
    assert_eq!(
        before.show_name.as_str(),
        "carol",
        "the user ID without a profile"
    );
    let done = run(
        &state,
        vec![Write::Profiles(
            br#"[{"userID":"carol","showName":"Carol C","faceUrl":"https://x/c.png"}]"#.to_vec(),
        )],
    );
    assert!(done.outcomes[0].result.is_ok());
    let after = state.temporary(id("c2c_carol"));
    assert_eq!(after.show_name.as_str(), "Carol C");
    assert_eq!(after.face_url.as_str(), "https://x/c.png");
    assert_eq!(
        state.with_store(|s| s.count()).unwrap(),
        0,
        "a profile stores no conversation"
    );
}

/// The counts a subscription raised, in order.
fn filtered(done: &Committed<TestView>) -> Vec<u64> {
    done.outcomes
        .iter()
        .filter_map(|o| o.events.as_ref())
        .flat_map(|e| e.filtered.iter().map(|f| f.count))
        .collect()
}

#[test]
fn a_subscription_counts_each_write_of_a_group_once() {
    let state = open();
    state.listeners.add(Arc::new(Quiet));
    let all = state.subscriptions.subscribe(ListFilter::default());
    // Three writes committed together: each raises the count after it, as
    // the total does (0.3.0 read the base after the group and said 3, 4, 5).
    let done = run(
        &state,
        vec![
            message("c2c_a", "m1", 1),
            message("c2c_b", "m2", 2),
            message("c2c_c", "m3", 3),
        ],
    );
    assert_eq!(filtered(&done), [1, 2, 3]);
    let totals: Vec<u64> = done
        .outcomes
        .iter()
        .filter_map(|o| o.events.as_ref()?.total)
        .collect();
    assert_eq!(totals, [1, 2, 3]);
    assert!(done.outcomes[0].events.as_ref().unwrap().filtered[0].subscription == all);
    // A clear of everything: the count follows the total to 0.
    let done = run(
        &state,
        vec![Write::MarkRead {
            scope: crate::write::ReadScope::All,
            upto: crate::store::ReadUpTo::All,
        }],
    );
    assert_eq!(filtered(&done), [0]);
    assert_eq!(state.unread_total(&ListFilter::default()).unwrap(), 0);
}

#[test]
fn a_subscription_made_with_nobody_listening_stays_exact_through_an_import() {
    let state = open();
    run(&state, vec![message("c2c_a", "m1", 1)]);
    let _all = state.subscriptions.subscribe(ListFilter::default());
    // Nobody listens: the import replaces rows without reading them, yet
    // the subscription's count must come out right.
    let import = |json: &str| Write::Import(json.as_bytes().to_vec());
    run(
        &state,
        vec![
            import(r#"[{"conversationID":"c2c_a","unreadCount":5}]"#),
            message("c2c_b", "m2", 2),
            message("c2c_c", "m3", 3),
        ],
    );
    state.listeners.add(Arc::new(Quiet));
    let done = run(&state, vec![message("c2c_d", "m4", 4)]);
    assert_eq!(filtered(&done), [8], "5 + 1 + 1 + 1");
}
