/* sha256.h — SHA-256 through OpenSSL's libcrypto (EVP), which uses the CPU's
 * SHA extensions (or AVX2) where present: hashing a snapshot's hundreds of
 * MiB of guest memory must not dominate snapshot time. Used by the kernel
 * cache's content key and the snapshot manifest. The library is initialised
 * without reading any OpenSSL configuration file (nothing is opened).
 * Any thread; a context belongs to one thread at a time. */
#ifndef BH_COMMON_SHA256_H
#define BH_COMMON_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"

#define BH_SHA256_LEN 32
#define BH_SHA256_HEX (2 * BH_SHA256_LEN + 1) /* hex digits + NUL */

struct bh_sha256 {
	void *ctx; /* EVP_MD_CTX */
};

/* 0, or -ENOMEM / -EIO when libcrypto cannot set up a context. */
int bh_sha256_init(struct bh_sha256 *h) BH_WUR;
/* 0 or -EIO. */
int bh_sha256_update(struct bh_sha256 *h, const void *p, size_t n) BH_WUR;
/* Write the digest and free the context (also on error): 0 or -EIO. */
int bh_sha256_final(struct bh_sha256 *h, uint8_t out[BH_SHA256_LEN]) BH_WUR;
/* Free a context without a digest (error paths). Idempotent. */
void bh_sha256_abort(struct bh_sha256 *h);

/* One-shot digest of a buffer: 0 or -errno. */
int bh_sha256(const void *p, size_t n, uint8_t out[BH_SHA256_LEN]) BH_WUR;

/* Lower-case hex of a digest into out (BH_SHA256_HEX bytes). */
void bh_sha256_hex(const uint8_t d[BH_SHA256_LEN], char out[BH_SHA256_HEX]);

#endif
