/*
 * curve_socket: makes a ZeroMQ socket a CURVE client (RFC 26), the one way
 * libmandate, mandate-worker, the tests and the benchmarks all do it.
 */
#ifndef MANDATE_CURVE_SOCKET_H
#define MANDATE_CURVE_SOCKET_H

/*
 * Sets the server's public key and this client's pair on sock, before it
 * connects: Z85 text, 40 characters each. All three NULL: nothing to do.
 * Returns 0, or -EINVAL (some missing, or not 40 Z85 characters).
 */
int curve_socket_client(void *sock, const char *server_z85, const char *public_z85,
                        const char *secret_z85);

#endif
