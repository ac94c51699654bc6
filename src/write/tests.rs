//! The write operations on their own: the checks that need no store, and
//! what each write changes, applied in transactions as the engine's writer
//! applies them (without its threads).

use super::*;
use crate::config::Config;
use crate::error::ErrorCode;
use crate::model::MAX_DOCUMENT_BYTES;
use crate::state::State;
use crate::test_support::{id, list, message, text, TestView};

/// Applies `writes` in one transaction, as the engine's writer does, and
/// returns each one's result.
fn run(state: &State<TestView>, mut writes: Vec<Write>) -> Vec<Result<usize>> {
    let done = state.transact(&mut writes, |w, txn| {
        w.validate()?;
        w.apply(txn)
    });
    done.outcomes.into_iter().map(|o| o.result).collect()
}

fn stored(state: &State<TestView>, s: &str) -> Conversation {
    let v = state.load(id(s)).unwrap();
    assert!(v.1, "{s} is not stored");
    v.0.clone()
}

#[test]
fn validate_names_what_is_wrong() {
    let cases: Vec<(Write, &str)> = vec![
        (
            Write::Messages(vec![b' '; MAX_DOCUMENT_BYTES + 1]),
            "json_array is more than 67108864 bytes",
        ),
        (
            Write::Draft {
                id: id("c2c_a"),
                text: text(&"d".repeat(MAX_DRAFT_BYTES + 1)),
            },
            "draft_text is",
        ),
        (
            Write::RecvOpt {
                ids: list(&["c2c_a"]),
                opt: RECV_OPT_MAX + 1,
            },
            "recv_opt must be 0 to",
        ),
        (
            Write::Mark {
                ids: list(&["c2c_a"]),
                mark: 0,
                enable: true,
            },
            "mark must not be 0",
        ),
        (
            Write::Delete {
                ids: list(
                    &(0..=MAX_IDS_PER_CALL)
                        .map(|i| format!("c2c_{i}"))
                        .collect::<Vec<_>>()
                        .iter()
                        .map(String::as_str)
                        .collect::<Vec<_>>(),
                ),
            },
            "101 conversation IDs in one call, more than 100",
        ),
        (
            Write::MarkRead {
                scope: ReadScope::One(id("c2c_a")),
                upto: ReadUpTo::Sequence(5),
            },
            "read up to a timestamp, not a sequence",
        ),
        (
            Write::MarkRead {
                scope: ReadScope::AllGroups,
                upto: ReadUpTo::Timestamp(5),
            },
            "read up to a sequence, not a timestamp",
        ),
        (
            Write::MarkRead {
                scope: ReadScope::All,
                upto: ReadUpTo::Timestamp(5),
            },
            "takes no position",
        ),
    ];
    for (write, expected) in cases {
        let e = write.validate().unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidParameters, "{write:?}");
        assert!(
            e.message().contains(expected),
            "{} lacks {expected:?}",
            e.message()
        );
    }
    // Within every limit: nothing to say.
    message("c2c_a", "m1", 1).validate().unwrap();
}

#[test]
fn a_message_counts_once_even_when_it_comes_twice_in_one_transaction() {
    let state = State::open(&Config::in_memory("me")).unwrap();
    let results = run(
        &state,
        vec![
            message("c2c_a", "m1", 10),
            message("c2c_a", "m1", 10),
            message("c2c_a", "m2", 11),
        ],
    );
    assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
    let a = stored(&state, "c2c_a");
    assert_eq!(a.unread_count, 2);
    assert_eq!(a.last_message.unwrap().msg_id.as_str(), "m2");
    // Read up to the first one's second: one stays unread.
    run(
        &state,
        vec![Write::MarkRead {
            scope: ReadScope::One(id("c2c_a")),
            upto: ReadUpTo::Timestamp(10),
        }],
    );
    assert_eq!(stored(&state, "c2c_a").unread_count, 1);
}

#[test]
fn marks_are_a_set_and_groups_follow_renames_and_deletes() {
    let state = State::open(&Config::in_memory("me")).unwrap();
    run(
        &state,
        vec![message("c2c_a", "m1", 1), message("c2c_b", "m2", 2)],
    );
    let mark = |enable| Write::Mark {
        ids: list(&["c2c_a"]),
        mark: 4,
        enable,
    };
    let results = run(&state, vec![mark(true), mark(true)]);
    assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
    assert_eq!(*stored(&state, "c2c_a").mark_list, [4]);
    run(&state, vec![mark(false)]);
    assert!(stored(&state, "c2c_a").mark_list.is_empty());

    let results = run(
        &state,
        vec![
            Write::CreateGroup {
                name: text("g"),
                ids: list(&["c2c_a"]),
            },
            Write::AddToGroup {
                name: text("g"),
                ids: list(&["c2c_b"]),
            },
            Write::RemoveFromGroup {
                name: text("g"),
                ids: list(&["c2c_a"]),
            },
            Write::RenameGroup {
                from: text("g"),
                to: text("h"),
            },
        ],
    );
    assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
    assert!(stored(&state, "c2c_a").conversation_group_list.is_empty());
    assert_eq!(
        *stored(&state, "c2c_b").conversation_group_list,
        [text("h")]
    );
    assert_eq!(state.groups().unwrap(), ["h"]);
    run(&state, vec![Write::DeleteGroup { name: text("h") }]);
    assert!(stored(&state, "c2c_b").conversation_group_list.is_empty());
    assert!(state.groups().unwrap().is_empty());
    // A group that does not exist: named in the error.
    let results = run(&state, vec![Write::DeleteGroup { name: text("h") }]);
    let e = results[0].clone().unwrap_err();
    assert!(e.message().contains("\"h\""), "{}", e.message());
}

#[test]
fn a_deleted_conversation_is_gone_and_its_id_answers_as_temporary() {
    let state = State::open(&Config::in_memory("me")).unwrap();
    run(&state, vec![message("c2c_a", "m1", 1)]);
    let results = run(
        &state,
        vec![Write::Delete {
            ids: list(&["c2c_a"]),
        }],
    );
    assert!(results[0].is_ok(), "{results:?}");
    let v = state.load(id("c2c_a")).unwrap();
    assert!(!v.1, "a deleted conversation is not stored");
    assert_eq!(v.0.unread_count, 0);
}
