/* What test_contract and test_concurrency share: the scratch folder, a
 * sample of three conversations, and instances opened on them. Included
 * after testlib.h. */
#ifndef IMCONV_TEST_CONTRACT_H
#define IMCONV_TEST_CONTRACT_H

static const char *scratch;

static const char *SAMPLE =
    "[{\"conversationID\":\"c2c_alice\",\"showName\":\"Alice\",\"faceUrl\":\"https://a/1.png\","
    "\"unreadCount\":2,\"recvOpt\":0,\"isPinned\":true,\"orderKey\":99,\"markList\":[1,8],"
    "\"lastMessage\":{\"msgID\":\"m-1\",\"timestamp\":1700000300,\"sender\":\"alice\",\"seq\":12,"
    "\"status\":2,\"isSelf\":false,\"isRead\":false,\"text\":\"hi\"},"
    "\"draftText\":\"see you\",\"draftTimestamp\":1700000400,\"conversationGroupList\":[\"Friends\"],"
    "\"c2cReadTimestamp\":1700000100,\"customData\":\"x\"},"
    "{\"conversationID\":\"group_g1\",\"groupType\":\"Work\",\"showName\":\"Team\",\"unreadCount\":17,"
    "\"recvOpt\":2,\"groupAtInfoList\":[{\"seq\":40,\"atType\":1},{\"seq\":41,\"atType\":3}],"
    "\"groupReadSequence\":39},"
    "{\"conversationID\":\"c2c_bob\",\"showName\":\"Bob\"}]";

static imconv_sdk *open_dir(const char *name) {
    char config[1024];
    snprintf(config, sizeof config, "{\"user_id\":\"me\",\"data_dir\":\"%s/%s\"}", scratch, name);
    return open_sdk(config);
}

static imconv_sdk *open_with_sample(void) {
    imconv_sdk *sdk = open_memory();
    call c;
    call_init(&c);
    import_sync(sdk, SAMPLE, &c);
    CHECK_INT(c.successes, 1);
    call_destroy(&c);
    return sdk;
}

#endif
