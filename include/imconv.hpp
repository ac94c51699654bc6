/*
 * imconv for C++17: a header-only layer over imconv.h that reaches every
 * export.
 *
 *   imconv::Sdk sdk(R"({"user_id":"me","data_dir":"/var/lib/app"})");
 *   sdk.import_conversations(R"([{"conversationID":"c2c_alice"}])").get();
 *   imconv::Conversation c = sdk.get_conversation("c2c_alice").get();
 *
 * - imconv::Sdk owns one instance (RAII, move-only); its constructor throws
 *   imconv::Error (with .code(), an imconv::ErrorCode) when it cannot open.
 * - Each call comes in two forms: one returning an imconv::Future (the
 *   value, or imconv::Error from .get()), and one taking std::function
 *   callbacks, which run where the C callbacks run: the instance's callback
 *   thread, or with "delivery":"host" inside Sdk::dispatch.
 * - Future::get() from inside a callback of the same instance would wait
 *   for itself: with thread delivery it throws Error(WouldDeadlock); with
 *   host delivery it dispatches while it waits (so it works anywhere).
 * - imconv::Conversation holds the library's view, retained: copying one
 *   counts a reference, nothing more; it stays valid after the callback and
 *   after the instance is gone. JSON only on request (to_json()).
 * - An exception thrown by your callback never crosses into C: it goes to
 *   the handler set with imconv::set_exception_handler (by default a line
 *   on stderr).
 * - Calls refused at once (the instance shutting down, a full queue)
 *   throw imconv::Error from the call itself.
 */
#ifndef IMCONV_HPP
#define IMCONV_HPP

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <poll.h>

#include "imconv.h"

