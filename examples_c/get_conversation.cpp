// imconv from C++ (include/imconv.hpp): the whole program.
// Run as: get_conversation_cpp <data_dir>
#include <iostream>

#include "imconv.hpp"

int main(int argc, char **argv) {
    if (argc != 2) {
        std::cerr << "usage: " << argv[0] << " <data_dir>\n";
        return 2;
    }
    try {
        imconv::Sdk sdk(std::string(R"({"user_id":"me","data_dir":")") + argv[1] + R"("})");
        // A future per call; .get() waits (or throws imconv::Error).
        imconv::Conversation alice = sdk.get_conversation("c2c_alice").get();
        std::cout << alice.conversation_id() << ": " << alice.show_name() << ", "
                  << alice.unread_count() << " unread" << (alice.is_stored() ? "" : " (temporary)")
                  << "\n";
        for (const auto &c : sdk.get_conversation_list({"group_@TGS#_project-apollo", "c2c_alice",
                                                        "c2c_nobody"}).get())
            std::cout << "  listed " << c.conversation_id() << " (" << c.show_name() << ")\n";

        // A listener lives as long as its subscription.
        imconv::Listener listener;
        listener.on_changed = [](const std::vector<imconv::Conversation> &changed) {
            for (const auto &c : changed)
                std::cout << "  changed: " << c.conversation_id() << ", " << c.unread_count() << " unread\n";
        };
        {
            imconv::Subscription subscription = sdk.add_listener(listener);
            sdk.clean_unread("c2c_alice").get();
        }

        // The chat list, a page at a time (pinned first, then newest).
        sdk.for_each_conversation({}, 2, [](const imconv::Conversation &c) {
            std::cout << "  page: " << c.show_name() << (c.is_pinned() ? " (pinned)" : "") << "\n";
        });

        // Or callbacks, which run on the instance's callback thread.
        std::promise<void> done;
        sdk.get_conversation(
            "bad id", [&](const imconv::Conversation &) { done.set_value(); },
            [&](const imconv::Error &e) {
                std::cout << "error " << e.code() << " (" << e.code_text() << "): " << e.what() << "\n";
                done.set_value();
            });
        done.get_future().wait();
    } catch (const imconv::Error &e) {
        std::cerr << "error " << e.code() << ": " << e.what() << "\n";
        return 1;
    }
    return 0;
}
