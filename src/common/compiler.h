/* compiler.h — small portable helpers shared by every module.
 * Contract: header-only, no state. */
#ifndef BH_COMPILER_H
#define BH_COMPILER_H

#include <stddef.h>
#include <stdint.h>

/* Every 0/-errno function is marked so that an ignored failure is a build error. */
#define BH_WUR __attribute__((warn_unused_result))
#define BH_UNUSED __attribute__((unused))
#define BH_PRINTF(a, b) __attribute__((format(printf, a, b)))

#define BH_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Upcast from an embedded member to its container (devices embed their base). */
#define bh_container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* Overflow-checked helpers: return 1 on overflow, 0 otherwise. */
static inline int bh_add_overflow_u64(uint64_t a, uint64_t b, uint64_t *res)
{
	return __builtin_add_overflow(a, b, res);
}
static inline int bh_mul_overflow_u64(uint64_t a, uint64_t b, uint64_t *res)
{
	return __builtin_mul_overflow(a, b, res);
}

#define BH_ALIGN_UP(x, a) (((x) + ((a)-1)) & ~((__typeof__(x))(a)-1))
#define BH_ALIGN_DOWN(x, a) ((x) & ~((__typeof__(x))(a)-1))

#define BH_KiB (1024ULL)
#define BH_MiB (1024ULL * 1024ULL)
#define BH_GiB (1024ULL * 1024ULL * 1024ULL)

#endif
