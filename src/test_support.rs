//! What the core's unit tests share: a plain view, and the IDs, texts and
//! writes they build.

use std::sync::Arc;

use crate::model::{Conversation, ConversationId, IdList, Snapshot, Text};
use crate::write::Write;

/// A plain view: the conversation and whether it is stored.
#[derive(Debug)]
pub(crate) struct TestView(pub Conversation, pub bool);

impl Snapshot for TestView {
    fn build(c: Conversation, stored: bool) -> Arc<TestView> {
        Arc::new(TestView(c, stored))
    }
    fn conversation(&self) -> &Conversation {
        &self.0
    }
}

pub(crate) fn id(s: &str) -> ConversationId {
    ConversationId::parse(s).unwrap()
}

pub(crate) fn text(s: &str) -> Text {
    Text::new(s).unwrap()
}

pub(crate) fn list(ids: &[&str]) -> IdList {
    let mut list = IdList::default();
    for s in ids {
        list.push(s).unwrap();
    }
    list
}

/// One unread message from "x", its sequence its time.
pub(crate) fn message(conv: &str, msg_id: &str, ts: i64) -> Write {
    Write::Messages(
        format!(
            r#"[{{"conversationID":"{conv}","msgID":"{msg_id}","timestamp":{ts},"seq":{ts},"sender":"x","isSelf":false,"isRead":false}}]"#
        )
        .into_bytes(),
    )
}
