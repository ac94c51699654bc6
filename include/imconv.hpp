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
    Internal = IMCONV_ERR_INTERNAL,
};
/// Compares with the IMCONV_ERR_* macros too.
constexpr bool operator==(ErrorCode a, int32_t b) { return static_cast<int32_t>(a) == b; }
constexpr bool operator!=(ErrorCode a, int32_t b) { return !(a == b); }
inline std::ostream &operator<<(std::ostream &os, ErrorCode c) { return os << static_cast<int32_t>(c); }

enum class ConversationType : int32_t {
    Unknown = IMCONV_CONVERSATION_TYPE_UNKNOWN,
    C2C = IMCONV_CONVERSATION_TYPE_C2C,
    Group = IMCONV_CONVERSATION_TYPE_GROUP,
};
enum class RecvOpt : int32_t {
    Receive = IMCONV_RECV_OPT_RECEIVE,
    NotReceive = IMCONV_RECV_OPT_NOT_RECEIVE,
    NotNotify = IMCONV_RECV_OPT_NOT_NOTIFY,
    NotNotifyExceptAt = IMCONV_RECV_OPT_NOT_NOTIFY_EXCEPT_AT,
    NotReceiveExceptAt = IMCONV_RECV_OPT_NOT_RECEIVE_EXCEPT_AT,
};
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
enum class LogLevel : int32_t {
    Error = IMCONV_LOG_ERROR,
    Warn = IMCONV_LOG_WARN,
    Info = IMCONV_LOG_INFO,
    Debug = IMCONV_LOG_DEBUG,
};

/// A failure: an ErrorCode and a message naming the problem.
class Error : public std::runtime_error {
  public:
    Error(int32_t code, const std::string &message) : std::runtime_error(message), code_(code) {}
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
/// Runs a user callback for `sdk`; an exception goes to the handler.
template <typename F> void shielded(const imconv_sdk *sdk, F &&f) noexcept {
    delivering().push_back(sdk);
    try {
        f();
    } catch (...) {
        ExceptionHandler h;
        {
            std::lock_guard<std::mutex> guard(handler_lock());
            h = handler();
        }
        try {
            if (h) {
                h(std::current_exception());
            } else {
                try {
                    throw;
                } catch (const std::exception &e) {
                    std::fprintf(stderr, "imconv: an exception escaped a callback: %s\n", e.what());
                } catch (...) {
                    std::fprintf(stderr, "imconv: an exception escaped a callback\n");
                }
            }
        } catch (...) {
            std::fprintf(stderr, "imconv: the exception handler itself threw\n");
        }
    }
    delivering().pop_back();
}
} // namespace detail

inline void set_exception_handler(ExceptionHandler handler) {
    std::lock_guard<std::mutex> guard(detail::handler_lock());
    detail::handler() = std::move(handler);
}

// ---- values ------------------------------------------------------------------

/// A conversation's last message, copied.
struct Message {
    std::string msg_id, sender, json;
    int64_t timestamp = 0;
    uint64_t seq = 0;
    int32_t status = 0;
    bool is_self = false, is_read = false;
    /// Milliseconds ("timestampMs"; without it, the start of its second).
    int64_t timestamp_ms = 0;
};

/// One unread @ mention.
struct GroupAtInfo {
    uint64_t seq = 0;
    AtType at_type = AtType::AtMe;
};

/// A conversation: the library's read-only view, retained. Copies share
/// it (a reference count); strings are views into it, valid as long as
/// this object (or a copy) lives. Never changes: a write makes a new one.
class Conversation {
  public:
    explicit Conversation(const imconv_conversation &c) : v_(imconv_conversation_retain(&c)) {}
    Conversation(const Conversation &o) : v_(imconv_conversation_retain(o.v_)) {}
    Conversation(Conversation &&o) noexcept : v_(std::exchange(o.v_, nullptr)) {}
    Conversation &operator=(Conversation o) noexcept {
        std::swap(v_, o.v_);
        return *this;
    }
    ~Conversation() { imconv_conversation_release(v_); }