namespace imconv {

// ---- enumerations ----------------------------------------------------------

/// The library's error codes (IMCONV_ERR_*); Error::code() returns one.
enum class ErrorCode : int32_t {
    Ok = IMCONV_OK,
    InvalidParameters = IMCONV_ERR_INVALID_PARAMETERS,
    Database = IMCONV_ERR_DATABASE,
    Io = IMCONV_ERR_IO,
    InvalidJson = IMCONV_ERR_INVALID_JSON,
    OutOfMemory = IMCONV_ERR_OUT_OF_MEMORY,
    Shutdown = IMCONV_ERR_SHUTDOWN,
    StoreLocked = IMCONV_ERR_STORE_LOCKED,
    WrongProcess = IMCONV_ERR_WRONG_PROCESS,
    QueueFull = IMCONV_ERR_QUEUE_FULL,
    WouldDeadlock = IMCONV_ERR_WOULD_DEADLOCK,
    ReadOnly = IMCONV_ERR_READ_ONLY,
    Timeout = IMCONV_ERR_TIMEOUT,
    StoreDamaged = IMCONV_ERR_STORE_DAMAGED,
    StoreFailed = IMCONV_ERR_STORE_FAILED,
    WrongKey = IMCONV_ERR_WRONG_KEY,
    StoreBusy = IMCONV_ERR_STORE_BUSY,
    Suspended = IMCONV_ERR_SUSPENDED,
    Internal = IMCONV_ERR_INTERNAL,
};
/// Compares with the IMCONV_ERR_* macros too.
constexpr bool operator==(ErrorCode a, int32_t b) { return static_cast<int32_t>(a) == b; }
/// The negation of operator== above.
constexpr bool operator!=(ErrorCode a, int32_t b) { return !(a == b); }
/// Prints the code's number (6017, ...).
inline std::ostream &operator<<(std::ostream &os, ErrorCode c) { return os << static_cast<int32_t>(c); }

/// A conversation's type (V2TIMConversationType): C2C ("c2c_<userID>") or Group ("group_<groupID>").
enum class ConversationType : int32_t {
    Unknown = IMCONV_CONVERSATION_TYPE_UNKNOWN,
    C2C = IMCONV_CONVERSATION_TYPE_C2C,
    Group = IMCONV_CONVERSATION_TYPE_GROUP,
};
/// How a conversation's messages are received (V2TIMReceiveMessageOpt); a muted one (NotReceive,
/// NotNotify, NotNotifyExceptAt) is left out of unread totals.
enum class RecvOpt : int32_t {
    Receive = IMCONV_RECV_OPT_RECEIVE,
    NotReceive = IMCONV_RECV_OPT_NOT_RECEIVE,
    NotNotify = IMCONV_RECV_OPT_NOT_NOTIFY,
    NotNotifyExceptAt = IMCONV_RECV_OPT_NOT_NOTIFY_EXCEPT_AT,
    NotReceiveExceptAt = IMCONV_RECV_OPT_NOT_RECEIVE_EXCEPT_AT,
};
/// What an unread @ mention names: this user, everyone, or both.
enum class AtType : int32_t { AtMe = IMCONV_AT_ME, AtAll = IMCONV_AT_ALL, AtAllAtMe = IMCONV_AT_ALL_AT_ME };
/// The built-in mark bits; custom marks are bits 32-63 of a plain uint64_t.
enum class Mark : uint64_t {
    Star = IMCONV_MARK_STAR,
    Unread = IMCONV_MARK_UNREAD,
    Fold = IMCONV_MARK_FOLD,
    Hide = IMCONV_MARK_HIDE,
};
/// A stage of the host's sync with its server (Sdk::report_sync).
enum class SyncStage : int32_t {
    Started = IMCONV_SYNC_STARTED,
    Finished = IMCONV_SYNC_FINISHED,
    Failed = IMCONV_SYNC_FAILED,
};
/// The library log's levels (imconv_set_log_callback, set_log_callback).
enum class LogLevel : int32_t {
    Error = IMCONV_LOG_ERROR,
    Warn = IMCONV_LOG_WARN,
    Info = IMCONV_LOG_INFO,
    Debug = IMCONV_LOG_DEBUG,
};

/// A failure: an ErrorCode and a message naming the problem.
class Error : public std::runtime_error {
  public:
    /// An error of `code` (an IMCONV_ERR_*) with the library's message (what()).
    Error(int32_t code, const std::string &message) : std::runtime_error(message), code_(code) {}
    /// The error's code.
    ErrorCode code() const noexcept { return static_cast<ErrorCode>(code_); }
    /// The code's static description (imconv_error_str).
    const char *code_text() const noexcept { return imconv_error_str(code_); }

