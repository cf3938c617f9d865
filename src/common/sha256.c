/* sha256.c — see sha256.h. */
#include "common/sha256.h"

#include <errno.h>
#include <pthread.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void crypto_init(void)
{
	/* No openssl.cnf: its contents would change what "SHA-256" means
	 * (providers, engines) and reading it is a file open we do not need. */
	(void)OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL);
}

int bh_sha256_init(struct bh_sha256 *h)
{
	EVP_MD_CTX *c;

	pthread_once(&init_once, crypto_init);
	h->ctx = NULL;
	c = EVP_MD_CTX_new();
	if (!c)
		return -ENOMEM;
	if (EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(c);
		return -EIO;
	}
	h->ctx = c;
	return 0;
}

int bh_sha256_update(struct bh_sha256 *h, const void *p, size_t n)
{
	if (!h->ctx)
		return -EINVAL;
	return EVP_DigestUpdate(h->ctx, p, n) == 1 ? 0 : -EIO;
}

int bh_sha256_final(struct bh_sha256 *h, uint8_t out[BH_SHA256_LEN])
{
	unsigned len = 0;
	int ok;

	if (!h->ctx)
		return -EINVAL;
	ok = EVP_DigestFinal_ex(h->ctx, out, &len) == 1 && len == BH_SHA256_LEN;
	bh_sha256_abort(h);
	return ok ? 0 : -EIO;
}

void bh_sha256_abort(struct bh_sha256 *h)
{
	if (h->ctx)
		EVP_MD_CTX_free(h->ctx);
	h->ctx = NULL;
}

int bh_sha256(const void *p, size_t n, uint8_t out[BH_SHA256_LEN])
{
	struct bh_sha256 h;
	int ret = bh_sha256_init(&h);

	if (ret)
		return ret;
	if ((ret = bh_sha256_update(&h, p, n))) {
		bh_sha256_abort(&h);
		return ret;
	}
	return bh_sha256_final(&h, out);
}

void bh_sha256_hex(const uint8_t d[BH_SHA256_LEN], char out[BH_SHA256_HEX])
{
	static const char digits[] = "0123456789abcdef";

	for (unsigned i = 0; i < BH_SHA256_LEN; i++) {
		out[2 * i] = digits[d[i] >> 4];
		out[2 * i + 1] = digits[d[i] & 15];
	}
	out[2 * BH_SHA256_LEN] = '\0';
}
