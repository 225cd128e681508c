/*
 * curve_socket: a client gets its CURVE keys all three or not at all, and
 * anything but 40 Z85 characters is refused before the socket connects.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <zmq.h>

#include "proto/curve_socket.h"

static void *s_ctx, *s_sock;
static char s_public[41], s_secret[41];

static void
s_setup(void)
{
    s_ctx = zmq_ctx_new();
    s_sock = zmq_socket(s_ctx, ZMQ_DEALER);
    cr_assert_eq(zmq_curve_keypair(s_public, s_secret), 0);
}

static void
s_teardown(void)
{
    zmq_close(s_sock);
    zmq_ctx_term(s_ctx);
}

TestSuite(curve_socket, .init = s_setup, .fini = s_teardown);

Test(curve_socket, all_three_or_none)
{
    cr_assert_eq(curve_socket_client(s_sock, NULL, NULL, NULL), 0);
    cr_assert_eq(curve_socket_client(s_sock, s_public, NULL, s_secret), -EINVAL);
    cr_assert_eq(curve_socket_client(s_sock, NULL, s_public, s_secret), -EINVAL);
    cr_assert_eq(curve_socket_client(s_sock, s_public, s_public, s_secret), 0);
    char key[41];
    size_t len = sizeof key;
    cr_assert_eq(zmq_getsockopt(s_sock, ZMQ_CURVE_SERVERKEY, key, &len), 0);
    cr_assert_str_eq(key, s_public);
}

Test(curve_socket, malformed_keys_are_refused)
{
    char shorter[41], bad[41];
    memcpy(shorter, s_public, 39);
    shorter[39] = '\0';
    cr_assert_eq(curve_socket_client(s_sock, shorter, s_public, s_secret), -EINVAL);
    memcpy(bad, s_public, sizeof bad);
    bad[5] = '"'; /* not in the Z85 alphabet */
    cr_assert_eq(curve_socket_client(s_sock, s_public, bad, s_secret), -EINVAL);
    cr_assert_eq(curve_socket_client(s_sock, s_public, s_public, "too short"), -EINVAL);
}
