/* test_buf.c - buf.h: caps, growth, JSON escaping. */
#include <errno.h>
#include <stdlib.h>

#include "buf.h"
#include "check.h"

int main(void)
{
    struct buf b;
    buf_init(&b, 8);
    CHECK(buf_puts(&b, "abcd") == 0, "append under cap");
    CHECK(buf_puts(&b, "efgh") == 0, "append to cap");
    CHECK(buf_putc(&b, 'x') == -E2BIG, "cap enforced");
    CHECK_STR(b.data, "abcdefgh");
    buf_release(&b);

    buf_init(&b, 1 << 20);
    CHECK(buf_printf(&b, "%d-%s", 42, "x") == 0, "printf");
    CHECK_STR(b.data, "42-x");
    buf_reset(&b);
    CHECK(buf_put_json_str(&b, "a\"b\\\n\x01", 6) == 0, "json");
    CHECK_STR(b.data, "a\\\"b\\\\\\n\\u0001");
    char *d = buf_detach(&b);
    CHECK(d && b.data == NULL && b.len == 0, "detach resets");
    free(d);
    return check_done();
}
