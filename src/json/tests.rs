use super::*;
use crate::error::ErrorCode;

fn one(json: &str) -> Result<Conversation> {
    parse_conversations(format!("[{json}]").as_bytes()).map(|mut v| v.remove(0))
}

fn err(json: &str) -> Error {
    parse_conversations(json.as_bytes()).unwrap_err()
}

const FULL: &str = r#"{
    "conversationID": "group_g1", "type": 2, "userID": "", "groupID": "g1",
    "groupType": "Work", "showName": "Team", "faceUrl": "https://x/y.png",
    "unreadCount": 5, "recvOpt": 2,
    "lastMessage": {"msgID": "m1", "timestamp": 1700000000, "sender": "bob",
                    "seq": 42, "status": 2, "isSelf": false, "isRead": true,
                    "elemList": [{"text": "hi \u0000 there"}]},
    "groupAtInfoList": [{"seq": 40, "atType": 1}, {"seq": 41, "atType": 3}],
    "draftText": "draft", "draftTimestamp": 1700000001, "isPinned": true,
    "orderKey": 4611686018427387904, "markList": [1, 4294967296],
    "customData": "cd", "conversationGroupList": ["work", "fav"],
    "c2cReadTimestamp": 0, "groupReadSequence": 39, "someFutureKey": {"x": 1}
}"#;

#[test]
fn parses_every_field() {
    let c = one(FULL).unwrap();
    assert_eq!(c.id.as_str(), "group_g1");
    assert_eq!(c.group_type.as_str(), "Work");
    assert_eq!(c.show_name.as_str(), "Team");
    assert_eq!(c.unread_count, 5);
    assert_eq!(c.recv_opt, 2);
    let m = c.last_message.as_ref().unwrap();
    assert_eq!(m.msg_id.as_str(), "m1");
    assert_eq!(m.sender.as_str(), "bob");
    assert_eq!(
        (m.timestamp, m.seq, m.status, m.is_self, m.is_read),
        (1700000000, 42, 2, false, true)
    );
    assert!(m.json.as_str().contains("elemList"));
    assert!(m.json.as_str().contains("\\u0000"));
    assert_eq!(
        &*c.group_at_info_list,
        &[
            GroupAtInfo {
                seq: 40,
                at_type: 1
            },
            GroupAtInfo {
                seq: 41,
                at_type: 3
            }
        ]
    );
    assert!(c.is_pinned);
    assert_eq!(c.order_key, 1 << 62);
    assert_eq!(&*c.mark_list, &[1, 1 << 32]);
    assert_eq!(c.conversation_group_list.len(), 2);
    assert_eq!(c.group_read_sequence, 39);
}