  private:
    int32_t code_;
};

/// What receives an exception thrown by one of your callbacks (it never
/// crosses into C). Thread-safe to call at any time; an empty function
/// restores the default, a line on stderr.
using ExceptionHandler = std::function<void(std::exception_ptr)>;

namespace detail {
inline std::mutex &handler_lock() {
    static std::mutex lock;
    return lock;
}
inline ExceptionHandler &handler() {
    static ExceptionHandler h;
    return h;
}
/// The instances whose callback this thread is running (innermost last).
inline std::vector<const imconv_sdk *> &delivering() {
    thread_local std::vector<const imconv_sdk *> stack;
    return stack;
}
inline bool is_delivering(const imconv_sdk *sdk) {
    for (const imconv_sdk *s : delivering())
        if (s == sdk) return true;
    return false;
}
/// Hands an exception to the handler (by default a line on stderr).
inline void report(std::exception_ptr error, const char *what) noexcept {
    ExceptionHandler h;
    {
        std::lock_guard<std::mutex> guard(handler_lock());
        h = handler();
    }
    try {
        if (h) {
            h(error);
        } else {
            try {
                std::rethrow_exception(error);
            } catch (const std::exception &e) {
                std::fprintf(stderr, "imconv: %s: %s\n", what, e.what());
            } catch (...) {
                std::fprintf(stderr, "imconv: %s\n", what);
            }
        }
    } catch (...) {
        std::fprintf(stderr, "imconv: the exception handler itself threw\n");
    }
}
/// Runs a user callback for `sdk`; an exception goes to the handler.
template <typename F> void shielded(const imconv_sdk *sdk, F &&f) noexcept {
    delivering().push_back(sdk);
    try {
        f();
    } catch (...) {
        report(std::current_exception(), "an exception escaped a callback");
    }
    delivering().pop_back();
}
/// What a Future and its call's callback share: the error of a call whose
/// Future was destroyed without get() goes to the exception handler.
struct Outcome {
    /// Guards `sdk` and `kept`.
    std::mutex lock;
    bool abandoned = false;
    std::exception_ptr error;
};
inline void report_dropped(std::exception_ptr error) noexcept {
    report(error, "a call whose Future was dropped without get() failed");
}
/// The call failed: kept for its Future, or reported when it is gone.
inline void failed(const std::shared_ptr<Outcome> &outcome, std::exception_ptr error) noexcept {
    bool gone;
    {
        std::lock_guard<std::mutex> guard(outcome->lock);
        gone = outcome->abandoned;
        if (!gone) outcome->error = error;
    }
    if (gone) report_dropped(error);
}
} // namespace detail

/// Sets what receives exceptions thrown by your callbacks and the errors of
/// dropped Futures (Future); an empty function restores the default.
inline void set_exception_handler(ExceptionHandler handler) {
    std::lock_guard<std::mutex> guard(detail::handler_lock());
    detail::handler() = std::move(handler);
}

// ---- values ------------------------------------------------------------------

/// A conversation's last message, copied.
struct Message {
    /// Its msgID, its sender's user ID, and the whole message as JSON.
    std::string msg_id, sender, json;
    /// Seconds ("timestamp").
    int64_t timestamp = 0;
    /// Its sequence ("seq"; 0: none).
    uint64_t seq = 0;
    /// V2TIMMessageStatus ("status": 4 deleted, 6 revoked, ...).
    int32_t status = 0;
    /// Sent by this user; read ("isSelf", "isRead").
    bool is_self = false, is_read = false;
    /// Milliseconds ("timestampMs"; without it, the start of its second).
    int64_t timestamp_ms = 0;
};

/// One unread @ mention.
struct GroupAtInfo {
    /// Its sequence ("seq"; 0: none).
    uint64_t seq = 0;
    /// Whom it mentions.
    AtType at_type = AtType::AtMe;
};

/// A conversation: the library's read-only view, retained. Copies share
/// it (a reference count); strings are views into it, valid as long as
/// this object (or a copy) lives. Never changes: a write makes a new one.
class Conversation {
  public:
    /// Retains a C view (imconv_conversation_retain), e.g. one lent to a C callback.
    explicit Conversation(const imconv_conversation &c) : v_(imconv_conversation_retain(&c)) {}
    /// Shares `o`'s view (one more reference; nothing is copied).
    Conversation(const Conversation &o) : v_(imconv_conversation_retain(o.v_)) {}
    /// Takes `o`'s view; `o` is left empty (only destroy or assign it).
    Conversation(Conversation &&o) noexcept : v_(std::exchange(o.v_, nullptr)) {}
    /// Shares (or takes) another view, releasing this one's.
    Conversation &operator=(Conversation o) noexcept {
        std::swap(v_, o.v_);
        return *this;
    }
    /// Releases the view (imconv_conversation_release).
    ~Conversation() { imconv_conversation_release(v_); }

