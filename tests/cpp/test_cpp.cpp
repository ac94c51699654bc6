// The C++17 layer (include/imconv.hpp): every wrapper, through both
// delivery modes; futures and callbacks, errors as imconv::Error with an
// ErrorCode, values that outlive their callback and the instance, listeners
// as RAII subscriptions, pages, an exception thrown by a callback that is
// reported and never crosses into C, a future waited on from its own
// callback thread, the log, RAII and moves.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>

#include <cstdlib>  // mkdtemp
#include <unistd.h> // rmdir

#include "imconv.hpp"

static int failures;
#define CHECK(cond)                                                                       \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            std::fprintf(stderr, "%s:%d: %s: check failed: %s\n", __FILE__, __LINE__,     \
                         current, #cond);                                                 \
            failures++;                                                                   \
        }                                                                                 \
    } while (0)
static const char *current = "";

static const char *SAMPLE =
    R"([{"conversationID":"c2c_alice","showName":"Alice","markList":[1],"unreadCount":2,
         "lastMessage":{"msgID":"m1","timestamp":5,"text":"hi"}},
        {"conversationID":"c2c_bob","showName":"Bob"},
        {"conversationID":"group_g","groupType":"Work","showName":"G","unreadCount":5,
         "conversationGroupList":["work"],"groupAtInfoList":[{"seq":9,"atType":2}]}])";

template <typename F> static imconv::ErrorCode error_of(F &&f) {
    try {
        f();
    } catch (const imconv::Error &e) {
        return e.code();
    }
    return imconv::ErrorCode::Ok;
}

static std::vector<std::string> ids_of(const std::vector<imconv::Conversation> &cs) {
    std::vector<std::string> out;
    for (const auto &c : cs) out.emplace_back(c.conversation_id());
    return out;
}

