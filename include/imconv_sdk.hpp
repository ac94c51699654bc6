/*
 * imconv for C++17: imconv::Sdk, every call of one instance. Included by
 * imconv.hpp (include that one).
 */
#ifndef IMCONV_SDK_HPP
#define IMCONV_SDK_HPP

#include "imconv.hpp"

namespace imconv {

/// One user's conversation store (imconv_sdk). Move-only.
class Sdk {
  public:
    /// Opens the store (blocking); throws Error when it cannot. With
    /// "delivery":"host" in the config, callbacks run only in dispatch().
    explicit Sdk(const std::string &config_json) : owner_(std::make_shared<Subscription::Owner>()) {
        char *error = nullptr;
        int32_t rc = imconv_sdk_new(config_json.c_str(), &owner_->sdk, &error);
        if (rc != IMCONV_OK) {
            std::string message = error ? error : imconv_error_str(rc);
            imconv_string_free(error);
            throw Error(rc, message);
        }
        host_ = imconv_event_fd(owner_->sdk) >= 0;
    }
    /// Move-only: one owner frees the instance.
    Sdk(const Sdk &) = delete;
    /// Move-only.
    Sdk &operator=(const Sdk &) = delete;
    /// Takes `other`'s instance; `other` is left empty (get() returns null).
    Sdk(Sdk &&other) noexcept : owner_(std::move(other.owner_)), host_(other.host_) {}
    /// Frees this instance (as the destructor), then takes `other`'s.
    Sdk &operator=(Sdk &&other) noexcept {
        if (this != &other) {
            close();
            owner_ = std::move(other.owner_);
            host_ = other.host_;
        }
        return *this;
    }
    /// Frees the instance: queued writes fail with Shutdown, accepted reads
    /// are answered, every callback still owed runs (with host delivery,
    /// on this thread), every library thread is joined.
    ~Sdk() { close(); }

    /// The C instance, for code that takes one (null once moved from).
    imconv_sdk *get() const noexcept { return owner_ ? owner_->sdk : nullptr; }
    /// Whether callbacks run only in dispatch() ("delivery":"host").
    bool host_delivery() const noexcept { return host_; }

    // ---- host delivery ------------------------------------------------------

    /// Runs up to `max` waiting callbacks on this thread (0: all waiting
    /// now); returns how many ran (imconv_dispatch).
    size_t dispatch(size_t max = 0) { return imconv_dispatch(get(), max); }
    /// Readable while callbacks wait (imconv_event_fd); -1 with thread delivery.
    int event_fd() const { return imconv_event_fd(get()); }

    // ---- reads ---------------------------------------------------------------

    /// Callback form of the call below: `on_success` runs with its answer, `on_error` with its
    /// Error, where the C callbacks run (the callback thread, or dispatch()).
    /// Throws Error when refused at once (shutdown, a full queue).
    void get_conversation(const std::string &id, std::function<void(const Conversation &)> on_success,
                          ErrorCallback on_error) {
        start(std::move(on_success), std::move(on_error), [&](auto ok, auto fail, void *p) {
            return imconv_get_conversation(get(), id.c_str(), ok, fail, p);
        }, [](const imconv_conversation *c, void *p) {
            detail::succeed<std::function<void(const Conversation &)>>(p, [&] { return Conversation(*c); });
        });
    }
    /// One conversation by ID (getConversation): a stored one, or, for an ID
    /// that is not stored, a temporary one (is_stored() false). Error
    /// InvalidParameters for an invalid ID.
    Future<Conversation> get_conversation(const std::string &id) {
        return future<Conversation>([&](auto ok, auto fail) { get_conversation(id, ok, fail); });
    }

    /// Callback form of the call below: `on_success` runs with its answer, `on_error` with its
    /// Error, where the C callbacks run (the callback thread, or dispatch()).
    /// Throws Error when refused at once (shutdown, a full queue).
    void get_conversation_list(const std::vector<std::string> &ids,
                               std::function<void(const std::vector<Conversation> &)> on_success,
                               ErrorCallback on_error) {
        std::vector<const char *> raw = detail::c_ids(ids);
        start(std::move(on_success), std::move(on_error), [&](auto ok, auto fail, void *p) {
            return imconv_get_conversation_list(get(), raw.data(), raw.size(), ok, fail, p);
        }, &many);
    }
    /// Several conversations by ID (getConversationList): the stored ones, in
    /// request order, each once; IDs not stored are left out.
    Future<std::vector<Conversation>> get_conversation_list(const std::vector<std::string> &ids) {
        return future<std::vector<Conversation>>([&](auto ok, auto fail) { get_conversation_list(ids, ok, fail); });
    }