    /// "c2c_<userID>" or "group_<groupID>".
    std::string_view conversation_id() const { return v_->conversation_id; }
    /// C2C or Group.
    ConversationType type() const { return static_cast<ConversationType>(v_->type); }
    /// The other user's ID (one-to-one conversations; else empty).
    std::string_view user_id() const { return v_->user_id; }
    /// The group's ID (groups; else empty).
    std::string_view group_id() const { return v_->group_id; }
    /// The group's type ("Work", "Public", ...; groups).
    std::string_view group_type() const { return v_->group_type; }
    /// The name to show (never empty: the profile's, else the user or group ID).
    std::string_view show_name() const { return v_->show_name; }
    /// The avatar's URL (may be empty).
    std::string_view face_url() const { return v_->face_url; }
    /// Unread messages.
    uint64_t unread_count() const { return v_->unread_count; }
    /// How its messages are received (muted or not).
    RecvOpt recv_opt() const { return static_cast<RecvOpt>(v_->recv_opt); }
    /// Empty when the conversation has no message.
    std::optional<Message> last_message() const {
        if (!v_->last_message) return std::nullopt;
        const imconv_message &m = *v_->last_message;
        return Message{m.msg_id,  m.sender,  m.json,    m.timestamp,   m.seq,
                       m.status,  m.is_self, m.is_read, m.timestamp_ms};
    }
    /// Its unread @ mentions, oldest first.
    std::vector<GroupAtInfo> group_at_info_list() const {
        std::vector<GroupAtInfo> out;
        for (size_t i = 0; i < v_->group_at_info_count; i++)
            out.push_back({v_->group_at_info_list[i].seq, static_cast<AtType>(v_->group_at_info_list[i].at_type)});
        return out;
    }
    /// The draft (empty: none).
    std::string_view draft_text() const { return v_->draft_text; }
    /// When the draft was set (seconds; 0: none).
    uint64_t draft_timestamp() const { return v_->draft_timestamp; }
    /// Pinned to the top of the list.
    bool is_pinned() const { return v_->is_pinned; }
    /// Its place in the list, larger first (see imconv_conversation's order_key).
    uint64_t order_key() const { return v_->order_key; }
    /// Its marks (Mark bits, custom ones in bits 32-63).
    std::vector<uint64_t> mark_list() const { return {v_->mark_list, v_->mark_list + v_->mark_count}; }
    /// Whether it carries `mark` (a Mark bit or a custom bit 32-63).
    bool has_mark(uint64_t mark) const {
        for (size_t i = 0; i < v_->mark_count; i++)
            if (v_->mark_list[i] == mark) return true;
        return false;
    }
    /// Whether it carries a built-in mark.
    bool has_mark(Mark mark) const { return has_mark(static_cast<uint64_t>(mark)); }
    /// The host's own data (at most 256 bytes).
    std::string_view custom_data() const { return v_->custom_data; }
    /// The conversation groups it is in.
    std::vector<std::string_view> conversation_group_list() const {
        return {v_->conversation_group_list, v_->conversation_group_list + v_->conversation_group_count};
    }
    /// One-to-one read position: the second read up to (Tencent's).
    uint64_t c2c_read_timestamp() const { return v_->c2c_read_timestamp; }
    /// Group read position: the sequence read up to.
    uint64_t group_read_sequence() const { return v_->group_read_sequence; }
    /// The exact read position in milliseconds ("readTimestampMs").
    uint64_t read_timestamp_ms() const { return v_->read_timestamp_ms; }
    /// False for a conversation that is not stored (a lookup's temporary answer).
    bool is_stored() const { return v_->is_stored; }
    /// The conversation as V2 JSON (imconv_conversation_to_json), made now.
    std::string to_json() const {
        char *json = imconv_conversation_to_json(v_);
        std::string out = json ? json : "";
        imconv_string_free(json);
        return out;
    }
    /// The C view, for code that takes one.
    const imconv_conversation &c_view() const { return *v_; }

