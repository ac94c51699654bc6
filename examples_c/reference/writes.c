/*
 * The reference's examples of the writes (docs/reference/): imports,
 * syncs, messages, read positions, drafts, pins, options, marks, groups,
 * deletes, backups and rekeys. Each example is the region between its
 * "example:" and "end" comments; main() runs them in order on one store
 * and checks what each did.
 *
 *   build/reference/writes <scratch folder>
 */
#include "example.h"

static int import_example(imconv_sdk *sdk) {
    /* example: imconv_import_conversations */
    const char *json =
        "[{\"conversationID\": \"c2c_alice\", \"showName\": \"Alice\", \"unreadCount\": 2},"
        " {\"conversationID\": \"group_team\", \"showName\": \"Team\", \"groupType\": \"Work\"}]";
    struct call c = CALL_INIT;
    if (call_result(imconv_import_conversations(sdk, json, call_done, call_failed, &c), &c) != IMCONV_OK) {
        fprintf(stderr, "import failed: %s\n", c.desc);
        return 1;
    }
    /* end */
    return 0;
}

static int sync_example(imconv_sdk *sdk) {
    /* example: imconv_sync_conversations */
    /* Only the fields named change: Alice's name stays, her count becomes 5. */
    struct call c = CALL_INIT;
    int32_t rc = imconv_sync_conversations(sdk, "[{\"conversationID\": \"c2c_alice\", \"unreadCount\": 5}]",
                                           call_done, call_failed, &c);
    if (call_result(rc, &c) != IMCONV_OK) {
        fprintf(stderr, "sync failed: %s\n", c.desc);
        return 1;
    }
    /* end */
    return 0;
}

static int snapshot_example(imconv_sdk *sdk) {
    /* example: imconv_sync_snapshot */
    /* The server's whole list: conversations it does not name are deleted. */
    const char *everything =
        "[{\"conversationID\": \"c2c_alice\"}, {\"conversationID\": \"group_team\"},"
        " {\"conversationID\": \"c2c_bob\", \"showName\": \"Bob\"}]";
    struct call c = CALL_INIT;
    if (call_result(imconv_sync_snapshot(sdk, everything, call_done, call_failed, &c), &c) != IMCONV_OK) {
        fprintf(stderr, "snapshot failed: %s\n", c.desc);
        return 1;
    }
    /* end */
    return 0;
}

static int messages_example(imconv_sdk *sdk) {
    /* example: imconv_apply_messages */
    /* Two new messages from Bob: his unread count grows by 2, once, however
       often the same msgIDs are applied again. */
    const char *messages =
        "[{\"conversationID\": \"c2c_bob\", \"msgID\": \"m1\", \"sender\": \"bob\", \"timestampMs\": 1700000000100},"
        " {\"conversationID\": \"c2c_bob\", \"msgID\": \"m2\", \"sender\": \"bob\", \"timestampMs\": 1700000000200}]";
    struct call c = CALL_INIT;
    if (call_result(imconv_apply_messages(sdk, messages, call_done, call_failed, &c), &c) != IMCONV_OK) {
        fprintf(stderr, "apply_messages failed: %s\n", c.desc);
        return 1;
    }
    /* end */
    return 0;
}

static int profiles_example(imconv_sdk *sdk) {
    /* example: imconv_update_profiles */
    const char *profiles = "[{\"userID\": \"bob\", \"showName\": \"Bob Smith\", \"faceUrl\": \"https://example.com/bob.png\"}]";
    struct call c = CALL_INIT;
    if (call_result(imconv_update_profiles(sdk, profiles, call_done, call_failed, &c), &c) != IMCONV_OK) {
        fprintf(stderr, "update_profiles failed: %s\n", c.desc);
        return 1;
    }
    /* end */
    return 0;
}

static int report_sync_example(imconv_sdk *sdk) {
    /* example: imconv_report_sync */
    /* Listeners hear on_sync_server_start, then the sync's own events, then
       on_sync_server_finish: in order with the writes between. */
    struct call started = CALL_INIT, finished = CALL_INIT;
    if (call_result(imconv_report_sync(sdk, IMCONV_SYNC_STARTED, call_done, call_failed, &started), &started) != IMCONV_OK)
        return 1;
    /* ... imconv_sync_conversations with what the server sent ... */
    if (call_result(imconv_report_sync(sdk, IMCONV_SYNC_FINISHED, call_done, call_failed, &finished), &finished) != IMCONV_OK)
        return 1;
    /* end */
    return 0;
}

static int mark_read_example(imconv_sdk *sdk) {
    /* example: imconv_mark_read */
    /* Bob's messages up to and including m1 are read: one stays unread. */
    struct call c = CALL_INIT;
    if (call_result(imconv_mark_read(sdk, "c2c_bob", "m1", call_done, call_failed, &c), &c) != IMCONV_OK) {
        fprintf(stderr, "mark_read failed: %s\n", c.desc);
        return 1;
    }
    /* end */
    return 0;
}

