/*
 * Hot-IP table: source addresses whose verdict JavaScript has already decided
 * (a banned scanner, a trusted trunk), answered in C without a JS call.
 *
 * Keys: an IPv4 source address exactly, or the /64 prefix of an IPv6 source
 * address. An IPv6 host is normally handed a whole /64 (RFC 4291 section
 * 2.5.1, RFC 7421), so a scanner can rotate through 2^64 source addresses at
 * no cost; keying the /64 keeps one entry per attacker.
 *
 * Open addressing with linear probing and backward-shift deletion (no
 * tombstones), at most half full. The hash is SipHash-1-3 keyed with a random
 * per-table seed: the addresses are attacker-chosen, and an unkeyed hash would
 * let them pile entries onto one probe chain.
 */
#ifndef SIPWALL_HOT_TABLE_H
#define SIPWALL_HOT_TABLE_H

#include <stdbool.h>
#include <stdint.h>

#define HOT_TABLE_MAX_ENTRIES (1u << 20)

struct hot_entry {
	uint64_t k0;
	uint64_t k1;         /* address family (4 or 6); 0 marks a free slot */
	uint64_t expires_ns; /* CLOCK_MONOTONIC */
	uint32_t hash;
	uint8_t verdict;
	uint8_t pad[3];
};

struct hot_table {
	struct hot_entry *slots;
	uint32_t mask;        /* slot count - 1 (power of two) */
	uint32_t count;       /* slots in use, expired ones included until reclaimed */
	uint32_t max_entries;
	uint64_t seed0, seed1;
	/* When full of live entries, no sweep can help before this time. */
	uint64_t next_sweep_ns;
	/* The last sweep, and how many there were (0: none yet). */
	uint64_t last_sweep_ns;
	uint64_t sweeps;
};

/* 0, or -ENOMEM / -EINVAL. */
int hot_table_init(struct hot_table *t, uint32_t max_entries);
void hot_table_free(struct hot_table *t);

/* family is 4 (addr: 4 bytes) or 6 (addr: 16 bytes, only the /64 is used).
 * Returns true when stored, false when the table is full of live entries. */
bool hot_table_set(struct hot_table *t, int family, const uint8_t *addr, uint8_t verdict,
		   uint64_t expires_ns, uint64_t now_ns);
/* Returns true when an entry was removed. */
bool hot_table_delete(struct hot_table *t, int family, const uint8_t *addr);
void hot_table_clear(struct hot_table *t);
/* Verdict of a live entry for this source, else -1. Reclaims an expired entry
 * it finds on the way. */
int hot_table_lookup(struct hot_table *t, int family, const uint8_t *addr, uint64_t now_ns);

#endif