  private:
    const imconv_conversation *v_;
};

/// Which conversations a page or an unread total covers; the default covers all.
struct Filter {
    /// Unknown: both types.
    ConversationType type = ConversationType::Unknown;
    /// Only conversations with this mark (0: any).
    uint64_t mark = 0;
    /// Only conversations in this conversation group (none: any).
    std::optional<std::string> group;
    /// Only those with unread messages; only those with an unread @ mention.
    bool has_unread = false, has_at = false;
};

/// One page of the ordered list, and where the next one starts.
struct Page {
    /// This page's conversations, in list order.
    std::vector<Conversation> conversations;
    /// Pass it for the next page.
    std::string next_cursor;
    /// True on the last page.
    bool is_finished = false;
};

/// A listener's callbacks (any may be empty); see imconv_listener.
struct Listener {
    /// A callback taking conversations (new or changed).
    using Conversations = std::function<void(const std::vector<Conversation> &)>;
    /// A callback taking a group's name and conversations.
    using GroupConversations = std::function<void(const std::string &, const std::vector<Conversation> &)>;
    /// Conversations that were created; conversations that changed.
    Conversations on_new, on_changed;
    /// The IDs of deleted conversations.
    std::function<void(const std::vector<std::string> &)> on_deleted;
    /// The new unread total (muted conversations left out).
    std::function<void(uint64_t)> on_total_unread_changed;
    /// The host's sync stages (Sdk::report_sync).
    std::function<void()> on_sync_server_start, on_sync_server_finish, on_sync_server_failed;
    /// The five conversation group events: the group's name, and for
    /// created, added and deleted-from the conversations.
    GroupConversations on_conversation_group_created;
    /// A conversation group was deleted (its name).
    std::function<void(const std::string &)> on_conversation_group_deleted;
    /// A conversation group was renamed.
    std::function<void(const std::string &old_name, const std::string &new_name)> on_conversation_group_name_changed;
    /// Conversations put in, or taken out of, a group (only those that changed).
    GroupConversations on_conversations_added_to_group, on_conversations_deleted_from_group;
    /// A subscribed filter's new unread count (Sdk::subscribe_unread_count).
    std::function<void(uint64_t subscription_id, const Filter &, uint64_t count)> on_unread_count_changed_by_filter;
    /// A callback taking a problem of the store: its code, a message, and the IDs it names.
    using StoreError = std::function<void(ErrorCode, const std::string &, const std::vector<std::string> &)>;
    /// A problem of the store, told once (imconv_listener's on_store_error):
    /// ErrorCode::StoreDamaged with the damaged conversations' IDs, or
    /// ErrorCode::StoreFailed (later writes are refused until reopened).
    StoreError on_store_error;
};

/// The failure callback of a call's callback form.
using ErrorCallback = std::function<void(const Error &)>;
/// The success callback of a write's callback form.
using Done = std::function<void()>;

namespace detail {
/// What one call hands to the C callbacks: owned until its one callback.
template <typename OnSuccess> struct Pending {
    const imconv_sdk *sdk;
    OnSuccess on_success;
    ErrorCallback on_error;
};
template <typename OnSuccess> void fail(int32_t code, const char *desc, void *user_data) noexcept {
    std::unique_ptr<Pending<OnSuccess>> p(static_cast<Pending<OnSuccess> *>(user_data));
    Error e(code, desc ? desc : "");
    shielded(p->sdk, [&] { p->on_error(e); });
}
/// Takes a call's result: runs the success callback with what `make` builds.
template <typename OnSuccess, typename Make> void succeed(void *user_data, Make &&make) noexcept {
    std::unique_ptr<Pending<OnSuccess>> p(static_cast<Pending<OnSuccess> *>(user_data));
    shielded(p->sdk, [&] { p->on_success(make()); });
}
inline std::vector<Conversation> views(const imconv_conversation *const *cs, size_t n) {
    std::vector<Conversation> out;
    out.reserve(n);
    for (size_t i = 0; i < n; i++) out.emplace_back(*cs[i]);
    return out;
}
inline std::vector<const char *> c_ids(const std::vector<std::string> &ids) {
    std::vector<const char *> raw;
    raw.reserve(ids.size());
    for (const auto &id : ids) raw.push_back(id.c_str());
    return raw;
}
} // namespace detail

// ---- futures -------------------------------------------------------------------

/// A call's answer to come (move-only). get() waits for it: with host
/// delivery it dispatches the instance's callbacks on this thread while it
/// waits; with thread delivery, from inside a callback of the same
/// instance, it throws Error(WouldDeadlock) instead of waiting forever.
///
/// [[nodiscard]]: a call whose Future is ignored could fail unseen. A
/// Future destroyed without get() (or std_future()) whose call fails hands
/// the Error to the exception handler (imconv::set_exception_handler; by
/// default a line on stderr): on the destroying thread when the failure
/// came first, else on the thread that delivers it.
template <typename T> class [[nodiscard]] Future {
  public:
    /// The future of a call started by Sdk (`outcome` shared with the
    /// call's error callback; none: nothing is reported when dropped).
    Future(std::future<T> f, imconv_sdk *sdk, bool host, std::shared_ptr<detail::Outcome> outcome = nullptr)
        : f_(std::move(f)), sdk_(sdk), host_(host), outcome_(std::move(outcome)) {}
    /// Move-only: the moved-from Future reports nothing.
    Future(Future &&o) noexcept = default;
    /// Drops this Future's call (reporting its failure, see above), then
    /// takes `o`'s.
    Future &operator=(Future &&o) noexcept {
        if (this != &o) {
            abandon();
            f_ = std::move(o.f_);
            sdk_ = o.sdk_;
            host_ = o.host_;
            outcome_ = std::move(o.outcome_);
        }
        return *this;
    }
    /// Move-only: one Future per call.
    Future(const Future &) = delete;
    /// Move-only.
    Future &operator=(const Future &) = delete;
    /// Reports the call's failure when get() was never called (see above).
    ~Future() { abandon(); }
    /// Waits for the answer and returns it; throws its Error. Once only.
    T get() {
        wait();
        outcome_.reset(); // the caller sees the error: nothing to report
        return f_.get();
    }
    /// Waits for the answer without taking it (see get() for the thread
    /// rules).
    void wait() {
        if (ready()) return;
        if (!host_) {
            if (detail::is_delivering(sdk_))
                throw Error(IMCONV_ERR_WOULD_DEADLOCK,
                            "Future::get from inside this instance's own callback would wait for itself");
            f_.wait();
            return;
        }
        // Not ready means the instance is alive: its free delivers everything.
        struct pollfd p = {imconv_event_fd(sdk_), POLLIN, 0};
        while (!ready()) {
            poll(&p, 1, 50); // another thread may dispatch our answer: look again now and then
            imconv_dispatch(sdk_, 0);
        }
    }
    /// Whether the answer has arrived (never waits).
    bool ready() const { return f_.wait_for(std::chrono::seconds(0)) == std::future_status::ready; }
    /// The std::future (its get() does not dispatch). Taking it makes you
    /// responsible for its error: nothing is reported when it is dropped.
    std::future<T> &std_future() {
        outcome_.reset();
        return f_;
    }

  private:
    void abandon() noexcept {
        if (!outcome_) return;
        std::exception_ptr error;
        {
            std::lock_guard<std::mutex> guard(outcome_->lock);
            outcome_->abandoned = true;
            error = std::exchange(outcome_->error, nullptr);
        }
        outcome_.reset();
        if (error) detail::report_dropped(error);
    }
    std::future<T> f_;
    imconv_sdk *sdk_;
    bool host_;
    std::shared_ptr<detail::Outcome> outcome_;
};

/// One user's conversation store (below, in imconv_sdk.hpp).
class Sdk;

namespace detail {
/// A registered listener and its instance (the listener's user_data).
struct Registered {
    const imconv_sdk *sdk;
    Listener listener;
};
} // namespace detail

/// A registered listener; destroying it (or remove()) unregisters it:
/// after that none of its callbacks runs. It shares the instance's state,
/// so it may outlive the Sdk (removing is then a no-op).
class Subscription {
  public:
    /// Registers nothing (Sdk::add_listener returns real ones).
    Subscription() = default;
    /// Move-only: one owner removes the listener.
    Subscription(const Subscription &) = delete;
    /// Move-only.
    Subscription &operator=(const Subscription &) = delete;
    /// Takes `o`'s listener; `o` then removes nothing.
    Subscription(Subscription &&o) noexcept { *this = std::move(o); }
    /// Removes this one's listener, then takes `o`'s.
    Subscription &operator=(Subscription &&o) noexcept {
        if (this != &o) {
            remove();
            owner_ = std::move(o.owner_);
            id_ = o.id_;
            listener_ = std::exchange(o.listener_, nullptr);
        }
        return *this;
    }
    /// Removes the listener (see remove()).
    ~Subscription() { remove(); }
    /// Unregisters the listener (once). From inside its own callback it
    /// returns at once; its callbacks' storage is then freed with the Sdk.
    void remove() noexcept;