// Every read and write, and listeners, on one instance.
static void every_call(const std::string &delivery) {
    imconv::Sdk sdk(R"({"user_id":"me","delivery":")" + delivery + R"("})");
    CHECK(sdk.host_delivery() == (delivery == "host"));
    CHECK((sdk.event_fd() >= 0) == sdk.host_delivery());
    sdk.import_conversations(SAMPLE).get();

    imconv::Conversation a = sdk.get_conversation("c2c_alice").get();
    CHECK(a.conversation_id() == "c2c_alice" && a.show_name() == "Alice" && a.is_stored());
    CHECK(a.type() == imconv::ConversationType::C2C && a.user_id() == "alice");
    CHECK(a.last_message() && a.last_message()->msg_id == "m1" && a.last_message()->timestamp == 5);
    CHECK(a.has_mark(imconv::Mark::Star) && a.mark_list() == std::vector<uint64_t>{1});
    CHECK(a.to_json().find("\"showName\":\"Alice\"") != std::string::npos);
    CHECK(a.recv_opt() == imconv::RecvOpt::Receive);
    imconv::Conversation g = sdk.get_conversation("group_g").get();
    CHECK(g.group_at_info_list().size() == 1 && g.group_at_info_list()[0].at_type == imconv::AtType::AtAll);
    CHECK(g.conversation_group_list() == std::vector<std::string_view>{"work"} && g.group_type() == "Work");
    CHECK(!sdk.get_conversation("c2c_nobody").get().is_stored());
    CHECK(!sdk.get_conversation("c2c_bob").get().last_message());
    CHECK(error_of([&] { sdk.get_conversation("bad").get(); }) == imconv::ErrorCode::InvalidParameters);
    CHECK(ids_of(sdk.get_conversation_list({"group_g", "c2c_x", "c2c_alice", "group_g"}).get()) ==
          (std::vector<std::string>{"group_g", "c2c_alice"}));

    // Pages, the whole list, filters, totals.
    imconv::Page first = sdk.get_conversation_page({}, "", 2).get();
    CHECK(first.conversations.size() == 2 && !first.is_finished && !first.next_cursor.empty());
    imconv::Page rest = sdk.get_conversation_page({}, first.next_cursor, 2).get();
    CHECK(rest.conversations.size() == 1 && rest.is_finished);
    std::vector<imconv::Conversation> all = sdk.all_conversations({}, 1);
    CHECK(all.size() == 3 && all[0].conversation_id() == first.conversations[0].conversation_id());
    int seen = 0;
    sdk.for_each_conversation({}, 1, [&](const imconv::Conversation &) { return ++seen < 2; });
    CHECK(seen == 2);
    imconv::Filter groups;
    groups.type = imconv::ConversationType::Group;
    CHECK(ids_of(sdk.all_conversations(groups)) == std::vector<std::string>{"group_g"});
    imconv::Filter in_work;
    in_work.group = "work";
    CHECK(sdk.all_conversations(in_work).size() == 1);
    CHECK(sdk.get_total_unread().get() == 7 && sdk.get_total_unread(groups).get() == 5);
    CHECK(sdk.get_groups().get() == std::vector<std::string>{"work"});

    // Listeners: events in order, before each write's own success; none
    // after the subscription is gone.
    std::mutex lock;
    std::vector<std::string> events;
    auto note = [&](std::string e) {
        std::lock_guard<std::mutex> guard(lock);
        events.push_back(std::move(e));
    };
    {
        imconv::Listener l;
        l.on_new = [&](const std::vector<imconv::Conversation> &cs) { note("new " + ids_of(cs)[0]); };
        l.on_changed = [&](const std::vector<imconv::Conversation> &cs) { note("changed " + ids_of(cs)[0]); };
        l.on_deleted = [&](const std::vector<std::string> &ids) { note("deleted " + ids[0]); };
        l.on_total_unread_changed = [&](uint64_t t) { note("total " + std::to_string(t)); };
        imconv::Subscription s = sdk.add_listener(std::move(l));
        sdk.apply_messages(R"([{"conversationID":"c2c_carol","msgID":"c1","timestamp":9}])").get();
        sdk.delete_conversations({"c2c_carol"}).get();
    }
    sdk.apply_messages(R"([{"conversationID":"c2c_dave","msgID":"d1","timestamp":9}])").get();
    sdk.dispatch();
    CHECK(events == (std::vector<std::string>{"new c2c_carol", "total 8", "deleted c2c_carol", "total 7"}));

    // Every manager write.
    sdk.clean_unread("c2c_alice").get();
    CHECK(sdk.get_conversation("c2c_alice").get().unread_count() == 0);
    sdk.clean_unread("group_g", 0, 20).get();
    CHECK(sdk.get_conversation("group_g").get().group_read_sequence() == 20);
    sdk.sync_conversations(R"([{"conversationID":"c2c_bob","unreadCount":3}])").get();
    sdk.set_draft("c2c_bob", "later").get();
    sdk.pin_conversation("c2c_bob").get();
    sdk.set_recv_opt({"group_g"}, imconv::RecvOpt::NotNotify).get();
    sdk.set_custom_data({"c2c_bob"}, "x").get();
    sdk.mark_conversations({"c2c_bob"}, imconv::Mark::Fold).get();
    sdk.mark_conversations({"c2c_bob"}, uint64_t(1) << 40).get();
    sdk.create_group("a", {"c2c_bob"}).get();
    sdk.add_to_group("a", {"c2c_alice"}).get();
    sdk.remove_from_group("a", {"c2c_alice"}).get();
    sdk.rename_group("a", "b").get();
    sdk.update_profiles(R"([{"userID":"bob","showName":"Robert"}])").get();
    imconv::Conversation b = sdk.get_conversation("c2c_bob").get();
    CHECK(b.show_name() == "Robert" && b.draft_text() == "later" && b.is_pinned() && b.custom_data() == "x");
    CHECK(b.unread_count() == 3 && b.has_mark(imconv::Mark::Fold) && b.has_mark(uint64_t(1) << 40));
    CHECK(b.conversation_group_list() == std::vector<std::string_view>{"b"});
    CHECK(sdk.get_conversation("group_g").get().recv_opt() == imconv::RecvOpt::NotNotify);
    CHECK(sdk.get_total_unread().get() == 3 + 1); // bob, dave; the muted group left out
    CHECK(sdk.get_groups().get() == (std::vector<std::string>{"work", "b"}));
    sdk.delete_group("b").get();
    sdk.set_draft("c2c_bob", "").get();
    CHECK(sdk.get_conversation("c2c_bob").get().draft_text().empty());
    sdk.delete_conversations({"c2c_bob"}).get();
    CHECK(!sdk.get_conversation("c2c_bob").get().is_stored());
    sdk.sync_snapshot(R"([{"conversationID":"c2c_alice"},{"conversationID":"group_g"}])").get();
    CHECK(ids_of(sdk.all_conversations()) == (std::vector<std::string>{"c2c_alice", "group_g"}) ||
          ids_of(sdk.all_conversations()) == (std::vector<std::string>{"group_g", "c2c_alice"}));
    CHECK(!sdk.get_conversation("c2c_dave").get().is_stored()); // not on the server's list
    CHECK(error_of([&] { sdk.pin_conversation("c2c_nobody").get(); }) == imconv::ErrorCode::InvalidParameters);
    CHECK(error_of([&] { sdk.import_conversations("[{").get(); }) == IMCONV_ERR_INVALID_JSON);

    // Callback forms: they run on the callback thread (host: in dispatch).
    std::atomic<int> calls{0};
    sdk.get_conversation_list({"c2c_alice"}, [&](const std::vector<imconv::Conversation> &v) { calls += int(v.size()); },
                              [&](const imconv::Error &) { calls += 100; });
    sdk.set_draft("c2c_alice", "d", [&] { calls++; }, [&](const imconv::Error &) { calls += 100; });
    for (int i = 0; i < 5000 && calls.load() < 2; i++) {
        sdk.dispatch();
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    CHECK(calls.load() == 2);
}

// A future waited on from the instance's own callback: thread delivery
// refuses (it would wait for itself), host delivery dispatches.
static void futures_inside_callbacks(const std::string &delivery) {
    imconv::Sdk sdk(R"({"user_id":"me","delivery":")" + delivery + R"("})");
    sdk.import_conversations(SAMPLE).get();
    std::atomic<int> outcome{0};
    imconv::Listener l;
    l.on_changed = [&](const std::vector<imconv::Conversation> &) {
        imconv::ErrorCode code = error_of([&] {
            CHECK(sdk.get_conversation("c2c_alice").get().show_name() == "Alice");
        });
        outcome = code == imconv::ErrorCode::Ok ? 1 : code == imconv::ErrorCode::WouldDeadlock ? 2 : 3;
    };
    imconv::Subscription s = sdk.add_listener(std::move(l));
    sdk.pin_conversation("c2c_alice").get();
    CHECK(outcome.load() == (delivery == "host" ? 1 : 2));
}

// An exception from a user callback goes to the handler, never into C.
static void exceptions_are_reported(const std::string &delivery) {
    std::mutex lock;
    std::vector<std::string> reported;
    imconv::set_exception_handler([&](std::exception_ptr e) {
        try {
            std::rethrow_exception(e);
        } catch (const std::exception &x) {
            std::lock_guard<std::mutex> guard(lock);
            reported.emplace_back(x.what());
        }
    });
    {
        imconv::Sdk sdk(R"({"user_id":"me","delivery":")" + delivery + R"("})");
        sdk.import_conversations(SAMPLE).get();
        imconv::Listener l;
        l.on_changed = [](const std::vector<imconv::Conversation> &) { throw std::runtime_error("from a listener"); };
        imconv::Subscription s = sdk.add_listener(std::move(l));
        std::atomic<bool> done{false};
        sdk.get_conversation(
            "c2c_alice", [](const imconv::Conversation &) { throw std::runtime_error("from a callback"); },
            [](const imconv::Error &) {});
        sdk.pin_conversation("c2c_alice", true, [&] { done = true; }, [](const imconv::Error &) {});
        for (int i = 0; i < 5000 && !done; i++) {
            sdk.dispatch();
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        CHECK(sdk.get_conversation("c2c_alice").get().is_pinned()); // the instance goes on
    }
    imconv::set_exception_handler(nullptr);
    std::sort(reported.begin(), reported.end());
    CHECK(reported == (std::vector<std::string>{"from a callback", "from a listener"}));
}

// A Future dropped without get() whose call fails reports the Error to the
// exception handler, once; one whose call succeeded, or whose get() threw,
// reports nothing (issue 25, item 10).
static void dropped_futures_report_failures(const std::string &delivery) {
    std::mutex lock;
    std::vector<std::pair<imconv::ErrorCode, std::string>> reported;
    imconv::set_exception_handler([&](std::exception_ptr e) {
        try {
            std::rethrow_exception(e);
        } catch (const imconv::Error &x) {
            std::lock_guard<std::mutex> guard(lock);
            reported.emplace_back(x.code(), x.what());
        } catch (...) {
            std::lock_guard<std::mutex> guard(lock);
            reported.emplace_back(imconv::ErrorCode::Ok, "not an imconv::Error");
        }
    });
    {
        imconv::Sdk sdk(R"({"user_id":"me","delivery":")" + delivery + R"("})");
        sdk.import_conversations(SAMPLE).get();
        // Dropped at once: the failure comes after the drop.
        (void)sdk.pin_conversation("c2c_not_stored", true);
        // Dropped after its failure arrived.
        {
            imconv::Future<void> f = sdk.pin_conversation("c2c_not_stored_either", true);
            f.wait();
        }
        // Succeeded, dropped: nothing. Failed, get() threw: nothing.
        (void)sdk.pin_conversation("c2c_alice", true);
        CHECK(error_of([&] { sdk.pin_conversation("c2c_nor_this", true).get(); }) ==
              imconv::ErrorCode::InvalidParameters);
        // Writes answer in order: once this one is back, every failure
        // above has been delivered (and reported).
        sdk.set_draft("c2c_bob", "d").get();
    }
    imconv::set_exception_handler(nullptr);
    std::sort(reported.begin(), reported.end());
    CHECK(reported.size() == 2);
    for (const auto &r : reported) CHECK(r.first == imconv::ErrorCode::InvalidParameters);
    if (reported.size() == 2) {
        CHECK(reported[0].second.find("\"c2c_not_stored\"") != std::string::npos);
        CHECK(reported[1].second.find("\"c2c_not_stored_either\"") != std::string::npos);
    }
}

// Sdk::backup: a copy while the instance works, and an Error naming a
// path that cannot be written (issue 26, item 5).
static void backups(const std::string &delivery) {
    char folder[] = "/tmp/imconv-cpp-backup-XXXXXX";
    CHECK(mkdtemp(folder) != nullptr);
    std::string copy = std::string(folder) + "/copy.db";
    {
        imconv::Sdk sdk(R"({"user_id":"me","delivery":")" + delivery + R"("})");
        sdk.import_conversations(SAMPLE).get();
        sdk.backup(copy).get();
        std::FILE *f = std::fopen(copy.c_str(), "rb");
        CHECK(f != nullptr);
        if (f) {
            char magic[16] = {0};
            CHECK(std::fread(magic, 1, 16, f) == 16);
            CHECK(std::string(magic, 15) == "SQLite format 3");
            std::fclose(f);
        }
        try {
            sdk.backup(std::string(folder) + "/missing/copy.db").get();
            CHECK(!"a backup into a missing folder succeeded");
        } catch (const imconv::Error &e) {
            CHECK(e.code() == imconv::ErrorCode::Io);
            CHECK(std::string(e.what()).find("missing") != std::string::npos);
        }
    }
    // Restored with "restore_from" into a store on disk.
    std::string data = std::string(folder) + "/data";
    {
        imconv::Sdk sdk(R"({"user_id":"me","data_dir":")" + data + R"(","restore_from":")" + copy +
                        R"(","delivery":")" + delivery + R"("})");
        CHECK(sdk.get_conversation("c2c_alice").get().is_stored());
        // A sound store: a full check names nothing (issue 26, item 3).
        CHECK(sdk.verify_store().get().empty());
    }
    // A damaged header (its schema version): refused, then rebuilt with
    // "on_damage": "rebuild", which on_store_error tells.
    {
        std::FILE *f = std::fopen((data + "/me/conversations.db").c_str(), "r+b");
        CHECK(f != nullptr);
        if (f) {
            const unsigned char version[4] = {0, 0, 8, 9};
            CHECK(std::fseek(f, 60, SEEK_SET) == 0);
            CHECK(std::fwrite(version, 1, 4, f) == 4);
            std::fclose(f);
        }
    }
    std::string config = R"({"user_id":"me","data_dir":")" + data + R"(","delivery":")" + delivery + R"(")";
    try {
        imconv::Sdk sdk(config + "}");
        CHECK(!"a damaged store opened");
    } catch (const imconv::Error &e) {
        CHECK(e.code() == imconv::ErrorCode::StoreDamaged);
        CHECK(std::string(e.what()).find("conversations.db") != std::string::npos);
    }
    {
        imconv::Sdk sdk(config + R"(,"on_damage":"rebuild"})");
        std::vector<std::string> told;
        imconv::Listener l;
        l.on_store_error = [&](imconv::ErrorCode code, const std::string &message, const std::vector<std::string> &) {
            if (code == imconv::ErrorCode::StoreDamaged) told.push_back(message);
        };
        auto subscription = sdk.add_listener(l);
        CHECK(sdk.get_conversation("c2c_alice").get().is_stored());
        CHECK(told.size() == 1);
        if (!told.empty()) CHECK(told[0].find("rebuilt") != std::string::npos);
    }
    std::string rm = "rm -rf '" + std::string(folder) + "'";
    CHECK(std::system(rm.c_str()) == 0);
}

