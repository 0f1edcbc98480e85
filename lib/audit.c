/* The audit log (see audit.h). */
#include "lib/audit.h"

#include "lib/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t audit_lock = PTHREAD_MUTEX_INITIALIZER;
static int audit_fd = -1;

int oks_audit_open(const char *path, oks_err *e)
{
    oks_audit_close();
    if (!path || !path[0])
        return 0;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0)
        return oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "audit log %s: %s", path,
                           strerror(errno));
    pthread_mutex_lock(&audit_lock);
    audit_fd = fd;
    pthread_mutex_unlock(&audit_lock);
    return 0;
}

void oks_audit_close(void)
{
    pthread_mutex_lock(&audit_lock);
    if (audit_fd >= 0)
        close(audit_fd);
    audit_fd = -1;
    pthread_mutex_unlock(&audit_lock);
}

/* s with every byte outside printable ASCII, and spaces, turned into '_' */
static void clean(char *out, size_t size, const char *s)
{
    size_t i = 0;
    for (; s && *s && i + 1 < size; s++)
        out[i++] = (*s > ' ' && *s < 0x7f) ? *s : '_';
    out[i] = '\0';
    if (!i && size > 1)
        snprintf(out, size, "-");
}

/* reason quoted: '"', '\\' and bytes below 0x20 or 0x7f as \xHH */
static void quote(char *out, size_t size, const char *s)
{
    size_t i = 0;
    for (; s && *s && i + 5 < size; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f || c == '"' || c == '\\')
            i += (size_t)snprintf(out + i, size - i, "\\x%02X", c);
        else
            out[i++] = (char)c;
    }
    out[i] = '\0';
}

void oks_audit(const char *who, const char *role, const char *op, const uint8_t *target,
               size_t target_len, const char *outcome)
{
    oks_audit_reason(who, role, op, target, target_len, outcome, NULL);
}

void oks_audit_reason(const char *who, const char *role, const char *op, const uint8_t *target,
                      size_t target_len, const char *outcome, const char *reason)
{
    char w[96], r[32], o[32], out[128], hex[2 * 64 + 1] = "-", line[1024], ts[32], why[420] = "";
    clean(w, sizeof w, who);
    clean(r, sizeof r, role);
    clean(o, sizeof o, op);
    clean(out, sizeof out, outcome);
    for (size_t i = 0; target && i < target_len && i < 64; i++)
        snprintf(hex + 2 * i, 3, "%02X", target[i]);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (reason && reason[0]) {
        char q[400];
        quote(q, sizeof q, reason);
        snprintf(why, sizeof why, " reason=\"%s\"", q);
    }
    int n = snprintf(line, sizeof line, "%s who=%s role=%s op=%s target=%s outcome=%s%s\n", ts,
                     w, r, o, hex, out, why);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof line)
        n = (int)sizeof line - 1;
    pthread_mutex_lock(&audit_lock);
    int fd = audit_fd;
    if (fd >= 0) {
        ssize_t wr = write(fd, line, (size_t)n);
        if (wr != n || fsync(fd) != 0)
            oks_error("audit log: write failed: %s (%.*s)", strerror(errno), n - 1, line);
    }
    pthread_mutex_unlock(&audit_lock);
    if (fd < 0)
        oks_warn("audit: %.*s", n - 1, line + strlen(ts) + 1);
}
