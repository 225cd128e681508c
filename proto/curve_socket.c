/* curve_socket: see curve_socket.h. */
#include <errno.h>
#include <string.h>

#include <zmq.h>

#include "proto/curve_socket.h"

#define Z85_KEY_LEN 40

int
curve_socket_client(void *sock, const char *server_z85, const char *public_z85,
                    const char *secret_z85)
{
    const char *keys[3] = {server_z85, public_z85, secret_z85};
    const int opts[3] = {ZMQ_CURVE_SERVERKEY, ZMQ_CURVE_PUBLICKEY, ZMQ_CURVE_SECRETKEY};
    unsigned given = 0;

    for (int i = 0; i < 3; i++)
        given += keys[i] != NULL;
    if (given == 0)
        return 0;
    if (given != 3)
        return -EINVAL;
    for (int i = 0; i < 3; i++)
        /* libzmq takes 32 bytes as binary and 40 as Z85: only the text form here. */
        if (strlen(keys[i]) != Z85_KEY_LEN ||
            zmq_setsockopt(sock, opts[i], keys[i], Z85_KEY_LEN) != 0)
            return -EINVAL;
    return 0;
}