static void log_version_wait_freed_and_moves() {
    std::mutex lock;
    std::vector<std::string> lines;
    CHECK(imconv::set_log_callback(imconv::LogLevel::Info, [&](imconv::LogLevel level, std::string_view m) {
              std::lock_guard<std::mutex> guard(lock);
              if (level == imconv::LogLevel::Info) lines.emplace_back(m);
          }) == IMCONV_OK);
    std::vector<imconv::Conversation> kept;
    {
        imconv::Sdk sdk(R"({"user_id":"me"})");
        sdk.import_conversations(SAMPLE).get();
        CHECK(error_of([&] { sdk.get_conversation("not-an-id").get(); }) == imconv::ErrorCode::InvalidParameters);
        kept = sdk.get_conversation_list({"c2c_alice", "group_g"}).get();
        imconv::Sdk moved(std::move(sdk));
        CHECK(moved.get() != nullptr && sdk.get() == nullptr);
        CHECK(moved.get_conversation("c2c_alice").get().is_stored());
        // A subscription may outlive its instance.
        imconv::Subscription s = moved.add_listener({});
        imconv::Sdk gone(std::move(moved));
    }
    imconv::set_log_callback(imconv::LogLevel::Info, nullptr);
    {
        std::lock_guard<std::mutex> guard(lock);
        CHECK(std::any_of(lines.begin(), lines.end(),
                          [](const std::string &l) { return l.find("not-an-id") != std::string::npos; }));
    }
    // Values outlive the instance; copies share the view.
    imconv::Conversation copy = kept[0];
    CHECK(copy.show_name() == "Alice" && &copy.c_view() == &kept[0].c_view());
    CHECK(kept[0].last_message()->msg_id == "m1");
    CHECK(imconv::version() == std::to_string(IMCONV_VERSION_MAJOR) + "." + std::to_string(IMCONV_VERSION_MINOR) + "." +
                                   std::to_string(IMCONV_VERSION_PATCH));
    CHECK(imconv::wait_freed(std::chrono::milliseconds(1000)));
    CHECK(error_of([] { imconv::Sdk bad(R"({"user":"x"})"); }) == imconv::ErrorCode::InvalidParameters);
}