  private:
    friend class Sdk;
    struct Owner;
    std::shared_ptr<Owner> owner_;
    uint64_t id_ = 0;
    detail::Registered *listener_ = nullptr;
};

/// The instance, shared by the Sdk and its subscriptions.
struct Subscription::Owner {
    /// Guards `sdk` and `kept`.
    std::mutex lock;
    /// The C instance; null once freed.
    imconv_sdk *sdk = nullptr; // null once freed
    /// Listeners removed from inside their own callback: freed with the Sdk.
    std::vector<std::unique_ptr<detail::Registered>> kept; // removed from their own callback
};

/// See Subscription::remove.
inline void Subscription::remove() noexcept {
    if (!listener_) return;
    std::unique_ptr<detail::Registered> listener(std::exchange(listener_, nullptr));
    std::lock_guard<std::mutex> guard(owner_->lock);
    if (owner_->sdk) {
        int32_t rc = imconv_remove_listener(owner_->sdk, id_);
        // Its running callback still uses it: freed with the Sdk instead.
        if (rc == IMCONV_ERR_WOULD_DEADLOCK || detail::is_delivering(owner_->sdk))
            owner_->kept.push_back(std::move(listener));
    }
}

/// A library log line handler; see imconv_set_log_callback (any thread,
/// must not call imconv). Replacing it keeps the previous function alive
/// until exit, since a line may still be running through it.
inline int32_t set_log_callback(LogLevel level, std::function<void(LogLevel, std::string_view)> fn) {
    static std::mutex lock;
    static std::vector<std::unique_ptr<std::function<void(LogLevel, std::string_view)>>> kept;
    std::lock_guard<std::mutex> guard(lock);
    if (!fn) return imconv_set_log_callback(static_cast<int32_t>(level), nullptr, nullptr);
    kept.push_back(std::make_unique<std::function<void(LogLevel, std::string_view)>>(std::move(fn)));
    return imconv_set_log_callback(
        static_cast<int32_t>(level),
        [](int32_t lvl, const char *message, void *user_data) {
            auto *f = static_cast<std::function<void(LogLevel, std::string_view)> *>(user_data);
            detail::shielded(nullptr, [&] { (*f)(static_cast<LogLevel>(lvl), message); });
        },
        kept.back().get());
}

/// The library's version ("0.3.0").
inline std::string_view version() { return imconv_version(); }

/// Waits until every instance freed from inside its own callback has
/// finished its teardown (imconv_wait_freed); false on timeout.
inline bool wait_freed(std::chrono::milliseconds timeout) {
    return imconv_wait_freed(static_cast<uint32_t>(timeout.count())) == IMCONV_OK;
}

} // namespace imconv

#include "imconv_sdk.hpp"

#endif
