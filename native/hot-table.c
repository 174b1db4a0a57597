#include "hot-table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                   \
	do {                                                                                       \
		v0 += v1;                                                                          \
		v1 = ROTL(v1, 13);                                                                 \
		v1 ^= v0;                                                                          \
		v0 = ROTL(v0, 32);                                                                 \
		v2 += v3;                                                                          \
		v3 = ROTL(v3, 16);                                                                 \
		v3 ^= v2;                                                                          \
		v0 += v3;                                                                          \
		v3 = ROTL(v3, 21);                                                                 \
		v3 ^= v0;                                                                          \
		v2 += v1;                                                                          \
		v1 = ROTL(v1, 17);                                                                 \
		v1 ^= v2;                                                                          \
		v2 = ROTL(v2, 32);                                                                 \
	} while (0)

/* SipHash-1-3 (Aumasson & Bernstein; the variant Rust's HashMap uses) of a
 * fixed 16-byte message (m0, m1). */
static uint64_t siphash13_16(uint64_t s0, uint64_t s1, uint64_t m0, uint64_t m1)
{
	uint64_t v0 = s0 ^ 0x736f6d6570736575ULL;
	uint64_t v1 = s1 ^ 0x646f72616e646f6dULL;
	uint64_t v2 = s0 ^ 0x6c7967656e657261ULL;
	uint64_t v3 = s1 ^ 0x7465646279746573ULL;
	const uint64_t b = (uint64_t)16 << 56;

	v3 ^= m0;
	SIPROUND;
	v0 ^= m0;
	v3 ^= m1;
	SIPROUND;
	v0 ^= m1;
	v3 ^= b;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

static void make_key(int family, const uint8_t *addr, uint64_t *k0, uint64_t *k1)
{
	if (family == 4) {
		uint32_t v4;
		memcpy(&v4, addr, 4);
		*k0 = v4;
		*k1 = 4;
	} else {
		/* The /64 prefix only: see hot-table.h. */
		memcpy(k0, addr, 8);
		*k1 = 6;
	}
}

static uint32_t key_hash(const struct hot_table *t, uint64_t k0, uint64_t k1)
{
	return (uint32_t)siphash13_16(t->seed0, t->seed1, k0, k1);
}

int hot_table_init(struct hot_table *t, uint32_t max_entries)
{
	uint32_t cap = 16;

	memset(t, 0, sizeof(*t));
	if (max_entries == 0 || max_entries > HOT_TABLE_MAX_ENTRIES)
		return -EINVAL;
	/* Linear probing stays short below half load. */
	while (cap < max_entries * 2u)
		cap <<= 1;
	t->slots = calloc(cap, sizeof(*t->slots));
	if (t->slots == NULL)
		return -ENOMEM;
	t->mask = cap - 1;
	t->max_entries = max_entries;

	uint64_t seed[2];
	if (getrandom(seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed)) {
		/* Early boot without entropy: weaker, still not predictable from
		 * outside the host. */
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		seed[0] = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^ (uint64_t)getpid();
		seed[1] = (uint64_t)ts.tv_sec ^ (uint64_t)(uintptr_t)t->slots;
	}
	t->seed0 = seed[0];
	t->seed1 = seed[1];
	return 0;
}

void hot_table_free(struct hot_table *t)
{
	free(t->slots);
	t->slots = NULL;
	t->count = 0;
}

void hot_table_clear(struct hot_table *t)
{
	if (t->slots != NULL)
		memset(t->slots, 0, ((size_t)t->mask + 1) * sizeof(*t->slots));
	t->count = 0;
	t->next_sweep_ns = 0;
}

/* Backward-shift deletion (Knuth 6.4, Algorithm R): pull later members of the
 * probe chain into the hole so lookups never stop early at it. */
static void remove_at(struct hot_table *t, uint32_t i)
{
	uint32_t j = i;

	t->slots[i].k1 = 0;
	t->count--;
	for (;;) {
		j = (j + 1) & t->mask;
		if (t->slots[j].k1 == 0)
			return;
		uint32_t home = t->slots[j].hash & t->mask;
		/* Leave slot j where it is if its home lies cyclically in (i, j]. */
		bool stays = (i <= j) ? (i < home && home <= j) : (i < home || home <= j);
		if (stays)
			continue;
		t->slots[i] = t->slots[j];
		t->slots[j].k1 = 0;
		i = j;
	}
}

static int find(const struct hot_table *t, uint64_t k0, uint64_t k1, uint32_t h)
{
	for (uint32_t i = h & t->mask, n = 0; n <= t->mask; i = (i + 1) & t->mask, n++) {
		const struct hot_entry *e = &t->slots[i];
		if (e->k1 == 0)
			return -1;
		if (e->k0 == k0 && e->k1 == k1)
			return (int)i;
	}
	return -1;
}

/* A sweep copies and rebuilds the whole table (40 ms at 2^20 entries). With
 * entries expiring one at a time, as a steady stream of bans an hour old
 * does, each sweep frees a slot or two and the next insert into the full
 * table would sweep again: one rebuild per insert, the JS thread (which also
 * runs the native fast path) spent on it (native review). So at most one
 * sweep a second; between them an insert into a full table is refused, and
 * the engine and the kernel set keep deciding that source. */
#define HOT_SWEEP_INTERVAL_NS 1000000000ULL

/* Drop every expired entry by rebuilding; returns the earliest expiry among
 * the survivors (UINT64_MAX if none). Rebuilding is simpler than deleting
 * while scanning a table whose chains wrap around. */
static uint64_t sweep(struct hot_table *t, uint64_t now_ns)
{
	size_t cap = (size_t)t->mask + 1;
	struct hot_entry *old = malloc(cap * sizeof(*old));
	uint64_t earliest = UINT64_MAX;

	if (old == NULL)
		return now_ns + 1000000000ULL; /* retry in a second */
	memcpy(old, t->slots, cap * sizeof(*old));
	memset(t->slots, 0, cap * sizeof(*old));
	t->count = 0;
	for (size_t s = 0; s < cap; s++) {
		const struct hot_entry *e = &old[s];
		if (e->k1 == 0 || e->expires_ns <= now_ns)
			continue;
		uint32_t i = e->hash & t->mask;
		while (t->slots[i].k1 != 0)
			i = (i + 1) & t->mask;
		t->slots[i] = *e;
		t->count++;
		if (e->expires_ns < earliest)
			earliest = e->expires_ns;
	}
	free(old);
	return earliest;
}

/* Keeps next_sweep_ns no later than any entry's expiry, so a full table is
 * swept as soon as anything in it can have expired. */
static void note_expiry(struct hot_table *t, uint64_t expires_ns)
{
	if (expires_ns < t->next_sweep_ns)
		t->next_sweep_ns = expires_ns;
}

bool hot_table_set(struct hot_table *t, int family, const uint8_t *addr, uint8_t verdict,
		   uint64_t expires_ns, uint64_t now_ns)
{
	uint64_t k0, k1;

	make_key(family, addr, &k0, &k1);
	uint32_t h = key_hash(t, k0, k1);

	for (int attempt = 0; attempt < 2; attempt++) {
		int64_t reuse = -1;
		uint32_t i = h & t->mask;
		for (uint32_t n = 0; n <= t->mask; i = (i + 1) & t->mask, n++) {
			struct hot_entry *e = &t->slots[i];
			if (e->k1 == 0)
				break;
			if (e->k0 == k0 && e->k1 == k1) {
				e->verdict = verdict;
				e->expires_ns = expires_ns;
				note_expiry(t, expires_ns);
				return true;
			}
			if (reuse < 0 && e->expires_ns <= now_ns)
				reuse = i;
		}
		/* The key is absent from its chain: an expired member of the chain
		 * can take it without changing the count. */
		if (reuse >= 0)
			i = (uint32_t)reuse;
		else if (t->count < t->max_entries)
			t->count++;
		else {
			if (attempt > 0 || now_ns < t->next_sweep_ns ||
			    (t->sweeps > 0 && now_ns - t->last_sweep_ns < HOT_SWEEP_INTERVAL_NS))
				return false;
			uint64_t earliest = sweep(t, now_ns);
			t->sweeps++;
			t->last_sweep_ns = now_ns;
			if (t->count >= t->max_entries) {
				t->next_sweep_ns = earliest;
				return false;
			}
			continue;
		}
		struct hot_entry *e = &t->slots[i];
		e->k0 = k0;
		e->k1 = k1;
		e->hash = h;
		e->verdict = verdict;
		e->expires_ns = expires_ns;
		note_expiry(t, expires_ns);
		return true;
	}
	return false;
}

bool hot_table_delete(struct hot_table *t, int family, const uint8_t *addr)
{
	uint64_t k0, k1;

	if (t->count == 0)
		return false;
	make_key(family, addr, &k0, &k1);
	int i = find(t, k0, k1, key_hash(t, k0, k1));
	if (i < 0)
		return false;
	remove_at(t, (uint32_t)i);
	return true;
}

int hot_table_lookup(struct hot_table *t, int family, const uint8_t *addr, uint64_t now_ns)
{
	uint64_t k0, k1;

	if (t->count == 0)
		return -1;
	make_key(family, addr, &k0, &k1);
	int i = find(t, k0, k1, key_hash(t, k0, k1));
	if (i < 0)
		return -1;
	if (t->slots[i].expires_ns <= now_ns) {
		remove_at(t, (uint32_t)i);
		return -1;
	}
	return t->slots[i].verdict;
}
