use super::*;
use crate::{engine, model, state, write};

#[test]
fn limits_match_the_core() {
    assert_eq!(IMCONV_MAX_IDS_PER_CALL, write::MAX_IDS_PER_CALL);
    assert_eq!(IMCONV_MAX_GROUPS, model::MAX_GROUPS);
    assert_eq!(IMCONV_MAX_GROUP_NAME_BYTES, model::MAX_GROUP_NAME_BYTES);
    assert_eq!(IMCONV_MAX_PINNED, model::MAX_PINNED);
    assert_eq!(IMCONV_MAX_PAGE, state::MAX_PAGE);
    assert_eq!(IMCONV_MAX_MSG_ID_BYTES, model::MAX_MSG_ID_BYTES);
    assert_eq!(IMCONV_MAX_SHOW_NAME_BYTES, model::MAX_SHOW_NAME_BYTES);
    assert_eq!(IMCONV_MAX_FACE_URL_BYTES, model::MAX_FACE_URL_BYTES);
    assert_eq!(IMCONV_MAX_GROUP_TYPE_BYTES, model::MAX_GROUP_TYPE_BYTES);
    assert_eq!(IMCONV_MAX_DRAFT_BYTES, model::MAX_DRAFT_BYTES);
    assert_eq!(IMCONV_MAX_CUSTOM_DATA_BYTES, model::MAX_CUSTOM_DATA_BYTES);
    assert_eq!(IMCONV_MAX_MESSAGE_BYTES, model::MAX_MESSAGE_BYTES);
    assert_eq!(IMCONV_MAX_DOCUMENT_BYTES, model::MAX_DOCUMENT_BYTES);
    assert_eq!(IMCONV_MAX_QUEUED_WRITES, engine::MAX_QUEUED_WRITES);
    assert_eq!(IMCONV_MAX_QUEUED_READS, engine::MAX_QUEUED_READS);
    assert_eq!(IMCONV_MAX_QUEUED_BYTES, engine::MAX_QUEUED_BYTES);
}
