/*
 * imconv for C++17: a header-only layer over imconv.h.
 *
 *   imconv::Sdk sdk(R"({"user_id":"me","data_dir":"/var/lib/app"})");
 *   sdk.import_conversations(R"([{"conversationID":"c2c_alice"}])").get();
 *   imconv::Conversation c = sdk.get_conversation("c2c_alice").get();
 *
 * - imconv::Sdk owns one instance (RAII, move-only); its constructor throws
 *   imconv::Error (with .code(), an IMCONV_ERR_* value) when it cannot open.
 * - Each call comes in two forms: one returning a std::future (the value,
 *   or imconv::Error from .get()), and one taking std::function callbacks,
 *   which run on the instance's callback thread like the C callbacks.
 * - imconv::Conversation is a value: it copies what the C view lends, so it
 *   stays valid after the callback and after the instance is gone. Its
 *   accessors are named after the C fields.
 * - An exception thrown by your callback never crosses into C: it is
 *   caught and dropped (handle errors inside the callback).
 * - Calls refused at once (the instance shutting down, a full write queue)
 *   throw imconv::Error from the call itself.
 */
#ifndef IMCONV_HPP
#define IMCONV_HPP

#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "imconv.h"

namespace imconv {

/// A failure: an IMCONV_ERR_* code and a message naming the problem.
class Error : public std::runtime_error {
  public:
    Error(int32_t code, const std::string &message)
        : std::runtime_error(message), code_(code) {}
    int32_t code() const noexcept { return code_; }
    /// The code's static description (imconv_error_str).
    const char *code_text() const noexcept { return imconv_error_str(code_); }

  private:
    int32_t code_;
};

/// A message as it is a conversation's last message.
struct Message {
    std::string msg_id, sender, json;
    int64_t timestamp = 0;
    uint64_t seq = 0;
    int32_t status = 0;
    bool is_self = false, is_read = false;
};

/// One @ mention.
struct GroupAtInfo {
    uint64_t seq = 0;
    int32_t at_type = 0;
};

/// A conversation, copied out of the C view.
class Conversation {
  public:
    explicit Conversation(const imconv_conversation &c)
        : conversation_id_(c.conversation_id), user_id_(c.user_id), group_id_(c.group_id),
          group_type_(c.group_type), show_name_(c.show_name), face_url_(c.face_url),
          draft_text_(c.draft_text), custom_data_(c.custom_data), type_(c.type),
          recv_opt_(c.recv_opt), unread_count_(c.unread_count),
          draft_timestamp_(c.draft_timestamp), order_key_(c.order_key),
          c2c_read_timestamp_(c.c2c_read_timestamp), group_read_sequence_(c.group_read_sequence),
          is_pinned_(c.is_pinned), is_stored_(c.is_stored) {
        if (c.last_message) {
            const imconv_message &m = *c.last_message;
            last_message_ = std::make_shared<Message>(
                Message{m.msg_id, m.sender, m.json, m.timestamp, m.seq, m.status, m.is_self, m.is_read});
        }
        for (size_t i = 0; i < c.group_at_info_count; i++)
            group_at_info_list_.push_back({c.group_at_info_list[i].seq, c.group_at_info_list[i].at_type});
        mark_list_.assign(c.mark_list, c.mark_list + c.mark_count);
        for (size_t i = 0; i < c.conversation_group_count; i++)
            conversation_group_list_.emplace_back(c.conversation_group_list[i]);
        char *json = imconv_conversation_to_json(&c);
        if (json) {
            json_ = json;
            imconv_string_free(json);
        }
    }