// Reading up to a message, millisecond time, sync stages, the group events
// and unread subscriptions (0.3.0).
static void server_surface(const std::string &delivery) {
    imconv::Sdk sdk(R"({"user_id":"me","delivery":")" + delivery + R"("})");
    sdk.apply_messages(R"([{"conversationID":"c2c_bob","msgID":"q1","timestampMs":1700000000100},
                           {"conversationID":"c2c_bob","msgID":"q2","timestampMs":1700000000200}])")
        .get();
    std::vector<std::string> log;
    imconv::Listener l;
    l.on_sync_server_start = [&] { log.push_back("start"); };
    l.on_sync_server_finish = [&] { log.push_back("finish"); };
    l.on_sync_server_failed = [&] { log.push_back("failed"); };
    l.on_conversation_group_created = [&](const std::string &g, const std::vector<imconv::Conversation> &cs) {
        log.push_back("created " + g + " " + std::string(cs.at(0).conversation_id()));
    };
    l.on_conversations_added_to_group = [&](const std::string &g, const std::vector<imconv::Conversation> &cs) {
        log.push_back("added " + g + " " + std::to_string(cs.size()));
    };
    l.on_conversations_deleted_from_group = [&](const std::string &g, const std::vector<imconv::Conversation> &cs) {
        log.push_back("removed " + g + " " + std::to_string(cs.size()));
    };
    l.on_conversation_group_name_changed = [&](const std::string &a, const std::string &b) {
        log.push_back("renamed " + a + " " + b);
    };
    l.on_conversation_group_deleted = [&](const std::string &g) { log.push_back("deleted " + g); };
    l.on_unread_count_changed_by_filter = [&](uint64_t, const imconv::Filter &f, uint64_t n) {
        log.push_back("count " + std::to_string(n) + (f.type == imconv::ConversationType::C2C ? " c2c" : ""));
    };
    imconv::Subscription s = sdk.add_listener(l);
    imconv::Filter c2c;
    c2c.type = imconv::ConversationType::C2C;
    uint64_t sub = sdk.subscribe_unread_count(c2c);
    sdk.report_sync(imconv::SyncStage::Started).get();
    sdk.mark_read("c2c_bob", "q1").get();
    imconv::Conversation bob = sdk.get_conversation("c2c_bob").get();
    CHECK(bob.unread_count() == 1 && bob.read_timestamp_ms() == 1700000000100 &&
          bob.c2c_read_timestamp() == 1700000000);
    CHECK(bob.last_message() && bob.last_message()->timestamp_ms == 1700000000200);
    CHECK(error_of([&] { sdk.mark_read("c2c_bob", "nope").get(); }) == imconv::ErrorCode::InvalidParameters);
    sdk.create_group("g", {"c2c_bob"}).get();
    sdk.add_to_group("g", {"c2c_bob"}).get(); // already in it: no event
    sdk.remove_from_group("g", {"c2c_bob"}).get();
    sdk.rename_group("g", "h").get();
    sdk.delete_group("h").get();
    sdk.report_sync(imconv::SyncStage::Finished).get();
    sdk.report_sync(imconv::SyncStage::Failed).get();
    CHECK(log == (std::vector<std::string>{"start", "count 1 c2c", "created g c2c_bob", "removed g 1",
                                           "renamed g h", "deleted h", "finish", "failed"}));
    sdk.unsubscribe_unread_count(sub);
    CHECK(error_of([&] { sdk.unsubscribe_unread_count(sub); }) == imconv::ErrorCode::InvalidParameters);
}

