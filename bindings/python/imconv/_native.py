"""The C ABI as ctypes sees it: the library, its structures and prototypes.

Every structure here mirrors one in `include/imconv.h`; the package's tests
compare each size and field offset with what a C compiler gives.
"""
import ctypes
import os
from typing import Any

_LIBRARY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "libimconv.so")
# IMCONV_LIBRARY: another build of the library (the tests of the source tree use it).
lib: Any = ctypes.CDLL(os.environ.get("IMCONV_LIBRARY") or _LIBRARY)


class CMessage(ctypes.Structure):
    _fields_ = [("msg_id", ctypes.c_char_p), ("sender", ctypes.c_char_p),
                ("timestamp", ctypes.c_int64), ("seq", ctypes.c_uint64),
                ("status", ctypes.c_int32), ("is_self", ctypes.c_bool),
                ("is_read", ctypes.c_bool), ("json", ctypes.c_char_p),
                ("timestamp_ms", ctypes.c_int64)]


class CGroupAtInfo(ctypes.Structure):
    _fields_ = [("seq", ctypes.c_uint64), ("at_type", ctypes.c_int32)]


class CConversation(ctypes.Structure):
    _fields_ = [("conversation_id", ctypes.c_char_p), ("type", ctypes.c_int32),
                ("user_id", ctypes.c_char_p), ("group_id", ctypes.c_char_p),
                ("group_type", ctypes.c_char_p), ("show_name", ctypes.c_char_p),
                ("face_url", ctypes.c_char_p), ("unread_count", ctypes.c_uint64),
                ("recv_opt", ctypes.c_int32), ("last_message", ctypes.POINTER(CMessage)),
                ("group_at_info_list", ctypes.POINTER(CGroupAtInfo)),
                ("group_at_info_count", ctypes.c_size_t), ("draft_text", ctypes.c_char_p),
                ("draft_timestamp", ctypes.c_uint64), ("is_pinned", ctypes.c_bool),
                ("order_key", ctypes.c_uint64), ("mark_list", ctypes.POINTER(ctypes.c_uint64)),
                ("mark_count", ctypes.c_size_t), ("custom_data", ctypes.c_char_p),
                ("conversation_group_list", ctypes.POINTER(ctypes.c_char_p)),
                ("conversation_group_count", ctypes.c_size_t),
                ("c2c_read_timestamp", ctypes.c_uint64), ("group_read_sequence", ctypes.c_uint64),
                ("is_stored", ctypes.c_bool), ("read_timestamp_ms", ctypes.c_uint64)]


# Views come as addresses (c_void_p): `conversation.Conversation` retains
# each and reads it lazily, so no ctypes object is made per view here.
CONVERSATION_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)
LIST_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p)
DONE_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
ERROR_CB = ctypes.CFUNCTYPE(None, ctypes.c_int32, ctypes.c_char_p, ctypes.c_void_p)
STRINGS_CB = ctypes.CFUNCTYPE(None, ctypes.POINTER(ctypes.c_char_p), ctypes.c_size_t,
                              ctypes.c_void_p)
COUNT_CB = ctypes.CFUNCTYPE(None, ctypes.c_uint64, ctypes.c_void_p)
PAGE_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_bool,
                           ctypes.c_void_p)
LOG_CB = ctypes.CFUNCTYPE(None, ctypes.c_int32, ctypes.c_char_p, ctypes.c_void_p)
EVENT_CB = DONE_CB
GROUP_CONVERSATIONS_CB = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t,
                                          ctypes.c_void_p)
GROUP_CB = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_void_p)
GROUP_RENAMED_CB = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p)


class CListFilter(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("type", ctypes.c_int32),
                ("mark", ctypes.c_uint64), ("group", ctypes.c_char_p),
                ("has_unread", ctypes.c_bool), ("has_at", ctypes.c_bool)]


FILTERED_UNREAD_CB = ctypes.CFUNCTYPE(None, ctypes.c_uint64, ctypes.POINTER(CListFilter),
                                      ctypes.c_uint64, ctypes.c_void_p)


STORE_ERROR_CB = ctypes.CFUNCTYPE(None, ctypes.c_int32, ctypes.c_char_p,
                                  ctypes.POINTER(ctypes.c_char_p), ctypes.c_size_t, ctypes.c_void_p)


class CListener(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("on_new", LIST_CB), ("on_changed", LIST_CB),
                ("on_deleted", STRINGS_CB), ("on_total_unread_changed", COUNT_CB),
                ("user_data", ctypes.c_void_p),
                ("on_sync_server_start", EVENT_CB), ("on_sync_server_finish", EVENT_CB),
                ("on_sync_server_failed", EVENT_CB),
                ("on_conversation_group_created", GROUP_CONVERSATIONS_CB),
                ("on_conversation_group_deleted", GROUP_CB),
                ("on_conversation_group_name_changed", GROUP_RENAMED_CB),
                ("on_conversations_added_to_group", GROUP_CONVERSATIONS_CB),
                ("on_conversations_deleted_from_group", GROUP_CONVERSATIONS_CB),
                ("on_unread_count_changed_by_filter", FILTERED_UNREAD_CB),
                ("on_store_error", STORE_ERROR_CB)]


