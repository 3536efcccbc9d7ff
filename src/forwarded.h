/* forwarded.h - the client address a trusted reverse proxy reports in the request head.
 *
 * X-Forwarded-For lists the hops a request went through, each proxy appending the address it
 * received the request from. Anyone can prepend fake entries, so the client is the right-most
 * entry that is not itself one of our trusted proxies. X-Real-IP (one address) is used when
 * X-Forwarded-For is absent or unusable. Pure: the caller decides whether the connection came
 * from a trusted proxy at all (only then may the result be used). */
#ifndef SWARMD_FORWARDED_H
#define SWARMD_FORWARDED_H

#include <stdbool.h>

#include "proto/http_parse.h"
#include "util/addr.h"
#include "util/netlist.h"

/* The forwarded client address (port 0) into out; false when the head names none usable.
 * Several X-Forwarded-For headers count as one list, in order. An entry may carry a port
 * ("1.2.3.4:5678", "[2001:db8::1]:80"); a malformed entry makes the whole header unusable. */
bool forwarded_client(const struct http_request *req, const struct netlist *trusted,
                      struct peer_addr *out);

#endif