template <typename F, typename... A> static void run(const char *name, F f, A... args) {
    current = name;
    int before = failures;
    f(args...);
    std::string label = name;
    ((label += " ", label += args), ...);
    std::printf("%s %s\n", failures == before ? "ok  " : "FAIL", label.c_str());
}

// Encryption at rest (issue 27): a key in the config, Sdk::rekey, a wrong
// key as ErrorCode::WrongKey, Sdk::delete_store.
static void encryption(const std::string &delivery) {
    char folder[] = "/tmp/imconv-cpp-enc-XXXXXX";
    CHECK(mkdtemp(folder) != nullptr);
    const char *key_a = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    const char *key_b = "1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100";
    std::string base = R"({"user_id":"me","data_dir":")" + std::string(folder) + R"(","delivery":")" + delivery + "\"";
    auto with_key = [&](const char *key) { return base + R"(,"encryption_key":")" + key + "\"}"; };
    {
        imconv::Sdk sdk(base + "}");
        sdk.import_conversations(SAMPLE).get();
        sdk.rekey(key_a).get();
        CHECK(sdk.get_conversation("c2c_alice").get().is_stored());
        try {
            imconv::Sdk::delete_store(base + "}");
            CHECK(!"an open store was deleted");
        } catch (const imconv::Error &e) {
            CHECK(e.code() == imconv::ErrorCode::StoreLocked);
        }
    }
    try {
        imconv::Sdk sdk(with_key(key_b));
        CHECK(!"a wrong key opened the store");
    } catch (const imconv::Error &e) {
        CHECK(e.code() == imconv::ErrorCode::WrongKey);
        CHECK(std::string(e.what()).find("0102030405") == std::string::npos);
    }
    {
        imconv::Sdk sdk(with_key(key_a));
        CHECK(sdk.get_conversation("c2c_alice").get().is_stored());
        sdk.rekey(nullptr).get();
    }
    {
        imconv::Sdk sdk(base + "}");
        CHECK(sdk.get_conversation("c2c_alice").get().is_stored());
    }
    imconv::Sdk::delete_store(base + "}");
    {
        imconv::Sdk sdk(base + "}");
        CHECK(!sdk.get_conversation("c2c_alice").get().is_stored());
    }
    std::string rm = "rm -rf '" + std::string(folder) + "'";
    CHECK(std::system(rm.c_str()) == 0);
}

