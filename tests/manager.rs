//! Integration tests of the conversation manager's writes: messages, read
//! state, drafts, pins, options, custom data, marks, conversation groups,
//! deletes and profiles (the list's tests are in tests/manager_list.rs).

mod common;

use imconv::error::ErrorCode;
use imconv::model::{ListFilter, Text};
use imconv::store::ReadUpTo;
use imconv::write::{ReadScope, Write};

use common::*;

#[test]
fn messages_create_update_count_and_deduplicate() {
    let e = memory();
    messages(
        &e,
        &format!(
            "[{},{}]",
            text_msg("c2c_a", "m1", 100, 1, false),
            text_msg("c2c_a", "m2", 200, 2, false)
        ),
    )
    .unwrap();
    let a = get(&e, "c2c_a");
    assert!(a.1, "created");
    assert_eq!(a.0.unread_count, 2);
    assert_eq!(a.0.last_message.as_ref().unwrap().msg_id.as_str(), "m2");
    let key = a.0.order_key;
    assert!(key > 0);

    // An older message never replaces a newer one; my own does not count.
    messages(
        &e,
        &format!(
            "[{},{}]",
            text_msg("c2c_a", "m0", 50, 0, false),
            text_msg("c2c_a", "m3", 300, 3, true)
        ),
    )
    .unwrap();
    let a = get(&e, "c2c_a");
    assert_eq!(a.0.unread_count, 3);
    assert_eq!(a.0.last_message.as_ref().unwrap().msg_id.as_str(), "m3");
    assert!(a.0.order_key > key, "moved up");

    // The same msgID again changes nothing, even within one call.
    let before = get(&e, "c2c_a").0.clone();
    messages(
        &e,
        &format!(
            "[{},{}]",
            text_msg("c2c_a", "m1", 100, 1, false),
            text_msg("c2c_a", "m3", 300, 3, true)
        ),
    )
    .unwrap();
    assert_eq!(get(&e, "c2c_a").0, before);

    // Bad input: nothing applied.
    let err = messages(
        &e,
        &format!(
            "[{},{{\"conversationID\":\"c2c_b\",\"msgID\":\"x\"}}]",
            text_msg("c2c_b", "m9", 1, 1, false)
        ),
    )
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidParameters);
    assert!(err.message().starts_with("element 1"), "{err}");
    assert!(!get(&e, "c2c_b").1);
}

#[test]
fn read_state_clears_all_or_up_to_a_position() {
    let e = memory();
    messages(
        &e,
        &format!(
            "[{},{},{}]",
            text_msg("c2c_a", "a1", 100, 1, false),
            text_msg("c2c_a", "a2", 200, 2, false),
            text_msg("c2c_a", "a3", 300, 3, false)
        ),
    )
    .unwrap();
    messages(
        &e,
        &format!(
            "[{},{}]",
            text_msg("group_g", "g1", 100, 10, false),
            text_msg("group_g", "g2", 100, 11, false)
        ),
    )
    .unwrap();
    write(
        &e,
        Write::MarkRead {
            scope: ReadScope::One(id("c2c_a")),
            upto: ReadUpTo::Timestamp(200),
        },
    )
    .unwrap();
    let a = get(&e, "c2c_a");
    assert_eq!(a.0.unread_count, 1);
    assert_eq!(a.0.c2c_read_timestamp, 200);
    write(
        &e,
        Write::MarkRead {
            scope: ReadScope::One(id("group_g")),
            upto: ReadUpTo::Sequence(10),
        },
    )
    .unwrap();
    assert_eq!(get(&e, "group_g").0.unread_count, 1);
    assert_eq!(get(&e, "group_g").0.group_read_sequence, 10);
    write(
        &e,
        Write::MarkRead {
            scope: ReadScope::AllC2c,
            upto: ReadUpTo::All,
        },
    )
    .unwrap();
    assert_eq!(get(&e, "c2c_a").0.unread_count, 0);
    assert_eq!(get(&e, "group_g").0.unread_count, 1);
    write(
        &e,
        Write::MarkRead {
            scope: ReadScope::All,
            upto: ReadUpTo::All,
        },
    )
    .unwrap();
    assert_eq!(get(&e, "group_g").0.unread_count, 0);
    assert_eq!(total(&e, ListFilter::default()), 0);
    let err = write(
        &e,
        Write::MarkRead {
            scope: ReadScope::One(id("c2c_nobody")),
            upto: ReadUpTo::All,
        },
    )
    .unwrap_err();
    assert!(err.message().contains("not stored"), "{err}");
}