    /// One page of the ordered list; pass page.next_cursor for the next.
    void get_conversation_page(const Filter &filter, const std::string &cursor, size_t count,
                               std::function<void(const Page &)> on_success, ErrorCallback on_error) {
        imconv_list_filter f = c_filter(filter);
        start(std::move(on_success), std::move(on_error), [&](auto ok, auto fail, void *p) {
            return imconv_get_conversation_page(get(), &f, cursor.c_str(), count, ok, fail, p);
        }, [](const imconv_conversation *const *cs, size_t n, const char *next, bool finished, void *p) {
            detail::succeed<std::function<void(const Page &)>>(
                p, [&] { return Page{detail::views(cs, n), next ? next : "", finished}; });
        });
    }
    /// Future form of the call above. `count` is 1 to IMCONV_MAX_PAGE (1000): any other
    /// fails with InvalidParameters, as in C.
    Future<Page> get_conversation_page(const Filter &filter = {}, const std::string &cursor = "",
                                       size_t count = 100) {
        return future<Page>([&](auto ok, auto fail) { get_conversation_page(filter, cursor, count, ok, fail); });
    }
    /// Every conversation that passes `filter`, in list order, read a page
    /// at a time (each page waits like Future::get).
    std::vector<Conversation> all_conversations(const Filter &filter = {}, size_t page_size = 100) {
        std::vector<Conversation> out;
        for_each_conversation(filter, page_size, [&](const Conversation &c) { out.push_back(c); });
        return out;
    }
    /// Calls `f` on every conversation that passes `filter`, in list order,
    /// fetching a page at a time; stops early when `f` returns false.
    template <typename F> void for_each_conversation(const Filter &filter, size_t page_size, F &&f) {
        std::string cursor;
        for (;;) {
            Page page = get_conversation_page(filter, cursor, page_size).get();
            for (const Conversation &c : page.conversations) {
                if constexpr (std::is_same_v<decltype(f(c)), bool>) {
                    if (!f(c)) return;
                } else {
                    f(c);
                }
            }
            if (page.is_finished) return;
            cursor = page.next_cursor;
        }
    }

    /// Callback form of the call below: `on_success` runs with its answer, `on_error` with its
    /// Error, where the C callbacks run (the callback thread, or dispatch()).
    /// Throws Error when refused at once (shutdown, a full queue).
    void get_total_unread(const Filter &filter, std::function<void(uint64_t)> on_success, ErrorCallback on_error) {
        imconv_list_filter f = c_filter(filter);
        start(std::move(on_success), std::move(on_error), [&](auto ok, auto fail, void *p) {
            return imconv_get_total_unread(get(), &f, ok, fail, p);
        }, [](uint64_t n, void *p) { detail::succeed<std::function<void(uint64_t)>>(p, [&] { return n; }); });
    }
    /// The unread total of the conversations that pass `filter` (all by
    /// default), muted ones left out.
    Future<uint64_t> get_total_unread(const Filter &filter = {}) {
        return future<uint64_t>([&](auto ok, auto fail) { get_total_unread(filter, ok, fail); });
    }

    /// Callback form of the call below: `on_success` runs with its answer, `on_error` with its
    /// Error, where the C callbacks run (the callback thread, or dispatch()).
    /// Throws Error when refused at once (shutdown, a full queue).
    void get_groups(std::function<void(const std::vector<std::string> &)> on_success, ErrorCallback on_error) {
        start(std::move(on_success), std::move(on_error), [&](auto ok, auto fail, void *p) {
            return imconv_get_groups(get(), ok, fail, p);
        }, &strings);
    }
    /// The conversation groups' names, in creation order.
    Future<std::vector<std::string>> get_groups() {
        return future<std::vector<std::string>>([&](auto ok, auto fail) { get_groups(ok, fail); });
    }

