/*
 * The shard's LevelDB environment that reads table files with pread(2) instead of mmap
 * (shard/store_env.cc, the one C++ file: LevelDB's C API cannot express it).
 */
#ifndef OKS_SHARD_STORE_ENV_H
#define OKS_SHARD_STORE_ENV_H

#include <leveldb/c.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Process-wide environment for leveldb_options_set_env(); NULL if out of memory. Never pass
 * it to leveldb_env_destroy(). */
leveldb_env_t *oks_store_pread_env(void);

#ifdef __cplusplus
}
#endif

#endif