static int clean_unread_example(imconv_sdk *sdk) {
    /* example: imconv_clean_unread */
    /* Every one-to-one conversation read to the end ("c2c"; NULL for all). */
    struct call c = CALL_INIT;
    if (call_result(imconv_clean_unread(sdk, "c2c", 0, 0, call_done, call_failed, &c), &c) != IMCONV_OK) {
        fprintf(stderr, "clean_unread failed: %s\n", c.desc);
        return 1;
    }
    /* end */
    return 0;
}

static int draft_example(imconv_sdk *sdk) {
    /* example: imconv_set_draft */
    struct call c = CALL_INIT;
    if (call_result(imconv_set_draft(sdk, "c2c_alice", "see you at 6", call_done, call_failed, &c), &c) != IMCONV_OK) {
        fprintf(stderr, "set_draft failed: %s\n", c.desc);
        return 1;
    }
    /* end */
    return 0;
}

static int pin_example(imconv_sdk *sdk) {
    /* example: imconv_pin_conversation */
    struct call c = CALL_INIT;
    if (call_result(imconv_pin_conversation(sdk, "group_team", true, call_done, call_failed, &c), &c) != IMCONV_OK) {
        fprintf(stderr, "pin failed: %s\n", c.desc);
        return 1;
    }
    /* end */
    return 0;
}

static int recv_opt_example(imconv_sdk *sdk) {
    /* example: imconv_set_recv_opt */
    const char *ids[] = {"group_team"};
    struct call c = CALL_INIT;
    int32_t rc = imconv_set_recv_opt(sdk, ids, 1, IMCONV_RECV_OPT_NOT_NOTIFY, call_done, call_failed, &c);
    if (call_result(rc, &c) != IMCONV_OK) {
        fprintf(stderr, "set_recv_opt failed: %s\n", c.desc);
        return 1;
    }
    /* end */
    return 0;
}

static int custom_data_example(imconv_sdk *sdk) {
    /* example: imconv_set_custom_data */
    const char *ids[] = {"c2c_alice", "c2c_bob"};
    struct call c = CALL_INIT;
    int32_t rc = imconv_set_custom_data(sdk, ids, 2, "{\"color\":\"blue\"}", call_done, call_failed, &c);
    if (call_result(rc, &c) != IMCONV_OK) {
        fprintf(stderr, "set_custom_data failed: %s\n", c.desc);
        return 1;
    }
    /* end */
    return 0;
}

static int mark_example(imconv_sdk *sdk) {
    /* example: imconv_mark_conversations */
    const char *ids[] = {"c2c_alice"};
    struct call c = CALL_INIT;
    int32_t rc = imconv_mark_conversations(sdk, ids, 1, IMCONV_MARK_STAR, true, call_done, call_failed, &c);
    if (call_result(rc, &c) != IMCONV_OK) {
        fprintf(stderr, "mark failed: %s\n", c.desc);
        return 1;
    }
    /* end */
    return 0;
}

static int groups_example(imconv_sdk *sdk) {
    const char *ids[] = {"c2c_alice", "c2c_bob"};
    /* example: imconv_create_group */
    struct call created = CALL_INIT;
    int32_t rc = imconv_create_group(sdk, "friends", ids, 1, call_done, call_failed, &created);
    if (call_result(rc, &created) != IMCONV_OK) {
        fprintf(stderr, "create_group failed: %s\n", created.desc);
        return 1;
    }
    /* end */
    /* example: imconv_add_to_group */
    struct call added = CALL_INIT;
    rc = imconv_add_to_group(sdk, "friends", ids + 1, 1, call_done, call_failed, &added);
    if (call_result(rc, &added) != IMCONV_OK) {
        fprintf(stderr, "add_to_group failed: %s\n", added.desc);
        return 1;
    }
    /* end */
    /* example: imconv_remove_from_group */
    struct call removed = CALL_INIT;
    rc = imconv_remove_from_group(sdk, "friends", ids, 1, call_done, call_failed, &removed);
    if (call_result(rc, &removed) != IMCONV_OK) {
        fprintf(stderr, "remove_from_group failed: %s\n", removed.desc);
        return 1;
    }
    /* end */
    /* example: imconv_rename_group */
    struct call renamed = CALL_INIT;
    rc = imconv_rename_group(sdk, "friends", "close friends", call_done, call_failed, &renamed);
    if (call_result(rc, &renamed) != IMCONV_OK) {
        fprintf(stderr, "rename_group failed: %s\n", renamed.desc);
        return 1;
    }
    /* end */
    return 0;
}

static int delete_group_example(imconv_sdk *sdk) {
    /* example: imconv_delete_group */
    /* The group goes; its conversations stay. */
    struct call c = CALL_INIT;
    if (call_result(imconv_delete_group(sdk, "close friends", call_done, call_failed, &c), &c) != IMCONV_OK) {
        fprintf(stderr, "delete_group failed: %s\n", c.desc);
        return 1;
    }
    /* end */
    return 0;
}

static int delete_example(imconv_sdk *sdk) {
    /* example: imconv_delete_conversations */
    const char *ids[] = {"group_team", "c2c_nobody"}; /* unknown IDs are ignored */
    struct call c = CALL_INIT;
    if (call_result(imconv_delete_conversations(sdk, ids, 2, call_done, call_failed, &c), &c) != IMCONV_OK) {
        fprintf(stderr, "delete failed: %s\n", c.desc);
        return 1;
    }
    /* end */
    return 0;
}