    /// Callback form of the call below: `on_success` runs with its answer, `on_error` with its
    /// Error, where the C callbacks run (the callback thread, or dispatch()).
    /// Throws Error when refused at once (shutdown, a full queue).
    void verify_store(std::function<void(const std::vector<std::string> &)> on_success, ErrorCallback on_error) {
        start(std::move(on_success), std::move(on_error), [&](auto ok, auto fail, void *p) {
            return imconv_verify_store(get(), ok, fail, p);
        }, &strings);
    }
    /// Checks the whole store in the background (imconv_verify_store): the
    /// IDs of damaged conversations (each also told to on_store_error).
    Future<std::vector<std::string>> verify_store() {
        return future<std::vector<std::string>>([&](auto ok, auto fail) { verify_store(ok, fail); });
    }

    // ---- writes (each all or nothing, durable when its success runs) ----------

    /// Callback form of the call below: `ok` runs with its answer, `fail` with its
    /// Error, where the C callbacks run (the callback thread, or dispatch()).
    /// Throws Error when refused at once (shutdown, a full queue).
    void import_conversations(const std::string &json, Done ok, ErrorCallback fail) {
        write(ok, fail, [&](auto... cb) { return imconv_import_conversations(get(), json.c_str(), cb...); });
    }
    /// Replaces conversations whole from a JSON array of V2 conversation
    /// objects (imconv_import_conversations).
    Future<void> import_conversations(const std::string &json) {
        return done([&](auto ok, auto fail) { import_conversations(json, ok, fail); });
    }
    /// Callback form of the call below: `ok` runs with its answer, `fail` with its
    /// Error, where the C callbacks run (the callback thread, or dispatch()).
    /// Throws Error when refused at once (shutdown, a full queue).
    void sync_conversations(const std::string &json, Done ok, ErrorCallback fail) {
        write(ok, fail, [&](auto... cb) { return imconv_sync_conversations(get(), json.c_str(), cb...); });
    }
    /// Merges a server's conversations field by field: read positions,
    /// readMsgID, unreadCount as imconv_sync_conversations says.
    Future<void> sync_conversations(const std::string &json) {
        return done([&](auto ok, auto fail) { sync_conversations(json, ok, fail); });
    }
    /// The server's whole list: merged as sync_conversations, and every
    /// stored conversation it does not name is deleted (imconv_sync_snapshot).
    void sync_snapshot(const std::string &json, Done ok, ErrorCallback fail) {
        write(ok, fail, [&](auto... cb) { return imconv_sync_snapshot(get(), json.c_str(), cb...); });
    }
    /// Future form of the call above.
    Future<void> sync_snapshot(const std::string &json) {
        return done([&](auto ok, auto fail) { sync_snapshot(json, ok, fail); });
    }
    /// Callback form of the call below: `ok` runs with its answer, `fail` with its
    /// Error, where the C callbacks run (the callback thread, or dispatch()).
    /// Throws Error when refused at once (shutdown, a full queue).
    void apply_messages(const std::string &json, Done ok, ErrorCallback fail) {
        write(ok, fail, [&](auto... cb) { return imconv_apply_messages(get(), json.c_str(), cb...); });
    }
    /// Applies a JSON array of messages (imconv_apply_messages): de-duplicated
    /// by msgID, counted as unread by the rules of docs/writing.md.
    Future<void> apply_messages(const std::string &json) {
        return done([&](auto ok, auto fail) { apply_messages(json, ok, fail); });
    }
    /// Callback form of the call below: `ok` runs with its answer, `fail` with its
    /// Error, where the C callbacks run (the callback thread, or dispatch()).
    /// Throws Error when refused at once (shutdown, a full queue).
    void update_profiles(const std::string &json, Done ok, ErrorCallback fail) {
        write(ok, fail, [&](auto... cb) { return imconv_update_profiles(get(), json.c_str(), cb...); });
    }
    /// Records names and avatars of users and groups (imconv_update_profiles).
    Future<void> update_profiles(const std::string &json) {
        return done([&](auto ok, auto fail) { update_profiles(json, ok, fail); });
    }
    /// Reads a stored conversation up to and including one of its messages
    /// (a read receipt); see imconv_mark_read.
    void mark_read(const std::string &conversation_id, const std::string &msg_id, Done ok, ErrorCallback fail) {
        write(ok, fail, [&](auto... cb) { return imconv_mark_read(get(), conversation_id.c_str(), msg_id.c_str(), cb...); });
    }
    /// Future form of the call above. Error InvalidParameters for a msgID never applied
    /// to that conversation; an earlier (or forgotten) one changes nothing.
    Future<void> mark_read(const std::string &conversation_id, const std::string &msg_id) {
        return done([&](auto ok, auto fail) { mark_read(conversation_id, msg_id, ok, fail); });
    }
    /// Reports a stage of the host's sync (imconv_report_sync): listeners
    /// hear it in order with the writes around it.
    void report_sync(SyncStage stage, Done ok, ErrorCallback fail) {
        write(ok, fail, [&](auto... cb) { return imconv_report_sync(get(), static_cast<int32_t>(stage), cb...); });
    }
    /// Future form of the call above.
    Future<void> report_sync(SyncStage stage) {
        return done([&](auto ok, auto fail) { report_sync(stage, ok, fail); });
    }
    /// One conversation, "c2c", "group" or "" (all); see imconv_clean_unread.
    void clean_unread(const std::string &scope, uint64_t clean_timestamp, uint64_t clean_sequence, Done ok,
                      ErrorCallback fail) {
        write(ok, fail, [&](auto... cb) {
            return imconv_clean_unread(get(), scope.c_str(), clean_timestamp, clean_sequence, cb...);
        });
    }
    /// Future form of the call above. The order is scope, then timestamp (one-to-one),
    /// then sequence (groups); all defaulted: clear everything.
    Future<void> clean_unread(const std::string &scope = "", uint64_t clean_timestamp = 0,
                              uint64_t clean_sequence = 0) {
        return done([&](auto ok, auto fail) { clean_unread(scope, clean_timestamp, clean_sequence, ok, fail); });
    }
    /// An empty text clears the draft.
    void set_draft(const std::string &id, const std::string &text, Done ok, ErrorCallback fail) {
        write(ok, fail, [&](auto... cb) { return imconv_set_draft(get(), id.c_str(), text.c_str(), cb...); });
    }
    /// Future form of the call above.
    Future<void> set_draft(const std::string &id, const std::string &text) {
        return done([&](auto ok, auto fail) { set_draft(id, text, ok, fail); });
    }
    /// Callback form of the call below: `ok` runs with its answer, `fail` with its
    /// Error, where the C callbacks run (the callback thread, or dispatch()).
    /// Throws Error when refused at once (shutdown, a full queue).
    void pin_conversation(const std::string &id, bool pinned, Done ok, ErrorCallback fail) {
        write(ok, fail, [&](auto... cb) { return imconv_pin_conversation(get(), id.c_str(), pinned, cb...); });
    }
    /// Pins (or unpins) a stored conversation; at most 50 pinned.
    Future<void> pin_conversation(const std::string &id, bool pinned = true) {
        return done([&](auto ok, auto fail) { pin_conversation(id, pinned, ok, fail); });
    }
    /// Callback form of the call below: `ok` runs with its answer, `fail` with its
    /// Error, where the C callbacks run (the callback thread, or dispatch()).
    /// Throws Error when refused at once (shutdown, a full queue).
    void set_recv_opt(const std::vector<std::string> &ids, RecvOpt opt, Done ok, ErrorCallback fail) {
        auto raw = detail::c_ids(ids);
        write(ok, fail, [&](auto... cb) {
            return imconv_set_recv_opt(get(), raw.data(), raw.size(), static_cast<int32_t>(opt), cb...);
        });
    }
    /// Sets how the conversations' messages are received (at most 100 IDs).
    Future<void> set_recv_opt(const std::vector<std::string> &ids, RecvOpt opt) {
        return done([&](auto ok, auto fail) { set_recv_opt(ids, opt, ok, fail); });
    }
    /// Callback form of the call below: `ok` runs with its answer, `fail` with its
    /// Error, where the C callbacks run (the callback thread, or dispatch()).
    /// Throws Error when refused at once (shutdown, a full queue).
    void set_custom_data(const std::vector<std::string> &ids, const std::string &data, Done ok,
                         ErrorCallback fail) {
        auto raw = detail::c_ids(ids);
        write(ok, fail, [&](auto... cb) {
            return imconv_set_custom_data(get(), raw.data(), raw.size(), data.c_str(), cb...);
        });
    }
    /// Sets the conversations' custom data (at most 256 bytes, 100 IDs).
    Future<void> set_custom_data(const std::vector<std::string> &ids, const std::string &data) {
        return done([&](auto ok, auto fail) { set_custom_data(ids, data, ok, fail); });
    }
    /// `mark`: a Mark bit, or a custom bit 32-63.
    void mark_conversations(const std::vector<std::string> &ids, uint64_t mark, bool enable, Done ok,
                            ErrorCallback fail) {
        auto raw = detail::c_ids(ids);
        write(ok, fail, [&](auto... cb) {
            return imconv_mark_conversations(get(), raw.data(), raw.size(), mark, enable, cb...);
        });
    }
    /// Future form of the call above. `enable` false clears the mark.
    Future<void> mark_conversations(const std::vector<std::string> &ids, uint64_t mark, bool enable = true) {
        return done([&](auto ok, auto fail) { mark_conversations(ids, mark, enable, ok, fail); });
    }
    /// The same with a built-in Mark.
    Future<void> mark_conversations(const std::vector<std::string> &ids, Mark mark, bool enable = true) {
        return mark_conversations(ids, static_cast<uint64_t>(mark), enable);
    }
    /// Callback form of the call below: `ok` runs with its answer, `fail` with its
    /// Error, where the C callbacks run (the callback thread, or dispatch()).
    /// Throws Error when refused at once (shutdown, a full queue).
    void delete_conversations(const std::vector<std::string> &ids, Done ok, ErrorCallback fail) {
        auto raw = detail::c_ids(ids);
        write(ok, fail, [&](auto... cb) { return imconv_delete_conversations(get(), raw.data(), raw.size(), cb...); });
    }
    /// Deletes conversations and what is remembered of their messages (at
    /// most 100 IDs).
    Future<void> delete_conversations(const std::vector<std::string> &ids) {
        return done([&](auto ok, auto fail) { delete_conversations(ids, ok, fail); });
    }
    /// Callback form of the call below: `ok` runs with its answer, `fail` with its
    /// Error, where the C callbacks run (the callback thread, or dispatch()).
    /// Throws Error when refused at once (shutdown, a full queue).
    void create_group(const std::string &name, const std::vector<std::string> &ids, Done ok, ErrorCallback fail) {
        auto raw = detail::c_ids(ids);
        write(ok, fail, [&](auto... cb) {
            return imconv_create_group(get(), name.c_str(), raw.data(), raw.size(), cb...);
        });
    }
    /// Creates a conversation group (at most 20; a name of 1 to 32 bytes)
    /// holding these conversations.
    Future<void> create_group(const std::string &name, const std::vector<std::string> &ids = {}) {
        return done([&](auto ok, auto fail) { create_group(name, ids, ok, fail); });
    }
    /// Callback form of the call below: `ok` runs with its answer, `fail` with its
    /// Error, where the C callbacks run (the callback thread, or dispatch()).
    /// Throws Error when refused at once (shutdown, a full queue).
    void rename_group(const std::string &old_name, const std::string &new_name, Done ok, ErrorCallback fail) {
        write(ok, fail, [&](auto... cb) {
            return imconv_rename_group(get(), old_name.c_str(), new_name.c_str(), cb...);
        });
    }
    /// Renames a conversation group.
    Future<void> rename_group(const std::string &old_name, const std::string &new_name) {
        return done([&](auto ok, auto fail) { rename_group(old_name, new_name, ok, fail); });
    }
    /// Callback form of the call below: `ok` runs with its answer, `fail` with its
    /// Error, where the C callbacks run (the callback thread, or dispatch()).
    /// Throws Error when refused at once (shutdown, a full queue).
    void delete_group(const std::string &name, Done ok, ErrorCallback fail) {
        write(ok, fail, [&](auto... cb) { return imconv_delete_group(get(), name.c_str(), cb...); });
    }
    /// Deletes a conversation group (its conversations stay).
    Future<void> delete_group(const std::string &name) {
        return done([&](auto ok, auto fail) { delete_group(name, ok, fail); });
    }
    /// Callback form of the call below: `ok` runs with its answer, `fail` with its
    /// Error, where the C callbacks run (the callback thread, or dispatch()).
    /// Throws Error when refused at once (shutdown, a full queue).
    void add_to_group(const std::string &name, const std::vector<std::string> &ids, Done ok, ErrorCallback fail) {
        auto raw = detail::c_ids(ids);
        write(ok, fail, [&](auto... cb) {
            return imconv_add_to_group(get(), name.c_str(), raw.data(), raw.size(), cb...);
        });
    }
    /// Puts conversations in a group.
    Future<void> add_to_group(const std::string &name, const std::vector<std::string> &ids) {
        return done([&](auto ok, auto fail) { add_to_group(name, ids, ok, fail); });
    }
    /// Callback form of the call below: `ok` runs with its answer, `fail` with its
    /// Error, where the C callbacks run (the callback thread, or dispatch()).
    /// Throws Error when refused at once (shutdown, a full queue).
    void remove_from_group(const std::string &name, const std::vector<std::string> &ids, Done ok,
                           ErrorCallback fail) {
        auto raw = detail::c_ids(ids);
        write(ok, fail, [&](auto... cb) {
            return imconv_remove_from_group(get(), name.c_str(), raw.data(), raw.size(), cb...);
        });
    }
    /// Takes conversations out of a group.
    Future<void> remove_from_group(const std::string &name, const std::vector<std::string> &ids) {
        return done([&](auto ok, auto fail) { remove_from_group(name, ids, ok, fail); });
    }

