/* One-line-per-event logging (see log.h). */
#include "lib/log.h"

#include "lib/err.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int log_fd = 2;
static enum oks_log_level log_level = OKS_LOG_INFO;
static char log_prog[32] = "oks";
/* the file log_fd was opened from ("" for stderr), for oks_log_reopen_signal */
static char log_path[4096];

int oks_log_open(const char *prog, const char *path)
{
    if (prog)
        snprintf(log_prog, sizeof log_prog, "%s", prog);
    if (!path || strcmp(path, "-") == 0) {
        log_fd = 2;
        log_path[0] = '\0';
        return 0;
    }
    if (strlen(path) >= sizeof log_path)
        return OKS_E_IO;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return OKS_E_IO;
    memcpy(log_path, path, strlen(path) + 1);
    log_fd = fd;
    return 0;
}

int oks_log_reopen_signal(void)
{
    if (!log_path[0] || log_fd == 2)
        return 0;
    int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1; /* the old file stays in use */
    /* dup2 swaps the file under log_fd atomically: a write on another thread goes whole to
     * the old file or whole to the new one */
    int r = dup3(fd, log_fd, O_CLOEXEC) < 0 ? -1 : 0;
    close(fd);
    return r;
}

void oks_log_set_level(enum oks_log_level level)
{
    log_level = level;
}

int oks_log_parse_level(const char *s)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++)
        if (strcasecmp(s, names[i]) == 0)
            return i;
    return -1;
}

void oks_log(enum oks_log_level level, const char *fmt, ...)
{
    static const char *tag[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    if (level < log_level)
        return;
    char line[2048];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s %s: ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, (int)(tv.tv_usec / 1000), tag[level], log_prog);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    /* control bytes from the wire never reach the log as-is */
    for (size_t i = (size_t)n; i < len; i++)
        if ((unsigned char)line[i] < 0x20)
            line[i] = '?';
    line[len++] = '\n';
    ssize_t w = write(log_fd, line, len);
    (void)w;
}
