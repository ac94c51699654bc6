// Must NOT compile with -Wall -Wextra -Werror (make test-cpp checks that it
// does not): a call whose imconv::Future is ignored could fail unseen, so
// Future is [[nodiscard]]. The line is the one a new user wrote in 0.3.0,
// which compiled, printed nothing and exited 0 (issue 25, item 10).
#include "imconv.hpp"

int main() {
    imconv::Sdk sdk(R"({"user_id":"me"})");
    sdk.pin_conversation("c2c_not_stored", true);
    return 0;
}