    /// Callback form of backup(path) below: `ok` runs once the copy is in
    /// place, `fail` with its Error. Throws Error when refused at once
    /// (shutdown, a full queue, a read-only instance).
    void backup(const std::string &path, Done ok, ErrorCallback fail) {
        write(ok, fail, [&](auto... cb) { return imconv_backup(get(), path.c_str(), cb...); });
    }
    /// Writes a consistent copy of the whole store to `path` while the
    /// instance goes on (imconv_backup): exactly the writes accepted before
    /// this call; written under a temporary name, synced, renamed into
    /// place; owner-only; a store of its own.
    Future<void> backup(const std::string &path) {
        return done([&](auto ok, auto fail) { backup(path, ok, fail); });
    }

    /// Callback form of rekey(new_key_hex) below: `ok` runs once the store
    /// is under its new key, `fail` with its Error. Throws Error when
    /// refused at once (shutdown, a full queue, a read-only instance).
    void rekey(const char *new_key_hex, Done ok, ErrorCallback fail) {
        write(ok, fail, [&](auto... cb) { return imconv_rekey(get(), new_key_hex, cb...); });
    }
    /// Re-encrypts the store (imconv_rekey): `new_key_hex` is 64 hex digits,
    /// or nullptr to decrypt; a plain store is encrypted. In the write order,
    /// the instance usable; a crash leaves a store that opens with exactly
    /// one of the two keys. Wipe your copy of the key after the call.
    Future<void> rekey(const char *new_key_hex) {
        return done([&](auto ok, auto fail) { rekey(new_key_hex, ok, fail); });
    }
    /// Lets go of every file and lock of the store (imconv_suspend;
    /// blocking): the writes accepted before finish first; until resume()
    /// every call is refused with ErrorCode::Suspended. Throws Error.
    void suspend() { blocking(imconv_suspend); }
    /// Opens the store again and catches up with what other processes
    /// wrote meanwhile (imconv_resume; blocking; listeners hear of it).
    /// Throws Error (the instance then stays suspended).
    void resume() { blocking(imconv_resume); }

