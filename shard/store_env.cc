/*
 * LevelDB environment whose table files are read with pread(2) instead of being mmapped.
 *
 * Why: LevelDB's POSIX environment maps up to 1000 table files read-only per process (a limit
 * the shared library does not let us change). Every page of a table that was ever read — and a
 * compaction reads every table — then stays counted in the shard's RSS, so RSS grows with the
 * size of the database. Read with pread, table data goes through the kernel's page cache (not
 * counted in RSS) into LevelDB's block cache (bounded by [shard] cache_mb); what a shard keeps
 * in memory is then the block cache, the memtables and, per open table, its index and bloom
 * filter blocks. Everything except random-access reads of tables is delegated to
 * leveldb::Env::Default(), so files, locks, logs and background threads behave as before.
 *
 * The one point where this relies on LevelDB internals: the C API takes an environment only as
 * a leveldb_env_t, an opaque struct whose definition lives in LevelDB's c.cc. In every LevelDB
 * release with a C API (up to at least 1.23, the Debian 12 one) it is
 *     struct leveldb_env_t { Env* rep; bool is_default; };
 * and leveldb_options_set_env() only reads ->rep. env_handle below has that layout. The version
 * is checked at build time (static_assert), and tests/unit/shard/test_store_reads.c checks at
 * test time that with this environment no table file is mapped after a table read, while with
 * the default one it is — so a LevelDB whose layout differed would fail the unit tests instead
 * of silently mapping tables again. The environment is never passed to leveldb_env_destroy().
 */
#include "shard/store_env.h"

#include <leveldb/db.h>
#include <leveldb/env.h>
#include <leveldb/slice.h>
#include <leveldb/status.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <new>
#include <string>
#include <unistd.h>

static_assert(leveldb::kMajorVersion == 1 && leveldb::kMinorVersion >= 20 &&
                  leveldb::kMinorVersion <= 23,
              "shard/store_env.cc: check the leveldb_env_t layout of this LevelDB's c.cc");

namespace {

leveldb::Status errno_status(const std::string &what, int err)
{
    if (err == ENOENT)
        return leveldb::Status::NotFound(what, std::strerror(err));
    return leveldb::Status::IOError(what, std::strerror(err));
}

/* One table file, kept open while LevelDB's table cache holds it (at most [shard]
 * max_open_files of them); pread is safe from any number of threads at once. */
class PreadFile final : public leveldb::RandomAccessFile {
public:
    PreadFile(std::string name, int fd) : name_(std::move(name)), fd_(fd) {}
    ~PreadFile() override { ::close(fd_); }

    leveldb::Status Read(uint64_t offset, size_t n, leveldb::Slice *result,
                         char *scratch) const override
    {
        size_t got = 0;
        while (got < n) {
            ssize_t r = ::pread(fd_, scratch + got, n - got, static_cast<off_t>(offset + got));
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0) {
                *result = leveldb::Slice(scratch, 0);
                return errno_status(name_, errno);
            }
            if (r == 0)
                break; /* end of file: LevelDB checks the length it got */
            got += static_cast<size_t>(r);
        }
        *result = leveldb::Slice(scratch, got);
        return leveldb::Status::OK();
    }

private:
    std::string name_;
    int fd_;
};

class PreadEnv final : public leveldb::EnvWrapper {
public:
    PreadEnv() : leveldb::EnvWrapper(leveldb::Env::Default()) {}

    leveldb::Status NewRandomAccessFile(const std::string &name,
                                        leveldb::RandomAccessFile **out) override
    {
        *out = nullptr;
        int fd = ::open(name.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return errno_status(name, errno);
        PreadFile *f = new (std::nothrow) PreadFile(name, fd);
        if (!f) {
            ::close(fd);
            return leveldb::Status::IOError(name, "out of memory");
        }
        *out = f;
        return leveldb::Status::OK();
    }
};

/* Same layout as leveldb_env_t in LevelDB's c.cc (see the header comment). */
struct env_handle {
    leveldb::Env *rep;
    bool is_default;
};

} // namespace

extern "C" leveldb_env_t *oks_store_pread_env(void)
{
    /* one per process, shared by every store, never destroyed: LevelDB's own default
     * environment lives as long, and a DB may still be closing while the process exits */
    static env_handle *h = [] {
        PreadEnv *env = new (std::nothrow) PreadEnv();
        env_handle *eh = env ? new (std::nothrow) env_handle{env, false} : nullptr;
        if (env && !eh)
            delete env;
        return eh;
    }();
    return reinterpret_cast<leveldb_env_t *>(h);
}