    std::string_view conversation_id() const { return v_->conversation_id; }
    ConversationType type() const { return static_cast<ConversationType>(v_->type); }
    std::string_view user_id() const { return v_->user_id; }
    std::string_view group_id() const { return v_->group_id; }
    std::string_view group_type() const { return v_->group_type; }
    std::string_view show_name() const { return v_->show_name; }
    std::string_view face_url() const { return v_->face_url; }
    uint64_t unread_count() const { return v_->unread_count; }
    RecvOpt recv_opt() const { return static_cast<RecvOpt>(v_->recv_opt); }
    /// Empty when the conversation has no message.
    std::optional<Message> last_message() const {
        if (!v_->last_message) return std::nullopt;
        const imconv_message &m = *v_->last_message;
        return Message{m.msg_id,  m.sender,  m.json,    m.timestamp,   m.seq,
                       m.status,  m.is_self, m.is_read, m.timestamp_ms};
    }
    std::vector<GroupAtInfo> group_at_info_list() const {
        std::vector<GroupAtInfo> out;
        for (size_t i = 0; i < v_->group_at_info_count; i++)
            out.push_back({v_->group_at_info_list[i].seq, static_cast<AtType>(v_->group_at_info_list[i].at_type)});
        return out;
    }
    std::string_view draft_text() const { return v_->draft_text; }
    uint64_t draft_timestamp() const { return v_->draft_timestamp; }
    bool is_pinned() const { return v_->is_pinned; }
    uint64_t order_key() const { return v_->order_key; }
    std::vector<uint64_t> mark_list() const { return {v_->mark_list, v_->mark_list + v_->mark_count}; }
    bool has_mark(uint64_t mark) const {
        for (size_t i = 0; i < v_->mark_count; i++)
            if (v_->mark_list[i] == mark) return true;
        return false;
    }
    bool has_mark(Mark mark) const { return has_mark(static_cast<uint64_t>(mark)); }
    std::string_view custom_data() const { return v_->custom_data; }
    std::vector<std::string_view> conversation_group_list() const {
        return {v_->conversation_group_list, v_->conversation_group_list + v_->conversation_group_count};
    }
    uint64_t c2c_read_timestamp() const { return v_->c2c_read_timestamp; }
    uint64_t group_read_sequence() const { return v_->group_read_sequence; }
    /// The exact read position in milliseconds ("readTimestampMs").
    uint64_t read_timestamp_ms() const { return v_->read_timestamp_ms; }
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
    ConversationType type = ConversationType::Unknown;
    uint64_t mark = 0;
    std::optional<std::string> group;
    bool has_unread = false, has_at = false;
};

/// One page of the ordered list, and where the next one starts.
struct Page {
    std::vector<Conversation> conversations;
    std::string next_cursor;
    bool is_finished = false;
};

/// A listener's callbacks (any may be empty); see imconv_listener.
struct Listener {
    using Conversations = std::function<void(const std::vector<Conversation> &)>;
    using GroupConversations = std::function<void(const std::string &, const std::vector<Conversation> &)>;
    Conversations on_new, on_changed;
    std::function<void(const std::vector<std::string> &)> on_deleted;
    std::function<void(uint64_t)> on_total_unread_changed;
    /// The host's sync stages (Sdk::report_sync).
    std::function<void()> on_sync_server_start, on_sync_server_finish, on_sync_server_failed;
    /// The five conversation group events: the group's name, and for
    /// created, added and deleted-from the conversations.
    GroupConversations on_conversation_group_created;
    std::function<void(const std::string &)> on_conversation_group_deleted;
    std::function<void(const std::string &old_name, const std::string &new_name)> on_conversation_group_name_changed;
    GroupConversations on_conversations_added_to_group, on_conversations_deleted_from_group;
    /// A subscribed filter's new unread count (Sdk::subscribe_unread_count).
    std::function<void(uint64_t subscription_id, const Filter &, uint64_t count)> on_unread_count_changed_by_filter;
};

using ErrorCallback = std::function<void(const Error &)>;
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

/// A call's answer to come. get() waits for it: with host delivery it
/// dispatches the instance's callbacks on this thread while it waits;
/// with thread delivery, from inside a callback of the same instance, it
/// throws Error(WouldDeadlock) instead of waiting forever.
template <typename T> class Future {
  public:
    Future(std::future<T> f, imconv_sdk *sdk, bool host) : f_(std::move(f)), sdk_(sdk), host_(host) {}
    T get() {
        wait();
        return f_.get();
    }
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
    bool ready() const { return f_.wait_for(std::chrono::seconds(0)) == std::future_status::ready; }
    /// The std::future (its get() does not dispatch).
    std::future<T> &std_future() { return f_; }

  private:
    std::future<T> f_;
    imconv_sdk *sdk_;
    bool host_;
};

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
    Subscription() = default;
    Subscription(const Subscription &) = delete;
    Subscription &operator=(const Subscription &) = delete;
    Subscription(Subscription &&o) noexcept { *this = std::move(o); }
    Subscription &operator=(Subscription &&o) noexcept {
        if (this != &o) {
            remove();
            owner_ = std::move(o.owner_);
            id_ = o.id_;
            listener_ = std::exchange(o.listener_, nullptr);
        }
        return *this;
    }
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
    std::mutex lock;
    imconv_sdk *sdk = nullptr; // null once freed
    std::vector<std::unique_ptr<detail::Registered>> kept; // removed from their own callback
};

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