static int backup_example(imconv_sdk *sdk, const char *path) {
    /* example: imconv_backup */
    /* A consistent copy while the instance goes on working; open it later
       with "restore_from". */
    struct call c = CALL_INIT;
    if (call_result(imconv_backup(sdk, path, call_done, call_failed, &c), &c) != IMCONV_OK) {
        fprintf(stderr, "backup failed: %s\n", c.desc);
        return 1;
    }
    /* end */
    return 0;
}

static int rekey_example(imconv_sdk *sdk) {
    /* example: imconv_rekey */
    /* Encrypts a plain store (a key from the platform's keystore: 64 hex
       digits); NULL would decrypt it again. Open it with the new key after. */
    const char *key = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    struct call c = CALL_INIT;
    if (call_result(imconv_rekey(sdk, key, call_done, call_failed, &c), &c) != IMCONV_OK) {
        fprintf(stderr, "rekey failed: %s\n", c.desc);
        return 1;
    }
    /* end */
    return 0;
}

int main(int argc, char **argv) {
    char dir[512], backup[600];
    scratch_dir(argc, argv, "writes", dir, sizeof dir);
    snprintf(backup, sizeof backup, "%s/writes-backup.db", argv[1]);
    imconv_sdk *sdk = open_store(dir, NULL);
    struct seen s;

    EXPECT(import_example(sdk) == 0);
    EXPECT(look(sdk, "c2c_alice", &s)->found && s.unread == 2 && !strcmp(s.show_name, "Alice"));
    EXPECT(sync_example(sdk) == 0);
    EXPECT(look(sdk, "c2c_alice", &s)->unread == 5 && !strcmp(s.show_name, "Alice"));
    EXPECT(snapshot_example(sdk) == 0);
    EXPECT(look(sdk, "c2c_bob", &s)->found && look(sdk, "group_team", &s)->found);
    EXPECT(messages_example(sdk) == 0);
    EXPECT(look(sdk, "c2c_bob", &s)->unread == 2 && !strcmp(s.last_msg, "m2"));
    EXPECT(messages_example(sdk) == 0); /* the same messages again count once */
    EXPECT(look(sdk, "c2c_bob", &s)->unread == 2);
    EXPECT(profiles_example(sdk) == 0);
    EXPECT(!strcmp(look(sdk, "c2c_bob", &s)->show_name, "Bob Smith"));
    EXPECT(report_sync_example(sdk) == 0);
    EXPECT(mark_read_example(sdk) == 0);
    EXPECT(look(sdk, "c2c_bob", &s)->unread == 1);
    EXPECT(clean_unread_example(sdk) == 0);
    EXPECT(look(sdk, "c2c_bob", &s)->unread == 0 && look(sdk, "c2c_alice", &s)->unread == 0);
    EXPECT(draft_example(sdk) == 0);
    EXPECT(!strcmp(look(sdk, "c2c_alice", &s)->draft, "see you at 6"));
    EXPECT(pin_example(sdk) == 0);
    EXPECT(look(sdk, "group_team", &s)->pinned);
    EXPECT(recv_opt_example(sdk) == 0);
    EXPECT(look(sdk, "group_team", &s)->recv_opt == IMCONV_RECV_OPT_NOT_NOTIFY);
    EXPECT(custom_data_example(sdk) == 0);
    EXPECT(!strcmp(look(sdk, "c2c_bob", &s)->custom, "{\"color\":\"blue\"}"));
    EXPECT(mark_example(sdk) == 0);
    EXPECT(look(sdk, "c2c_alice", &s)->marks == 1);
    EXPECT(groups_example(sdk) == 0);
    EXPECT(look(sdk, "c2c_alice", &s)->groups == 0 && look(sdk, "c2c_bob", &s)->groups == 1);
    EXPECT(delete_group_example(sdk) == 0);
    EXPECT(look(sdk, "c2c_bob", &s)->groups == 0 && s.found);
    EXPECT(delete_example(sdk) == 0);
    EXPECT(!look(sdk, "group_team", &s)->found);
    EXPECT(backup_example(sdk, backup) == 0);
    EXPECT(rekey_example(sdk) == 0);
    imconv_sdk_free(sdk);

    /* The rekeyed store opens with the new key only; the backup restores. */
    sdk = open_store(dir, "\"encryption_key\": \"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\"");
    EXPECT(look(sdk, "c2c_bob", &s)->found && !strcmp(s.show_name, "Bob Smith"));
    imconv_sdk_free(sdk);
    char restore[700];
    snprintf(restore, sizeof restore, "\"restore_from\": \"%s\"", backup);
    snprintf(dir, sizeof dir, "%s/writes-restored", argv[1]);
    sdk = open_store(dir, restore);
    EXPECT(look(sdk, "c2c_alice", &s)->found && !strcmp(s.draft, "see you at 6"));
    imconv_sdk_free(sdk);
    printf("reference examples (writes): 22 examples ran and were checked\n");
    return 0;
}