    const std::string &conversation_id() const { return conversation_id_; }
    int32_t type() const { return type_; }
    const std::string &user_id() const { return user_id_; }
    const std::string &group_id() const { return group_id_; }
    const std::string &group_type() const { return group_type_; }
    const std::string &show_name() const { return show_name_; }
    const std::string &face_url() const { return face_url_; }
    uint64_t unread_count() const { return unread_count_; }
    int32_t recv_opt() const { return recv_opt_; }
    /// NULL when the conversation has no message.
    const Message *last_message() const { return last_message_.get(); }
    const std::vector<GroupAtInfo> &group_at_info_list() const { return group_at_info_list_; }
    const std::string &draft_text() const { return draft_text_; }
    uint64_t draft_timestamp() const { return draft_timestamp_; }
    bool is_pinned() const { return is_pinned_; }
    uint64_t order_key() const { return order_key_; }
    const std::vector<uint64_t> &mark_list() const { return mark_list_; }
    const std::string &custom_data() const { return custom_data_; }
    const std::vector<std::string> &conversation_group_list() const { return conversation_group_list_; }
    uint64_t c2c_read_timestamp() const { return c2c_read_timestamp_; }
    uint64_t group_read_sequence() const { return group_read_sequence_; }
    bool is_stored() const { return is_stored_; }
    /// The conversation as V2 JSON (imconv_conversation_to_json).
    const std::string &to_json() const { return json_; }

  private:
    std::string conversation_id_, user_id_, group_id_, group_type_, show_name_, face_url_,
        draft_text_, custom_data_, json_;
    int32_t type_, recv_opt_;
    uint64_t unread_count_, draft_timestamp_, order_key_, c2c_read_timestamp_,
        group_read_sequence_;
    bool is_pinned_, is_stored_;
    std::shared_ptr<Message> last_message_;
    std::vector<GroupAtInfo> group_at_info_list_;
    std::vector<uint64_t> mark_list_;
    std::vector<std::string> conversation_group_list_;
};

using ErrorCallback = std::function<void(const Error &)>;

namespace detail {

/// What one call hands to the C callbacks: the C++ callbacks, owned until
/// the one C callback runs (then deleted there).
template <typename OnSuccess> struct Pending {
    OnSuccess on_success;
    ErrorCallback on_error;
};

/// Runs a user callback; an exception never crosses into C.
template <typename F> void shielded(F &&f) noexcept {
    try {
        f();
    } catch (...) {
    }
}

template <typename OnSuccess>
void fail(int32_t code, const char *desc, void *user_data) noexcept {
    std::unique_ptr<Pending<OnSuccess>> p(static_cast<Pending<OnSuccess> *>(user_data));
    Error e(code, desc ? desc : "");
    shielded([&] { p->on_error(e); });
}

/// Refused at once: the C call made no callback, so the C++ side cleans up.
template <typename OnSuccess> void check_accepted(int32_t rc, Pending<OnSuccess> *p) {
    if (rc != IMCONV_OK) {
        delete p;
        throw Error(rc, imconv_error_str(rc));
    }
}

} // namespace detail

/// One user's conversation store (imconv_sdk). Move-only.
class Sdk {
  public:
    /// Opens the store (blocking); throws Error when it cannot.
    explicit Sdk(const std::string &config_json) {
        char *error = nullptr;
        int32_t rc = imconv_sdk_new(config_json.c_str(), &sdk_, &error);
        if (rc != IMCONV_OK) {
            std::string message = error ? error : imconv_error_str(rc);
            imconv_string_free(error);
            throw Error(rc, message);
        }
    }
    Sdk(const Sdk &) = delete;
    Sdk &operator=(const Sdk &) = delete;
    Sdk(Sdk &&other) noexcept : sdk_(std::exchange(other.sdk_, nullptr)) {}
    Sdk &operator=(Sdk &&other) noexcept {
        if (this != &other) {
            imconv_sdk_free(sdk_);
            sdk_ = std::exchange(other.sdk_, nullptr);
        }
        return *this;
    }
    /// Frees the instance: every callback still owed is delivered first.
    ~Sdk() { imconv_sdk_free(sdk_); }

    /// The C instance, for calls this header does not wrap.
    imconv_sdk *get() const noexcept { return sdk_; }

    // ---- getConversation ----------------------------------------------

    void get_conversation(const std::string &id, std::function<void(const Conversation &)> on_success,
                          ErrorCallback on_error) {
        using P = detail::Pending<std::function<void(const Conversation &)>>;
        auto *p = new P{std::move(on_success), std::move(on_error)};
        detail::check_accepted(imconv_get_conversation(sdk_, id.c_str(), &one, &detail::fail<decltype(p->on_success)>, p), p);
    }

    std::future<Conversation> get_conversation(const std::string &id) {
        auto promise = std::make_shared<std::promise<Conversation>>();
        auto future = promise->get_future();
        get_conversation(
            id, [promise](const Conversation &c) { promise->set_value(c); },
            [promise](const Error &e) { promise->set_exception(std::make_exception_ptr(e)); });
        return future;
    }