#[test]
fn drafts_pins_options_custom_data_marks() {
    let e = memory();
    import_ok(
        &e,
        r#"[{"conversationID":"c2c_a","orderKey":5},{"conversationID":"c2c_b","orderKey":6}]"#,
    );
    write(
        &e,
        Write::Draft {
            id: id("c2c_a"),
            text: text("hello"),
        },
    )
    .unwrap();
    let a = get(&e, "c2c_a");
    assert_eq!(a.0.draft_text.as_str(), "hello");
    assert!(a.0.draft_timestamp > 1_600_000_000);
    assert!(a.0.order_key > 6, "a draft moves the conversation up");
    write(
        &e,
        Write::Draft {
            id: id("c2c_a"),
            text: Text::default(),
        },
    )
    .unwrap();
    assert_eq!(get(&e, "c2c_a").0.draft_timestamp, 0);

    write(
        &e,
        Write::Pin {
            id: id("c2c_b"),
            pinned: true,
        },
    )
    .unwrap();
    assert!(get(&e, "c2c_b").0.is_pinned);
    write(
        &e,
        Write::RecvOpt {
            ids: ids(&["c2c_a", "c2c_b"]),
            opt: 2,
        },
    )
    .unwrap();
    assert_eq!(get(&e, "c2c_b").0.recv_opt, 2);
    let err = write(
        &e,
        Write::RecvOpt {
            ids: ids(&["c2c_a"]),
            opt: 5,
        },
    )
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidParameters);
    write(
        &e,
        Write::CustomData {
            ids: ids(&["c2c_a"]),
            data: text("cd"),
        },
    )
    .unwrap();
    assert_eq!(get(&e, "c2c_a").0.custom_data.as_str(), "cd");
    let long = text(&"x".repeat(257));
    assert!(write(
        &e,
        Write::CustomData {
            ids: ids(&["c2c_a"]),
            data: long
        }
    )
    .is_err());

    write(
        &e,
        Write::Mark {
            ids: ids(&["c2c_a", "c2c_b"]),
            mark: 1,
            enable: true,
        },
    )
    .unwrap();
    write(
        &e,
        Write::Mark {
            ids: ids(&["c2c_a"]),
            mark: 1 << 40,
            enable: true,
        },
    )
    .unwrap();
    assert_eq!(&*get(&e, "c2c_a").0.mark_list, &[1, 1 << 40]);
    write(
        &e,
        Write::Mark {
            ids: ids(&["c2c_a"]),
            mark: 1,
            enable: false,
        },
    )
    .unwrap();
    assert_eq!(&*get(&e, "c2c_a").0.mark_list, &[1 << 40]);

    // One unknown ID fails the whole call; nothing changes.
    let err = write(
        &e,
        Write::Mark {
            ids: ids(&["c2c_b", "c2c_zz"]),
            mark: 8,
            enable: true,
        },
    )
    .unwrap_err();
    assert!(err.message().contains("c2c_zz"), "{err}");
    assert_eq!(&*get(&e, "c2c_b").0.mark_list, &[1]);

    // Limits.
    let many: Vec<String> = (0..101).map(|i| format!("c2c_u{i}")).collect();
    let refs: Vec<&str> = many.iter().map(String::as_str).collect();
    let err = write(&e, Write::Delete { ids: ids(&refs) }).unwrap_err();
    assert!(err.message().contains("more than 100"), "{err}");
}