SDK = ctypes.c_void_p
STR = ctypes.c_char_p
IDS = ctypes.POINTER(ctypes.c_char_p)
SIZE = ctypes.c_size_t
VOID = ctypes.c_void_p
I32 = ctypes.c_int32
U64 = ctypes.c_uint64
BOOL = ctypes.c_bool
DONE_TAIL = [DONE_CB, ERROR_CB, VOID]


def _declare(name: str, restype: Any, *argtypes: Any) -> None:
    function = getattr(lib, name)
    function.restype = restype
    function.argtypes = list(argtypes)


_declare("imconv_version", STR)
_declare("imconv_error_str", STR, I32)
_declare("imconv_sdk_new", I32, STR, ctypes.POINTER(VOID), ctypes.POINTER(VOID))
_declare("imconv_sdk_free", None, SDK)
_declare("imconv_wait_freed", I32, ctypes.c_uint32)
_declare("imconv_string_free", None, VOID)
_declare("imconv_dispatch", SIZE, SDK, SIZE)
_declare("imconv_event_fd", I32, SDK)
_declare("imconv_set_log_callback", I32, I32, LOG_CB, VOID)
_declare("imconv_conversation_to_json", VOID, ctypes.POINTER(CConversation))
_declare("imconv_conversation_retain", VOID, VOID)
_declare("imconv_conversation_release", None, VOID)
_declare("imconv_listener_init", None, ctypes.POINTER(CListener))
_declare("imconv_add_listener", I32, SDK, ctypes.POINTER(CListener), ctypes.POINTER(U64))
_declare("imconv_remove_listener", I32, SDK, U64)
_declare("imconv_subscribe_unread_count", I32, SDK, ctypes.POINTER(CListFilter),
         ctypes.POINTER(U64))
_declare("imconv_unsubscribe_unread_count", I32, SDK, U64)
_declare("imconv_list_filter_init", None, ctypes.POINTER(CListFilter))
_declare("imconv_get_conversation", I32, SDK, STR, CONVERSATION_CB, ERROR_CB, VOID)
_declare("imconv_get_conversation_list", I32, SDK, IDS, SIZE, LIST_CB, ERROR_CB, VOID)
_declare("imconv_get_conversation_page", I32, SDK, ctypes.POINTER(CListFilter), STR, SIZE,
         PAGE_CB, ERROR_CB, VOID)
_declare("imconv_get_total_unread", I32, SDK, ctypes.POINTER(CListFilter), COUNT_CB, ERROR_CB,
         VOID)
_declare("imconv_get_groups", I32, SDK, STRINGS_CB, ERROR_CB, VOID)
_declare("imconv_verify_store", I32, SDK, STRINGS_CB, ERROR_CB, VOID)
for _name in ("imconv_import_conversations", "imconv_sync_conversations",
              "imconv_sync_snapshot", "imconv_apply_messages", "imconv_update_profiles"):
    _declare(_name, I32, SDK, STR, *DONE_TAIL)
_declare("imconv_clean_unread", I32, SDK, STR, U64, U64, *DONE_TAIL)
_declare("imconv_set_draft", I32, SDK, STR, STR, *DONE_TAIL)
_declare("imconv_pin_conversation", I32, SDK, STR, BOOL, *DONE_TAIL)
_declare("imconv_set_recv_opt", I32, SDK, IDS, SIZE, I32, *DONE_TAIL)
_declare("imconv_set_custom_data", I32, SDK, IDS, SIZE, STR, *DONE_TAIL)
_declare("imconv_mark_conversations", I32, SDK, IDS, SIZE, U64, BOOL, *DONE_TAIL)
_declare("imconv_delete_conversations", I32, SDK, IDS, SIZE, *DONE_TAIL)
_declare("imconv_create_group", I32, SDK, STR, IDS, SIZE, *DONE_TAIL)
_declare("imconv_rename_group", I32, SDK, STR, STR, *DONE_TAIL)
_declare("imconv_delete_group", I32, SDK, STR, *DONE_TAIL)
_declare("imconv_add_to_group", I32, SDK, STR, IDS, SIZE, *DONE_TAIL)
_declare("imconv_remove_from_group", I32, SDK, STR, IDS, SIZE, *DONE_TAIL)
_declare("imconv_mark_read", I32, SDK, STR, STR, *DONE_TAIL)
_declare("imconv_report_sync", I32, SDK, I32, *DONE_TAIL)
_declare("imconv_backup", I32, SDK, STR, *DONE_TAIL)
_declare("imconv_rekey", I32, SDK, STR, *DONE_TAIL)
_declare("imconv_delete_store", I32, STR, ctypes.POINTER(VOID))
_declare("imconv_suspend", I32, SDK, ctypes.POINTER(VOID))
_declare("imconv_resume", I32, SDK, ctypes.POINTER(VOID))
