/* event/arena: cJSON trees allocated from arenas through cJSON's hooks. The
 * hooks are installed per test process, as main() does. (Under
 * AddressSanitizer px_arena_install is a no-op; the tests then check that
 * nothing breaks with plain heap trees.) */
#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "event/arena.h"
#include "px_test.h"

static const char doc[] = "{\"type\":\"track\",\"userId\":\"u1\",\"properties\":{\"a\":[1,2,3],\"b\":\"x\"}}";

static void test_trees_from_an_arena(void **state) {
  (void)state;
  px_arena_install();
  px_arena *a = px_arena_create();
  assert_non_null(a);
  px_arena *prev = px_arena_enter(a);
  cJSON *t = cJSON_Parse(doc);
  cJSON_AddStringToObject(t, "messageId", "m-1");
  px_arena_enter(prev);
  assert_non_null(t);
  PX_ASSERT_STR_EQ(cJSON_GetObjectItem(t, "messageId")->valuestring, "m-1");
  PX_ASSERT_STR_EQ(cJSON_GetObjectItem(cJSON_GetObjectItem(t, "properties"), "b")->valuestring, "x");
#if !defined(__SANITIZE_ADDRESS__)
  PX_ASSERT_INT_CMP(px_arena_used(a), >, 0);
#endif
  cJSON_Delete(t); /* arena nodes: nothing to free */
  px_arena_destroy(a);
}

static void test_heap_and_arena_nodes_mix(void **state) {
  (void)state;
  px_arena_install();
  cJSON *heap = cJSON_CreateObject(); /* no arena current: from the heap */
  px_arena *a = px_arena_create();
  px_arena *prev = px_arena_enter(a);
  cJSON *in_arena = cJSON_Parse(doc);
  px_arena_enter(prev);
  cJSON_AddItemToObject(heap, "event", in_arena);
  cJSON_AddStringToObject(in_arena, "later", "from the heap");
  char *printed = cJSON_PrintUnformatted(heap);
  assert_non_null(strstr(printed, "from the heap"));
  cJSON_free(printed);
  cJSON_Delete(heap); /* frees the heap nodes, skips the arena ones */
  px_arena_destroy(a);
}

static void *delete_tree(void *arg) {
  cJSON_Delete(arg);
  return NULL;
}

static void test_delete_on_another_thread(void **state) {
  (void)state;
  px_arena_install();
  px_arena *a = px_arena_create();
  px_arena *prev = px_arena_enter(a);
  cJSON *t = cJSON_Parse(doc);
  px_arena_enter(prev);
  pthread_t th;
  PX_ASSERT_INT_EQ(pthread_create(&th, NULL, delete_tree, t), 0);
  pthread_join(th, NULL);
  px_arena_destroy(a);
}

static void test_large_values_keep_their_bytes(void **state) {
  (void)state;
  px_arena_install();
  size_t n = 200 * 1024; /* larger than a block: gets its own */
  char *big = malloc(n + 16);
  memset(big, 'q', n);
  big[n] = 0;
  px_arena *a = px_arena_create();
  px_arena *prev = px_arena_enter(a);
  cJSON *s1 = cJSON_CreateString("small before");
  cJSON *s2 = cJSON_CreateString(big);
  cJSON *s3 = cJSON_CreateString("small after");
  px_arena_enter(prev);
  PX_ASSERT_INT_EQ((long long)strlen(s2->valuestring), (long long)n);
  PX_ASSERT_STR_EQ(s1->valuestring, "small before");
  PX_ASSERT_STR_EQ(s3->valuestring, "small after");
  cJSON_Delete(s1);
  cJSON_Delete(s2);
  cJSON_Delete(s3);
  px_arena_destroy(a);
  free(big);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_trees_from_an_arena),
    cmocka_unit_test(test_heap_and_arena_nodes_mix),
    cmocka_unit_test(test_delete_on_another_thread),
    cmocka_unit_test(test_large_values_keep_their_bytes),
};

PX_TEST_MAIN(tests)