    /// Removes one user's store whole (imconv_delete_store; blocking): for a
    /// lost key, or a user who asks to be forgotten. Throws Error (for
    /// example ErrorCode::StoreLocked while any instance has it open).
    static void delete_store(const std::string &config_json) {
        char *error = nullptr;
        int32_t rc = imconv_delete_store(config_json.c_str(), &error);
        if (rc != IMCONV_OK) {
            std::string message = error ? error : imconv_error_str(rc);
            imconv_string_free(error);
            throw Error(rc, message);
        }
    }

    // ---- listeners ------------------------------------------------------------

  private:
    void blocking(int32_t (*call)(imconv_sdk *, char **)) {
        char *error = nullptr;
        int32_t rc = call(get(), &error);
        if (rc != IMCONV_OK) {
            std::string message = error ? error : imconv_error_str(rc);
            imconv_string_free(error);
            throw Error(rc, message);
        }
    }

  public:

    /// Registers `listener` for the events of every later write; keep the
    /// returned Subscription as long as you want them (it removes the
    /// listener when destroyed). Throws Error when refused.
    [[nodiscard]] Subscription add_listener(Listener listener) {
        Subscription s;
        s.owner_ = owner_;
        s.listener_ = new detail::Registered{get(), std::move(listener)};
        imconv_listener l;
        imconv_listener_init(&l);
        l.on_new = [](const imconv_conversation *const *cs, size_t n, void *u) {
            event(u, [&](Listener &L) { if (L.on_new) L.on_new(detail::views(cs, n)); });
        };
        l.on_changed = [](const imconv_conversation *const *cs, size_t n, void *u) {
            event(u, [&](Listener &L) { if (L.on_changed) L.on_changed(detail::views(cs, n)); });
        };
        l.on_deleted = [](const char *const *ids, size_t n, void *u) {
            event(u, [&](Listener &L) { if (L.on_deleted) L.on_deleted({ids, ids + n}); });
        };
        l.on_total_unread_changed = [](uint64_t total, void *u) {
            event(u, [&](Listener &L) { if (L.on_total_unread_changed) L.on_total_unread_changed(total); });
        };
        l.on_sync_server_start = [](void *u) {
            event(u, [&](Listener &L) { if (L.on_sync_server_start) L.on_sync_server_start(); });
        };
        l.on_sync_server_finish = [](void *u) {
            event(u, [&](Listener &L) { if (L.on_sync_server_finish) L.on_sync_server_finish(); });
        };
        l.on_sync_server_failed = [](void *u) {
            event(u, [&](Listener &L) { if (L.on_sync_server_failed) L.on_sync_server_failed(); });
        };
        l.on_conversation_group_created = [](const char *g, const imconv_conversation *const *cs, size_t n, void *u) {
            event(u, [&](Listener &L) { grouped(L.on_conversation_group_created, g, cs, n); });
        };
        l.on_conversations_added_to_group = [](const char *g, const imconv_conversation *const *cs, size_t n,
                                               void *u) {
            event(u, [&](Listener &L) { grouped(L.on_conversations_added_to_group, g, cs, n); });
        };
        l.on_conversations_deleted_from_group = [](const char *g, const imconv_conversation *const *cs, size_t n,
                                                   void *u) {
            event(u, [&](Listener &L) { grouped(L.on_conversations_deleted_from_group, g, cs, n); });
        };
        l.on_conversation_group_deleted = [](const char *g, void *u) {
            event(u, [&](Listener &L) { if (L.on_conversation_group_deleted) L.on_conversation_group_deleted(g); });
        };
        l.on_conversation_group_name_changed = [](const char *from, const char *to, void *u) {
            event(u, [&](Listener &L) {
                if (L.on_conversation_group_name_changed) L.on_conversation_group_name_changed(from, to);
            });
        };
        l.on_unread_count_changed_by_filter = [](uint64_t id, const imconv_list_filter *f, uint64_t count, void *u) {
            event(u, [&](Listener &L) {
                if (!L.on_unread_count_changed_by_filter) return;
                Filter filter;
                filter.type = static_cast<ConversationType>(f->type);
                filter.mark = f->mark;
                if (f->group) filter.group = f->group;
                filter.has_unread = f->has_unread;
                filter.has_at = f->has_at;
                L.on_unread_count_changed_by_filter(id, filter, count);
            });
        };
        l.on_store_error = [](int32_t code, const char *message, const char *const *ids, size_t n, void *u) {
            event(u, [&](Listener &L) {
                if (L.on_store_error) L.on_store_error(static_cast<ErrorCode>(code), message, {ids, ids + n});
            });
        };
        l.user_data = s.listener_;
        int32_t rc = imconv_add_listener(get(), &l, &s.id_);
        if (rc != IMCONV_OK) {
            delete std::exchange(s.listener_, nullptr);
            throw Error(rc, imconv_error_str(rc));
        }
        return s;
    }