    // ---- getConversationList ------------------------------------------

    void get_conversation_list(const std::vector<std::string> &ids,
                               std::function<void(const std::vector<Conversation> &)> on_success,
                               ErrorCallback on_error) {
        std::vector<const char *> raw;
        raw.reserve(ids.size());
        for (const auto &id : ids) raw.push_back(id.c_str());
        using P = detail::Pending<std::function<void(const std::vector<Conversation> &)>>;
        auto *p = new P{std::move(on_success), std::move(on_error)};
        detail::check_accepted(imconv_get_conversation_list(sdk_, raw.data(), raw.size(), &many,
                                                            &detail::fail<decltype(p->on_success)>, p),
                               p);
    }

    std::future<std::vector<Conversation>> get_conversation_list(const std::vector<std::string> &ids) {
        auto promise = std::make_shared<std::promise<std::vector<Conversation>>>();
        auto future = promise->get_future();
        get_conversation_list(
            ids, [promise](const std::vector<Conversation> &v) { promise->set_value(v); },
            [promise](const Error &e) { promise->set_exception(std::make_exception_ptr(e)); });
        return future;
    }

    // ---- import, sync and messages ------------------------------------

    void import_conversations(const std::string &json_array, std::function<void()> on_success,
                              ErrorCallback on_error) {
        write(&imconv_import_conversations, json_array, std::move(on_success), std::move(on_error));
    }
    std::future<void> import_conversations(const std::string &json_array) {
        return write_future(&imconv_import_conversations, json_array);
    }

    void sync_conversations(const std::string &json_array, std::function<void()> on_success,
                            ErrorCallback on_error) {
        write(&imconv_sync_conversations, json_array, std::move(on_success), std::move(on_error));
    }
    std::future<void> sync_conversations(const std::string &json_array) {
        return write_future(&imconv_sync_conversations, json_array);
    }

    void apply_messages(const std::string &json_array, std::function<void()> on_success,
                        ErrorCallback on_error) {
        write(&imconv_apply_messages, json_array, std::move(on_success), std::move(on_error));
    }
    std::future<void> apply_messages(const std::string &json_array) {
        return write_future(&imconv_apply_messages, json_array);
    }

  private:
    using Done = std::function<void()>;
    using JsonWrite = int32_t (*)(imconv_sdk *, const char *, imconv_done_callback,
                                  imconv_error_callback, void *);

    static void one(const imconv_conversation *c, void *user_data) noexcept {
        using P = detail::Pending<std::function<void(const Conversation &)>>;
        std::unique_ptr<P> p(static_cast<P *>(user_data));
        detail::shielded([&] { p->on_success(Conversation(*c)); });
    }

    static void many(const imconv_conversation *const *cs, size_t n, void *user_data) noexcept {
        using P = detail::Pending<std::function<void(const std::vector<Conversation> &)>>;
        std::unique_ptr<P> p(static_cast<P *>(user_data));
        detail::shielded([&] {
            std::vector<Conversation> out;
            out.reserve(n);
            for (size_t i = 0; i < n; i++) out.emplace_back(*cs[i]);
            p->on_success(out);
        });
    }

    static void done(void *user_data) noexcept {
        std::unique_ptr<detail::Pending<Done>> p(static_cast<detail::Pending<Done> *>(user_data));
        detail::shielded([&] { p->on_success(); });
    }

    void write(JsonWrite call, const std::string &json, Done on_success, ErrorCallback on_error) {
        auto *p = new detail::Pending<Done>{std::move(on_success), std::move(on_error)};
        detail::check_accepted(call(sdk_, json.c_str(), &done, &detail::fail<Done>, p), p);
    }

    std::future<void> write_future(JsonWrite call, const std::string &json) {
        auto promise = std::make_shared<std::promise<void>>();
        auto future = promise->get_future();
        write(
            call, json, [promise] { promise->set_value(); },
            [promise](const Error &e) { promise->set_exception(std::make_exception_ptr(e)); });
        return future;
    }

    imconv_sdk *sdk_ = nullptr;
};

} // namespace imconv

#endif