#[test]
fn round_trip_is_exact() {
    let c = one(FULL).unwrap();
    let out = conversation_to_json(&c).unwrap();
    let again = one(&out).unwrap();
    assert_eq!(again, c);
    assert_eq!(conversation_to_json(&again).unwrap(), out);
    let bare = one(r#"{"conversationID":"c2c_u"}"#).unwrap();
    let out = conversation_to_json(&bare).unwrap();
    assert!(out.contains(r#""lastMessage":null"#), "{out}");
    assert!(out.contains(r#""userID":"u","groupID":"""#), "{out}");
    assert_eq!(one(&out).unwrap(), bare);
}

#[test]
fn defaults_and_nulls() {
    let c = one(r#"{"conversationID":"c2c_u","lastMessage":null,"showName":null}"#).unwrap();
    assert_eq!(
        c,
        Conversation::empty(ConversationId::parse("c2c_u").unwrap())
    );
}

#[test]
fn malformed_and_wrong_types_are_invalid_json() {
    for (doc, needle) in [
        ("[", "malformed"),
        ("{}", "expected a JSON array"),
        ("[1]", "element 0: expected an object"),
        (r#"[{"conversationID": 5}]"#, "conversationID"),
        (
            r#"[{"conversationID":"c2c_a","unreadCount":"5"}]"#,
            "unreadCount",
        ),
        (r#"[{"conversationID":"c2c_a","isPinned":1}]"#, "isPinned"),
        (r#"[{"conversationID":"c2c_a","markList":{}}]"#, "markList"),
        (
            r#"[{"conversationID":"c2c_a","markList":["1"]}]"#,
            "markList[0]",
        ),
        (
            r#"[{"conversationID":"c2c_a","lastMessage":[]}]"#,
            "lastMessage",
        ),
        (
            r#"[{"conversationID":"c2c_a","groupAtInfoList":[1]}]"#,
            "groupAtInfoList[0]",
        ),
    ] {
        let e = err(doc);
        assert_eq!(e.code(), ErrorCode::InvalidJson, "{doc}: {e}");
        assert!(e.message().contains(needle), "{doc}: {e}");
    }
}

#[test]
fn bad_values_are_invalid_parameters_naming_index_and_field() {
    let ok = r#"{"conversationID":"c2c_ok"}"#;
    for (elem, needle) in [
        (r#"{"showName":"x"}"#, "'conversationID' is required"),
        (r#"{"conversationID":"x_1"}"#, "must start with"),
        (r#"{"conversationID":"c2c_"}"#, "empty"),
        (r#"{"conversationID":"c2c_a","type":2}"#, "'type'"),
        (r#"{"conversationID":"c2c_a","userID":"b"}"#, "'userID'"),
        (r#"{"conversationID":"c2c_a","groupID":"a"}"#, "'groupID'"),
        (r#"{"conversationID":"group_a","userID":"a"}"#, "'userID'"),
        (
            r#"{"conversationID":"c2c_a","recvOpt":5}"#,
            "'recvOpt' must be 0 to 4",
        ),
        (r#"{"conversationID":"c2c_a","recvOpt":-1}"#, "'recvOpt'"),
        (
            r#"{"conversationID":"c2c_a","unreadCount":-1}"#,
            "'unreadCount'",
        ),
        (
            r#"{"conversationID":"c2c_a","unreadCount":1.5}"#,
            "'unreadCount'",
        ),
        (
            r#"{"conversationID":"c2c_a","groupAtInfoList":[{"seq":1,"atType":4}]}"#,
            "'groupAtInfoList[0].atType'",
        ),
        (
            r#"{"conversationID":"c2c_a","groupAtInfoList":[{"seq":1}]}"#,
            "atType' is required",
        ),
        (
            r#"{"conversationID":"c2c_a","showName":"a\u0000b"}"#,
            "'showName' holds U+0000",
        ),
        (
            r#"{"conversationID":"c2c_a","conversationGroupList":["\u0000"]}"#,
            "conversationGroupList[0]",
        ),
        (
            r#"{"conversationID":"c2c_a","lastMessage":{"timestamp":1}}"#,
            "'lastMessage': field 'msgID' is required",
        ),
        (
            r#"{"conversationID":"c2c_a","lastMessage":{"msgID":"m"}}"#,
            "timestamp",
        ),
        (
            r#"{"conversationID":"c2c_a","lastMessage":{"msgID":"m\u0000","timestamp":1}}"#,
            "msgID",
        ),
    ] {
        let doc = format!("[{ok},{elem}]");
        let e = err(&doc);
        assert_eq!(e.code(), ErrorCode::InvalidParameters, "{elem}: {e}");
        assert!(e.message().starts_with("element 1: "), "{elem}: {e}");
        assert!(e.message().contains(needle), "{elem}: {e}");
    }
}

#[test]
fn custom_data_limit() {
    let ok = format!(
        r#"{{"conversationID":"c2c_a","customData":"{}"}}"#,
        "x".repeat(256)
    );
    assert!(one(&ok).is_ok());
    let long = format!(
        r#"{{"conversationID":"c2c_a","customData":"{}"}}"#,
        "x".repeat(257)
    );
    let e = one(&long).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidParameters);
    assert!(e.message().contains("257 bytes"), "{e}");
}

#[test]
fn empty_array_is_fine() {
    assert!(parse_conversations(b"[]").unwrap().is_empty());
    assert!(parse_conversations(b"  [ ]  ").unwrap().is_empty());
}
