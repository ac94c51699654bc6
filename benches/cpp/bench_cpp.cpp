// The C++ layer's cost over the C API it wraps: a getConversationList of
// 1,000 cached conversations, answered (a) through the C API with a
// callback that only signals, (b) as an imconv::Future of
// std::vector<imconv::Conversation>, (c) the same plus a copy of the vector
// (what a UI model does). Medians of 200 rounds each, alternating, in one
// run; the ratios are against (a).
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>
#include <vector>

#include "imconv.hpp"

namespace {
std::mutex lock;
std::condition_variable cond;
bool answered;

void on_list(const imconv_conversation *const *, size_t, void *) {
    std::lock_guard<std::mutex> g(lock);
    answered = true;
    cond.notify_one();
}
void on_error(int32_t, const char *, void *) { on_list(nullptr, 0, nullptr); }

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}
} // namespace

int main() {
    using clock = std::chrono::steady_clock;
    imconv::Sdk sdk(R"({"user_id":"me"})");
    std::string doc = "[";
    std::vector<std::string> ids;
    for (int i = 0; i < 1000; i++) {
        ids.push_back("c2c_u" + std::to_string(i));
        doc += (i ? "," : "") + std::string(R"({"conversationID":")") + ids.back() +
               R"(","showName":"User name","faceUrl":"https://example.com/a.png","unreadCount":3,)"
               R"("lastMessage":{"msgID":"m)" + std::to_string(i) + R"(","timestamp":1700000000,"text":"hello"}})";
    }
    sdk.import_conversations(doc + "]").get();
    std::vector<const char *> raw;
    for (const auto &id : ids) raw.push_back(id.c_str());

    std::vector<double> c_api, future, copied;
    size_t seen = 0;
    for (int round = 0; round < 200; round++) {
        auto t0 = clock::now();
        answered = false;
        imconv_get_conversation_list(sdk.get(), raw.data(), raw.size(), on_list, on_error, nullptr);
        {
            std::unique_lock<std::mutex> g(lock);
            cond.wait(g, [] { return answered; });
        }
        auto t1 = clock::now();
        std::vector<imconv::Conversation> list = sdk.get_conversation_list(ids).get();
        auto t2 = clock::now();
        std::vector<imconv::Conversation> again = sdk.get_conversation_list(ids).get();
        std::vector<imconv::Conversation> copy = again;
        auto t3 = clock::now();
        seen += list.size() + copy.size();
        c_api.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
        future.push_back(std::chrono::duration<double, std::micro>(t2 - t1).count());
        copied.push_back(std::chrono::duration<double, std::micro>(t3 - t2).count());
    }
    double base = median(c_api);
    std::printf("C++ layer, getConversationList of 1,000 (medians of 200 rounds, %zu views):\n", seen);
    std::printf("  C API, callback only signals:   %8.1f us\n", base);
    std::printf("  imconv::Future<vector>:         %8.1f us  (%.2fx the C API's time)\n", median(future),
                median(future) / base);
    std::printf("  the same, plus a copy:          %8.1f us  (%.2fx)\n", median(copied), median(copied) / base);
}
