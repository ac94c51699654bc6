// The C++17 layer (include/imconv.hpp): futures and callbacks, errors as
// imconv::Error, values that outlive their callback and the instance, an
// exception thrown by a callback that never crosses into C, RAII and moves.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "imconv.hpp"

static int failures;
#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                              \
        }                                                                            \
    } while (0)

int main() {
    // Constructing from a bad config throws, with the code.
    try {
        imconv::Sdk bad(R"({"user":"x"})");
        CHECK(false);
    } catch (const imconv::Error &e) {
        CHECK(e.code() == IMCONV_ERR_INVALID_PARAMETERS);
        CHECK(std::string(e.what()).find("user_id") != std::string::npos);
    }

    std::vector<imconv::Conversation> kept;
    {
        imconv::Sdk sdk(R"({"user_id":"me"})");
        sdk.import_conversations(
               R"([{"conversationID":"c2c_alice","showName":"Alice","markList":[1],
                    "lastMessage":{"msgID":"m1","timestamp":5,"text":"hi"}},
                   {"conversationID":"group_g","showName":"G","conversationGroupList":["work"]}])")
            .get();
        imconv::Conversation a = sdk.get_conversation("c2c_alice").get();
        CHECK(a.conversation_id() == "c2c_alice" && a.show_name() == "Alice" && a.is_stored());
        CHECK(a.type() == IMCONV_CONVERSATION_TYPE_C2C && a.user_id() == "alice");
        CHECK(a.last_message() && a.last_message()->msg_id == "m1" && a.last_message()->timestamp == 5);
        CHECK(a.mark_list().size() == 1 && a.mark_list()[0] == 1);
        CHECK(a.to_json().find("\"showName\":\"Alice\"") != std::string::npos);

        // A temporary conversation for a valid ID that is not stored.
        imconv::Conversation t = sdk.get_conversation("c2c_nobody").get();
        CHECK(!t.is_stored() && t.show_name() == "nobody");

        // Errors arrive as imconv::Error from the future.
        try {
            sdk.get_conversation("bad").get();
            CHECK(false);
        } catch (const imconv::Error &e) {
            CHECK(e.code() == IMCONV_ERR_INVALID_PARAMETERS);
        }
        try {
            sdk.apply_messages(R"([{"conversationID":"c2c_a","msgID":"","timestamp":1}])").get();
            CHECK(false);
        } catch (const imconv::Error &e) {
            CHECK(e.code() == IMCONV_ERR_INVALID_PARAMETERS);
        }

        kept = sdk.get_conversation_list({"group_g", "c2c_alice", "c2c_nobody", "group_g"}).get();
        CHECK(kept.size() == 2 && kept[0].conversation_id() == "group_g");
        CHECK(kept[0].conversation_group_list().size() == 1 && kept[0].conversation_group_list()[0] == "work");

        // Callback forms; an exception thrown by one never crosses into C.
        std::atomic<int> calls{0};
        sdk.get_conversation(
            "c2c_alice",
            [&](const imconv::Conversation &) {
                calls++;
                throw std::runtime_error("thrown by the host's callback (expected by the test)");
            },
            [&](const imconv::Error &) { calls += 100; });
        sdk.sync_conversations(
            R"([{"conversationID":"c2c_alice","unreadCount":3}])", [&] { calls++; },
            [&](const imconv::Error &) { calls += 100; });
        for (int i = 0; i < 3000 && calls.load() < 2; i++)
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        CHECK(calls.load() == 2);
        CHECK(sdk.get_conversation("c2c_alice").get().unread_count() == 3);

        // Moves keep one owner; the moved-from object frees nothing.
        imconv::Sdk moved(std::move(sdk));
        CHECK(moved.get() != nullptr && sdk.get() == nullptr);
        CHECK(moved.get_conversation("c2c_alice").get().is_stored());
    }
    // Values outlive the instance.
    CHECK(kept[1].show_name() == "Alice" && kept[1].last_message()->msg_id == "m1");
    std::printf("%d passed, %d failed\n", failures ? 0 : 1, failures ? 1 : 0);
    return failures ? 1 : 0;
}
