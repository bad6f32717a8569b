/* SPDX-License-Identifier: Apache-2.0 */
#include "kms_start_err.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/kms_log.h"

const char *kms_start_file_why(const char *path)
{
    if (path == NULL) {
        return "no file named";
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        return strerror(errno);
    }
    struct stat st;
    const char *why = NULL;
    if (fstat(fd, &st) != 0) {
        why = strerror(errno);
    } else if (S_ISDIR(st.st_mode)) {
        why = "is a directory";
    } else if (!S_ISREG(st.st_mode)) {
        why = "not a regular file";
    }
    (void)close(fd);
    return why;
}

void kms_start_file_error(const char *opt, const char *path, enum kms_err err, const char *cert_opt)
{
    const char *why = kms_start_file_why(path);
    if (why != NULL || err == KMS_ERR_IO) { /* the system's reason first, whatever err says */
        kms_log(KMS_LOG_ERROR, "%s %s: cannot be read: %s", opt, path,
                why != NULL ? why : "read error");
        return;
    }
    switch (err) {
    case KMS_ERR_MALFORMED:
        kms_log(KMS_LOG_ERROR, "%s %s: holds no PEM certificate or key", opt, path);
        return;
    case KMS_ERR_TOO_LONG:
        kms_log(KMS_LOG_ERROR, "%s %s: too large", opt, path);
        return;
    case KMS_ERR_ARG:
        if (cert_opt != NULL) {
            kms_log(KMS_LOG_ERROR, "%s %s: is not the private key of %s", opt, path, cert_opt);
            return;
        }
        break;
    default:
        break;
    }
    kms_log(KMS_LOG_ERROR, "%s %s: %s", opt, path, kms_strerror(err));
}

/* What binding addr ("a.b.c.d:port", "[v6]:port") says now, or NULL when it binds. */
static const char *bind_why(const char *addr)
{
    char host[128];
    const char *port;
    size_t hl;
    if (addr[0] == '[') {
        const char *end = strchr(addr, ']');
        if (end == NULL || end[1] != ':') {
            return NULL;
        }
        hl = (size_t)(end - addr - 1);
        port = end + 2;
        addr++;
    } else {
        const char *colon = strrchr(addr, ':');
        if (colon == NULL) {
            return NULL;
        }
        hl = (size_t)(colon - addr);
        port = colon + 1;
    }
    if (hl == 0 || hl >= sizeof(host)) {
        return NULL;
    }
    memcpy(host, addr, hl);
    host[hl] = '\0';
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
                             .ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    if (getaddrinfo(host, port, &hints, &ai) != 0 || ai == NULL) {
        return NULL;
    }
    const char *why = NULL;
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int on = 1;
    if (fd < 0) {
        why = strerror(errno);
    } else if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
               bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 1) != 0) {
        why = strerror(errno);
    }
    if (fd >= 0) {
        (void)close(fd);
    }
    freeaddrinfo(ai);
    return why;
}

void kms_start_listen_error(const char *opt, const char *addr, enum kms_err err)
{
    if (err == KMS_ERR_ARG) {
        kms_log(KMS_LOG_ERROR, "%s %s: not a numeric ADDR:PORT (e.g. 127.0.0.1:8090, [::1]:8090)",
                opt, addr);
        return;
    }
    const char *why = bind_why(addr);
    kms_log(KMS_LOG_ERROR, "%s %s: cannot listen: %s", opt, addr,
            why != NULL ? why : kms_strerror(err));
}