// Two shared instances of one store (issue 28); one suspended.
static void shared_store(const std::string &delivery) {
    char folder[] = "/tmp/imconv-cpp-shared-XXXXXX";
    CHECK(mkdtemp(folder) != nullptr);
    std::string config = R"({"user_id":"me","shared":true,"data_dir":")" + std::string(folder) +
                         R"(","delivery":")" + delivery + "\"}";
    {
        imconv::Sdk app(config);
        imconv::Sdk extension(config);
        CHECK(app.get_total_unread().get() == 0);
        extension.import_conversations(SAMPLE).get();
        // The other instance's write, at the next call.
        CHECK(app.get_conversation("c2c_alice").get().is_stored());
        CHECK(app.get_total_unread().get() == extension.get_total_unread().get());
        app.suspend();
        try {
            (void)app.get_total_unread().get();
            CHECK(!"a suspended instance answered");
        } catch (const imconv::Error &e) {
            CHECK(e.code() == imconv::ErrorCode::Suspended);
        }
        extension.delete_conversations({"c2c_alice"}).get();
        app.resume();
        CHECK(!app.get_conversation("c2c_alice").get().is_stored());
        try {
            imconv::Sdk alone(R"({"user_id":"me","data_dir":")" + std::string(folder) + "\"}");
            CHECK(!"an instance that is not shared opened beside shared ones");
        } catch (const imconv::Error &e) {
            CHECK(e.code() == imconv::ErrorCode::StoreLocked);
        }
    }
    std::string rm = "rm -rf '" + std::string(folder) + "'";
    CHECK(std::system(rm.c_str()) == 0);
}

int main() {
    for (const char *delivery : {"thread", "host"}) {
        run("every_call", every_call, delivery);
        run("futures_inside_callbacks", futures_inside_callbacks, delivery);
        run("exceptions_are_reported", exceptions_are_reported, delivery);
        run("dropped_futures_report_failures", dropped_futures_report_failures, delivery);
        run("backups", backups, delivery);
        run("encryption", encryption, delivery);
        run("shared_store", shared_store, delivery);
        run("server_surface", server_surface, delivery);
    }
    run("log_version_wait_freed_and_moves", log_version_wait_freed_and_moves);
    std::printf("%s\n", failures ? "FAILED" : "all passed");
    return failures ? 1 : 0;
}