    /// Subscribes to the unread count of the conversations that pass
    /// `filter` (imconv_subscribe_unread_count): listeners'
    /// on_unread_count_changed_by_filter hear it change. Returns the ID;
    /// throws Error when refused.
    uint64_t subscribe_unread_count(const Filter &filter = {}) {
        imconv_list_filter f = c_filter(filter);
        uint64_t id = 0;
        int32_t rc = imconv_subscribe_unread_count(get(), &f, &id);
        if (rc != IMCONV_OK) throw Error(rc, imconv_error_str(rc));
        return id;
    }
    /// Ends a subscription (imconv_unsubscribe_unread_count); throws Error
    /// for an ID that is not subscribed.
    void unsubscribe_unread_count(uint64_t subscription_id) {
        int32_t rc = imconv_unsubscribe_unread_count(get(), subscription_id);
        if (rc != IMCONV_OK) throw Error(rc, imconv_error_str(rc));
    }

  private:
    static void grouped(const Listener::GroupConversations &f, const char *group,
                        const imconv_conversation *const *cs, size_t n) {
        if (f) f(group, detail::views(cs, n));
    }
    template <typename OnSuccess, typename Call, typename Thunk>
    void start(OnSuccess on_success, ErrorCallback on_error, Call &&call, Thunk thunk) {
        auto *p = new detail::Pending<OnSuccess>{get(), std::move(on_success), std::move(on_error)};
        int32_t rc = call(thunk, &detail::fail<OnSuccess>, p);
        if (rc != IMCONV_OK) { // refused at once: no callback will come
            delete p;
            throw Error(rc, imconv_error_str(rc));
        }
    }
    template <typename Call> void write(Done ok, ErrorCallback fail, Call &&call) {
        start(std::move(ok), std::move(fail), [&](auto thunk, auto f, void *p) { return call(thunk, f, p); },
              [](void *p) {
                  std::unique_ptr<detail::Pending<Done>> pending(static_cast<detail::Pending<Done> *>(p));
                  detail::shielded(pending->sdk, [&] { pending->on_success(); });
              });
    }
    /// A future for a call started by `begin(on_success, on_error)`; a
    /// failure is kept for it, or reported when it was dropped unread.
    template <typename T, typename Begin> Future<T> future(Begin &&begin) {
        auto promise = std::make_shared<std::promise<T>>();
        auto outcome = std::make_shared<detail::Outcome>();
        Future<T> f(promise->get_future(), get(), host_, outcome);
        begin([promise](const T &v) { promise->set_value(v); },
              [promise, outcome](const Error &e) {
                  std::exception_ptr error = std::make_exception_ptr(e);
                  promise->set_exception(error);
                  detail::failed(outcome, error);
              });
        return f;
    }
    template <typename Begin> Future<void> done(Begin &&begin) {
        auto promise = std::make_shared<std::promise<void>>();
        auto outcome = std::make_shared<detail::Outcome>();
        Future<void> f(promise->get_future(), get(), host_, outcome);
        begin([promise] { promise->set_value(); },
              [promise, outcome](const Error &e) {
                  std::exception_ptr error = std::make_exception_ptr(e);
                  promise->set_exception(error);
                  detail::failed(outcome, error);
              });
        return f;
    }
    static void many(const imconv_conversation *const *cs, size_t n, void *p) {
        detail::succeed<std::function<void(const std::vector<Conversation> &)>>(p, [&] { return detail::views(cs, n); });
    }
    static void strings(const char *const *s, size_t n, void *p) {
        detail::succeed<std::function<void(const std::vector<std::string> &)>>(
            p, [&] { return std::vector<std::string>(s, s + n); });
    }
    template <typename F> static void event(void *user_data, F &&f) noexcept {
        auto *r = static_cast<detail::Registered *>(user_data);
        detail::shielded(r->sdk, [&] { f(r->listener); });
    }
    static imconv_list_filter c_filter(const Filter &filter) {
        imconv_list_filter f;
        imconv_list_filter_init(&f);
        f.type = static_cast<int32_t>(filter.type);
        f.mark = filter.mark;
        f.group = filter.group ? filter.group->c_str() : nullptr;
        f.has_unread = filter.has_unread;
        f.has_at = filter.has_at;
        return f;
    }
    void close() noexcept {
        if (!owner_) return;
        imconv_sdk *sdk;
        {
            std::lock_guard<std::mutex> guard(owner_->lock);
            sdk = std::exchange(owner_->sdk, nullptr);
        }
        imconv_sdk_free(sdk);
        owner_.reset();
    }

    std::shared_ptr<Subscription::Owner> owner_;
    bool host_ = false;
};

} // namespace imconv

#endif