#[test]
fn conversation_groups() {
    let e = memory();
    import_ok(
        &e,
        r#"[{"conversationID":"c2c_a"},{"conversationID":"c2c_b"},{"conversationID":"group_g"}]"#,
    );
    write(
        &e,
        Write::CreateGroup {
            name: text("work"),
            ids: ids(&["c2c_a", "group_g"]),
        },
    )
    .unwrap();
    write(
        &e,
        Write::CreateGroup {
            name: text("fun"),
            ids: ids(&[]),
        },
    )
    .unwrap();
    assert!(write(
        &e,
        Write::CreateGroup {
            name: text("work"),
            ids: ids(&[])
        }
    )
    .is_err());
    write(
        &e,
        Write::AddToGroup {
            name: text("fun"),
            ids: ids(&["c2c_a", "c2c_b"]),
        },
    )
    .unwrap();
    assert_eq!(call(&e, |d| e.groups(d)).unwrap(), ["work", "fun"]);
    let in_group = |g: &str| {
        all_ids(
            &e,
            &ListFilter {
                group: Some(g.into()),
                ..Default::default()
            },
        )
    };
    assert_eq!(in_group("work").len(), 2);
    write(
        &e,
        Write::RenameGroup {
            from: text("work"),
            to: text("job"),
        },
    )
    .unwrap();
    assert_eq!(call(&e, |d| e.groups(d)).unwrap(), ["job", "fun"]);
    assert!(in_group("work").is_empty());
    assert_eq!(in_group("job").len(), 2);
    let a = get(&e, "c2c_a");
    let names: Vec<&str> =
        a.0.conversation_group_list
            .iter()
            .map(Text::as_str)
            .collect();
    assert_eq!(names, ["job", "fun"]);
    write(
        &e,
        Write::RemoveFromGroup {
            name: text("fun"),
            ids: ids(&["c2c_a"]),
        },
    )
    .unwrap();
    write(&e, Write::DeleteGroup { name: text("job") }).unwrap();
    assert!(get(&e, "c2c_a").0.conversation_group_list.is_empty());
    assert_eq!(call(&e, |d| e.groups(d)).unwrap(), ["fun"]);
    assert!(write(&e, Write::DeleteGroup { name: text("job") }).is_err());
    assert!(write(
        &e,
        Write::CreateGroup {
            name: text(&"n".repeat(33)),
            ids: ids(&[])
        }
    )
    .is_err());
    for i in 0..19 {
        write(
            &e,
            Write::CreateGroup {
                name: text(&format!("g{i}")),
                ids: ids(&[]),
            },
        )
        .unwrap();
    }
    let err = write(
        &e,
        Write::CreateGroup {
            name: text("one-too-many"),
            ids: ids(&[]),
        },
    )
    .unwrap_err();
    assert!(err.message().contains("at most 20"), "{err}");
}

#[test]
fn delete_and_profiles() {
    let e = memory();
    import_ok(
        &e,
        r#"[{"conversationID":"c2c_a"},{"conversationID":"c2c_b"}]"#,
    );
    write(
        &e,
        Write::Delete {
            ids: ids(&["c2c_a", "c2c_unknown"]),
        },
    )
    .unwrap();
    assert!(!get(&e, "c2c_a").1);
    assert!(get(&e, "c2c_b").1);
    write(&e, Write::Profiles(br#"[{"userID":"b","showName":"Bob","faceUrl":"f.png"},{"userID":"z","showName":"Zed"}]"#.to_vec())).unwrap();
    assert_eq!(get(&e, "c2c_b").0.show_name.as_str(), "Bob");
    assert_eq!(get(&e, "c2c_b").0.face_url.as_str(), "f.png");
    let z = get(&e, "c2c_z");
    assert!(!z.1);
    assert_eq!(
        z.0.show_name.as_str(),
        "Zed",
        "temporary conversations use the profile"
    );
    // A message for a user with a profile creates a conversation named so.
    messages(&e, &format!("[{}]", text_msg("c2c_z", "z1", 1, 1, false))).unwrap();
    assert_eq!(get(&e, "c2c_z").0.show_name.as_str(), "Zed");
    assert!(write(&e, Write::Profiles(br#"[{"showName":"x"}]"#.to_vec())).is_err());
}
